"""What exports read from traces, read once per rollout and only as much as needed.

Exports rebuild every example from the trace's ``message`` events (the conversation the
model saw). Reading traces is the hot path of a large export, so a rollout's trace is
read at most once per export, and partially when that is enough:

- ``head``: ``rollout_start`` (tool schemas) and the messages before the first assistant
  message (system prompt and goal), read line by line from the top until then;
- ``final``: the ``final`` event (the agent's closing object), read from the file's tail;
- ``tail``: the messages holding the last K tool calls (patch+trajectory), read backwards
  from the end in growing windows;
- ``full``: every message with its step, and each step's tool-call validity.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TAIL_BYTES = 64 * 1024
_WANTED = (b'"message"', b'"tool_call"', b'"rollout_start"', b'"final"')


@dataclass
class Head:
    tools: list[dict[str, Any]]
    prompt: list[dict[str, Any]]  # the messages before the first assistant message


@dataclass
class Full:
    tools: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    steps: list[int | None]  # step of each message (None for system/user before step 1)
    invalid_steps: set[int] = field(default_factory=set)  # steps with an invalid tool call
    final: dict[str, Any] | None = None


class TraceCache:
    """Per-export cache of trace reads, keyed by trace path."""

    def __init__(self) -> None:
        self._head: dict[str, Head] = {}
        self._final: dict[str, dict[str, Any] | None] = {}
        self._full: dict[str, Full] = {}
        self._tail: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.reads = 0  # files opened (for tests and benches)

    def head(self, path: str) -> Head:
        if path in self._full:
            f = self._full[path]
            return Head(f.tools, _prompt_of(f.messages))
        hit = self._head.get(path)
        if hit is None:
            hit = self._head[path] = _read_head(Path(path))
            self.reads += 1
        return hit

    def final(self, path: str) -> dict[str, Any] | None:
        if path in self._full:
            return self._full[path].final
        if path not in self._final:
            self._final[path] = _read_final(Path(path))
            self.reads += 1
        return self._final[path]

    def tail(self, path: str, calls: int) -> list[dict[str, Any]]:
        """Messages (in order) from the end back to the one making the ``calls``-th last tool call."""
        if path in self._full:
            return self._full[path].messages
        key = (path, calls)
        hit = self._tail.get(key)
        if hit is None:
            hit = self._tail[key] = _read_tail(Path(path), calls)
            self.reads += 1
        return hit

    def full(self, path: str) -> Full:
        hit = self._full.get(path)
        if hit is None:
            hit = self._full[path] = _read_full(Path(path))
            self.reads += 1
        return hit


def _prompt_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        if m.get("role") == "assistant":
            break
        out.append(m)
    return out


def _read_head(path: Path) -> Head:
    tools: list[dict[str, Any]] = []
    prompt: list[dict[str, Any]] = []
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # a torn last line
            try:
                ev = json.loads(raw)
            except ValueError:
                continue  # readers skip bad lines (agent.trace does the same)
            kind = ev.get("kind") if isinstance(ev, dict) else None
            if kind == "rollout_start":
                tools = ev.get("tools") or []
            elif kind == "message" and isinstance(ev.get("message"), dict):
                if ev["message"].get("role") == "assistant":
                    break
                prompt.append(ev["message"])
    return Head(tools, prompt)


def _final_dict(ev: dict[str, Any]) -> dict[str, Any]:
    return {"summary": ev.get("summary") or "", "changes": ev.get("changes")}


def _read_final(path: Path) -> dict[str, Any] | None:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        start = max(0, size - TAIL_BYTES)
        f.seek(start)
        data = f.read()
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the first is a partial line
    for raw in reversed(lines):
        if b'"final"' not in raw:
            continue
        try:
            ev = json.loads(raw)
        except ValueError:
            continue
        if isinstance(ev, dict) and ev.get("kind") == "final":
            return _final_dict(ev)
    if start == 0:
        return None
    full = _read_full(path)  # a huge last event pushed `final` out of the tail window
    return full.final


def _read_tail(path: Path, calls: int) -> list[dict[str, Any]]:
    size = os.path.getsize(path)
    window = TAIL_BYTES
    with open(path, "rb") as f:
        while True:
            start = max(0, size - window)
            f.seek(start)
            lines = f.read().split(b"\n")[:-1]  # the last piece is "" or a torn line
            if start > 0:
                lines = lines[1:]  # the first is a partial line
            found: list[dict[str, Any]] = []
            n = 0
            for raw in reversed(lines):
                if b'"message"' not in raw:  # cheap: most events are not messages
                    continue
                try:
                    ev = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(ev, dict) or ev.get("kind") != "message" or not isinstance(ev.get("message"), dict):
                    continue
                found.append(ev["message"])
                if ev["message"].get("role") == "assistant":
                    n += len(ev["message"].get("tool_calls") or [])
                    if n >= calls:
                        return found[::-1]
            if start == 0:
                return found[::-1]
            window *= 4


def _read_full(path: Path) -> Full:
    """Every message with its step. Plain ``json.loads`` per line (pydantic validation of
    every event was most of a large export's time); torn and invalid lines are skipped,
    as agent.trace's reader does."""
    tools: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    steps: list[int | None] = []
    invalid: set[int] = set()
    final = None
    step = 0
    with open(path, "rb") as f:
        data = f.read()
    for raw in data.split(b"\n")[:-1]:  # the last piece is "" or a torn line
        if not any(k in raw for k in _WANTED):
            continue  # llm_call, tool_result, test_run...: not needed, not parsed
        try:
            ev = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(ev, dict):
            continue
        kind = ev.get("kind")
        if kind == "message":
            m = ev.get("message")
            if not isinstance(m, dict):
                continue
            s = ev.get("step")
            if m.get("role") == "assistant":
                step = s if isinstance(s, int) else step + 1
            messages.append(m)
            steps.append(s if isinstance(s, int) else (step or None))
        elif kind == "tool_call":
            if ev.get("valid") is False and isinstance(ev.get("step"), int):
                invalid.add(ev["step"])
        elif kind == "rollout_start":
            tools = ev.get("tools") or []
        elif kind == "final":
            final = _final_dict(ev)
    return Full(tools, messages, steps, invalid, final)
