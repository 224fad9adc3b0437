"""Every tool, found in the `agent.tools` package rather than listed (docs/ARCHITECTURE.md, Add a tool).

Each module of the package that declares ``TOOL`` (a `Tool`) is one tool; ``TOOLS`` holds
them by rank, the order of the schema the model is given. The handlers, the argument
models, the schema, the step flags and the test factories all read this one tuple.
"""

from __future__ import annotations

from typing import Any

from agent.descriptors import discover
from agent.tools.spec import StepCounts, Tool, ToolArgs


def discover_tools(package: str = "agent.tools") -> tuple[Tool[Any], ...]:
    """The tools declared in ``package``'s modules, by rank (a shared name or rank: an error)."""
    return discover(package, "TOOL", Tool, "tool")


TOOLS: tuple[Tool[Any], ...] = discover_tools()
TOOL_ARGS: dict[str, type[ToolArgs]] = {t.name: t.args for t in TOOLS}
TOOL_NAMES: tuple[str, ...] = tuple(TOOL_ARGS)
_COUNTS = {t.name: t.counts for t in TOOLS}
_NOT_COUNTED = StepCounts()


def step_counts(name: str) -> StepCounts:
    """How a call of tool ``name`` counts for the step flags (an unknown tool: not at all)."""
    return _COUNTS.get(name, _NOT_COUNTED)
