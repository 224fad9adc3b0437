"""Filling a SQLite store's search index (labeling/search_index.py) from the rows ingest wrote.

Each rollout the store holds names its trace and how far ingest read it; what the index
lacks of that is read from the trace: only the events that hold text, each line read as
`labeling.trace_rows.parse_chunk` reads it, the lines ingest refused (the store's
``bad_lines``) left out, so the documents are the ones ingest would have written. They are
written a group of rollouts per transaction, with how far each is indexed: killed at any
point, the next fill starts where the last commit left off, and nothing is lost or indexed
twice.

One filler at a time per index (an exclusive ``flock`` on ``<index>.lock``; its holder is
"filling"). A small backlog (a live batch's new lines, a test's batch) is filled in the
process that asks (`catch_up`); a large one (a first ingest of 10,000 rollouts) by a
background process (`main`: ``search_fill STORE BASE``), so ingest returns at
the speed of its own writes, and a search meanwhile finds what is indexed so far and says
"index filling (N of M)".
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from agent import trace_io
from agent.trace_io import NotRegularFile, open_regular
from labeling import search_index
from labeling.indexer import parse_capped
from labeling.search_docs import message_text
from labeling.search_index import Work
from labeling.trace_rows import ChunkRead, RolloutAccum

INLINE_BYTES = 4 << 20  # a backlog up to this is filled by the process that asks
GROUP_BYTES = 16 << 20  # trace bytes per transaction
GROUP_ROLLOUTS = 256
# The background filler's command line (then STORE BASE): `main` in a fresh interpreter.
FILLER_COMMAND = (sys.executable, "-c", "import sys; from labeling.search_fill import main; sys.exit(main())")
FILLERS: list[subprocess.Popen[bytes]] = []  # the background fillers this process started


def lock_path(store: Path) -> Path:
    return Path(f"{search_index.index_path(store)}.lock")


@contextlib.contextmanager
def fill_lock(store: Path) -> Iterator[bool]:
    """Yields whether this process holds the index's fill lock (False: another filler does)."""
    try:
        fd = os.open(lock_path(store), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        yield False  # a directory we cannot write: nobody can fill here
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # (closing releases the lock)


def filling(store: Path) -> bool:
    """Whether a filler holds the index's lock now."""
    try:
        fd = os.open(lock_path(store), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


_SCAN = trace_io.DECODER.scan_once  # type: ignore[attr-defined]


def _load_line(line: str, big: bool) -> Any:
    """One line's value as `labeling.trace_rows.parse_chunk` reads it: orjson, else (or in a
    chunk with a 19-digit run) json's scanner, lone surrogates escaped. ValueError if not JSON."""
    if line[0] in " \t\r":
        line = line.strip()
    if not big:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
    try:
        d, stop = _SCAN(line, 0)
    except StopIteration:
        raise ValueError from None
    if stop != len(line) and not line[stop:].isspace():
        raise ValueError
    return trace_io.clean(d) if trace_io.may_hold_surrogate(line) else d


def _event_docs(d: Any, off: int, out: list[tuple]) -> None:
    """The documents of one event ingest took (labeling/trace_rows.py: its handlers' ``docs``).
    ValueError for a step or text no event has: bytes changed since ingest read them (a trace
    rewritten, then grown) are never validated, and must not stop the fill."""
    kind = d.get("kind")
    if kind == "message":
        msg = d["message"]
        role = msg.get("role")
        if role == "tool" or role == "assistant" or role == "user":
            content, reasoning = msg.get("content"), d.get("reasoning")
            text = content if type(content) is str and not reasoning else message_text(msg, reasoning)
            if text:
                _add(out, d.get("step"), "output" if role == "tool" else "message", off, text)
    elif kind == "tool_call":
        _add(out, d["step"], "args", off, f"{d['name']} {d['arguments']}")
    elif kind == "rollout_end":
        patch = d["outcome"].get("patch")
        if patch:
            _add(out, None, "patch", off, patch)


def _add(out: list[tuple], step: Any, place: str, off: int, text: Any) -> None:
    if not (step is None or type(step) is int) or type(text) is not str:  # (as ingest: labeling/trace_rows.py)
        raise ValueError
    out.append((step, place, off, text))


def _docs_chunk(skip: set[int], acc: RolloutAccum, data: bytes, base: int, line_no: int) -> ChunkRead:
    """`labeling.indexer.parse_capped`'s ``parse``: only the documents of ``data``'s complete
    lines, into ``acc.docs``, each line read as `labeling.trace_rows.parse_chunk` reads it; a
    line at an offset in ``skip`` (ingest listed it as not an event) is left out unread."""
    end = data.rfind(b"\n") + 1
    body = data[:end]
    docs = acc.docs
    assert docs is not None
    pos = base
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:  # as ingest: line by line, bad bytes escaped
        for raw in body.split(b"\n")[:-1]:
            off, pos = pos, pos + len(raw) + 1
            if off not in skip and raw and not raw.isspace():
                with contextlib.suppress(*_NOT_EVENT):
                    _event_docs(trace_io.loads(raw), off, docs)
        return ChunkRead(base + end, line_no, end < len(data))
    ascii_only = len(text) == len(body)
    big = trace_io.may_hold_big_int(body)
    for line in text.split("\n")[:-1]:
        off = pos
        pos += (len(line) if ascii_only else len(line.encode("utf-8"))) + 1
        if off not in skip and line and not line.isspace():
            with contextlib.suppress(*_NOT_EVENT):
                _event_docs(_load_line(line, big), off, docs)
    return ChunkRead(base + end, line_no, end < len(data))


# (a line that raises is one ingest listed, when it read these bytes)
_NOT_EVENT = (ValueError, KeyError, TypeError, AttributeError, RecursionError)


def _docs(path: str, w: Work, skip: set[int]) -> list[tuple]:
    """The documents of bytes ``[w.start, w.end)`` of a trace, as ingest read them; none if the
    trace cannot be read now (it is gone or replaced: the next ingest reads it again)."""
    acc = RolloutAccum("", "", "")
    try:
        with open_regular(path) as f:
            parse_capped(f, acc, w.start, w.end, 0, functools.partial(_docs_chunk, skip))
    except (OSError, NotRegularFile):
        return []
    return acc.docs or []


def fill(
    conn: sqlite3.Connection,
    path_of: Callable[[str], str],
    *,
    group_rollouts: int = GROUP_ROLLOUTS,
    max_groups: int | None = None,
    pause_after: int | None = None,
) -> int:
    """Index everything pending, a group per transaction, until nothing is (or ``max_groups``
    were written); the rollouts done. ``pause_after`` (tests): after that many groups, write the
    next one and wait without committing, as a kill would find it."""
    done_total = 0
    groups = 0
    while max_groups is None or groups < max_groups:
        search_index.begin_fill(conn)
        work = search_index.pending(conn)
        if not work:
            return done_total
        group: list[tuple[Work, list[tuple]]] = []
        size = 0
        for i, w in enumerate(work):
            group.append((w, _docs(path_of(w.trace_path), w, search_index.bad_offsets(conn, w))))
            size += w.end - w.start
            if len(group) >= group_rollouts or size >= GROUP_BYTES or i == len(work) - 1:
                last = pause_after is not None and groups >= pause_after
                search_index.write_group(conn, group, commit=not last)
                if last:
                    threading.Event().wait()  # killed here, mid-transaction
                groups += 1
                done_total += len(group)
                group, size = [], 0
                if groups == max_groups:
                    break
    return done_total


def _join(base: str) -> Callable[[str], str]:
    return lambda key: key if base == "." else os.path.join(base, key)


def catch_up(store: Path, base: str) -> None:
    """Bring the index up to the store: a small backlog here and now, a large one by a
    background process (started unless one runs). The index's trouble is never the caller's:
    a search says the index is behind."""
    if filling(store):
        return
    try:
        conn = search_index.connect(store, create=True)
    except sqlite3.Error:
        return  # the index cannot be made here: a search finds nothing and says so
    if conn is None:
        return
    try:
        work = search_index.pending(conn)
        if not work:
            return
        if sum(w.end - w.start for w in work) > INLINE_BYTES:
            start_filler(store, base)
            return
        with fill_lock(store) as mine:
            if mine:
                fill(conn, _join(base))
    except (sqlite3.Error, OSError):
        pass  # (left for the next ingest or search)
    finally:
        conn.close()


def start_filler(store: Path, base: str) -> None:
    """`main` in a process of its own, in the background (its own session: it
    outlives a studio that quits; it exits when nothing is left to index)."""
    proc = subprocess.Popen(
        [*FILLER_COMMAND, os.path.abspath(store), base if base == "." else os.path.abspath(base)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    FILLERS[:] = [p for p in FILLERS if p.returncode is None]
    FILLERS.append(proc)  # (`wait_fillers`: the benches, and the tests after each test)
    threading.Thread(target=proc.wait, daemon=True, name="search-fill-reaper").start()


def wait_fillers(timeout: float | None = None) -> None:
    """Until every background filler this process started has exited (each given ``timeout``)."""
    while FILLERS:
        FILLERS.pop().wait(timeout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="search_fill", description=__doc__)
    ap.add_argument("store", type=Path)
    ap.add_argument("base", help="what the store's trace paths are relative to ('.': as stored)")
    ap.add_argument("--pause-after", type=int, help="(tests) stop mid-transaction after N groups")
    ap.add_argument("--group-rollouts", type=int, default=GROUP_ROLLOUTS, help="rollouts per transaction at most")
    args = ap.parse_args(argv)
    with fill_lock(args.store) as mine:
        if not mine:
            return 0  # another filler runs
        try:
            conn = search_index.connect(args.store, create=True)
        except sqlite3.Error:
            conn = None
        if conn is None:
            return 1
        try:
            fill(conn, _join(args.base), pause_after=args.pause_after, group_rollouts=args.group_rollouts)
        except sqlite3.Error:
            return 1  # (the next ingest or search starts another)
        finally:
            conn.close()
    return 0
