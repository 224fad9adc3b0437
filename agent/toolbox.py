"""`ToolBox`: the agent's tools validated and run inside one workspace (docs/ARCHITECTURE.md, Add a tool).

Each tool is one module of ``agent/tools/`` declaring a `Tool` (``agent.tools.spec``: name,
argument model, run function, step counts); ``agent.tools.registry`` collects them.
``ToolBox.call(name, raw_arguments)`` never raises: a call whose arguments fail the
schema (bad JSON, not an object, unknown tool, missing / mistyped / extra argument, an
empty path) comes back ``valid=False`` with its violations and a tool-error text the
model can act on; a valid call that fails at run time (file not found, path escape)
comes back ``valid=True, ok=False``. Outputs are cut to ``output_limit`` with a marker.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.sandbox import SandboxError
from agent.scoring import TestResult
from agent.tools.registry import TOOL_NAMES, TOOLS
from agent.tools.schema import json_type, signature, tool_schema, violations_of
from agent.tools.spec import TOOL_TIME_LIMIT_S, ToolRun
from agent.workspace import PathEscape, Workspace


@dataclass
class ToolOutcome:
    name: str
    valid: bool
    violations: list[str]
    args: dict | None
    parse_error: str | None
    ok: bool  # the call ran and succeeded
    output: str  # what goes into the tool message (already cut, with a marker)
    output_chars: int  # before the cut
    truncated: bool
    error: str | None
    duration_s: float
    test_result: TestResult | None = None  # set by run_tests
    finish: dict | None = None  # set by a valid finish call: {"summary", "changes", "test_result"}


def cut(text: str, limit: int) -> tuple[str, int, bool]:
    """``text`` cut to ``limit`` chars (marker included); returns (text, total chars, cut?)."""
    total = len(text)
    if total <= limit:
        return text, total, False
    marker = f"\n[... output cut: {total} chars total]"
    keep = max(0, limit - len(marker))
    return text[:keep] + marker, total, True


class ToolBox:
    """The tools of one rollout, bound to its workspace."""

    def __init__(self, workspace: Workspace, *, output_limit: int = 8000):
        self.workspace = workspace
        self.output_limit = output_limit
        self.last_test: TestResult | None = None
        self._tools = {t.name: t for t in TOOLS}
        self._schemas = [tool_schema(t) for t in TOOLS]

    def schemas(self) -> list[dict]:
        """The OpenAI ``tools`` parameter."""
        return [json.loads(json.dumps(s)) for s in self._schemas]

    # ------------------------------------------------------------------ calling

    def _invalid(
        self,
        name: str,
        args: dict[str, Any] | None,
        parse_error: str | None,
        violations: list[str],
        start: float,
    ) -> ToolOutcome:
        tool = self._tools.get(name)
        expected = signature(tool) if tool else ", ".join(signature(t) for t in TOOLS)
        text = (
            f"Error: invalid call to {name!r}: "
            + "; ".join(violations)
            + f"\nExpected: {expected}\nFix the arguments and call the tool again."
        )
        text, total, truncated = cut(text, self.output_limit)
        return ToolOutcome(
            name=name,
            valid=False,
            violations=violations,
            args=args,
            parse_error=parse_error,
            ok=False,
            output=text,
            output_chars=total,
            truncated=truncated,
            error="invalid arguments",
            duration_s=time.perf_counter() - start,
        )

    def call(self, name: str, raw_arguments: str) -> ToolOutcome:
        start = time.perf_counter()
        # An empty string is what several servers send for a call with no arguments.
        raw = raw_arguments if isinstance(raw_arguments, str) else ""
        parsed, msg = _parse_arguments(raw)
        tool = self._tools.get(name)
        if tool is None:
            args = parsed if isinstance(parsed, dict) else None
            return self._invalid(
                name, args, None, [f"unknown tool {name!r}; the tools are: {', '.join(TOOL_NAMES)}"], start
            )
        if msg is not None:
            return self._invalid(name, None, msg, [f"arguments: not valid JSON ({msg})"], start)
        if not isinstance(parsed, dict):
            return self._invalid(
                name, None, None, [f"arguments: must be a JSON object, got {json_type(parsed)}"], start
            )
        args = parsed
        try:
            model = tool.args.model_validate(args)
        except ValidationError as exc:
            return self._invalid(name, args, None, violations_of(exc, args, tool.args), start)
        run = ToolRun(self.workspace, time.monotonic() + TOOL_TIME_LIMIT_S, self.last_test)
        try:
            ok, text = tool.run(run, model)
            error = None if ok else text.removeprefix("Error: ")
        except PathEscape as exc:
            ok, text, error = False, f"Error: {exc}", str(exc)
        except SandboxError as exc:
            ok, text, error = False, f"Error: the test sandbox failed: {exc}", str(exc)
        except Exception as exc:  # a tool never takes the rollout down
            ok, text, error = False, f"Error: {type(exc).__name__}: {exc}", f"{type(exc).__name__}: {exc}"
        if run.test_result is not None:
            self.last_test = run.test_result
        text, total, truncated = cut(text, self.output_limit)
        return ToolOutcome(
            name=name,
            valid=True,
            violations=[],
            args=args,
            parse_error=None,
            ok=ok,
            output=text,
            output_chars=total,
            truncated=truncated,
            error=error,
            duration_s=time.perf_counter() - start,
            test_result=run.test_result,
            finish=run.finish,
        )


def _parse_arguments(raw: str) -> tuple[Any, str | None]:
    """A call's arguments as JSON, or the reason they are not. A model's text can nest past
    the parser's recursion limit (``"[" * 100000``): that is invalid arguments too, never an
    exception out of the rollout."""
    if not raw.strip():
        return {}, None
    try:
        return json.loads(raw), None
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    except (ValueError, RecursionError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:200]
