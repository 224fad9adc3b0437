"""Patch helpers for pair flags: whitespace normalisation and the size of a diff."""

from __future__ import annotations

import hashlib
import re

_WS = re.compile(r"\s+")


def normalize_patch(patch: str) -> str:
    """A patch with whitespace differences removed, for `identical_patch` and `flaky`.

    Kept: file headers and the changed (+/-) lines, each with every run of whitespace
    collapsed to one space and trailing/leading space dropped; lines that become
    empty are dropped. Dropped: ``index`` lines (blob hashes), hunk headers (their line
    numbers shift with blank lines) and context lines.
    """
    out = []
    for line in patch.splitlines():
        if not line or line.startswith(("index ", "@@", " ")) or line == "\\ No newline at end of file":
            continue
        if line.startswith(("+", "-", "diff ", "new file", "deleted file", "rename ", "similarity")):
            if line.startswith(("+++", "---", "diff ")):
                out.append(line.strip())
                continue
            body = _WS.sub(" ", line[1:]).strip() if line[0] in "+-" else _WS.sub(" ", line).strip()
            if body:
                out.append(line[0] + body if line[0] in "+-" else body)
    return "\n".join(out)


def patch_digest(patch: str) -> str:
    """Short hash of the normalised patch ("" for an empty patch)."""
    norm = normalize_patch(patch)
    return hashlib.sha1(norm.encode()).hexdigest()[:16] if norm else ""


def patch_stats(patch: str) -> tuple[list[str], int]:
    """(files the diff changes, number of changed lines: added + removed)."""
    files: list[str] = []
    changed = 0
    for line in patch.splitlines():
        if line.startswith("+++ ") or line.startswith("--- "):
            path = line[4:].strip()
            if path != "/dev/null":
                if path[:2] in ("a/", "b/"):
                    path = path[2:]
                if path not in files:
                    files.append(path)
        elif line.startswith("diff --git "):
            continue
        elif line[:1] in ("+", "-"):
            changed += 1
    return files, changed
