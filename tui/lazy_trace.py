"""Reading a trace whose messages can be huge (a tool output of megabytes): a big message's
content stays in the file, as the offsets of its JSON string, until a screen shows it.

The file is mapped, not read: lines are found with `find`, small ones are validated as
usual, and a message line over `BIG_LINE` bytes is validated with its content cut out (a
"skeleton": the line's head up to ``"content":"`` and its tail from the string's closing
quote). A rollout with 100 MB of tool output opens in the time it takes to find its lines.
Plain code: no widgets.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent import trace_io
from agent.trace import MessageEvent
from agent.trace_events import EVENT_ADAPTER
from agent.trace_file import validate_line
from agent.trace_io import open_regular

BIG_LINE = 64 * 1024  # a line this long has its content left in the file
HEAD_BYTES = 4096  # what a folded view or the call pane decodes of a big content
_CONTENT = b'"content":"'


class LazyText:
    """A message's content in a trace file: the escaped body of a JSON string, decoded when
    read (`head` decodes a prefix only; `text` the whole, once)."""

    __slots__ = ("path", "start", "end", "_text")

    def __init__(self, path: Path, start: int, end: int) -> None:
        self.path, self.start, self.end = path, start, end
        self._text: str | None = None

    @property
    def size(self) -> int:
        return self.end - self.start

    def _raw(self, limit: int | None = None) -> bytes:
        end = self.end if limit is None else min(self.end, self.start + limit)
        with open_regular(self.path) as f:
            f.seek(self.start)
            return f.read(end - self.start)

    def head(self, limit: int = HEAD_BYTES) -> str:
        if self._text is not None or self.size <= limit:
            return self.text()
        raw = self._raw(limit)
        # Cut anywhere: back off over a split escape or UTF-8 sequence (a few bytes at most).
        for cut in range(len(raw), max(0, len(raw) - 12), -1):
            try:
                return _decode(raw[:cut], strict=True)
            except ValueError:
                continue
        return _decode(raw, strict=False)

    def text(self) -> str:
        if self._text is None:
            try:
                self._text = _decode(self._raw(), strict=True)
            except ValueError:
                self._text = _decode(self._raw(), strict=False)
        return self._text


def _decode(raw: bytes, *, strict: bool) -> str:
    if strict:
        out = json.loads(b'"' + raw + b'"')
    else:  # bad bytes or a lone surrogate: escaped as text, as every trace reader does
        out = trace_io.loads(b'"' + raw + b'"')
    return out if isinstance(out, str) else str(out)


@dataclass
class LazyRead:
    events: list[Any] = field(default_factory=list)
    lazy: dict[int, LazyText] = field(default_factory=dict)  # index in events -> its content
    end_offset: int = 0
    lines: int = 0
    warnings: int = 0


def read_lazily(path: Path, offset: int) -> LazyRead:
    """Complete lines from ``offset`` on (a partial last line is left for the next read)."""
    out = LazyRead(end_offset=offset)
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size <= offset:
            return out
        trace = _BlockReader(f.fileno(), size)
        pos = offset
        while pos < size:
            nl = trace.find_newline(pos)
            if nl < 0:
                break
            out.end_offset = nl + 1
            out.lines += 1
            big = _skeleton(trace, pos, nl, path) if nl - pos > BIG_LINE else None
            if big is not None:
                out.lazy[len(out.events)] = big[1]
                out.events.append(big[0])
            else:
                line = trace.read(pos, nl)
                if line.strip():
                    try:
                        out.events.append(validate_line(line))
                    except ValidationError:
                        out.warnings += 1
            pos = nl + 1
    return out


class _BlockReader:
    """A trace read by ``pread`` a block at a time: offsets, not the whole text, and never a
    memory map (a file truncated or rewritten under a map ends the studio with SIGBUS, which
    nothing can catch; a short read here only ends the scan)."""

    BLOCK = 1 << 20

    def __init__(self, fd: int, size: int):
        self.fd, self.size = fd, size
        self.start, self.buf = 0, b""

    def find_newline(self, pos: int) -> int:
        while pos < self.size:
            if not self.start <= pos < self.start + len(self.buf):
                self.start, self.buf = pos, os.pread(self.fd, self.BLOCK, pos)
                if not self.buf:  # the file shrank under us
                    return -1
            at = self.buf.find(b"\n", pos - self.start)
            if at >= 0:
                return self.start + at
            pos = self.start + len(self.buf)
        return -1

    def read(self, start: int, end: int) -> bytes:
        if self.start <= start and end <= self.start + len(self.buf):
            return self.buf[start - self.start : end - self.start]
        return os.pread(self.fd, end - start, start)


def _skeleton(trace: _BlockReader, start: int, end: int, path: Path) -> tuple[MessageEvent, LazyText] | None:
    """A big message line validated without its content, and where that content is; None
    when the line is not a message with one string content (it is then read whole)."""
    head = trace.read(start, min(end, start + 4096))
    at = head.find(_CONTENT)
    if at < 0 or b'"kind":"message"' not in head:
        return None
    body = start + at + len(_CONTENT)
    tail_from = max(body, end - 1024)
    tail = trace.read(tail_from, end)
    # The closing quote: an unescaped one after which the rest of the line completes the JSON.
    q = len(tail)
    while (q := tail.rfind(b'"', 0, q)) >= 0:
        backslashes = len(tail[:q]) - len(tail[:q].rstrip(b"\\"))
        if backslashes % 2 == 0:
            try:
                obj = json.loads(head[: at + len(_CONTENT)] + tail[q:])
                event = EVENT_ADAPTER.validate_python(obj)
            except (ValueError, ValidationError):
                continue
            if isinstance(event, MessageEvent) and event.message.get("content") == "":
                return event, LazyText(path, body, tail_from + q)
            return None
    return None
