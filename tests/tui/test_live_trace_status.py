"""A run_tests row says what the tests did: a tool that ran fine over failing tests is not "ok"."""

from __future__ import annotations

from tests.factories import Call, Rollout, write_rollout
from tui.live_trace import LiveTrace


def test_run_tests_rows_say_failed_or_passed(tmp_path):
    r = Rollout(
        "fix_x",
        0,
        steps=[
            [Call("run_tests", {}, output="Tests FAILED: 2 failed, 1 passed", test_run={"passed": False})],
            [Call("write_file", {"rel_path": "x.py", "content": "y"})],
            [Call("run_tests", {}, output="Tests PASSED: 3 passed", test_run={"passed": True})],
            [Call("run_tests", {}, ok=False, output="error: sandbox", error="sandbox")],
        ],
    )
    live = LiveTrace(write_rollout(tmp_path / "b", r))
    live.poll()
    assert [c.status for c in live.calls] == ["failed", "ok", "passed", "error"]
