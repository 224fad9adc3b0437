"""The patch of a rollout: git-style diffs, and the record of files too large to diff.

Code under test can write huge files, and the patch goes into the trace, the store and
the studio: a file over ``PATCH_FILE_MAX_BYTES`` (or any file once the patch has passed
``PATCH_MAX_BYTES``), and a binary file, is recorded by name, size and sha256, never its
content.

A file name is whatever bytes a test wrote: newlines, ``diff --git``, ``+++ b/``, control
characters, invalid UTF-8. A name that is not plain printable ASCII (or holds a space,
``"`` or ``\\``) is written C-quoted as git writes it (``"a/x\\n+++\\040b/y"``; other bytes,
the space too, in octal), so it never starts a line of its own or breaks the parse, and
the patch is ASCII whatever the name held (``display_name``).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import stat
from pathlib import Path

from unidiff import PatchedFile, PatchSet
from unidiff.constants import DEV_NULL

PATCH_FILE_MAX_BYTES = 256 * 1024
PATCH_MAX_BYTES = 2_000_000


_ESCAPES = {0x07: "\\a", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0C: "\\f", 0x0D: "\\r"}
_ESCAPES |= {0x22: '\\"', 0x5C: "\\\\"}


def _needs_quoting(raw: bytes) -> bool:
    return any(b <= 0x20 or b >= 0x7F or b in (0x22, 0x5C) for b in raw)


def quote_path(path: str) -> str:
    """``path`` as git writes it in a patch: as it is when plain, else C-quoted. A name
    read from disk that is not UTF-8 holds surrogate escapes: they become its bytes."""
    raw = path.encode("utf-8", "surrogateescape")
    if not _needs_quoting(raw):
        return path
    # A space too goes in octal: then no " b/" inside a name can split the header in two.
    body = "".join(_ESCAPES.get(b) or (chr(b) if 0x20 < b < 0x7F else f"\\{b:03o}") for b in raw)
    return f'"{body}"'


_OCTAL = re.compile(rb"\\([0-7]{3})")
_C_ESCAPES = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b'"': 34, b"\\": 92}


def unquote_path(name: str) -> str:
    """A path as git writes it in a header: plain, or C-quoted (agent/patch_format.py
    the inverse of ``quote_path``): the bytes it stands for, as ``str`` (undecodable bytes kept as escapes)."""
    if not (len(name) >= 2 and name[0] == name[-1] == '"'):
        return name
    raw, out, i = name[1:-1].encode("ascii", "surrogateescape"), bytearray(), 0
    while i < len(raw):
        if raw[i] == 0x5C and i + 1 < len(raw):
            if m := _OCTAL.match(raw, i):
                out.append(int(m.group(1), 8) & 0xFF)
                i += 4
                continue
            out.append(_C_ESCAPES.get(raw[i + 1 : i + 2], raw[i + 1]))
            i += 2
            continue
        out.append(raw[i])
        i += 1
    return out.decode("utf-8", "surrogateescape")


def display_name(rel: str) -> str:
    """A workspace-relative name as the trace and the studio show it: as it is when it is
    printable text (spaces and non-ASCII letters kept), else quoted; the result is always
    printable, so showing it twice changes nothing."""
    if rel.isprintable() and not any("\udc80" <= ch <= "\udcff" for ch in rel):
        return rel
    return quote_path(rel)


def file_digest(path: Path | None) -> tuple[int, str] | None:
    """(size, sha256) of a file, read in blocks (never whole into memory)."""
    if path is None:
        return None
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


# A file's mode as git records it: executable (its owner's x bit) or not, nothing else (git
# keeps no other permission bit, so neither does a patch, nor a rebuild from one).
REGULAR, EXECUTABLE = "100644", "100755"
Modes = tuple[str, str]  # (the source's, the workspace's) of one file; a side that is absent: either


def git_mode(st_mode: int) -> str:
    """``REGULAR`` or ``EXECUTABLE``: the mode a patch records for a file of ``st_mode``."""
    return EXECUTABLE if st_mode & stat.S_IXUSR else REGULAR


def _mode_lines(old_exists: bool, new_exists: bool, modes: Modes) -> list[str]:
    """The header's mode lines, as git writes them: a new or removed file's mode, or a change of mode."""
    if not old_exists:
        return [f"new file mode {modes[1]}\n"]
    if not new_exists:
        return [f"deleted file mode {modes[0]}\n"]
    return [f"old mode {modes[0]}\n", f"new mode {modes[1]}\n"] if modes[0] != modes[1] else []


def _bytes_digest(data: bytes | None) -> tuple[int, str] | None:
    return None if data is None else (len(data), hashlib.sha256(data).hexdigest())


def large_file_diff(
    rel: str,
    old: tuple[int, str | None] | None,
    new: tuple[int, str | None] | None,
    modes: Modes = (REGULAR, REGULAR),
) -> str:
    """A patch entry for a file too large to diff: its name, sizes and hashes (git's binary
    form). A hash of None: the file was not read (past the patch's read budget)."""
    a_name, b_name = quote_path(f"a/{rel}"), quote_path(f"b/{rel}")
    head = [f"diff --git {a_name} {b_name}\n", *_mode_lines(old is not None, new is not None, modes)]
    sides = "; ".join(
        f"{side} {n} bytes " + (f"sha256 {h}" if h else "not read")
        for side, d in (("a", old), ("b", new))
        if d
        for n, h in [d]
    )
    head.append(f"repo-agent: not diffed, binary, over {PATCH_FILE_MAX_BYTES} bytes or past the patch cap: {sides}\n")
    a = "/dev/null" if old is None else a_name
    b = "/dev/null" if new is None else b_name
    return "".join(head) + f"Binary files {a} and {b} differ\n"


def _is_binary(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _lines(text: str) -> list[str]:
    """Split on "\n" only (str.splitlines also splits on \r, \f, ... which diff tools do not)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def file_diff(rel: str, old: bytes | None, new: bytes | None, modes: Modes = (REGULAR, REGULAR)) -> str:
    """One file's git-style diff; ``None`` means the file does not exist on that side. A
    change of mode alone is a header without hunks, as git writes it."""
    a_name, b_name = quote_path(f"a/{rel}"), quote_path(f"b/{rel}")
    head = [f"diff --git {a_name} {b_name}\n", *_mode_lines(old is not None, new is not None, modes)]
    if (old is not None and _is_binary(old)) or (new is not None and _is_binary(new)):
        # By size and sha256, as a large file: a bare "Binary files differ" recorded nothing
        # of code Python runs all the same (a latin-1 source with a coding cookie).
        return large_file_diff(rel, _bytes_digest(old), _bytes_digest(new), modes)
    old_lines = _lines(old.decode("utf-8")) if old is not None else []
    new_lines = _lines(new.decode("utf-8")) if new is not None else []
    body = difflib.unified_diff(
        old_lines,
        new_lines,
        fromfile="/dev/null" if old is None else a_name,
        tofile="/dev/null" if new is None else b_name,
        n=3,
    )
    out = list(head)
    for line in body:
        if line.endswith("\n"):
            out.append(line)
        else:  # the last line of a file without a final newline
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


# A file's removal and creation are what its patch header says, as ``git apply`` reads them:
# ``deleted file mode`` / ``+++ /dev/null``, ``new file mode`` / ``--- /dev/null`` (unidiff
# puts /dev/null on that side for either spelling). Never unidiff's ``is_removed_file`` /
# ``is_added_file``, which also take a lone hunk ending at ``+0,0`` (a file made empty) for a
# removal and one starting at ``-0,0`` (an empty file given lines) for a creation: a rebuild
# that read them so judged another tree than the run did (round 24 r24v-8: an emptied
# helpers.py rebuilt as gone, and ``helpers`` became a directory beside it).
def removes_file(pf: PatchedFile) -> bool:
    """The patch removes this file (its header says so: an emptied file is no removal)."""
    return bool(pf.target_file == DEV_NULL)


def creates_file(pf: PatchedFile) -> bool:
    """The patch creates this file (its header says so: lines given to an empty file are no creation)."""
    return bool(pf.source_file == DEV_NULL)


def files_in_patch(patch: str) -> list[str]:
    """The files a git-style patch touches (parsed with unidiff)."""
    if not patch.strip():
        return []
    return [f.path for f in PatchSet(patch)]
