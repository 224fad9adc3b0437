"""What the search index holds of a trace, and the snippet a hit shows (no SQL here).

A document is one searchable text of one event: an assistant's or user's message with
its reasoning (``message``), a tool call's name and raw arguments (``args``), a tool's output
(``output``) or the final patch (``patch``), with the step and the byte offset of the
event it came from. The index keeps no text (contentless FTS5; a tsvector on
PostgreSQL): a hit's snippet is read back from the trace at that offset. The system
prompt is left out: every rollout of a suite has the same one.

Long texts are cut into parts of about `PART_CHARS` characters (at a blank where there
is one), so a 3 MB tool output is many small documents: PostgreSQL's tsvector holds
at most 1 MB and positions up to 16,383, and both backends then index the same parts.
"""

from __future__ import annotations

import re
from typing import Any

from agent import trace_io
from agent.trace_io import MAX_LINE_BYTES, open_regular
from agent.untrusted import neutralise_line
from labeling.search_query import CJK, has_cjk, tokens

PART_CHARS = 16_384
SNIPPET_CHARS = 120
_NOT_WORD = re.compile(r"[\W_]+")


def message_text(message: dict[str, Any], reasoning: Any) -> str:
    """A message's searchable text: its content (a string or a list of text parts) and reasoning."""
    content = message.get("content")
    if isinstance(content, list):
        content = "\n".join(
            p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    parts = [content] if isinstance(content, str) and content else []
    if isinstance(reasoning, str) and reasoning:
        parts.append(reasoning)
    return "\n".join(parts)


def parts(text: str) -> list[str]:
    """``text`` in parts of at most `PART_CHARS` characters, cut at a blank near the end."""
    if len(text) <= PART_CHARS:
        return [text]
    out = []
    i, n = 0, len(text)
    while i < n:
        end = min(i + PART_CHARS, n)
        if end < n:
            blank = text.rfind(" ", end - 256, end)
            if blank < 0:
                blank = text.rfind("\n", end - 256, end)
            if blank > i:
                end = blank + 1
        out.append(text[i:end])
        i = end
    return out


def pg_words(text: str) -> str:
    """The text as PostgreSQL is given it: only the index's tokens, blank-separated, so its
    parser cuts exactly the words FTS5 cuts (``binsearch.py`` is two words on both; a CJK run
    its bigrams, `labeling.search_query.tokens`)."""
    return " ".join(tokens(text)) if has_cjk(text) else _NOT_WORD.sub(" ", text)


def event_text(line: bytes, place: str) -> str:
    """The searched text of the event on ``line`` (one trace line), '' if it is not there."""
    try:
        d = trace_io.loads(line)  # as the ingest read it: bad bytes escaped, not a dropped hit
    except ValueError:
        return ""
    if not isinstance(d, dict):
        return ""
    if place == "args":  # the tool's name and its raw arguments, as indexed
        name, args = d.get("name"), d.get("arguments")
        return f"{name} {args}" if isinstance(name, str) and isinstance(args, str) else ""
    if place == "patch":
        patch = (d.get("outcome") or {}).get("patch") if isinstance(d.get("outcome"), dict) else None
        return patch if isinstance(patch, str) else ""
    msg = d.get("message")
    return message_text(msg, d.get("reasoning")) if isinstance(msg, dict) else ""


def read_line(path: str, offset: int) -> bytes:
    """The trace line starting at ``offset`` (at most `MAX_LINE_BYTES`; b'' if unreadable)."""
    try:
        with open_regular(path) as f:  # a trace swapped for a FIFO never blocks the search
            f.seek(offset)
            return f.readline(MAX_LINE_BYTES)
    except OSError:
        return b""


def snippet(text: str, words: list[str], width: int = SNIPPET_CHARS) -> str:
    """A one-line window of ``text`` around the first searched word, neutralised (controls shown
    as escapes; no markup is escaped: show it as plain text)."""
    flat = " ".join(text.split())
    start = -1
    low = flat.lower()
    for w in words:
        m = re.search(re.escape(w) if CJK.match(w) else r"(?<![^\W_])" + re.escape(w), low)
        if m is not None and (start < 0 or m.start() < start):
            start = m.start()
    start = max(0, start - width // 3)
    cut = flat[start : start + width]
    shown = ("…" if start > 0 else "") + cut + ("…" if start + width < len(flat) else "")
    return neutralise_line(shown, markup=False)
