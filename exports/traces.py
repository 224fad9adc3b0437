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

Exports read only what ingest accepted (one validation, in labeling.trace_rows): a trace
is read up to the bytes the store indexed, and the lines ingest skipped (``"step": 1.5``,
a message that is not an object...) are skipped here too, with ingest's own warning in the
export report. Traces are opened as regular files only (a FIFO is skipped, never read), and
bad bytes and lone surrogates are escaped as text (agent.trace_io), never fatal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.trace_io import loads, open_regular
from labeling.trace_rows import line_warning

TAIL_BYTES = 64 * 1024
HEAD_BYTES = 8 * 1024
_WANTED = (b'"message"', b'"tool_call"', b'"rollout_start"', b'"final"')


@dataclass
class Accepted:
    """What ingest accepted of one trace: the bytes it indexed and the lines it skipped."""

    end: int | None = None  # read no further (None: the whole file)
    bad: dict[int, tuple[int, str]] = field(default_factory=dict)  # offset -> (line_no, reason)


_EVERYTHING = Accepted()  # no store at hand: every complete line (never mutated)


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
    """Per-export cache of trace reads, keyed by trace path.

    ``ends`` and ``bad`` come from `LabelStore.accepted_lines` (without them every complete
    line is read, for callers that have no store). The lines skipped are listed, once per
    trace, in ``warnings``.
    """

    def __init__(
        self, ends: dict[str, int] | None = None, bad: dict[str, list[tuple[int, int, str]]] | None = None
    ) -> None:
        self._head: dict[str, Head] = {}
        self._final: dict[str, dict[str, Any] | None] = {}
        self._full: dict[str, Full] = {}
        self._tail: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._ends = ends
        self._bad = bad or {}
        self._warned: set[str] = set()
        self.warnings: list[str] = []
        self.reads = 0  # files opened (for tests and benches)

    def _accepted(self, path: str) -> Accepted:
        if path not in self._warned:
            self._warned.add(path)
            self.warnings.extend(line_warning(path, ln, reason) for ln, _off, reason in self._bad.get(path, ()))
        end = None if self._ends is None else self._ends.get(path, 0)
        return Accepted(end, {off: (ln, reason) for ln, off, reason in self._bad.get(path, ())})

    def head(self, path: str) -> Head:
        if path in self._full:
            f = self._full[path]
            return Head(f.tools, _prompt_of(f.messages))
        hit = self._head.get(path)
        if hit is None:
            hit = self._head[path] = _read_head(Path(path), self._accepted(path))
            self.reads += 1
        return hit

    def final(self, path: str) -> dict[str, Any] | None:
        if path in self._full:
            return self._full[path].final
        if path not in self._final:
            self._final[path] = _read_final(Path(path), self._accepted(path))
            self.reads += 1
        return self._final[path]

    def tail(self, path: str, calls: int) -> list[dict[str, Any]]:
        """Messages (in order) from the end back to the one making the ``calls``-th last tool call."""
        if path in self._full:
            return self._full[path].messages
        key = (path, calls)
        hit = self._tail.get(key)
        if hit is None:
            hit = self._tail[key] = _read_tail(Path(path), calls, self._accepted(path))
            self.reads += 1
        return hit

    def full(self, path: str) -> Full:
        hit = self._full.get(path)
        if hit is None:
            hit = self._full[path] = _read_full(Path(path), self._accepted(path))
            self.reads += 1
        return hit


def _prompt_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        if m.get("role") == "assistant":
            break
        out.append(m)
    return out


def _lines(data: bytes, start: int, acc: Accepted, *, partial_first: bool) -> list[bytes]:
    """The complete, accepted lines of ``data`` (read from byte ``start`` of the file)."""
    pieces = data.split(b"\n")[:-1]  # the last piece is "" or a torn line
    if not acc.bad:  # the common case: no offsets to compute
        return pieces[1:] if partial_first else pieces
    out = []
    pos = start
    for i, raw in enumerate(pieces):
        off = pos
        pos += len(raw) + 1
        if not ((i == 0 and partial_first) or off in acc.bad):
            out.append(raw)
    return out


def _read(path: Path, acc: Accepted, *, first: int | None = None, last: int | None = None) -> tuple[bytes, int, int]:
    """(data, start, end): the first or last bytes (or all) up to what ingest indexed."""
    with open_regular(path) as f:  # a FIFO named *.jsonl raises, never blocks
        size = os.fstat(f.fileno()).st_size
        end = size if acc.end is None else min(acc.end, size)
        start = max(0, end - last) if last is not None else 0
        stop = min(end, first) if first is not None else end
        f.seek(start)
        return f.read(stop - start), start, end


