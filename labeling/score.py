"""Rollout scores (docs/ARCHITECTURE.md, Label store and pairs): a tuple compared lexicographically, higher is better.

The order is a list of components, each a field name with an optional leading ``-``
("fewer is better"): ``pass,-steps,-tool_calls,-files_touched`` is the default.
``pass`` means tests passed and the tests were not tampered with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DEFAULT_ORDER: tuple[str, ...] = ("pass", "-steps", "-tool_calls", "-files_touched")

# component name -> how to read it from a rollout row
COMPONENTS: dict[str, Any] = {
    "pass": lambda r: int(bool(r.tests_passed) and not r.tests_tampered),
    "tests_passed": lambda r: int(bool(r.tests_passed)),
    "steps": lambda r: r.steps,
    "tool_calls": lambda r: r.tool_calls,
    "invalid_tool_calls": lambda r: r.invalid_tool_calls,
    "files_touched": lambda r: r.files_touched,
    "tokens": lambda r: (r.tokens_in or 0) + (r.tokens_out or 0),
    "tokens_out": lambda r: r.tokens_out or 0,
    "cost_usd": lambda r: r.cost_usd or 0.0,
    "duration_s": lambda r: r.duration_s or 0.0,
}


class ScoreOrderError(ValueError):
    pass


def parse_order(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"pass,-steps"`` or ``["pass", "-steps"]`` -> a validated order tuple."""
    if spec is None:
        return DEFAULT_ORDER
    parts = [p.strip() for p in (spec.split(",") if isinstance(spec, str) else spec)]
    parts = [p for p in parts if p]
    if not parts:
        raise ScoreOrderError("empty score order")
    for p in parts:
        name = p.lstrip("+-")
        if name not in COMPONENTS:
            raise ScoreOrderError(f"unknown score component {name!r} (known: {', '.join(COMPONENTS)})")
    names = [p.lstrip("+-") for p in parts]
    if len(set(names)) != len(names):
        raise ScoreOrderError("a score component appears twice")
    return tuple(p.lstrip("+") for p in parts)


def score(rollout: Any, order: Sequence[str] = DEFAULT_ORDER) -> tuple:
    """The rollout's score under ``order``; compare with ``>`` (higher is better)."""
    out = []
    for comp in order:
        neg = comp.startswith("-")
        v = COMPONENTS[comp.lstrip("-")](rollout)
        out.append(-v if neg else v)
    return tuple(out)


def first_difference(a: tuple, b: tuple) -> int | None:
    """Index of the first component where two scores differ, None if equal."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None
