"""A time budget that expires because the machine is slow is no FAIL (agent/slow_machine.py).

The machine is never loaded here: the budget is scaled down instead. ``test_slow`` takes 0.6 s
whatever the fix, under a per-test timeout of 0.25 s, so the reference fix's own run beside
the rollout's runs out of time on it every time, as QuixBugs ``levenshtein``'s did at a load
average of ~21 under its 5 s budget.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from agent import trace
from agent.final_verdict import final_test_run
from agent.scoring import TestResult
from agent.slow_machine import too_slow
from agent.suites.loading import load_suite
from agent.workspace import Workspace
from tests.agent.conftest import ADD_TASK, write_suite
from tui.cli import main

SLOW_TEST = (
    "\n\ndef test_slow():\n    import time\n\n    time.sleep(3600)  # an honest test far slower than the budget\n"
)
SLOW_TASK = {**ADD_TASK, "tests/test_add.py": ADD_TASK["tests/test_add.py"] + SLOW_TEST}
BUDGET = {"per_test_timeout_s": 2.0}  # room for the honest test_small on a busy machine


@pytest.fixture(scope="module")
def slow_suite_path(tmp_path_factory):
    return write_suite(tmp_path_factory.mktemp("slow") / "suite", {"fix_add": SLOW_TASK}, **BUDGET)


def test_suite_check_says_a_task_the_reference_cannot_finish_in_time_is_not_judged(slow_suite_path, capsys):
    """The reference fix itself ran out of time: not "passes w/ fix: no", and one line says why."""
    assert main(["suite", "check", str(slow_suite_path)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert re.search(r"fix_add yes too slow - not judged", out), out
    assert "1 task(s) not judged, the machine too slow" in out and "failed the check" not in out


def test_a_fix_slow_on_purpose_fails_where_the_reference_is_in_time(slow_suite_path, tmp_path):
    """add() loops forever on (1, 2): the reference passes test_small in the same run's
    conditions, so the rollout's timeouts are its own: FAIL, not an excuse."""
    suite = load_suite(slow_suite_path)
    with Workspace.create(suite, suite.tasks[0], tmp_path / "runs") as ws:
        (ws.path / "add.py").write_text(
            "def add(a, b):\n    while (a, b) == (1, 2):\n        pass\n    return a + b\n", encoding="utf-8"
        )
        result, tampered = final_test_run(ws)
    assert not result.passed and tampered == [] and result.tamper == []
    assert result.outcomes["tests/test_add.py::test_small"] == "failed"


def _run(outcomes: dict[str, str], *, output: str = "", timed_out: bool = False) -> TestResult:
    passed = all(o == "passed" for o in outcomes.values()) and not timed_out
    return TestResult(
        passed, trace.TestCounts(), "", 1.0, timed_out, output, None if timed_out else 1, outcomes=outcomes
    )


def test_only_failures_the_reference_ran_out_of_time_on_too_are_excused():
    slow = "t.py::test_slow"
    timeout = "Failed: Timeout: test call exceeded 5s (per-test timeout)"
    ours = _run({"t.py::test_small": "passed", slow: "failed"})
    theirs = _run({"t.py::test_small": "passed", slow: "failed"}, output=timeout)
    assert "also ran out of time (a per-test timeout) on t.py::test_slow" in (too_slow(ours, theirs) or "")
    # The reference failed it otherwise than by time (its output, trusted, shows no budget expiring).
    assert too_slow(ours, dataclasses.replace(theirs, output="assert 1 == 2")) is None
    # The rollout also failed a test the reference passed: its own FAIL.
    assert too_slow(dataclasses.replace(ours, outcomes={**ours.outcomes, "t.py::test_small": "failed"}), theirs) is None
    # A test the reference passed is missing from the rollout's finished run: no excuse.
    assert too_slow(dataclasses.replace(ours, outcomes={slow: "failed"}), theirs) is None
    # What the rollout's run showed of its own stands.
    for own in ({"tamper": ["conftest.py"]}, {"error": "no finish"}, {"fail_detail": "held-out inputs differ"}):
        assert too_slow(dataclasses.replace(ours, **own), theirs) is None  # type: ignore[arg-type]
    # The whole run out of time: excused only if the reference's ran out too.
    whole = _run({"t.py::test_small": "passed"}, timed_out=True)
    assert too_slow(whole, theirs) is None
    both = dataclasses.replace(theirs, timed_out=True, summary="timed out")
    assert too_slow(dataclasses.replace(whole, outcomes={"t.py::test_small": "failed"}), both) is None
    assert "timed out" in (too_slow(whole, dataclasses.replace(theirs, timed_out=True, summary="timed out")) or "")
    assert too_slow(_run({"t.py::test_small": "passed"}), theirs) is None  # not a failure at all


def test_suite_check_blames_the_machine_when_only_the_fixs_own_run_ran_out_of_time(slow_suite_path, monkeypatch):
    """In ``suite check`` the fix is the reference itself: its run past a time budget is the
    machine's even where the run beside it finished in time."""
    import agent.suites.loading as loading

    suite = load_suite(slow_suite_path)
    out = "Failed: Timeout: test call exceeded 0.25s (per-test timeout)"
    late = _run({"tests/test_add.py::test_small": "passed", "tests/test_add.py::test_slow": "failed"}, output=out)
    monkeypatch.setattr(loading, "final_test_run", lambda ws: (late, []))
    monkeypatch.setattr(loading.Workspace, "run_tests", lambda self: _run({"tests/test_add.py::test_small": "failed"}))
    check = loading.check_task(suite, suite.tasks[0], slow_suite_path.parent / "runs")
    assert check.too_slow.startswith("too slow to judge") and check.passes_with_fix is None and not check.ok


def test_the_time_marks_are_what_the_timeout_plugin_prints() -> None:
    # slow_machine's excuse matches the plugin's words: a rewording there must fail here.
    from pathlib import Path

    from agent import scoring

    plugin = Path(scoring.__file__).parent / "_pytest_plugins" / "repo_agent_timeout.py"
    assert scoring.PER_TEST_TIMEOUT_MARK + '", pytrace=False)' in plugin.read_text(encoding="utf-8")
