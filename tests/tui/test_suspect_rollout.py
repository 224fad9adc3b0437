"""The Rollout screen shows a SUSPECT rollout's marks with their lines; C clears it (human log)."""

from __future__ import annotations

import json

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
