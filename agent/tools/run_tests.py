"""``run_tests``: the task's test command on the workspace."""

from __future__ import annotations

from agent.tools.spec import StepCounts, Tool, ToolArgs, ToolRun


class RunTestsArgs(ToolArgs):
    """Run the task's test command on the workspace and return the results."""


def run_tests(run: ToolRun, a: RunTestsArgs) -> tuple[bool, str]:
    result = run.workspace.run_tests()
    run.test_result = result
    head = "Tests PASSED" if result.passed else "Tests FAILED"
    return True, f"{head}: {result.summary}\n\n{result.output.strip()}"


TOOL = Tool(name="run_tests", rank=50, args=RunTestsArgs, run=run_tests, counts=StepCounts(runs_tests=True))