def _event(raw: bytes) -> dict[str, Any] | None:
    try:
        ev = loads(raw)  # bad bytes and lone surrogates escaped as text
    except ValueError:
        return None
    return ev if isinstance(ev, dict) else None


def _read_head(path: Path, acc: Accepted = _EVERYTHING) -> Head:
    window = HEAD_BYTES  # the prompt is the first few lines: read little, grow if needed
    while True:
        tools: list[dict[str, Any]] = []
        prompt: list[dict[str, Any]] = []
        data, _start, end = _read(path, acc, first=window)
        for raw in _lines(data, 0, acc, partial_first=False):
            ev = _event(raw)
            if ev is None:
                continue
            kind = ev.get("kind")
            if kind == "rollout_start":
                tools = ev.get("tools") or []
            elif kind == "message" and isinstance(ev.get("message"), dict):
                if ev["message"].get("role") in ("assistant", "tool"):  # (tool: its assistant line was skipped)
                    return Head(tools, prompt)
                prompt.append(ev["message"])
        if len(data) >= end:
            return Head(tools, prompt)
        window *= 4


def _final_dict(ev: dict[str, Any]) -> dict[str, Any]:
    return {"summary": ev.get("summary") or "", "changes": ev.get("changes")}


def _read_final(path: Path, acc: Accepted = _EVERYTHING) -> dict[str, Any] | None:
    data, start, _end = _read(path, acc, last=TAIL_BYTES)
    for raw in reversed(_lines(data, start, acc, partial_first=start > 0)):
        if b'"final"' not in raw:
            continue
        ev = _event(raw)
        if ev is not None and ev.get("kind") == "final":
            return _final_dict(ev)
    if start == 0:
        return None
    return _read_full(path, acc).final  # a huge last event pushed `final` out of the tail window


def _read_tail(path: Path, calls: int, acc: Accepted = _EVERYTHING) -> list[dict[str, Any]]:
    window = TAIL_BYTES
    while True:
        data, start, _end = _read(path, acc, last=window)
        found: list[dict[str, Any]] = []
        n = 0
        for raw in reversed(_lines(data, start, acc, partial_first=start > 0)):
            if b'"message"' not in raw:  # cheap: most events are not messages
                continue
            ev = _event(raw)
            if ev is None or ev.get("kind") != "message" or not isinstance(ev.get("message"), dict):
                continue
            found.append(ev["message"])
            if ev["message"].get("role") == "assistant":
                n += len(ev["message"].get("tool_calls") or [])
                if n >= calls:
                    return found[::-1]
        if start == 0:
            return found[::-1]
        window *= 4


def _read_full(path: Path, acc: Accepted = _EVERYTHING) -> Full:
    """Every message with its step. Plain ``json.loads`` per line (pydantic validation of
    every event was most of a large export's time); torn lines and the lines ingest
    rejected are skipped."""
    tools: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    steps: list[int | None] = []
    invalid: set[int] = set()
    final = None
    step = 0
    data, _start, _end = _read(path, acc)
    for raw in _lines(data, 0, acc, partial_first=False):
        if not any(k in raw for k in _WANTED):
            continue  # llm_call, tool_result, test_run...: not needed, not parsed
        ev = _event(raw)
        if ev is None:
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
    if acc.bad:
        messages, steps = _drop_orphans(messages, steps)
    return Full(tools, messages, steps, invalid, final)


def _drop_orphans(messages: list[dict[str, Any]], steps: list[int | None]) -> tuple[list, list]:
    """Without an assistant message ingest rejected, the tool results answering its calls
    would make the whole example invalid: drop them, so the rest of the rollout is kept."""
    keep_m, keep_s = [], []
    open_calls: set[Any] = set()
    for m, s in zip(messages, steps):
        role = m.get("role")
        if role == "assistant":
            open_calls = {tc.get("id") for tc in m.get("tool_calls") or [] if isinstance(tc, dict)}
        elif role == "tool":
            if m.get("tool_call_id") not in open_calls:
                continue
        else:
            open_calls = set()
        keep_m.append(m)
        keep_s.append(s)
    return keep_m, keep_s
