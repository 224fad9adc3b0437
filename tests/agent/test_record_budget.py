"""Records of a sandboxed process read within a bound on the parent's memory
(agent/record_budget.py; round 12 r12-2)."""

from __future__ import annotations

import itertools
import json
import random
import re
import tracemalloc

import pytest

from agent.record_budget import DEPTH_MAX, RecordBudget, depth, line_cost
from tests.bounded_call import finishes_within

PATTERNS = [b"{},", b"[],", b"1,", b"10000,", b"1.5,", b'"ab",', b'{"a":1},', b'{"list":[]},', b"[[1,2]],"]
PATTERNS += ['"ĀĀ",'.encode(), b'"' + b"a" * 200 + '😀",'.encode(), b"null,"]


@pytest.mark.parametrize("unit", PATTERNS, ids=range(len(PATTERNS)))
def test_a_lines_cost_bounds_what_parsing_it_makes(unit):
    line = b"[" + unit * (40_000 // len(unit)) + b"0]"
    tracemalloc.start()
    try:
        json.loads(line)
        made = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert made <= line_cost(line), (unit, made, line_cost(line))


def test_depth_is_counted_outside_strings():
    assert depth(b'{"k":[[1],[2,[3]]]}') == 4
    assert depth(b'{"s":"]]]]]]","v":[[[[]]]]}') == 5  # a string's brackets never lower it
    assert depth(b'{"s":"[[[[\\"[[[["}') == 1
    deep = b'{"k":"result","v":' + b"[" * (DEPTH_MAX + 1) + b"]" * (DEPTH_MAX + 1) + b"}"
    [line] = RecordBudget().lines(deep)
    assert line.record is None and line.why == "a record too deep"
    [line] = RecordBudget().lines(deep.replace(b"[" * 2, b"").replace(b"]" * 2, b""))
    assert line.record is not None


def test_lines_split_as_splitlines_splits_them_and_junk_is_skipped():
    data = b'{"a":1}\r{"b":2}\r\n[3]\n\nnot json\n{"c":3}'
    assert [x.record for x in RecordBudget().lines(data)] == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_lines_that_cannot_be_records_cost_no_parse_and_junk_is_bounded(monkeypatch):
    """r19s-5: code under test wrote empty lines to the runner's record pipe, each parsed
    (~7 us of the host's CPU a byte). A line not opening with "{" is skipped by a search in C;
    past BAD_LINES_MAX lines that open like a record and are none, the rest is left unread
    (over), but for the newest finish; a line costs at least LINE_COST_MIN of the bound."""
    from agent import record_budget

    parsed: list[bytes] = []
    loads = json.loads
    monkeypatch.setattr(record_budget.json, "loads", lambda s: parsed.append(s) or loads(s))
    hello, finish = b'{"k":"hello"}', b'{"k":"finish","s":1.0}'
    data = hello + b"\n" * 100_000 + b"x\r\n" * 1000 + b' {"k":"result"}\r' + finish + b"\n"
    budget = RecordBudget()
    assert [line.record for line in budget.lines(data)] == [{"k": "hello"}, {"k": "result"}, {"k": "finish", "s": 1.0}]
    assert len(parsed) == 3 and not budget.over and not budget.stopped
    parsed.clear()
    budget = RecordBudget()
    got = [line.record for line in budget.lines(hello + b"\n" + b"{\n" * 100_000 + finish)]
    assert got == [{"k": "hello"}, {"k": "finish", "s": 1.0}] and budget.over and budget.stopped
    assert len(parsed) == 1 + record_budget.BAD_LINES_MAX + 2
    budget = RecordBudget(run_max=100 * record_budget.LINE_COST_MIN)
    assert sum(1 for line in budget.lines(b"{}\n" * 100_000) if not line.past_bound) == 100


# The string pattern depth used up to round 22, the reference its linear scans keep.
_STRING_BEFORE = re.compile(rb'"(?:[^"\\]|\\.)*"')
_DEPTH_BYTES = [b'"', b"\\", b"{", b"}", b"[", b"]", b"a", b"\n"]


def test_depth_leaves_out_the_strings_it_left_out_before():
    """Every short line over the bytes that matter (quotes, backslashes, brackets, a line end
    that no escape takes) loses exactly the strings the old regex took out."""
    from agent.record_budget import _without_strings

    lines = [b"".join(t) for n in range(6) for t in itertools.product(_DEPTH_BYTES, repeat=n)]
    rnd = random.Random(22)
    lines += [b"".join(rnd.choices(_DEPTH_BYTES, k=rnd.randint(6, 40))) for _ in range(20_000)]
    assert [_without_strings(x) for x in lines] == [_STRING_BEFORE.sub(b"", x) for x in lines]


def test_a_line_of_escaped_quotes_after_an_open_one_is_measured_at_once():
    """'"' then escaped quotes, never closed: each quote began a new scan to the line's end,
    quadratic (32 kB held the GIL 26 s: round 22 r22s-5); 200 kB, some 15 minutes."""
    setup = "from agent.record_budget import depth\nline = b'{' * 201 + b'\"' + b'\\\\\"' * 100_000\n"
    assert finishes_within(20, "assert depth(line) == 201\n", setup), "depth still measuring a 200 kB line after 20 s"
