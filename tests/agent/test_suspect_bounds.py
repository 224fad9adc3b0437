"""What one SUSPECT scan may cost the host (round 12 r12-4): a source the patch shows only by
hash (up to 8 MB) is read from the workspace, and its AST cost ~480 bytes of host memory a
byte. The measure is tracemalloc's peak of the scan's own allocations."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Callable

from agent import suspect_ast
from agent.patch_format import large_file_diff
from agent.suspect import SCAN_MAX_LINES, scan_patch
from agent.suspect_ast import TOKENS_MAX, AstHit, scan_source, token_count


def _scan_unshown(text: str) -> tuple[set[str], int]:
    """Hits and peak bytes of a scan of a patch that creates ``table.py`` shown by hash only."""
    data = text.encode()
    patch = large_file_diff("table.py", None, (len(data), hashlib.sha256(data).hexdigest()))
    tracemalloc.start()
    try:
        hits = scan_patch(patch, ["tests"], lambda rel: None, lambda rel: text if rel == "table.py" else None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {h.rule for h in hits}, peak


def _peak(fn: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_source_past_the_token_cap_is_not_parsed_and_says_so() -> None:
    # 70 kB: 35,000 ints, past the cap; parsed, ~33 MB of the host's memory.
    hits, peak = _peak(lambda: scan_source("TABLE = [" + "0," * 35_000 + "]\n"))
    assert hits == [AstHit("unscanned_source", 0, 0)]
    assert peak < 2 * 2**20, f"{peak / 2**20:.0f} MB"


def test_the_same_bytes_as_one_string_are_parsed_with_no_hit() -> None:
    hits, peak = _peak(lambda: scan_source("TABLE = '" + "0," * 35_000 + "'\n"))
    assert hits == []
    assert peak < 2 * 2**20, f"{peak / 2**20:.0f} MB"


def test_the_scan_of_a_source_shown_by_hash_says_it_was_not_parsed(monkeypatch) -> None:
    monkeypatch.setattr(suspect_ast, "TOKENS_MAX", 2_000)  # a small file past a small cap: the same path
    rules, _ = _scan_unshown("TABLE = [" + "0," * 1_500 + "]\n")
    assert rules == {"unscanned_source"}
    assert _scan_unshown("TABLE = '" + "0," * 1_500 + "'\n")[0] == set()


def test_a_source_of_many_lines_is_read_up_to_the_line_cap() -> None:
    # 500,000 empty lines: every one an added line object before (~60 MB), now up to the cap.
    rules, peak = _scan_unshown("\n" * 500_000 + "x = 1\n")
    assert rules == {"unscanned_source"}
    assert peak < 4 * 2**20 + SCAN_MAX_LINES * 200, f"{peak / 2**20:.0f} MB"


def test_token_count_counts_what_python_parses() -> None:
    assert token_count("x = [1, 2]  # a comment, and more, words\n") == 8  # the comment one
    assert token_count("s = '''a, b, c\nd, e'''\n") == 3  # a string is one token, over lines too
    # An f-string's fields are nodes: counted inside it.
    assert token_count("s = f'{a}{b}{c}'\n") > 10
    # A comment ends at a lone carriage return, as Python's line does: the code after it counts.
    assert token_count("# note\r" + "x = 1\r" * 100) == 301
    # An unterminated single-quoted string ends at the line's end, not the file's.
    assert token_count("s = 'abc\nx = 1\n") == 6


def test_the_cap_holds_for_an_f_string_and_a_comment_ended_early() -> None:
    fields = "X = f'" + "{0}" * (TOKENS_MAX // 2) + "'\n"
    assert scan_source(fields) == scan_source("X = [" + "0," * TOKENS_MAX + "]\n")
    hidden = "# note\r" + "X = [" + "0," * TOKENS_MAX + "]\n"
    assert [h.rule for h in scan_source(hidden) or []] == ["unscanned_source"]
    assert scan_source("X = [" + "0," * 1000 + "]\n") == []
