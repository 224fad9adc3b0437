"""Reading trace bytes without trusting them: every reader of traces goes through here.

Traces sit in directories that model-written code and careless copies can reach, so a
reader must survive what it finds there:

- a FIFO, socket or device named ``*.jsonl`` (``open`` would block for ever): only
  regular files are opened, and the open itself never blocks (``O_NONBLOCK``);
- bytes that are not UTF-8: escaped as the text ``\\xNN`` inside the JSON text, so the
  line still parses and the byte stays visible;
- a lone surrogate (``"\\ud800"`` is valid JSON, but not encodable as UTF-8, so SQLite
  and file writers raise on it): escaped as the text ``\\ud800`` after parsing.

Escaping never loses a line and never raises: what is odd stays visible as text.
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import stat
from typing import Any, BinaryIO

ESCAPE_ERRORS = "repo_agent_trace_escape"


def _escape_bad_bytes(exc: UnicodeError) -> tuple[str, int]:
    # Two backslashes: inside a JSON string they decode to the text "\xNN".
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(f"\\\\x{b:02x}" for b in bad), exc.end


codecs.register_error(ESCAPE_ERRORS, _escape_bad_bytes)


class NotRegularFile(OSError):
    """A trace path that is a FIFO, socket, device, directory or symlink: never opened."""


def _kind(mode: int) -> str:
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
        raise NotRegularFile(f"{path}: {_kind(st.st_mode)}, not a regular file: skipped")
    return st


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for reading; never blocks, never follows a final symlink.

    Raises NotRegularFile (an OSError) for anything else, checked on the open file
    itself, so a file swapped for a FIFO between a ``stat`` and the open is caught.
    """
    check_regular(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # it became a symlink meanwhile
            raise NotRegularFile(f"{path}: a symlink, not a regular file: skipped") from None
        raise
    try:
        check_regular(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_regular(path: str | os.PathLike[str]) -> bytes:
    with open_regular(path) as f:
        return f.read()


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

    Raises ValueError when the line is not JSON.
    """
    if isinstance(line, (bytes, bytearray)):
        try:
            obj = json.loads(line)  # the common case: valid UTF-8, decoded in C
        except UnicodeDecodeError:
            return loads(decode(line))
        # json decodes bytes with "surrogatepass": an encoded surrogate (ED A0..BF) arrives too
        return clean(obj) if (b"\\ud" in line or b"\\uD" in line or b"\xed" in line) else obj
    obj = json.loads(line)
    return clean(obj) if may_hold_surrogate(line) else obj


def is_regular_entry(entry: os.DirEntry) -> bool:
    """For directory scans: a regular file, not a symlink (``DirEntry`` caches the lstat)."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


__all__ = [
    "NotRegularFile",
    "check_regular",
    "clean",
    "clean_text",
    "decode",
    "is_regular_entry",
    "loads",
    "may_hold_surrogate",
    "open_regular",
    "read_regular",
]
