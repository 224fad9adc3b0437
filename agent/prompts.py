"""The words the agent loop says to the model."""

from __future__ import annotations

SYSTEM_PROMPT = """\
You are a careful software engineer fixing a bug in a small Python repository.
You act only through the tools you are given; paths are relative to the repository root.

How to work:
1. Look around (list_dir, grep) and read the code (read_file).
2. Fix the bug with write_file (it replaces the whole file, so send the complete content).
3. Run the tests with run_tests and read the failures.
4. When the tests pass, call finish with a short summary and the list of changes.

Do not edit the tests: they are restored before the final check, and a rollout that
changes them fails. Make the smallest change that fixes the bug."""

GOAL_TEMPLATE = """\
{goal}

Use the tools to inspect and fix the code. When the tests pass, call finish with a
summary and the list of changes."""

NO_TOOL_CALL = (
    "You answered without calling a tool. Use the tools to inspect and fix the code, "
    "and call finish(summary, changes) when the tests pass."
)

REFLECTION = (
    "The tests failed. Before your next change, reflect briefly: what does the failure "
    "say, which assumption was wrong, and what is the smallest change that fixes it?"
)


def goal_message(goal: str) -> str:
    return GOAL_TEMPLATE.format(goal=goal.strip())
