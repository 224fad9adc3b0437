"""Reading trace bytes without trusting them: every reader of traces goes through here.

Traces sit in directories that model-written code and careless copies can reach, so a
reader must survive what it finds there:

- a FIFO, socket or device named ``*.jsonl`` (``open`` would block for ever): only
  regular files are opened, and the open itself never blocks (``O_NONBLOCK``);
- bytes that are not UTF-8: escaped as the text ``\\xNN`` inside the JSON text, so the
  line still parses and the byte stays visible;
- a lone surrogate (``"\\ud800"`` is valid JSON, but not encodable as UTF-8, so SQLite
  and file writers raise on it): escaped as the text ``\\ud800`` after parsing.

- numbers no reader can use (a 4,000-digit integer, ``NaN``, ``Infinity``, ``1e999``):
  the line is refused (ValueError) rather than raising later in SQLite or ``int()``;
- a line longer than ``MAX_LINE_BYTES`` or nested deeper than ``MAX_DEPTH``: refused by
  the readers that use `loads_bounded` / `read_capped` (docs/hostile-files.md).

Escaping never loses a line and never raises: what is odd stays visible as text.
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import stat
from collections.abc import Iterator
from typing import Any, BinaryIO

ESCAPE_ERRORS = "repo_agent_trace_escape"
MAX_LINE_BYTES = 32 * 1024 * 1024  # one trace line (the writer caps an event at 4M characters)
MAX_DEPTH = 200  # JSON nesting: a trace event or a trajectory is a few levels deep
MAX_INT = 2**63  # SQLite's integers; a bigger one is no count, step or size
MAX_JSON_VALUES = 3_000_000  # values in one document (`loads_bounded`): about 200 MB as Python objects


def _bounded_int(text: str) -> int:
    if len(text) > 20:
        raise ValueError(f"number with {len(text)} digits")
    value = int(text)
    if not -MAX_INT <= value < MAX_INT:
        raise ValueError("number out of range")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]} is not finite")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a trace may hold")


# json's decoder with the number checks: parse_int and parse_float are called only for numbers.
DECODER = json.JSONDecoder(parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant)
# `may_hold_big_int`'s view: digits as "0", every other byte a blank.
_DIGITS_TABLE = bytes(ord("0") if b in b"0123456789" else ord(" ") for b in range(256))


def may_hold_big_int(data: bytes) -> bool:
    """Whether ``data`` holds a run of 19+ digits: the only way to write an integer of 2**63 or
    more. For a parser that refuses infinite floats and lone surrogates itself (orjson), this is
    the one check it needs (json's checked DECODER refuses the rest)."""
    return b"0000000000000000000" in data.translate(_DIGITS_TABLE)


def _escape_bad_bytes(exc: UnicodeError) -> tuple[str, int]:
    # Two backslashes: inside a JSON string they decode to the text "\xNN".
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(f"\\\\x{b:02x}" for b in bad), exc.end


codecs.register_error(ESCAPE_ERRORS, _escape_bad_bytes)


class LineTooLong(OSError):
    """A line past ``MAX_LINE_BYTES`` read from a file's end: what is before it (a trace's earlier
    ``rollout_end``) cannot be read that way. An OSError, as the file had been unreadable: a
    caller that treats an unreadable trace as one it cannot judge does so here too."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(f"{path}: a line longer than {MAX_LINE_BYTES:,} bytes: the lines before it not read")


class NotRegularFile(OSError):
    """A trace path that is a FIFO, socket, device, directory or symlink: never opened.
    ``what`` names it ("a FIFO")."""

    def __init__(self, path: str | os.PathLike[str], what: str) -> None:
        super().__init__(f"{path}: {what}, not a regular file: skipped")
        self.what = what


def file_kind(mode: int) -> str:
    """What a file of ``mode`` is, in words ("a FIFO")."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def check_regular(path: str | os.PathLike[str], st: os.stat_result | None = None) -> os.stat_result:
    """``lstat`` the path; raise NotRegularFile unless it is a regular file."""
    st = st if st is not None else os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(path, file_kind(st.st_mode))
    return st


def open_regular_fd(path: str | os.PathLike[str], flags: int = os.O_RDONLY, *, follow: bool = False) -> int:
    """``os.open`` of a regular file (``flags``: O_RDONLY, O_WRONLY | O_TRUNC...) that never
    blocks and never follows a final symlink (``follow=True``: a link to a regular file is
    opened, one to a device or FIFO is not).

    Raises NotRegularFile (an OSError) for anything else, checked on the open file
    itself, so a file swapped for a FIFO between a ``stat`` and the open is caught.
    """
    check_regular(path, os.stat(path) if follow else None)
    flags |= os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # it became a symlink meanwhile
            raise NotRegularFile(path, "a symlink") from None
        raise
    try:
        check_regular(path, os.fstat(fd))
        os.set_blocking(fd, True)  # a regular file: O_NONBLOCK only guarded the open
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(path: str | os.PathLike[str], *, follow: bool = False) -> BinaryIO:
    """``open_regular_fd`` for reading, as a binary file."""
    return os.fdopen(open_regular_fd(path, follow=follow), "rb")


def read_regular(path: str | os.PathLike[str], limit: int = -1, *, follow: bool = False) -> bytes:
    """A regular file's bytes (the first ``limit`` of them when given); see ``open_regular``."""
    with open_regular(path, follow=follow) as f:
        return f.read(limit)


def decode(data: bytes) -> str:
    """UTF-8 text with bad bytes escaped (``\\xNN`` as JSON-safe text)."""
    return data.decode("utf-8", ESCAPE_ERRORS)


def _has_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(s: str) -> str:
    """``s`` with lone surrogates replaced by their ``\\udXXX`` escape text."""
    if _has_surrogate(s):
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def clean(obj: Any) -> Any:
    """A parsed JSON value with every lone surrogate in its strings (and keys) escaped."""
    if isinstance(obj, str):
        return clean_text(obj)
    if isinstance(obj, dict):
        return {clean_text(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [clean(v) for v in obj]
    return obj


def may_hold_surrogate(line: str) -> bool:
    """Cheap pre-check: a lone surrogate can only come from a ``\\uD800``-``\\uDFFF`` escape."""
    return "\\ud" in line or "\\uD" in line


def loads(line: str | bytes) -> Any:
    """``json.loads`` of one trace line, with bad bytes and lone surrogates escaped.

    Raises ValueError when the line is not JSON (or holds a number no reader can use, or
    nests deeper than the interpreter can follow).
    """
    try:
        return _loads(line)
    except RecursionError:  # `clean` walking a value nested hundreds deep
        raise ValueError("nested too deep") from None


def _loads(line: str | bytes) -> Any:
    if isinstance(line, (bytes, bytearray)):
        try:
            text = bytes(line).decode("utf-8", "surrogatepass")  # the common case: valid UTF-8
        except UnicodeDecodeError:
            return _loads(decode(line))
        # "surrogatepass": an encoded surrogate (ED A0..BF) arrives too, as json.loads would take it
        obj = _decode(text)
        return clean(obj) if (may_hold_surrogate(text) or b"\xed" in line) else obj
    obj = _decode(line)
    return clean(obj) if may_hold_surrogate(line) else obj


def _decode(text: str) -> Any:
    try:
        return DECODER.decode(text[1:] if text.startswith("\ufeff") else text)
    except RecursionError:
        raise ValueError("nested too deep") from None


def depth_exceeds(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a parsed value nests containers more than ``limit`` deep (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        if depth > limit:
            return True
        stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
    return False


def too_many_values(data: str | bytes, limit: int = MAX_JSON_VALUES) -> bool:
    """Whether a JSON text may hold more than ``limit`` values (counted by their separators and
    openers, strings' contents included: an over-count, never an under-count). Each parsed value
    is a Python object of 50+ bytes, so 20 MB of ``[],[],...`` would take over a gigabyte."""
    if len(data) <= limit:
        return False
    if isinstance(data, str):
        return data.count(",") + data.count("[") + data.count("{") > limit
    return data.count(b",") + data.count(b"[") + data.count(b"{") > limit


def loads_bounded(data: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """`loads` for a whole untrusted JSON document: ValueError when it nests deeper than
    ``max_depth`` or holds more than ``MAX_JSON_VALUES`` values."""
    if too_many_values(data):
        raise ValueError(f"more than {MAX_JSON_VALUES:,} values")
    obj = loads(data)
    if depth_exceeds(obj, max_depth):
        raise ValueError(f"nested more than {max_depth} deep")
    return obj


def is_regular_entry(entry: os.DirEntry) -> bool:
    """For directory scans: a regular file, not a symlink (``DirEntry`` caches the lstat)."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


__all__ = [
    "LineTooLong",
    "NotRegularFile",
    "check_regular",
    "clean",
    "clean_text",
    "decode",
    "is_regular_entry",
    "depth_exceeds",
    "too_many_values",
    "loads",
    "loads_bounded",
    "may_hold_big_int",
    "may_hold_surrogate",
    "file_kind",
    "open_regular",
    "open_regular_fd",
    "read_regular",
]


def lines_from_end(path: str | os.PathLike[str], block: int = 1 << 16) -> Iterator[bytes]:
    """A file's non-blank lines, last first, read backwards in blocks (a trace's
    ``rollout_end`` can hold a large patch; a line's blocks are joined once, so a 32 MB line
    costs its bytes, not a copy per block). ``LineTooLong`` at a line longer than
    ``MAX_LINE_BYTES``, once the lines after it are given (no reader takes one, and a hostile
    file of one line is never held whole; the lines before it are unknown, never silently
    none). Regular files only: a trace swapped for a FIFO is never waited on."""
    with open_regular(path) as f:
        pos = f.seek(0, os.SEEK_END)
        tail: list[bytes] = []  # the line not yet whole, its pieces last first
        held = 0  # the bytes in ``tail``
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            parts = f.read(step).split(b"\n")
            if len(parts) > 1:
                tail.append(parts[-1])
                for line in (b"".join(reversed(tail)), *reversed(parts[1:-1])):
                    if len(line) > MAX_LINE_BYTES:
                        raise LineTooLong(path)
                    if line.strip():
                        yield line
                tail, held = [], 0
            tail.append(parts[0])
            held += len(parts[0])
            if held > MAX_LINE_BYTES:
                raise LineTooLong(path)
        line = b"".join(reversed(tail))
        if line.strip():
            yield line


def last_line(path: str | os.PathLike[str], block: int = 1 << 16) -> bytes:
    """A file's last non-blank line (b"" for none); see ``lines_from_end`` (``LineTooLong``)."""
    return next(lines_from_end(path, block), b"")
