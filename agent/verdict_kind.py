"""What a task's verdict rests on (docs/sandbox-and-verdicts.md, "The verdict").

A PASS is only as strong as the checks behind it. ``stats`` counts pairs by the kind of
verdict their rollouts got: the held-out differential (plain-data calls compared with the
reference fix outside the tests' process), hidden tests (test data or a test patch the
rollout never saw), both, or pytest's own records (with canaries, the reference rerun, and
the tests' own calls recorded for a task with no pool, agent/differential_record.py: not
held out, so not counted as a differential). Derived from the task: every rollout of a task
is judged the same way.
"""

from __future__ import annotations

from typing import Literal

from agent.suites.models import Suite, Task

VerdictKind = Literal["differential+hidden", "differential", "hidden", "tests"]
VERDICT_KINDS: tuple[VerdictKind, ...] = ("differential+hidden", "differential", "hidden", "tests")
KIND_LABEL: dict[VerdictKind, str] = {
    "differential+hidden": "held-out inputs and hidden tests",
    "differential": "held-out inputs",
    "hidden": "hidden tests only",
    "tests": "pytest records only",
}


def verdict_kind(suite: Suite, task: Task) -> VerdictKind:
    """The kind of verdict every final run of ``task`` rests on."""
    from agent.differential import DifferentialError, has_differential

    try:
        diff = has_differential(suite, task)
    except DifferentialError:  # a pool that cannot be read: the final run cannot use it
        diff = False
    hidden = task.hidden_tests is not None or task.held_out_tests is not None or bool(task.hold_out_lines)
    if diff and hidden:
        return "differential+hidden"
    if diff:
        return "differential"
    return "hidden" if hidden else "tests"
