"""One rollout's trace file: ``TraceWriter`` appends one flushed line per event; the readers
tolerate a torn last line and skip (with a warning) a line that fails validation, never
raising on a bad file (docs/ARCHITECTURE.md, Batches and traces)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent import trace_io
from agent.trace_events import EVENT_ADAPTER, EventBase, FinalEvent, RolloutEnd, RolloutStart, conversation
from agent.trace_io import open_regular

MAX_EVENT_CHARS = 4_000_000  # one trace line; a bigger event has its longest strings cut


def shrunk_line(line: str) -> str:
    """An over-size event with its longest strings cut (marked) until the line fits."""
    obj = json.loads(line)

    Found = list[tuple[int, Any, Any]]  # (length, the dict or list holding it, its key or index)

    def strings(node: object, out: Found) -> Found:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            if isinstance(v, str):
                out.append((len(v), node, k))
            else:
                strings(v, out)
        return out

    for n, node, k in sorted(strings(obj, []), key=lambda t: -t[0]):
        excess = len(json.dumps(obj, ensure_ascii=False)) - MAX_EVENT_CHARS
        if excess <= 0:
            break
        keep = max(0, n - excess - 200)
        node[k] = node[k][:keep] + f"[... cut: {n} chars, trace event cap]"
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class TraceWriter:
    """Appends events to one rollout's trace, one flushed line per event.

    Assigns ``seq`` and ``ts``; callers pass the event's own fields::

        w.emit(MessageEvent, message={...}, step=1)
    """

    def __init__(self, path: Path, rollout_id: str, *, truncate: bool = False, fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rollout_id = rollout_id
        self.seq = 0
        self._fsync = fsync
        self._lock = threading.RLock()
        self._f = open(self.path, "w" if truncate else "a", encoding="utf-8")

    def emit(self, event_cls: type[EventBase], **fields: Any) -> EventBase:
        # Locked: a stall watchdog thread writes to the same trace as the rollout thread.
        with self._lock:
            event = event_cls(rollout_id=self.rollout_id, seq=self.seq, ts=time.time(), **fields)
            self.write(event)
        return event

    def write(self, event: EventBase) -> None:
        line = event.model_dump_json(exclude_none=False)
        if len(line) > MAX_EVENT_CHARS:
            line = shrunk_line(line)
        with self._lock:
            self._f.write(line + "\n")
            self._f.flush()
            if self._fsync:
                os.fsync(self._f.fileno())
            self.seq = event.seq + 1

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- reader


@dataclass
class TraceWarning:
    path: str
    line_no: int  # 1-based
    offset: int  # byte offset of the line's start
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line_no}: {self.reason}"


@dataclass
class TraceRead:
    events: list[Any] = field(default_factory=list)
    warnings: list[TraceWarning] = field(default_factory=list)
    # Byte offset just past the last complete line: where an incremental reader resumes.
    end_offset: int = 0
    torn_tail: bool = False  # the file ended in a partial line (still being written, or a crash)

    @property
    def start(self) -> RolloutStart | None:
        return next((e for e in self.events if isinstance(e, RolloutStart)), None)

    @property
    def end(self) -> RolloutEnd | None:
        return next((e for e in reversed(self.events) if isinstance(e, RolloutEnd)), None)

    @property
    def final(self) -> FinalEvent | None:
        return next((e for e in reversed(self.events) if isinstance(e, FinalEvent)), None)

    def conversation(self) -> list[dict[str, Any]]:
        return conversation(self.events)


def iter_lines(data: bytes, base_offset: int = 0) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (offset, line, complete) for each line in ``data``; the last may be partial."""
    pos = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl == -1:
            yield base_offset + pos, data[pos:], False
            return
        yield base_offset + pos, data[pos:nl], True
        pos = nl + 1


def read_events_from(path: Path, offset: int = 0, *, first_line_no: int = 1, final: bool = False) -> TraceRead:
    """Read complete lines from ``offset`` on.

    A partial last line is left unread (``end_offset`` stops before it) so a tailing
    reader picks it up once the writer finishes it. With ``final=True`` (the writer is
    known to be gone) the partial line is reported as a torn line instead.
    """
    path = Path(path)
    out = TraceRead(end_offset=offset)
    with open_regular(path) as f:  # a FIFO named *.jsonl raises NotRegularFile, never blocks
        f.seek(offset)
        data = f.read()
    line_no = first_line_no
    for off, line, complete in iter_lines(data, offset):
        if not complete:
            out.torn_tail = True
            if final:
                out.warnings.append(TraceWarning(str(path), line_no, off, "torn last line (writer stopped mid-line)"))
            break
        out.end_offset = off + len(line) + 1
        if line.strip():
            try:
                out.events.append(validate_line(line))
            except ValidationError as exc:
                out.warnings.append(TraceWarning(str(path), line_no, off, _short_error(exc)))
        line_no += 1
    return out


def validate_line(line: bytes) -> Any:
    """One trace line as its event (pydantic's error when it is none)."""
    try:
        return EVENT_ADAPTER.validate_json(line)
    except ValidationError as exc:
        if exc.errors()[0].get("type") != "json_invalid":
            raise
    # Bad bytes or a lone surrogate: escaped as text (agent.trace_io), the line is kept.
    try:
        obj = trace_io.loads(line)
    except ValueError:
        return EVENT_ADAPTER.validate_json(line)  # really not JSON: raise pydantic's error
    return EVENT_ADAPTER.validate_python(obj)


def read_trace(path: Path) -> TraceRead:
    """Read a whole trace file; a torn last line is reported, never raised."""
    return read_events_from(path, 0, final=True)


def _short_error(exc: ValidationError) -> str:
    errs = exc.errors()
    if not errs:
        return "invalid line"
    e = errs[0]
    where = ".".join(str(x) for x in e.get("loc", ()))
    more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
    return f"invalid event: {where}: {e.get('msg', 'invalid')}{more}"
