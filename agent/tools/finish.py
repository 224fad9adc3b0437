"""``finish``: the agent's closing summary; the loop ends the rollout after it."""

from __future__ import annotations

from pydantic import Field

from agent.tools.spec import NonEmpty, StepCounts, Tool, ToolArgs, ToolRun


class FinishArgs(ToolArgs):
    """Finish the task: call this once, when you are done."""

    summary: NonEmpty = Field(description="What was wrong and how you fixed it, in a few sentences.")
    changes: list[str] | str = Field(description="The changes you made, one entry per file or edit.")


def finish(run: ToolRun, a: FinishArgs) -> tuple[bool, str]:
    run.finish = {
        "summary": a.summary,
        "changes": a.changes,
        "test_result": run.last_test.brief() if run.last_test else None,
    }
    return True, "Finished."


TOOL = Tool(name="finish", rank=60, args=FinishArgs, run=finish, counts=StepCounts(finishes=True))
