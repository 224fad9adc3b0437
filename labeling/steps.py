"""Automatic step flags, computed when a rollout's steps are read (never stored).

* ``invalid_call``: a tool call in the step failed its argument schema (``valid`` false).
* ``tool_error``: a valid call whose tool result was not ok.
* ``repeated_call``: a call with the same name and arguments (compared as parsed JSON,
  key order ignored) as an earlier call of the rollout, with no successful
  ``write_file`` in between: the workspace had not changed, so it is a loop.
* ``unused_read``: (finished rollouts only) a ``read_file`` of a path that the rollout
  never writes afterwards (no ``write_file`` to it later) and that its final patch does
  not touch. Paths are compared after dropping a leading ``./``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


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
        if c["name"] == "write_file" and (c.get("ok") is None or c["ok"]) and c.get("valid", True):
            seen.clear()  # the workspace changed: repeating a read or a test run is legitimate now
        if finished and c["name"] == "read_file" and c.get("valid", True):
            path = _norm_path(parsed[i].get("rel_path"))
            later_writes = {
                _norm_path(parsed[j].get("rel_path"))
                for j in range(i + 1, len(calls))
                if calls[j]["name"] == "write_file"
            }
            if path and path not in touched and path not in later_writes:
                f.add("unused_read")
    order = ("invalid_call", "tool_error", "repeated_call", "unused_read")
    return {s: [x for x in order if x in fs] for s, fs in flags.items()}
