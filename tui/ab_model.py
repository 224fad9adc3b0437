"""A↔B: where two candidate fixes differ, as a patch from rollout A's files to rollout B's.

Both rollouts' patches are diffs against the same task source, so the source lines each
hunk shows (context and removed lines) are known. Per file, the old-side ranges of A's
and B's hunks are merged into windows; inside a window every source line is known, so
each patch can be applied there, and the two results are diffed against each other.
Lines outside every window are untouched by both rollouts and so equal on both sides.
The result is an ordinary unified diff ("-" only in A, "+" only in B) with A's and B's
own line numbers, which `tui.diff_model` renders with word-level highlights like any
other patch. No task source is needed: a pair reads the same whether or not its suite
is still on disk.
"""

from __future__ import annotations

import difflib
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field

from agent.patch_format import REGULAR
from tui.diff_model import HUNK_RE, PatchFile, parse_forgiving, patch_key

CONTEXT = 3


@dataclass
class _Window:
    start: int  # first old (source) line number, 1-based
    end: int  # one past the last
    source: dict[int, str] = field(default_factory=dict)


def _old_range(hunk_header: str, rows) -> tuple[int, int]:
    olds = [o for kind, _, o, _ in rows if kind in ("ctx", "del") and o is not None]
    if olds:
        return min(olds), max(olds) + 1
    # A pure insertion (a new file, or zero context): it sits after line N of the source.
    m = HUNK_RE.match(hunk_header)
    at = int(m.group(1)) + 1 if m else 1
    return at, at


@dataclass
class _Hunks:
    """One file's hunks with their old-side ranges and line-count changes, worked out once
    (per window they were summed again: quadratic in hunks, 41 s on a patch at the cap)."""

    rows: list[list] = field(default_factory=list)  # each hunk's rows
    lo: list[int] = field(default_factory=list)  # old-side start of each hunk, ascending
    hi: list[int] = field(default_factory=list)
    shift: list[int] = field(default_factory=list)  # lines added minus removed before hunk i (and after all)
    known: list[dict[int, str]] = field(default_factory=list)  # source lines each hunk shows


def _hunks(f: PatchFile) -> _Hunks:
    spans = []
    for h in f.hunks:
        lo, hi = _old_range(h.header, h.rows)
        known = {o: text for kind, text, o, _ in h.rows if kind in ("ctx", "del") and o is not None}
        delta = sum(1 if k == "add" else -1 if k == "del" else 0 for k, *_ in h.rows)
        spans.append((lo, hi, delta, h.rows, known))
    spans.sort(key=lambda s: (s[0], s[1]))
    out = _Hunks()
    total = 0
    for lo, hi, delta, rows, known in spans:
        out.rows.append(rows)
        out.lo.append(lo)
        out.hi.append(hi)
        out.shift.append(total)
        out.known.append(known)
        total += delta
    out.shift.append(total)  # after the last hunk
    return out


def _files(patch: str) -> dict[str, tuple[PatchFile, _Hunks]]:
    return {f.path: (f, _hunks(f)) for f in (parse_forgiving(patch) if patch.strip() else [])}


def _after(mine: PatchFile | None, other: PatchFile | None) -> tuple[bool, str | None]:
    """(the file exists, its mode if known) after ``mine``'s patch, as its header says (a
    file made empty still exists); a file it leaves is the source's (which ``other`` shows)."""
    source_mode = other.old_mode if other is not None else None
    if mine is None:
        return other is None or not other.created, source_mode
    return not mine.removed, mine.new_mode or mine.old_mode or source_mode


def _header_change(a: PatchFile | None, b: PatchFile | None) -> list[str]:
    """The header lines from A's file to B's: one side has it and the other not, or its mode differs."""
    (in_a, mode_a), (in_b, mode_b) = _after(a, b), _after(b, a)
    if in_a and not in_b:
        return [f"deleted file mode {mode_a or REGULAR}"]
    if in_b and not in_a:
        return [f"new file mode {mode_b or REGULAR}"]
    if in_a and mode_a and mode_b and mode_a != mode_b:
        return [f"old mode {mode_a}", f"new mode {mode_b}"]
    return []


