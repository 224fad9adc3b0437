"""ctrl+f from any screen: the search modal, its hits, and enter opening the Rollout screen at
the hit's step (tui/screens/search.py)."""

from __future__ import annotations

import sys

import pytest
from textual.widgets import DataTable, Input, OptionList

from tests.tui.conftest import settle, wait_until
from tui.screens.search import SearchModal
from tui.widgets.conversation import ConversationView


async def _search(pilot, line: str) -> SearchModal:
    await pilot.press("ctrl+f")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SearchModal))
    modal = pilot.app.screen
    modal.query_one(Input).value = line
    await pilot.press("enter")
    await settle(pilot)
    await wait_until(pilot, lambda: not modal.searching)
    return modal


async def test_ctrl_f_then_enter_opens_the_rollout_at_the_step(traces, make_app):
    app = make_app(traces)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.current_mode == "pairs"
        # A malformed line is one line in red; the hits before it stay.
        modal = await _search(pilot, "run_tests in:args")
        found = len(modal.hits)
        assert found and all(h.place == "args" for h in modal.hits)
        assert f"{found} hits" in str(modal.query_one("#search-status").render())
        modal.query_one(Input).value = 'run_tests "open'
        await pilot.press("enter")
        await wait_until(pilot, lambda: not modal.searching)
        status = modal.query_one("#search-status")
        assert str(status.render()) == 'a quote is not closed: end the phrase with "' and status.has_class("-error")
        assert len(modal.hits) == found
        await pilot.press("escape")
        await settle(pilot)
        assert app.current_mode == "pairs" and not isinstance(app.screen, SearchModal)
        assert app.state.search_line == 'run_tests "open'
        # ctrl+f again opens on the last line; enter on a hit opens the Rollout screen at its step.
        modal = await _search(pilot, "run_tests in:args")
        hit = modal.hits[1]
        await pilot.press("down")  # from the query to the hits
        assert modal.query_one(OptionList).has_focus
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.current_mode == "rollout" and app.screen.uid == hit.uid
        table = app.screen.query_one("#calls", DataTable)
        assert app.screen.trace.calls[table.cursor_row].step == hit.step
        assert app.state.rollout_at is None  # used once
        # From the Rollout screen too; a message opens the conversation.
        modal = await _search(pilot, "Fix the bug")
        assert modal.hits[0].place == "message" and modal.hits[0].at == "task"
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.screen.query_one(ConversationView).display
        # A patch: back to the calls, on the end row, its diff shown.
        modal = await _search(pilot, "gcd in:patch")
        assert modal.hits and modal.hits[0].place == "patch"
        await pilot.press("down", "enter")
        await settle(pilot)
        assert not app.screen.query_one(ConversationView).display
        assert app.screen.query_one("#final-pane").display


async def test_the_modal_says_at_least_when_the_search_stopped_checking(tmp_path, make_app, monkeypatch):
    """A phrase search that stopped checking candidates with more left says "at least N", never
    "N hits" as if that were all (labeling/search.py SearchHits.unchecked)."""
    import labeling.search
    import tui.screens.search
    from tests.factories import Call, Rollout, Step, write_batch

    call = Call("read_file", {"rel_path": "x.py"}, output="alpha beta")
    write_batch(tmp_path / "runs", "b1", [Rollout("t", 0, steps=[Step([call]) for _ in range(12)])])
    monkeypatch.setattr(labeling.search, "MAX_CHECKED", 1)
    monkeypatch.setattr(tui.screens.search, "LIMIT", 1)
    app = make_app(tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        modal = await _search(pilot, '"beta alpha"')  # twelve candidates, none in this order
        status = str(modal.query_one("#search-status").render())
        assert status.startswith("at least 0 hits (stopped after checking 10 candidates"), status


async def test_the_modal_says_the_index_is_still_filling(tmp_path, make_app, monkeypatch):
    """While a filler holds the index (labeling/search_fill.py), a search finds what is indexed
    and the status line says how much that is."""
    from labeling import search_fill, search_index
    from labeling.store import LabelStore
    from tests.factories import Call, Rollout, Step, write_batch

    root = tmp_path / "runs"
    calls = [Call("grep", {"pattern": "zebra"}, output=f"zebra {i}") for i in range(3)]
    write_batch(root, "b1", [Rollout("t", i, steps=[Step([c])]) for i, c in enumerate(calls)])
    db = root / "labels.sqlite"
    monkeypatch.setattr(search_fill, "catch_up", lambda store, base: False)
    with LabelStore(db, labeler="tester") as store:
        store.ingest([root])
    monkeypatch.undo()
    conn = search_index.connect(db, create=True)
    assert conn is not None
    with search_fill.fill_lock(db):
        search_fill.fill(conn, lambda key: str(root / key), group_rollouts=1, max_groups=1)
        app = make_app(root)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            modal = await _search(pilot, "zebra")
            status = str(modal.query_one("#search-status").render())
            assert {h.uid for h in modal.hits} == {"b1/t__s0"}  # its call and its output
            assert "index filling (1 of 3 rollouts)" in status, status
    conn.close()


snapshots = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="snapshots are pinned to Python 3.11")


@snapshots
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_search_snapshot(snap_compare, make_app, traces, size):
    async def before(pilot) -> None:
        await settle(pilot)
        # one rollout's hits: their order is the trace's (across traces it is the order files were read)
        modal = await _search(pilot, "failed OR wrote OR gcd rollout:fix_gcd__s1")
        modal.query_one(Input).cursor_blink = False
        await pilot.press("down")
        await settle(pilot)

    assert snap_compare(make_app(traces), terminal_size=size, run_before=before)


def test_cli_hits_in_a_narrow_terminal_are_one_row_each(tmp_path, capsys, monkeypatch):
    """`repo-agent search` in a terminal cuts each hit to its width with an ellipsis (a Text's
    own no_wrap was lost when print joined it: a hit wrapped over three rows at 60 columns);
    into a pipe, the whole line."""
    from rich.cells import cell_len

    from tests.factories import Call, Rollout, Step, write_batch
    from tui.cli import main
    from tui.cli.label_store import console

    monkeypatch.setenv("REPO_AGENT_LABELER", "alice")
    long = "zebra " + " ".join(f"word{i}" for i in range(40))
    steps = [Step([Call("grep", {"pattern": "zebra"}, output=long)]) for _ in range(3)]
    write_batch(tmp_path / "runs", "b1", [Rollout("t", 0, steps=steps)])
    monkeypatch.setattr(console, "_force_terminal", True)
    monkeypatch.setattr(console, "_width", 60)
    assert main(["search", str(tmp_path / "runs"), "zebra in:output"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[-1].endswith("3 hits")  # three hits, a row each, and the count
    assert all(cell_len(line) <= 60 and line.endswith("…") for line in lines[:3]), lines
    monkeypatch.setattr(console, "_force_terminal", False)
    assert main(["search", str(tmp_path / "runs"), "zebra in:output", "--no-ingest"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(cell_len(line) > 60 and "word16" in line for line in lines[:3])  # not cut
