"""The review queue while ingest changes the store under it: header, totals and status
agree with `pairs list`; the pair on screen stays (marked stale); failures are reported."""

from __future__ import annotations

import sqlite3

from labeling.records import PairFilter
from tests.labeling.conftest import FIX, Spec, make_batch, make_patch
from tests.tui.conftest import settle
from tui.screens.pairs import PairsScreen

OTHER = make_patch("prog.py", ["    return x - 1"], ["    return x * 2"])


def _text(screen, wid: str) -> str:
    return str(screen.query_one(wid).render())


def _listed(app) -> list[str]:
    """What `repo-agent pairs list` shows: the unlabeled queue, in order."""
    return [p.pair_id for p in app.store.pairs(PairFilter(verdict="unlabeled"))]


async def test_live_ingest_adds_and_stales_pairs_header_and_status_agree(tmp_path, make_app):
    root = tmp_path / "traces"
    specs = []
    for t in range(4):
        specs += [Spec(f"t{t}", 1, passed=True, patch=FIX, steps=3), Spec(f"t{t}", 2, patch=OTHER, steps=4)]
    make_batch(root, "b1", specs)
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen: PairsScreen = app.screen
        first = screen.pair
        assert first is not None and first.task_id == "t0"
        assert f"Pair 1/{len(_listed(app))} " in _text(screen, "#pair-head")
        # Another terminal's batch lands: a better t0 rollout (best-worst re-picks t0, its
        # old pair goes stale and, unlabeled, is pruned) and two new tasks with pairs.
        make_batch(
            root,
            "b2",
            [
                Spec("t0", 3, passed=True, patch=FIX, steps=1),
                *(Spec(f"n{t}", s, passed=s == 1, patch=FIX if s == 1 else OTHER) for t in range(2) for s in (1, 2)),
            ],
        )
        app.start_ingest()
        await settle(pilot)
        listed = _listed(app)
        assert len(listed) == 6 and first.pair_id not in listed
        head = _text(screen, "#pair-head")
        # the pair under review stays on screen, marked; the totals are the store's
        assert screen.pair.pair_id == first.pair_id and "STALE" in head
        assert f"Pair –/{len(listed)} " in head
        assert f"remaining {len(listed)} " in _text(screen, "#pair-progress")
        # a verdict on it records nothing and moves on to the head of the queue as listed
        await pilot.press("c")
        assert app.store.counts().labeled == 0
        assert screen.pair.pair_id == listed[0]
        assert f"Pair 1/{len(listed)} " in _text(screen, "#pair-head")
        await pilot.press("c")
        assert f"Pair 1/{len(listed) - 1} " in _text(screen, "#pair-head")
        assert f"remaining {len(listed) - 1} " in _text(screen, "#pair-progress")
        assert screen.pair.pair_id == _listed(app)[0]


async def test_end_of_the_queue_offers_to_wrap_to_skipped_pairs(tmp_path, make_app):
    root = tmp_path / "traces"
    make_batch(
        root,
        "b1",
        [Spec(f"t{t}", s, passed=s == 1, patch=FIX if s == 1 else OTHER) for t in range(3) for s in (1, 2)],
    )
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen: PairsScreen = app.screen
        q = list(screen.queue)
        await pilot.press("s", "c", "c")  # skip the first, label the other two
        assert screen.pair.pair_id == q[2]  # the end: still on the last one
        assert any("skipped are still in it" in n.message for n in app._notifications)
        await pilot.press("s")  # again: wraps to the skipped pair
        await settle(pilot)
        assert screen.pair.pair_id == q[0] and screen.queue == [q[0]]
        assert "Pair 1/1 " in _text(screen, "#pair-head")


async def test_a_failed_queue_load_is_reported_not_loading_forever(sample_copy, make_app):
    app = make_app(sample_copy)

    def broken(*a, **kw):
        raise sqlite3.DatabaseError("database disk image is malformed")

    app.store.queue_page = broken
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen: PairsScreen = app.screen
        head = _text(screen, "#pair-head")
        assert "Could not load the review queue" in head and "malformed" in head
        assert any(n.severity == "error" and "malformed" in n.message for n in app._notifications)


async def test_runs_cursor_stays_on_its_rollout_when_rows_arrive_above(tmp_path, make_app):
    from agent.trace import trace_path
    from tests.labeling.conftest import write_rollout
    from tui.screens.rollout import RolloutScreen

    root = tmp_path / "traces"
    late = [Spec("t0", 1), Spec("t1", 1)]
    early = [Spec("t2", 1, passed=True, patch=FIX), Spec("t3", 1, patch=OTHER)]
    bdir = make_batch(root, "b1", late + early, finished=False)
    for s in late:  # not started yet
        trace_path(bdir, s.rollout_id).unlink()
    app = make_app(root, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#batch-rollouts")
        table.focus()
        table.move_cursor(row=table.get_row_index(f"b1/{early[1].rollout_id}"))
        await pilot.pause()
        # t0 is mid-way; t1 has just started: its trace holds half a first line
        write_rollout(bdir, late[0], upto="steps")
        trace_path(bdir, late[1].rollout_id).write_text('{"kind": "rollout_start", "task_')
        app.start_ingest()
        await settle(pilot)
        assert table.row_count == 4 and table.get_row_index(f"b1/{early[1].rollout_id}") == 3  # rows arrived above
        row = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        assert row == f"b1/{early[1].rollout_id}"
        assert str(table.get_cell(f"b1/{late[1].rollout_id}", "task")) == "t1"  # from the batch's plan
        await pilot.press("enter")
        assert isinstance(app.screen, RolloutScreen) and app.state.rollout_uid == f"b1/{early[1].rollout_id}"


async def test_a_batch_ending_elsewhere_is_noticed_on_the_next_tick(tmp_path, make_app):
    from agent.trace import read_batch_meta, write_batch_meta

    root = tmp_path / "traces"
    bdir = make_batch(root, "b1", [Spec("t0", 1, passed=True, patch=FIX), Spec("t0", 2, patch=OTHER)], finished=False)
    app = make_app(root, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert not app._batch_meta_moved()  # nothing new: an idle tick may skip its pass
        meta = read_batch_meta(bdir)
        write_batch_meta(
            bdir, meta.model_copy(update={"finished": "2026-11-22T08:20:00+00:00", "stop_reason": "finished"})
        )
        assert app._batch_meta_moved()  # ...but not once the running batch's batch.json moved
        app._tail_tick()
        await settle(pilot)
        assert [b.status for b in app.screen.batches] == ["finished"]
        assert "finished" in str(app.screen.query_one("#batches").get_cell("b1", "status"))
        assert not app._batch_meta_moved()


async def test_a_search_filter_is_counted_off_the_ui_thread_and_agrees(tmp_path, make_app):
    root = tmp_path / "traces"
    make_batch(
        root,
        "b1",
        [Spec(f"t{t}", s, passed=s == 1, patch=FIX if s == 1 else OTHER) for t in range(12) for s in (1, 2, 3)],
    )
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"t1", "enter")  # t1, t10, t11
        await settle(pilot)
        screen: PairsScreen = app.screen
        listed = [p.pair_id for p in app.store.pairs(PairFilter(verdict="unlabeled", text="t1"))]
        assert screen.pair.pair_id == listed[0]
        assert f"Pair 1/{len(listed)} " in _text(screen, "#pair-head")
        await pilot.press("s", "c")
        await settle(pilot)
        assert screen.pair.pair_id == listed[2]
        assert f"Pair 2/{len(listed) - 1} " in _text(screen, "#pair-head")  # the skipped one is before it
