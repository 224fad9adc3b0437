"""Patch helpers for pair flags: whitespace normalisation and the size of a diff."""

from __future__ import annotations

import hashlib
import re

_WS = re.compile(r"\s+")
# Blanks a line's meaning does not rest on: never a CR, which Python reads as a line break
# (round 17 r17-15: "#\r    return b" is a comment then a return, not the comment "# return b").
_BLANKS = " \t\f\v"
_BLANK_RUN = re.compile(r"[ \t\f\v]+")


def normalize_patch(patch: str) -> str:
    """A patch with whitespace differences that carry no meaning removed, for `identical_patch`
    and `flaky`.

    Kept: file headers, the changed (+/-) lines and the context lines (where a change is:
    the same line added inside a loop or after it is another fix), each with its indentation
    as written (Python's blocks are its indentation) and its trailing space dropped; runs of
    whitespace inside a line are collapsed to one space unless the line holds a quote (the
    spaces of a string literal are data). Lines that become empty are dropped. Dropped:
    ``index`` lines (blob hashes) and hunk headers (their line numbers shift with blank lines).
    """
    out = []
    for line in patch.split("\n"):  # a diff's lines end at \n only: splitlines cuts at U+2028 too
        if not line or line.startswith(("index ", "@@")) or line == "\\ No newline at end of file":
            continue
        if line.startswith(("+++", "---", "diff ")):
            out.append(line.strip())
        elif line[0] in "+- ":
            body = _line_body(line[1:])
            if body:
                out.append(line[0] + body)
        elif line.startswith(("new file", "deleted file", "old mode", "new mode", "rename ", "similarity")):
            out.append(_WS.sub(" ", line).strip())
    return "\n".join(out)


def _line_body(text: str) -> str:
    """One line of code, its indentation kept: inner runs of whitespace collapsed where no
    string literal could hold them; "" for a blank line."""
    text = text.removesuffix("\r")  # a CRLF file's line end; a CR inside a line is a line break to Python
    rest = text.strip(_BLANKS)
    if not rest:
        return ""
    indent = text[: len(text) - len(text.lstrip(_BLANKS))]
    return indent + (rest if any(q in rest for q in "'\"`") else _BLANK_RUN.sub(" ", rest))


def patch_digest(patch: str) -> str:
    """Short hash of the normalised patch ("" for an empty patch)."""
    norm = normalize_patch(patch)
    return hashlib.sha1(norm.encode()).hexdigest()[:16] if norm else ""


def patch_stats(patch: str) -> tuple[list[str], int]:
    """(files the diff changes, number of changed lines: added + removed), read as the verdict's
    scan reads a patch (agent/suspect.py ``patch_lines``): the files of its headers, a file
    without hunks too (made empty and new, removed when empty, its mode changed), names
    unquoted; a line inside a hunk is a line whatever it reads (``--- x`` removed is no file)."""
    from agent.suspect import patch_lines  # here: the scan's modules cost every store user 0.4 s to import

    read = patch_lines(patch)
    changed = sum(line[:1] in ("+", "-") for hunks in read.hunks.values() for _, lines in hunks for line in lines)
    return read.touched, changed