def _windows(files: list[_Hunks | None]) -> list[_Window]:
    spans: list[tuple[int, int, dict[int, str]]] = []
    for f in files:
        if f is None:
            continue
        spans += zip(f.lo, f.hi, f.known)
    spans.sort(key=lambda s: (s[0], s[1]))
    out: list[_Window] = []
    for lo, hi, known in spans:
        if out and lo <= out[-1].end:
            out[-1].end = max(out[-1].end, hi)
        else:
            out.append(_Window(lo, hi))
        out[-1].source.update(known)
    return out


def _apply(f: _Hunks | None, win: _Window) -> tuple[list[str], int]:
    """The window's lines after ``f``'s hunks inside it, and the line number (in the
    patched file) of its first line."""
    lines: list[str] = []
    pos = win.start
    shift = 0  # lines added minus removed by hunks before the window
    if f is not None:
        # Windows are merged from every hunk and never touch: a hunk is wholly before,
        # inside, or after this one.
        first = bisect_left(f.lo, win.start)
        last = bisect_right(f.lo, win.end)
        shift = f.shift[first]
        for i in range(first, last):
            lo, hi = f.lo[i], f.hi[i]
            lines += [win.source.get(n, "") for n in range(pos, lo)]
            lines += [text for kind, text, *_ in f.rows[i] if kind in ("ctx", "add")]
            pos = max(pos, hi)
    lines += [win.source.get(n, "") for n in range(pos, win.end)]
    return lines, win.start + shift


def ab_patch(patch_a: str, patch_b: str) -> str:
    """A unified diff from A's resulting files to B's, file by file ('' when equal)."""
    fa, fb = _files(patch_a), _files(patch_b)
    out: list[str] = []
    for path in sorted(set(fa) | set(fb)):
        (file_a, a), (file_b, b) = fa.get(path, (None, None)), fb.get(path, (None, None))
        head = _header_change(file_a, file_b)
        hunks: list[str] = []
        for win in _windows([a, b]):
            la, start_a = _apply(a, win)
            lb, start_b = _apply(b, win)
            if la == lb:
                continue
            # difflib's own heuristic (lines in over 1% of a side of 200 or more start no
            # match): without it the matching is cubic at worst, and the patches are the
            # rollouts' to write (1,000 lines of "a" against "a", "b": 21 s; round 22 sweep).
            # Windows under 200 lines are matched exactly as before.
            sm = difflib.SequenceMatcher(None, la, lb)
            for group in sm.get_grouped_opcodes(CONTEXT):
                i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
                hunks.append(f"@@ -{start_a + i1},{i2 - i1} +{start_b + j1},{j2 - j1} @@")
                for op, a1, a2, b1, b2 in group:
                    if op == "equal":
                        hunks += [" " + s for s in la[a1:a2]]
                        continue
                    hunks += ["-" + s for s in la[a1:a2]]
                    hunks += ["+" + s for s in lb[b1:b2]]
        if hunks:
            fact = head[0] if head else ""
            a_name = "/dev/null" if fact.startswith("new file") else f"a/{path}"
            b_name = "/dev/null" if fact.startswith("deleted file") else f"b/{path}"
            out += [f"diff --git a/{path} b/{path}", *head, f"--- {a_name}", f"+++ {b_name}", *hunks]
        elif head:
            out += [f"diff --git a/{path} b/{path}", *head]
    return "\n".join(out) + "\n" if out else ""


_CACHE: OrderedDict[tuple[str, str], str] = OrderedDict()
_LOCK = threading.Lock()


def ab_cached(patch_a: str, patch_b: str) -> str | None:
    """`ab_patch` if it was worked out already (for the UI thread: never computes)."""
    key = (patch_key(patch_a), patch_key(patch_b))
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
        return hit


def ab_patch_for(patch_a: str, patch_b: str) -> str:
    """`ab_patch`, remembered for the last few pairs (moving back and forth is free). A pair
    at the patch cap takes a second or two: call it in a worker (`ab_cached` on the UI thread)."""
    hit = ab_cached(patch_a, patch_b)
    if hit is not None:
        return hit
    key = (patch_key(patch_a), patch_key(patch_b))
    out = ab_patch(patch_a, patch_b)
    with _LOCK:
        _CACHE[key] = out
        while len(_CACHE) > 32:
            _CACHE.popitem(last=False)
    return out
