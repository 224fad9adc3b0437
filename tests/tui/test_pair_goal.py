"""The task's goal on the Pairs screen: two lines, `g` for all of it, never raw control text."""

from __future__ import annotations

import json
from pathlib import Path

from agent.prompts import goal_message
from tests.tui.conftest import settle, wait_until
from tui.task_goal import task_goal
from tui.widgets.pair_goal import PairGoal

LONG_GOAL = "\n".join(f"Line {i} of the issue: gcd(a, b) is wrong when b is 0. \x1b[31m" for i in range(12))


def _event(kind: str, **fields) -> str:
    return json.dumps({"v": 1, "rollout_id": "r", "seq": 0, "ts": 0.0, "kind": kind, **fields})


def test_task_goal_is_the_first_user_message_without_the_agents_wrapping(tmp_path: Path):
    path = tmp_path / "t.jsonl"
    said = {"role": "assistant", "content": "hi"}
    path.write_text(
        "\n".join(
            [
                _event("rollout_start", task_id="t"),
                _event("message", message={"role": "system", "content": "sys"}),
                _event("message", message={"role": "user", "content": goal_message("Fix gcd.")}),
                _event("message", message=said),
            ]
        )
    )
    assert task_goal(str(path)) == "Fix gcd."
    early = tmp_path / "early.jsonl"  # an answer before any user message: no goal to show
    early.write_text(
        _event("message", message=said) + "\n" + _event("message", message={"role": "user", "content": "x"})
    )
    assert task_goal(str(early)) is None and task_goal(str(tmp_path / "missing.jsonl")) is None


def set_goal(traces: Path, goal: str) -> None:
    for path in traces.glob("*/traces/*.jsonl"):
        lines = [json.loads(x) for x in path.read_text().splitlines()]
        for e in lines:
            if e["kind"] == "message" and e["message"]["role"] == "user":
                e["message"]["content"] = goal
                break
        path.write_text("".join(json.dumps(e) + "\n" for e in lines))


async def test_pairs_screen_shows_the_goal_folded_and_g_expands_it(traces, make_app):
    set_goal(traces, LONG_GOAL)
    app = make_app(traces, start="pairs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        goal = app.screen.query_one(PairGoal)
        await wait_until(pilot, lambda: goal.display and goal.size.height > 0)
        assert goal.size.height == 2
        text = str(goal.query_one("#pair-goal-text").render_line(0).text)
        assert text.startswith(" goal  g: more Line 0 of the issue") and "\x1b" not in text
        await pilot.press("g")
        await wait_until(pilot, lambda: goal.size.height > 2)
        assert goal.size.height <= 12  # half the screen at most: the diffs stay in view
        await pilot.press("g")
        await wait_until(pilot, lambda: goal.size.height == 2)
