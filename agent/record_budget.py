"""JSON records from a sandboxed process, read within a bound on this process's memory
(docs/sandbox-and-verdicts.md, "The verdict").

Code under test can write to the pipe the differential's runner answers on. ``json.loads``
makes about 25 bytes of objects per byte of ``{},{},...``: one 8 MB record grew the trusted
parent by ~220 MB (round 12 r12-2), charged to no sandbox. So each line's cost is estimated
from its bytes before it is parsed (an upper bound on what parsing it makes, measured per
kind of JSON value), and a line over ``LINE_COST_MAX``, or past what is left of
``RUN_COST_MAX`` for the whole run, is not parsed; nor is one nesting deeper than
``DEPTH_MAX`` (the runner never nests a result past its own 60 levels, and the parent's
comparisons of a record ~1,000 deep ran out of recursion: an exception, "not judged").

And within a bound on this process's CPU: each line looked at costs a few microseconds of
Python, so a line that cannot be a record (one not opening with ``{``: empty lines, junk) is
skipped by a search in C, never looked at (320 kB of empty lines cost repo-agent 2 s of CPU,
round 19 r19s-5); and past ``BAD_LINES_MAX`` lines that open like a record and are none, or
``PAST_LINES_MAX`` short lines read past the run's bound, the rest is left unread (``over``,
``stopped``), but for the newest line that may be a ``finish``.

A finish is read past the run's bound at any length within ``LINE_COST_MAX`` (one line: the
differential runner's carries its checks after the calls, round 21 r21-1). Whoever reads
records whose reading ``stopped`` reads only what the newest finish says of what came after:
code under test can write that line too, so a caller that trusts what follows the calls (the
differential's judge) takes a stopped reading as the run's doing.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

LINE_COST_MAX = 16 * 2**20  # estimated bytes of objects one record may make
RUN_COST_MAX = 48 * 2**20  # ... and all records of one run together
DEPTH_MAX = 200  # containers inside containers (the runner's 60 levels of tagged values: ~185)
SMALL_LINE = 1024  # past the run's bound a line this short is still read (a hello, a finish)
_EOL = re.compile(rb"\r\n|\r|\n")  # the line ends bytes.splitlines knows


def line_around(data: bytes, at: int, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
    """The (start, end) of the line of ``data[lo:hi]`` holding offset ``at``, its ends as
    ``bytes.splitlines`` finds them: found by searches in C, the lines around it never split."""
    hi = len(data) if hi is None else hi
    start = max(data.rfind(b"\n", lo, at), data.rfind(b"\r", lo, at), lo - 1) + 1
    e = _EOL.search(data, at, hi)
    return start, e.start() if e is not None else hi


# Where a line that may be a record starts: at the start or after a line end, JSON's blanks, "{".
_RECORD_START = re.compile(rb"(?:\A|(?<=[\r\n]))[ \t]*\{")
# A line that opens as a finish (the runners write "k" first): read past the run's bound at any
# length within the line's own bound.
_FINISH_HEAD = re.compile(rb'[ \t]*\{[ \t]*"k"[ \t]*:[ \t]*"finish"')
BAD_LINES_MAX = 1000  # lines that open as a record and are none (the runner writes none)
PAST_LINES_MAX = 1000  # short lines read past the run's bound, for a hello or a finish
# What a line read costs at least: the objects around it (its bytes, its Line, the caller's
# look at it) and the CPU; an honest record (a result, a call) is over it by its own bytes, a
# flood of "{}" lines took 510,000 parses (2.5 s) to reach the run's bound without it.
LINE_COST_MIN = 1024


def line_cost(data: bytes, start: int = 0, end: int | None = None) -> int:
    """An upper bound on the bytes ``json.loads(data[start:end])`` makes (CPython 3.11,
    measured: an empty dict 72 with its slot, a short string ~60, a number 32, a list or dict
    slot 8-40; the line decoded to a str first, and its strings, 4 bytes a character each
    where one astral character is in them). Counted in place: a line is never copied to be
    weighed."""
    end = len(data) if end is None else end
    opens = data.count(b"{", start, end) + data.count(b"[", start, end)
    slots = data.count(b",", start, end) + data.count(b":", start, end)
    return 9 * (end - start) + 80 * opens + 48 * slots + 32 * data.count(b'"', start, end)


# Strings are taken out by scans that never look at a byte twice: a JSON string, possessive;
# the text and closed strings up to a quote that opens none; that quote's own failed scan
# (kept as it is), after which the search goes on. The plain ``"(?:[^"\\]|\\.)*"`` began a
# new scan at each quote inside a failed one, each to the line's end: quadratic, a line of
# "{", '"' then 30,000 '\\"' held the GIL for minutes (round 22 r22s-5). No quote inside a
# failed scan can open a string (each follows a backslash the scan paired), so skipping them
# takes out the same strings.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_UP_TO_UNCLOSED = re.compile(rb'(?:[^"]++|"(?:[^"\\]++|\\.)*+")*+')
_UNCLOSED = re.compile(rb'"(?:[^"\\]++|\\.)*+')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes


def depth(line: bytes) -> int:
    """How deep containers nest in a line of JSON, its strings left out, counted without
    parsing it (in C: linear regex scans, a translation, a running sum)."""
    brackets = _without_strings(line).translate(_SIGNS, _NOT_BRACKETS)
    return max(accumulate(array("b", brackets)), default=0)


def _without_strings(line: bytes) -> bytes:
    """``line`` with its JSON strings taken out (a quote that opens none kept), in time
    linear in the line whatever it holds."""
    parts, pos = [], 0
    while True:
        end = _scanned_to(_UP_TO_UNCLOSED, line, pos)
        parts.append(_STRING.sub(b"", line[pos:end]))
        if end == len(line):
            return b"".join(parts)
        pos, end = end, _scanned_to(_UNCLOSED, line, end)  # (at a quote: past it)
        parts.append(line[pos:end])
        pos = end


def _scanned_to(pattern: re.Pattern[bytes], line: bytes, pos: int) -> int:
    m = pattern.match(line, pos)
    return m.end() if m else len(line)


@dataclass(frozen=True)
class Line:
    """One line of the stream: ``record`` parsed (a dict), or None when it was not read
    (``why``; ``head``: its first bytes, for the caller to tell what it claimed to be)."""

    record: dict | None
    head: bytes = b""
    why: str = ""
    past_bound: bool = False  # read although the run's bound was spent: the caller keeps nothing of it


@dataclass
class RecordBudget:
    """What one run's records may cost this process; ``lines`` spends it."""

    line_max: int = LINE_COST_MAX
    run_max: int = RUN_COST_MAX
    spent: int = 0
    over: bool = False  # a line was left unread for the run's bound
    bad: int = 0  # lines that opened as a record and were none
    past: int = 0  # short lines read past the run's bound
    stopped: bool = False  # the reading stopped before the end: the rest unread but its newest finish

    def lines(self, data: bytes) -> Iterator[Line]:
        """Each line of ``data`` (split as ``data.splitlines()`` splits it, one at a time and
        copied only to be parsed) that is JSON of a dict, or a Line saying why it was not read;
        lines that are not JSON are skipped."""
        pos = 0
        while (m := _RECORD_START.search(data, pos)) is not None:
            if self.bad > BAD_LINES_MAX or self.past > PAST_LINES_MAX:
                self.over = self.stopped = True
                yield from self._last_finish(data, m.start())
                return
            e = _EOL.search(data, m.start())
            end, after = (e.start(), e.end()) if e is not None else (len(data), len(data))
            yield from self._read(data, m.start(), end)
            pos = after

    def _last_finish(self, data: bytes, start: int) -> Iterator[Line]:
        """The newest line from ``start`` on that says ``"finish"``, read past the bound."""
        at = data.rfind(b'"finish"', start)
        if at < 0:
            return
        begin, end = line_around(data, at, start)
        if end - begin <= SMALL_LINE or _FINISH_HEAD.match(data, begin, end):
            yield from (Line(line.record, past_bound=True) for line in self._read(data, begin, end) if line.record)

    def _read(self, data: bytes, start: int, end: int) -> Iterator[Line]:
        cost = max(line_cost(data, start, end), LINE_COST_MIN)
        head = data[start : min(end, start + 80)]
        if cost > self.line_max:
            yield Line(None, head, "a record too large")
            return
        past = self.spent + cost > self.run_max
        if past:
            self.over = True
            if end - start > SMALL_LINE and not _FINISH_HEAD.match(data, start, end):
                yield Line(None, head, "past the run's bound", past_bound=True)
                return
            self.past += 1
        else:
            self.spent += cost
        line = data[start:end]
        if (data.count(b"{", start, end) + data.count(b"[", start, end) > DEPTH_MAX) and depth(line) > DEPTH_MAX:
            yield Line(None, head, "a record too deep")  # (json.loads would go to ~1,000 levels)
            return
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):
            self.bad += 1
            return  # not a record: whoever wrote it, it answers nothing
        if isinstance(rec, dict):
            yield Line(rec, past_bound=past)
