"""What a tool is (docs/ARCHITECTURE.md, Add a tool): one `Tool` descriptor per file of this package.

A tool declares its name, its argument model (a strict pydantic model: no coercion, no
unknown keys; its JSON schema is what the model sees), the function that runs a valid
call, and how its calls count for the automatic step flags (labeling/steps.py). Every
list of tools (the schema sent to the model, the handlers, the step flags, the test
factories) is read from `agent.tools.registry`, which collects these descriptors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo

if TYPE_CHECKING:
    from agent.scoring import TestResult
    from agent.workspace import Workspace

# Wall clock for one walking tool call (list_dir, grep); run_tests has the task's timeout.
TOOL_TIME_LIMIT_S = 15.0

PATH_HINT = {
    "rel_dir": "must be a non-empty path, use '.' for the workspace root",
    "rel_path": "must be a non-empty file path relative to the workspace root",
}


class ToolArgs(BaseModel):
    """Base of every tool's argument model; its docstring is the tool's description."""

    # strict: a number is not a path, "5" is not an int; forbid: an unknown key is an error.
    model_config = ConfigDict(extra="forbid", strict=True)


def _non_empty(v: str, info: ValidationInfo) -> str:
    if not v.strip():
        raise ValueError(PATH_HINT.get(info.field_name or "", "must not be empty"))
    return v


# A string argument that must not be blank (a path, a pattern); the schema the model sees is a plain string.
NonEmpty = Annotated[str, AfterValidator(_non_empty)]


@dataclass
class ToolRun:
    """One valid call's view of the rollout: its workspace and wall clock in, what it found out."""

    workspace: Workspace
    deadline: float  # time.monotonic() after which a walking tool stops
    last_test: TestResult | None  # the rollout's latest test run before this call
    test_result: TestResult | None = None  # set by a call that ran the tests
    finish: dict | None = None  # set by a call that finished: {"summary", "changes", "test_result"}


@dataclass(frozen=True)
class StepCounts:
    """How a tool's calls count for the step flags (labeling/steps.py).

    ``reads``/``writes`` name the argument holding the path the call reads or writes: a
    read of a path never written later nor in the patch is an ``unused_read``; a
    successful write changes the workspace, so repeating an earlier call is no loop.
    """

    reads: str | None = None
    writes: str | None = None
    runs_tests: bool = False
    finishes: bool = False


A = TypeVar("A", bound=ToolArgs)


@dataclass(frozen=True)
class Tool(Generic[A]):
    """One tool: ``rank`` orders the tools in the schema the model is given."""

    name: str
    rank: int
    args: type[A]
    # Returns (ok, text); never raises for a problem the model caused (ToolBox turns an
    # exception into an error result anyway); paths are confined through the workspace.
    run: Callable[[ToolRun, A], tuple[bool, str]]
    counts: StepCounts = StepCounts()
