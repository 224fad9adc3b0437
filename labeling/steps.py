"""Automatic step flags, computed when a rollout's steps are read (never stored).

* ``invalid_call``: a tool call in the step failed its argument schema (``valid`` false).
* ``tool_error``: a valid call whose tool result was not ok.
* ``repeated_call``: a call with the same name and arguments (compared as parsed JSON,
  key order ignored) as an earlier call of the rollout, with no successful write
  (``write_file``) in between: the workspace had not changed, so it is a loop.
* ``unused_read``: (finished rollouts only) a read (``read_file``) of a path that the
  rollout never writes afterwards and that its final patch does not touch. Paths are
  compared after dropping a leading ``./``.

Which tools read or write, and which argument names the path, is each tool's own
declaration (``agent.tools.spec.StepCounts``), never a name written here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agent.tools.registry import step_counts


def _norm_path(p: Any) -> str:
    s = str(p or "").strip()
    while s.startswith("./"):
        s = s[2:]
    return s


def _call_key(call: dict[str, Any]) -> str:
    args = call.get("args")
    if args is not None:
        try:
            return (
                call["name"] + "\x1f" + json.dumps(json.loads(args) if isinstance(args, str) else args, sort_keys=True)
            )
        except (TypeError, ValueError):
            pass
    return call["name"] + "\x1f" + (call.get("arguments") or "").strip()


def step_flags(calls: Sequence[dict[str, Any]], patch_files: Sequence[str], finished: bool) -> dict[int, list[str]]:
    """calls: the rollout's tool calls in order (dicts with step, name, arguments, args
    (JSON text or dict), valid, ok). Returns step -> flags."""
    flags: dict[int, set[str]] = {}
    seen: set[str] = set()
    touched = {_norm_path(p) for p in patch_files}
    parsed = []
    for c in calls:
        a = c.get("args")
        if isinstance(a, str):
            try:
                a = json.loads(a)
            except ValueError:
                a = None
        parsed.append(a if isinstance(a, dict) else {})
    for i, c in enumerate(calls):
        f = flags.setdefault(c["step"], set())
        if not c.get("valid", True):
            f.add("invalid_call")
        elif c.get("ok") is not None and not c["ok"]:
            f.add("tool_error")
        key = _call_key(c)
        if key in seen:
            f.add("repeated_call")
        seen.add(key)
        counts = step_counts(c["name"])
        if counts.writes and (c.get("ok") is None or c["ok"]) and c.get("valid", True):
            seen.clear()  # the workspace changed: repeating a read or a test run is legitimate now
        if finished and counts.reads and c.get("valid", True):
            path = _norm_path(parsed[i].get(counts.reads))
            later_writes = {
                _norm_path(parsed[j].get(writes))
                for j in range(i + 1, len(calls))
                if (writes := step_counts(calls[j]["name"]).writes)
            }
            if path and path not in touched and path not in later_writes:
                f.add("unused_read")
    order = ("invalid_call", "tool_error", "repeated_call", "unused_read")
    return {s: [x for x in order if x in fs] for s, fs in flags.items()}
