"""``grep``: a Python regular expression searched in the workspace's files."""

from __future__ import annotations

import importlib
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

import regex
from pydantic import Field

from agent.tools.spec import TOOL_TIME_LIMIT_S, NonEmpty, Tool, ToolArgs, ToolRun
from agent.trace_io import file_kind, read_regular
from agent.tree_walk import walk

GREP_MAX_MATCHES = 200
GREP_LINE_CHARS = 200
GREP_MAX_FILE_BYTES = 2_000_000
# regex compiles a counted repeat by unrolling it, with no timeout and holding the GIL: the
# size of (?:a{4000}){4000} took 23 s to compile (re: 0.2 ms); 100,000 compiles in ~0.15 s.
GREP_MAX_PATTERN_SIZE = 100_000
# re's own parser (re._parser, re._constants) reads a pattern in microseconds, never unrolling.
_PARSER, _OPS = importlib.import_module("re._parser"), importlib.import_module("re._constants")
_REPEATS = {_OPS.MAX_REPEAT, _OPS.MIN_REPEAT}
_REPEATS |= {getattr(_OPS, "POSSESSIVE_REPEAT", _OPS.MAX_REPEAT)}


def pattern_size(items: Any) -> int:
    """What a parsed pattern (re's parser) unrolls to: counted repeats multiply what they
    hold, a sequence adds, alternatives take the largest; every group, lookaround and
    conditional counts what it holds."""
    total = 0
    for op, av in items:
        if op in _REPEATS:
            low, high, inner = av
            count = low if high == _OPS.MAXREPEAT else high
            total += max(count, 1) * pattern_size(inner)
            continue
        sizes = [pattern_size(kid) for kid in _parts(av)]
        total += 1 + (max(sizes, default=0) if op == _OPS.BRANCH else sum(sizes))
    return total


def _parts(av: Any) -> list[Any]:
    """The sub-patterns held in an op's argument (a group's, a lookaround's, a branch's)."""
    if isinstance(av, _PARSER.SubPattern):
        return [av]
    if isinstance(av, (tuple, list)):
        return [kid for x in av for kid in _parts(x)]
    return []


class GrepArgs(ToolArgs):
    """Search the files under a directory for a Python regular expression."""

    pattern: NonEmpty = Field(description="Python regular expression, searched line by line.")
    rel_dir: NonEmpty = Field(description="Directory (or file) relative to the workspace root; '.' for all.")


def _files(run: ToolRun, base: Path) -> list[str]:
    # Imported here: the step flags (labeling/) read this module without loading the sandbox.
    from agent.workspace import is_cache

    if base.is_file():
        return [str(base)]
    files: list[str] = []
    for dirpath, dirnames, filenames in walk(base):  # iterative: a 1,100-deep tree is no RecursionError
        if time.monotonic() > run.deadline:
            break
        dirnames[:] = sorted(d for d in dirnames if not is_cache(d))
        files.extend(os.path.join(dirpath, f) for f in sorted(filenames) if not is_cache(f))
    return files


def grep(run: ToolRun, a: GrepArgs) -> tuple[bool, str]:
    # `regex` (re's syntax, its VERSION0) for its timeout: a model's pattern that backtracks
    # catastrophically, such as (a|aa)+$ on one long line, would hold re's matcher (and the GIL:
    # every rollout of the process and the studio) past any deadline checked between lines.
    try:
        size = pattern_size(_PARSER.parse(a.pattern))
        if size > GREP_MAX_PATTERN_SIZE:
            return False, f"Error: the pattern {a.pattern[:80]!r} unrolls to {size:,} steps; nest fewer counted repeats"
        rx = regex.compile(a.pattern)
    except (re.error, regex.error, OverflowError, RecursionError) as exc:
        return False, f"Error: invalid regular expression {a.pattern!r}: {exc}"
    ws = run.workspace
    base = ws.resolve(a.rel_dir)
    if not base.exists():
        return False, f"Error: no such file or directory: {a.rel_dir}"
    hits: list[str] = []
    extra = 0
    skipped: list[str] = []
    for full in _files(run, base):
        if time.monotonic() > run.deadline:
            skipped.append(f"[... stopped after {TOOL_TIME_LIMIT_S:g}s: later files not searched]")
            break
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode) or st.st_size > GREP_MAX_FILE_BYTES:
            continue
        if not stat.S_ISREG(st.st_mode):
            skipped.append(f"[{ws.rel(full)}: {file_kind(st.st_mode)}, skipped]")
            continue
        try:
            data = read_regular(full, GREP_MAX_FILE_BYTES + 1, follow=True)
        except OSError:
            continue
        if b"\x00" in data[:8192]:
            continue
        rel = ws.rel(full)
        for no, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            left = run.deadline - time.monotonic()
            if left <= 0:  # each line in time, the file past it: 2 MB of lines near 1 ms each
                skipped.append(
                    f"[... stopped after {TOOL_TIME_LIMIT_S:g}s at {rel}:{no}: later lines and files not searched]"
                )
                return _report(a, hits, extra, skipped)
            try:
                found = rx.search(line, timeout=left, concurrent=True)
            except TimeoutError:
                skipped.append(
                    f"[... stopped after {TOOL_TIME_LIMIT_S:g}s in {rel}:{no}: the pattern backtracks too much on"
                    " that line (nested repeats such as (a|aa)+); later lines and files not searched]"
                )
                return _report(a, hits, extra, skipped)
            if found:
                if len(hits) < GREP_MAX_MATCHES:
                    shown = line if len(line) <= GREP_LINE_CHARS else line[:GREP_LINE_CHARS] + "..."
                    hits.append(f"{rel}:{no}: {shown}")
                else:
                    extra += 1
    return _report(a, hits, extra, skipped)


def _report(a: GrepArgs, hits: list[str], extra: int, skipped: list[str]) -> tuple[bool, str]:
    if not hits:
        return True, "\n".join([f"no matches for {a.pattern!r} in {a.rel_dir}", *skipped])
    text = "\n".join(hits + skipped)
    if extra:
        text += f"\n[... {extra} more matches not shown; narrow the pattern or the directory]"
    return True, text


TOOL = Tool(name="grep", rank=40, args=GrepArgs, run=grep)
