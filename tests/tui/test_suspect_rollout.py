"""The Rollout screen shows a SUSPECT rollout's marks with their lines; C clears it (human log)."""

from __future__ import annotations

import json

import pytest
from rich.text import Text

from agent.trace import SuspectHit, judged
from tests.tui.conftest import settle


def _make_suspect(trace) -> None:
    lines = trace.read_text().splitlines()
    end = json.loads(lines[-1])
    end["outcome"]["state"] = judged("suspect", "frames (gcd.py:3)").model_dump()
    hits = [
        SuspectHit(rule="frames", path="gcd.py", line=3, text="want = sys._getframe(1).f_locals['expected']"),
        SuspectHit(rule="tests_dropped", text="final run ran 2 tests, an earlier run 5"),
    ]
    end["outcome"]["suspect"] = [h.model_dump() for h in hits]
    trace.write_text("\n".join([*lines[:-1], json.dumps(end)]) + "\n")


async def test_suspect_marks_shown_and_cleared_with_c(traces, make_app) -> None:
    trace = sorted(traces.glob("*/traces/*.jsonl"))[0]
    _make_suspect(trace)
    app = make_app(traces)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        uid = next(r.uid for r in app.store.rollouts() if r.suspect)
        app.open_rollout(uid)
        await settle(pilot)
        head = str(app.screen.query_one("#rollout-head").render())
        assert "SUSPECT" in head and "2 marks" in head and "gcd.py:3" in head and "C clears" in head
        await pilot.press("e")
        lines = str(app.screen.query_one("#suspect-lines").render())
        assert "sys._getframe(1)" in lines and "tests_dropped" in lines and "test runs" in lines
        await pilot.press("C")
        assert set(app.store.cleared_rollouts()) == {uid}
        assert "cleared by tester" in str(app.screen.query_one("#rollout-head").render())
        await pilot.press("f3", "u")  # undo on Pairs undoes the clear, and stays on its pair
        await settle(pilot)
        assert app.store.cleared_rollouts() == {} and app.screen.MODE == "pairs"
        assert app.screen.pair is not None
        app.open_rollout(uid)
        await settle(pilot)
        await pilot.press("C", "C")  # clear, then take it back
        assert app.store.cleared_rollouts() == {}
        assert [e.kind for e in app.store.events()][-3:] == ["undo", "clear", "unclear"]
        other = next(r.uid for r in app.store.rollouts() if not r.suspect)
        app.open_rollout(other)
        await settle(pilot)
        await pilot.press("C")
        assert app.store.cleared_rollouts() == {} and "SUSPECT" not in str(
            app.screen.query_one("#rollout-head").render()
        )


def test_a_flag_name_alone_filters_as_flag() -> None:
    from tui.pair_filter import parse_filter

    assert parse_filter("suspect").flag == "suspect" and parse_filter("suspect").text is None
    assert parse_filter("clean gcd").model_dump() == parse_filter("flag:clean gcd").model_dump()
    assert parse_filter("flag:flaky suspect").text == "suspect"  # one flag: a second is a search word


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_pairs_show_a_cleared_suspect_apart_from_an_uncleared_one(traces, make_app, size) -> None:
    trace = sorted(traces.glob("*/traces/*.jsonl"))[2]  # fix_bitcount s2: in a pair
    _make_suspect(trace)
    app = make_app(traces)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        uid = next(r.uid for r in app.store.rollouts() if r.suspect)
        await pilot.press("f3", "slash", *"suspect", "enter")  # the short form of flag:suspect
        await settle(pilot)
        screen = app.screen
        assert screen.pair is not None and "suspect" in screen.pair.flags and app.state.pair_filter.flag == "suspect"
        side = "a" if screen.shown.sides[0] and screen.shown.sides[0].uid == uid else "b"

        def shown() -> tuple[Text, Text]:
            return screen.query_one("#pair-head").render(), screen.query_one(f"#badge-{side}").render()

        head, badge = shown()
        assert " suspect " in head.plain and "suspect cleared" not in head.plain
        assert " SUSPECT " in badge.plain and "cleared" not in badge.plain
        app.open_rollout(uid)
        await settle(pilot)
        await pilot.press("C", "f3")
        await settle(pilot)
        head, badge = shown()
        assert "suspect cleared" in head.plain and " SUSPECT cleared " in badge.plain
        assert "cleared by tester" in badge.plain  # on the badge's third line, at any width
        cleared_style = next(s.style for s in badge.spans if badge.plain[s.start : s.end] == " SUSPECT cleared ")
        assert str(cleared_style) == "dim"  # no longer the yellow block that asks for a person
