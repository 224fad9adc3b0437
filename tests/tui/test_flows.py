"""Whole flows through the keyboard, asserting the label store's state."""

from __future__ import annotations

from tests.tui.conftest import settle
from tui.messages import StoreChanged
from tui.screens.pairs import PairsScreen
from tui.screens.rollout import RolloutScreen
from tui.screens.steps import StepsScreen


async def test_first_screen_shows_before_ingest_and_store_changed_is_posted(sample_copy, make_app):
    seen = []
    app = make_app(sample_copy)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        assert isinstance(app.screen, PairsScreen)  # up before the ingest worker ends
        await settle(pilot)
        changed = [m for m in seen if isinstance(m, StoreChanged)]
        assert changed and changed[0].changed and changed[0].report.new_rollouts > 0
        screen = app.screen
        assert screen.pair is not None and screen.index == 0
        assert len(screen.queue) == app.store.counts().remaining


async def test_verdicts_undo_redo_through_keys(sample_copy, make_app):
    app = make_app(sample_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen: PairsScreen = app.screen
        q = list(screen.queue)
        assert len(q) >= 3
        await pilot.press("c")
        assert app.store.pair(q[0]).verdict == "confirm"
        assert screen.pair.pair_id == q[1]  # advanced at once
        await pilot.press("f")
        assert app.store.pair(q[1]).verdict == "flip"
        await pilot.press("d")
        assert app.store.pair(q[2]).verdict == "discard"
        await pilot.press("u")  # a mis-keyed discard: undo is exact and goes back to it
        assert app.store.pair(q[2]).verdict is None
        assert screen.pair.pair_id == q[2]
        await pilot.press("r")
        assert app.store.pair(q[2]).verdict == "discard"
        assert screen.pair.pair_id == q[2]  # redo shows what it re-applied
        await pilot.press("p")
        assert screen.pair.pair_id == q[1] and screen.pair.verdict == "flip"
        await pilot.press("s")
        assert screen.pair.pair_id == q[2]
        assert app.state.rate.verdicts == 3


async def test_quit_and_reopen_keeps_every_verdict(sample_copy, make_app):
    app = make_app(sample_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        q = list(app.screen.queue)
        await pilot.press("c", "f", "d", "u", "d")
        await pilot.press("ctrl+q")
    want = {q[0]: "confirm", q[1]: "flip", q[2]: "discard"}
    app2 = make_app(sample_copy)
    async with app2.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for pid, verdict in want.items():
            assert app2.store.pair(pid).verdict == verdict
        # The queue shows what is left to do; verdict:all brings the labeled ones back.
        assert not set(want) & set(app2.screen.queue)
        await pilot.press("slash")
        await pilot.press(*"verdict:all", "enter")
        await settle(pilot)
        screen = app2.screen
        assert set(want) <= set(screen.queue)
        while screen.pair.pair_id != q[0]:
            await pilot.press("n")
        assert screen.pair.verdict == "confirm"


async def test_note_and_tag_and_filter(sample_copy, make_app):
    app = make_app(sample_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pid = app.screen.pair.pair_id
        await pilot.press("t", *"recheck", "enter")
        await pilot.press("e", *"winner edits one line", "enter")
        await pilot.press("c")
        row = app.store.pair(pid)
        assert row.tags == ["recheck"] and row.verdict == "confirm" and row.note == "winner edits one line"
        await pilot.press("slash", *"verdict:all tag:recheck", "enter")
        await settle(pilot)
        assert app.screen.queue == [pid]


async def test_mark_a_step_bad_from_a_pair(sample_copy, make_app):
    app = make_app(sample_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        uid = app.screen.sides[1].uid
        await pilot.press("2")
        assert isinstance(app.screen, RolloutScreen) and app.screen.uid == uid
        assert app.screen.trace.calls  # the tool-call stream from the trace file
        await pilot.press("enter")
        assert isinstance(app.screen, StepsScreen) and app.screen.uid == uid
        await pilot.press("x")
        await pilot.press("2")  # wrong_file
        assert app.store.step_marks(uid)[1].reason == "wrong_file"
        await pilot.press("down", "x", "6")  # other: asks why
        await pilot.press(*"reads the wrong thing", "enter")
        assert app.store.step_marks(uid)[2].text == "reads the wrong thing"
        await pilot.press("X")
        assert 2 not in app.store.step_marks(uid)
        await pilot.press("u")
        assert app.store.step_marks(uid)[2].reason == "other"
        await pilot.press("escape", "escape")  # back to Rollout, then to Pairs
        assert isinstance(app.screen, PairsScreen)


async def test_jump_between_flagged_steps(traces, make_app):
    app = make_app(traces, start="steps")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        uid = next(r.uid for r in app.store.rollouts() if r.invalid_tool_calls)
        app.open_rollout(uid, "steps")
        await pilot.pause()
        screen: StepsScreen = app.screen
        flagged = [i for i, s in enumerate(screen.rows) if s.auto_flags]
        assert flagged, "the invalid call is auto-flagged"
        screen.query_one("#steps-table").move_cursor(row=len(screen.rows) - 1)
        await pilot.press("left_square_bracket")
        assert screen.query_one("#steps-table").cursor_row == flagged[-1]


async def test_every_screen_one_key_away_and_in_the_palette(traces, make_app):
    app = make_app(traces)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key, mode in (
            ("f1", "runs"),
            ("f2", "rollout"),
            ("f3", "pairs"),
            ("f4", "steps"),
            ("f5", "stats"),
            ("f6", "export"),
        ):
            await pilot.press(key)
            assert app.current_mode == mode
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Runs", "Rollout", "Pairs", "Steps", "Stats", "Export", "Help"} <= titles
        await pilot.press("f3")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Pairs: Confirm", "Pairs: Flip", "Pairs: Discard", "Pairs: Undo", "Pairs: Redo"} <= titles
        await pilot.press("question_mark")
        text = " ".join(b.description for *_, bindings in app.screen.sections for b in bindings)
        for word in ("Confirm", "Mark bad", "Launch batch", "Dry run", "Next flagged"):
            assert word in text


async def test_palette_runs_a_screen_action(sample_copy, make_app):
    app = make_app(sample_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pid = app.screen.pair.pair_id
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Pairs: Confirm")
        await cmd.callback()
        assert app.store.pair(pid).verdict == "confirm"


async def test_tail_picks_up_a_batch_written_by_another_process(traces, make_app, tmp_path):
    from tests.tui.trace_fixtures import make_batch

    app = make_app(traces, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert len(app.screen.batches) == 1
        other = tmp_path / "other"
        batch = make_batch(other)
        batch.rename(traces / "20261122-000001-mini-test-model-0001")
        app.start_ingest()  # what the 1 s tail timer does
        await settle(pilot)
        assert len(app.screen.batches) == 2


async def test_the_tail_timer_finds_new_traces_by_itself(traces, make_app, tmp_path):
    from tests.tui.conftest import wait_until
    from tests.tui.trace_fixtures import make_batch

    app = make_app(traces, start="runs", tail_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        batch = make_batch(tmp_path / "elsewhere")
        batch.rename(traces / "20261122-000002-mini-test-model-0002")  # appears, as from another terminal
        await wait_until(pilot, lambda: len(app.screen.batches) == 2)


async def test_rollout_screen_steps_through_a_batch(traces, make_app):
    app = make_app(traces)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        uids = [r.uid for r in app.store.rollouts()]
        app.open_rollout(uids[0])
        await pilot.pause()
        await pilot.press("n", "n")
        assert app.screen.uid == uids[2] and app.screen.trace.calls
        await pilot.press("p")
        assert app.screen.uid == uids[1]
