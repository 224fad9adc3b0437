"""The patch of a rollout: git-style diffs, and the record of files too large to diff.

Code under test can write huge files, and the patch goes into the trace, the store and
the studio: a file over ``PATCH_FILE_MAX_BYTES`` (or any file once the patch has passed
``PATCH_MAX_BYTES``) is recorded by name, size and sha256, never its content.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

from unidiff import PatchSet

PATCH_FILE_MAX_BYTES = 256 * 1024
PATCH_MAX_BYTES = 2_000_000


def _digest(path: Path | None) -> tuple[int, str] | None:
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


def large_file_diff(rel: str, old: tuple[int, str] | None, new: tuple[int, str] | None) -> str:
    """A patch entry for a file too large to diff: its name, sizes and hashes (git's binary form)."""
    head = [f"diff --git a/{rel} b/{rel}\n"]
    if old is None:
        head.append("new file mode 100644\n")
    elif new is None:
        head.append("deleted file mode 100644\n")
    sides = "; ".join(f"{side} {n} bytes sha256 {h}" for side, d in (("a", old), ("b", new)) if d for n, h in [d])
    head.append(f"repo-agent: not diffed, over {PATCH_FILE_MAX_BYTES} bytes or past the patch cap: {sides}\n")
    a = "/dev/null" if old is None else f"a/{rel}"
    b = "/dev/null" if new is None else f"b/{rel}"
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


def file_diff(rel: str, old: bytes | None, new: bytes | None) -> str:
    """One file's git-style diff; ``None`` means the file does not exist on that side."""
    head = [f"diff --git a/{rel} b/{rel}\n"]
    if old is None:
        head.append("new file mode 100644\n")
    elif new is None:
        head.append("deleted file mode 100644\n")
    if (old is not None and _is_binary(old)) or (new is not None and _is_binary(new)):
        a = "/dev/null" if old is None else f"a/{rel}"
        b = "/dev/null" if new is None else f"b/{rel}"
        return "".join(head) + f"Binary files {a} and {b} differ\n"
    old_lines = _lines(old.decode("utf-8")) if old is not None else []
    new_lines = _lines(new.decode("utf-8")) if new is not None else []
    body = difflib.unified_diff(
        old_lines,
        new_lines,
        fromfile="/dev/null" if old is None else f"a/{rel}",
        tofile="/dev/null" if new is None else f"b/{rel}",
        n=3,
    )
    out = list(head)
    for line in body:
        if line.endswith("\n"):
            out.append(line)
        else:  # the last line of a file without a final newline
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def files_in_patch(patch: str) -> list[str]:
    """The files a git-style patch touches (parsed with unidiff)."""
    if not patch.strip():
        return []
    return [f.path for f in PatchSet(patch)]
