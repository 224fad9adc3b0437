"""A run's output kept as text within the bytes it was kept in (agent/output_text.py; round 23 r23s-4)."""

from __future__ import annotations

import sys

from agent import output_text as ot
from agent.output_text import output_text


def test_output_within_the_cap_is_kept_as_it_decodes():
    raw = "passed ✓ 😀 é\n".encode() + b"\xff" + b"ok\n" * 1000
    assert output_text(raw, 2**20) == raw.decode("utf-8", "replace")
    assert output_text(b"plain", 10) == "plain"


def test_wide_output_past_the_cap_is_kept_at_a_byte_a_character(monkeypatch):
    monkeypatch.setattr(ot, "_PIECE_BYTES", 4096)  # a character cut by a piece's end decodes whole
    raw = "😀".encode() + b"\xff" * 400_000 + "é ✓ tail".encode()
    text = output_text(raw, 100_000)
    assert sys.getsizeof(text) < len(raw) + 200  # not the 1.6 MB the decoded text takes
    assert text.startswith("?" + "?" * 400_000 + "é ? tail\n[repo-agent: the output kept as Latin-1")
    assert output_text("é".encode() * 50_000, 100_000) == "é" * 50_000  # Latin-1 is a byte a character already
