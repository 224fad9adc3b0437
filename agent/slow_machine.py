"""A failing final run the machine's slowness explains: not judged, never FAIL (issue 23).

The final run's tests carry time budgets (the task's per-test timeout, its whole-run
timeout). On a loaded machine an honest fix can run past them: QuixBugs ``levenshtein``'s
reference fix takes 2 s of CPU on one input and ran past the 5 s per-test timeout at a load
average of ~21, so the reference fix itself was judged not to pass. The judge of whether a
budget expired because of the machine is the reference fix's own run of the same planted
tests, started beside the rollout's (agent/final_verdict.py ``final_run``): same machine,
same moment, same budgets. When every test the rollout's run failed also failed there, and
that trusted run shows a time budget expiring, the failure is the machine's: the final run
raises ``TooSlowToJudge`` and the rollout is ``not_judged("error", ...)``.

What this trusts, and why code under test cannot use it to gain PASS: the excuse reads only
the reference's run (a fresh workspace holding the source, the reference fix and the same
canaries, none of the rollout's files) and the rollout's failing test ids. It never turns a
failure into a pass, only into "not judged"; a rollout that also failed a test the reference
passed, tampered, hit a verdict error, or failed the held-out inputs stays FAIL/TAMPERED. A
rollout's run that slows the machine on purpose to make the reference run out of time
shares the CPU with it by one cgroup share per sandbox (agent/cgroups.py), and gains only
"not judged" on tests the reference itself cannot finish in time.
"""

from __future__ import annotations

from agent.differential import DifferentialError
from agent.scoring import HARD_STOP_MARK, PER_TEST_TIMEOUT_MARK, TestResult

TIME_MARKS = (PER_TEST_TIMEOUT_MARK, HARD_STOP_MARK)  # what the task's time budgets print
_BAD = ("failed", "error")


class TooSlowToJudge(DifferentialError):
    """The final run's failure is the machine's: the reference fix ran out of time too."""


def _failed(result: TestResult) -> set[str]:
    return {test_id for test_id, outcome in result.outcomes.items() if outcome in _BAD}


def _passed(result: TestResult) -> set[str]:
    return {test_id for test_id, outcome in result.outcomes.items() if outcome == "passed"}


def ran_out_of_time(result: TestResult) -> bool:
    """The run shows a time budget expiring (read from a trusted run's output only)."""
    return result.timed_out or any(mark in result.output for mark in TIME_MARKS)


def too_slow(ours: TestResult, theirs: TestResult) -> str | None:
    """Why the rollout's failing run ``ours`` cannot be blamed on it, or None: ``theirs`` is
    the reference fix's run of the same planted tests beside it (canaries judged in both)."""
    if ours.passed or ours.tamper or ours.error or ours.fail_detail or ours.records_flood:
        return None  # what the rollout's run showed of its own stands
    if theirs.passed or not ran_out_of_time(theirs):
        return None
    mine, its = _failed(ours), _failed(theirs)
    if theirs.timed_out:  # the tests it never reached ran out of its time as well
        its |= set(ours.outcomes) - set(theirs.outcomes)
    if ours.timed_out and not theirs.timed_out:
        return None  # the reference finished in the time the rollout's run did not
    if not (mine or ours.timed_out) or not mine <= its:
        return None  # a failure outside the tests, or of a test the reference did not fail here
    # Every test the reference passed passed here too (one the rollout's run lacks counts
    # against it, unless its whole run ran out of time before reaching it).
    if any(ours.outcomes.get(t, "" if ours.timed_out else "missing") not in ("passed", "") for t in _passed(theirs)):
        return None
    budget = theirs.summary if theirs.timed_out else "a per-test timeout"
    names = sorted(mine)
    more = f" (+{len(names) - 3} more)" if len(names) > 3 else ""
    which = f" on {', '.join(names[:3])}{more}" if names else ""
    return (
        f"too slow to judge: the reference fix, run beside it, also ran out of time ({budget}){which}:"
        " the machine is too busy for this task's time budgets"
    )
