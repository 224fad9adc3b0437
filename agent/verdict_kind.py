"""Which kind of evidence a task's verdict rests on (docs/agent-and-suites.md, "Which verdict
a pair rests on"), so `stats` can say how many pairs rest on each.

A verdict backed by a check the tests' process cannot reach (held-out inputs compared with
the reference fix, tests the model never saw) is stronger than one that rests on pytest's
per-test records alone, which code run by the tests could forge (SUSPECT catches the marks
of that, not every case). The kind is read from the task as the final run uses it
(agent/final_verdict.py): a SWE-bench test patch replaces the differential and the canaries.
"""

from __future__ import annotations

from typing import Literal

from agent.suites.models import Task

VerdictKind = Literal[
    "differential_hidden",  # held-out inputs and held-out test lines
    "differential",  # held-out inputs compared with the reference fix
    "hidden_lines",  # held-out lines of the tests, put back for the final run
    "hidden_test_patch",  # SWE-bench: a test patch applied only for the final run, judged by id
    "records",  # pytest's per-test records (and canaries) only
    "imported",  # the verdict its source gave (an imported run)
    "unknown",  # the suite the batch ran is gone: no task to read it from
]
VERDICT_KINDS: tuple[VerdictKind, ...] = (
    "differential_hidden",
    "differential",
    "hidden_lines",
    "hidden_test_patch",
    "records",
    "imported",
    "unknown",
)
KIND_LABEL: dict[str, str] = {
    "differential_hidden": "differential + hidden tests",
    "differential": "differential (held-out inputs)",
    "hidden_lines": "hidden test lines",
    "hidden_test_patch": "hidden test patch (SWE-bench)",
    "records": "pytest records only",
    "imported": "imported verdict",
    "unknown": "unknown (suite not found)",
}


def task_verdict_kind(task: Task) -> VerdictKind:
    """The kind of verdict every rollout of ``task`` gets from the final run."""
    if task.hidden_tests is not None:
        return "hidden_test_patch"  # judged on the test patch by id: no differential, no canaries
    diff = task.differential
    has_inputs = diff is not None and (diff.pool is not None or any(t.inputs for t in diff.targets))
    if has_inputs and task.reference_fix is None and not task.reference_fix_files:
        has_inputs = False  # nothing to compare the rollout's answers with
    if has_inputs:
        return "differential_hidden" if task.hold_out_lines else "differential"
    return "hidden_lines" if task.hold_out_lines else "records"
