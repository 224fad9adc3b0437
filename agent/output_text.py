"""A run's output, kept as text within the bytes it was kept in (agent/sandbox.py keeps at
most ``MAX_OUTPUT_BYTES`` of it).

CPython stores a str at the width of its widest character: one character past U+FFFF makes
every character 4 bytes, and each byte that is no UTF-8 becomes U+FFFD (2 bytes). 4 MB of
0xFF bytes after one emoji decoded into a 15 MB str, held through the judging outside every
sandbox's part (round 23 r23s-4). So where the decoded text would take more than ``cap``
bytes, its characters past U+00FF are shown as ``?`` (one byte each, as the bytes were), and
the text says so; below it the output is kept as it decodes. Decoded in pieces either way:
the wide text is never made whole.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator

_PIECE_BYTES = 1 << 18


def _pieces(raw: bytes) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for at in range(0, len(raw), _PIECE_BYTES):
        yield decoder.decode(raw[at : at + _PIECE_BYTES], final=at + _PIECE_BYTES >= len(raw))


def _width(text: str) -> int:
    """The bytes CPython stores each character of ``text`` in."""
    if text.isascii():
        return 1
    try:
        text.encode("latin-1")
        return 1
    except UnicodeEncodeError:
        pass
    return 2 if len(text.encode("utf-16-le")) == 2 * len(text) else 4


def output_text(raw: bytes, cap: int) -> str:
    """``raw`` decoded as UTF-8 (``errors="replace"``), in at most about ``cap`` bytes of str."""
    if raw.isascii():
        return raw.decode("ascii")
    length = width = 0
    for piece in _pieces(raw):
        length, width = length + len(piece), max(width, _width(piece))
    if length * width <= cap:
        return "".join(_pieces(raw))
    narrow = "".join(p.encode("latin-1", "replace").decode("latin-1") for p in _pieces(raw))
    return narrow + f"\n[repo-agent: the output kept as Latin-1 within {cap} bytes: characters past U+00FF shown as ?]"
