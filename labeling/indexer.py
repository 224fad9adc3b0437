"""Incremental ingest of trace batches into the store's backend.

Per trace file the backend keeps (size, mtime_ns, inode, head digest, offset, line
count). On each ingest every file is only ``stat``-ed first:

* unchanged (same size, mtime and inode): not opened at all;
* grown, same inode, same first bytes: read from the stored offset (a rollout still
  running, or a partial last line completed since);
* shrunk, replaced (other inode or other first bytes) or rewritten in place (same
  size, new mtime): its rows are dropped and it is re-read from byte 0.

Only complete lines are consumed: a partial last line stays for the next ingest (the
writer may be mid-line), and is reported as torn once the batch has finished.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from agent.trace import BATCH_FILE, TRACES_DIR, find_batches, is_batch_dir, read_batch_meta
from agent.trace_io import MAX_LINE_BYTES, NotRegularFile, check_regular, open_regular
from labeling.records import IngestProgress, IngestReport
from labeling.trace_rows import (
    HEAD_BYTES,
    ROLLOUT_DEFAULTS,
    ChunkRead,
    RolloutAccum,
    head_digest,
    line_warning,
    mark_corrupt,
    parse_chunk,
)

MAX_WARNINGS = 200
# A batch.json modified this recently is read again on the next pass: file times are
# coarse (a kernel tick), so a rewrite of the same size within one tick would look
# unchanged by (size, mtime) ("racy" stat, as git calls it).
RACY_NS = 2_000_000_000
FLUSH_FILES = 256  # files per write transaction
FLUSH_BYTES = 32 << 20


@dataclass
class _Todo:
    batch_id: str
    path: Path  # as walked from the root the caller gave (what warnings show)
    key: str  # the canonical trace path (see canonical_key)
    rollout_id: str
    size: int
    known: tuple | None  # (rid, size, mtime_ns, ino, head, offset, line_no, trace_path)
    reset: bool
    batch_done: bool


def canonical_key(path: Path, base: Path | None) -> str:
    """One key per file however it was reached: the real path relative to ``base`` (the
    store's directory, by default the traces root), or the real absolute path outside it.

    So the same directory ingested by a relative and by an absolute path, or through a
    symlink, is the same batch, and the store can move with its traces.
    """
    real = Path(os.path.realpath(path))
    if base is not None:
        try:
            return real.relative_to(base).as_posix()
        except ValueError:
            pass
    return real.as_posix()


def resolve_key(key: str, base: Path | None) -> Path:
    """Where a canonical key points, as a path a reader can open (``base`` joined)."""
    return Path(key) if base is None else base / key


def _batch_row(bdir: Path, key: str, batch_id: str, st: os.stat_result | None, warnings: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"batch_id": batch_id, "path": key}
    if st is not None:
        try:
            meta = read_batch_meta(bdir)
            p = meta.params
            # An adaptive batch plans round by round: until it ends, its budget is the total.
            planned = (
                p.budget_rollouts
                if p.allocation == "adaptive" and p.budget_rollouts and not meta.finished
                else len(meta.planned)
            )
            row.update(
                suite=meta.suite,
                model=meta.model,
                provider=meta.provider,
                planned=planned,
                started=meta.started,
                finished_at=meta.finished,
                stop_reason=meta.stop_reason,
            )
        except NotRegularFile as exc:
            warnings.append(str(exc))
        except Exception as exc:  # a malformed batch.json is reported, never fatal
            warnings.append(f"{bdir / BATCH_FILE}: unreadable batch.json ({type(exc).__name__})")
        racy = time.time_ns() - st.st_mtime_ns < RACY_NS
        row.update(meta_size=st.st_size, meta_mtime_ns=-1 if racy else st.st_mtime_ns)
    return row


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _batches(db: Any, roots: Iterable[Path], base: Path | None, warnings: list[str]) -> list[tuple[Path, str]]:
    """(batch dir, canonical key) for each batch to index, aliases folded into one.

    Two directories with one batch id (``DIR/a/B`` and ``DIR/b/B``) would make one set of
    rollout uids: the first (in path order, or the one indexed earlier) is kept and the
    other reported, never merged.
    """
    found: dict[str, Path] = {}
    for root in roots:
        for b in find_batches(Path(root)):
            found.setdefault(canonical_key(b, base), b)
    by_id: dict[str, str] = {}
    out: list[tuple[Path, str]] = []
    for key in sorted(found):
        bdir = found[key]
        batch_id = bdir.name
        if batch_id in by_id:
            warnings.append(
                f"duplicate batch id {batch_id}: {found[by_id[batch_id]]} and {bdir}; "
                f"only {found[by_id[batch_id]]} is indexed (rename one of them)"
            )
            continue
        state = db.batch_state(batch_id)
        stored = state[3] if state is not None else None
        if stored and stored != key:
            other = resolve_key(stored, base)
            if is_batch_dir(other) and not _same_dir(other, bdir):
                warnings.append(
                    f"duplicate batch id {batch_id}: {other} (indexed) and {bdir}; "
                    f"only {other} is indexed (rename one of them)"
                )
                continue
            # else: the indexed directory is gone (moved here) or was stored under another alias
        by_id[batch_id] = key
        out.append((bdir, key))
    return out


def ingest(
    db: Any,
    roots: Iterable[Path],
    *,
    base: Path | None = None,
    progress: Callable[[IngestProgress], None] | None = None,
) -> IngestReport:
    """Index the batches under ``roots``; trace paths are stored as canonical keys
    relative to ``base`` (see canonical_key)."""
    t0 = time.perf_counter()
    base = Path(os.path.realpath(base)) if base is not None else None
    warnings: list[str] = []
    counts: dict[str, Any] = dict(
        files_seen=0,
        files_read=0,
        files_unchanged=0,
        files_skipped=0,
        bytes_read=0,
        events=0,
        new_rollouts=0,
        updated_rollouts=0,
        finished_rollouts=0,
        dropped_rollouts=0,
        torn_lines=0,
        invalid_lines=0,
    )

    batches_read = 0
    finished_tasks: set[str] = set()
    open_batches: list[str] = []
    batch_dirs = _batches(db, roots, base, warnings)

    # Phase 1: stat everything, decide what to read (cheap: no file is opened).
    todo: list[_Todo] = []
    relocated: list[tuple[str, int]] = []
    dropped: list[int] = []
    for bdir, bkey in batch_dirs:
        batch_id = bdir.name
        try:
            meta_st: os.stat_result | None = os.stat(bdir / BATCH_FILE)
        except OSError:
            meta_st = None
        state = db.batch_state(batch_id)
        if (
            state is None
            or meta_st is None
            or (state[0], state[1]) != (meta_st.st_size, meta_st.st_mtime_ns)
            or state[3] != bkey
        ):
            row = _batch_row(bdir, bkey, batch_id, meta_st, warnings)
            if state is None or meta_st is not None or state[3] != bkey:
                db.upsert_batch(row)
                batches_read += 1
            batch_done = bool(row.get("finished_at"))
        else:
            batch_done = bool(state[2])
        if not batch_done:
            open_batches.append(str(bdir))
        known_files = db.file_states(batch_id)  # rollout id -> state
        tdir = bdir / TRACES_DIR
        try:
            entries = list(os.scandir(tdir))
        except OSError:
            continue  # no traces dir (yet): nothing to read, nothing to drop
        for entry in entries:
            name = entry.name
            if not name.endswith(".jsonl"):
                continue
            counts["files_seen"] += 1
            rollout_id = name[: -len(".jsonl")]
            known = known_files.pop(rollout_id, None)
            try:
                st = check_regular(entry.path, entry.stat(follow_symlinks=False))
            except NotRegularFile as exc:
                counts["files_skipped"] += 1
                warnings.append(str(exc))  # a FIFO would block the read for ever
                if known is not None:
                    dropped.append(known[0])
                continue
            except OSError:
                continue
            key = f"{bkey}/{TRACES_DIR}/{name}"
            if known is not None:
                _rid, size, mtime_ns, ino, _head, offset, _ln, known_key = known
                if known_key != key:
                    relocated.append((key, _rid))  # same rollout, reached by another path or moved
                if size == st.st_size and mtime_ns == st.st_mtime_ns and ino == st.st_ino:
                    counts["files_unchanged"] += 1
                    continue
                reset = ino != st.st_ino or st.st_size < (offset or 0) or st.st_size == size
            else:
                reset = False
            todo.append(_Todo(batch_id, Path(entry.path), key, rollout_id, st.st_size, known, reset, batch_done))
        # What is left was indexed once and is gone from disk now: drop it.
        dropped.extend(k[0] for k in known_files.values())
    if relocated:
        db.set_trace_paths(relocated)
    if dropped:
        db.drop_rollouts(dropped)
        counts["dropped_rollouts"] = len(dropped)
    claims = _Claims(batch_dirs)

    # Phase 2: read what changed, flushing groups of files in one transaction each.
    bytes_total = sum(t.size - (0 if t.reset or t.known is None else (t.known[5] or 0)) for t in todo)
    bytes_done = 0
    group: list[tuple[RolloutAccum, dict[str, Any], bool]] = []
    changed: list[str] = []
    group_bytes = 0
    with _Writer(db) as writer:
        for i, t in enumerate(todo):
            item = _read_one(db, t, warnings, counts, claims, finished_tasks)
            if item is not None:
                group.append(item)
                changed.append(item[0].uid)
                group_bytes += item[1]["_read"]
                bytes_done += item[1]["_read"]
            if group and (len(group) >= FLUSH_FILES or group_bytes >= FLUSH_BYTES or i == len(todo) - 1):
                writer.write(group)
                group, group_bytes = [], 0
                if progress is not None:
                    progress(
                        IngestProgress(
                            files_done=i + 1, files_total=len(todo), bytes_done=bytes_done, bytes_total=bytes_total
                        )
                    )
        if group:
            writer.write(group)
    if dropped or counts["dropped_rollouts"]:
        db.mark_copies()  # an original may be gone: every copy is named again
    elif changed:
        db.mark_copies(changed)
    if progress is not None:
        progress(
            IngestProgress(files_done=len(todo), files_total=len(todo), bytes_done=bytes_done, bytes_total=bytes_total)
        )

    if len(warnings) > MAX_WARNINGS:
        more = len(warnings) - MAX_WARNINGS
        warnings = warnings[:MAX_WARNINGS] + [f"... and {more} more warnings"]
    return IngestReport(
        batches=len(batch_dirs),
        batches_read=batches_read,
        finished_tasks=sorted(finished_tasks),
        open_batches=open_batches,
        warnings=warnings,
        duration_s=time.perf_counter() - t0,
        changed=changed,
        **counts,
    )


class _Writer:
    """Writes each group of read files in a thread while the next group is read.

    The database does its work without the GIL (SQLite's B-trees and FTS5's tokenizer, a
    third of an ingest's CPU; PostgreSQL's round trips), so on a second core the writes
    overlap the parse. One group is in flight at a time: memory stays at two groups, and
    the writes keep their order. Leaving the block waits for the last write and raises
    what it raised."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-write")
        self._pending: Future[None] | None = None

    def write(self, group: list[tuple[RolloutAccum, dict[str, Any], bool]]) -> None:
        self.wait()
        self._pending = self._pool.submit(self._db.write_rollouts, group)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is None:
                self.wait()
            elif self._pending is not None:
                wait([self._pending])  # the reader failed: let the write end, keep the first error
        finally:
            self._pool.shutdown(wait=True)


def parse_capped(
    f: BinaryIO,
    acc: RolloutAccum,
    offset: int,
    size: int,
    line_no: int,
    parse: Callable[[RolloutAccum, bytes, int, int], ChunkRead] = parse_chunk,
) -> ChunkRead:
    """Parse ``[offset, size)`` of the open trace in pieces of at most ``MAX_LINE_BYTES``: a
    line longer than that is listed as invalid and skipped unread, so one 1 GiB line costs
    no more memory than a normal trace (docs/hostile-files.md). ``parse``: what reads a
    piece's complete lines (the search index's filler reads only its documents)."""
    pos = offset
    chunk = ChunkRead(offset, line_no, False)
    while pos < size:
        f.seek(pos)
        data = f.read(min(MAX_LINE_BYTES, size - pos))
        if not data:
            break
        chunk = parse(acc, data, pos, chunk.line_no)
        if chunk.end_offset > pos:
            pos = chunk.end_offset
            continue
        if pos + len(data) >= size:
            break  # a torn last line: read again once the writer finishes it
        end = _next_newline(f, pos + len(data), size)
        if end is None:
            chunk = ChunkRead(pos, chunk.line_no, True)
            break
        acc.invalid.append((chunk.line_no + 1, pos, f"line longer than {MAX_LINE_BYTES >> 20} MiB: not read"))
        pos = end + 1
        chunk = ChunkRead(pos, chunk.line_no + 1, False)
    return chunk


def _next_newline(f: BinaryIO, start: int, size: int) -> int | None:
    f.seek(start)
    pos = start
    while pos < size:
        block = f.read(min(1 << 20, size - pos))
        if not block:
            return None
        nl = block.find(b"\n")
        if nl >= 0:
            return pos + nl
        pos += len(block)
    return None


class _Claims:
    """Finds the file a trace claims to be (its events' batch and rollout id), to tell a
    copy (``cp a.jsonl b.jsonl``, or into another batch) from the original."""

    def __init__(self, batch_dirs: list[tuple[Path, str]]):
        self._dirs = {bdir.name: bdir for bdir, _ in batch_dirs}

    def original_of(self, t: _Todo, acc: RolloutAccum) -> Path | None:
        rid = acc.claimed_rollout_id
        bid = acc.claimed_batch_id or t.batch_id
        if rid is None or (rid == t.rollout_id and bid == t.batch_id):
            return None
        bdir = self._dirs.get(bid)
        if bdir is None:
            return None
        orig = bdir / TRACES_DIR / f"{rid}.jsonl"
        try:
            check_regular(orig)
        except OSError:
            return None  # no original here: a renamed file or batch, indexed under its name
        return None if _same_dir(orig, t.path) else orig


def _read_one(
    db: Any, t: _Todo, warnings: list[str], counts: dict[str, int], claims: _Claims, finished_tasks: set[str]
) -> tuple[RolloutAccum, dict[str, Any], bool] | None:
    uid = f"{t.batch_id}/{t.rollout_id}"
    known = t.known
    reset = t.reset or known is None
    try:
        f = open_regular(t.path)
    except NotRegularFile as exc:
        counts["files_skipped"] += 1
        warnings.append(str(exc))
        return None
    except OSError as exc:
        warnings.append(f"{t.path}: cannot open ({exc.strerror})")
        return None
    with f:
        st = os.fstat(f.fileno())
        size = st.st_size  # read exactly up to what this stat saw; later bytes wait for next time
        offset, line_no = 0, 0
        if not reset:
            assert known is not None  # (reset when unknown)
            _rid, _size, _mtime, _ino, head, offset, line_no, _key = known
            offset, line_no = offset or 0, line_no or 0
            if st.st_ino != known[3] or size < offset:
                reset = True
            elif offset and head_digest(f.read(min(HEAD_BYTES, offset))) != head:
                reset = True  # same inode, other content: replaced in place
        if reset:
            offset, line_no = 0, 0
            values = dict(ROLLOUT_DEFAULTS)
            steps: set[int] = set()
        else:
            assert known is not None
            values, steps = db.rollout_values(known[0])
        f.seek(0)
        head_src = f.read(HEAD_BYTES)
        acc = RolloutAccum(
            uid, t.batch_id, t.rollout_id, values=values, known_steps=steps, docs=[] if db.search_in_ingest else None
        )
        chunk = parse_capped(f, acc, offset, size, line_no)
    read = size - offset
    mark_corrupt(acc, t.batch_done)
    counts["files_read"] += 1
    counts["bytes_read"] += read
    if offset == 0:
        orig = claims.original_of(t, acc)
        if orig is not None:
            counts["files_skipped"] += 1
            warnings.append(
                f"{t.path}: a copy of {orig} (both hold rollout "
                f"{acc.claimed_batch_id or t.batch_id}/{acc.claimed_rollout_id}): not indexed twice"
            )
            if known is not None:
                db.drop_rollouts([known[0]])
                counts["dropped_rollouts"] += 1
            return None
    counts["events"] += acc.events
    counts["invalid_lines"] += len(acc.invalid)
    counts["finished_rollouts"] += acc.finished_now
    if acc.finished_now:
        finished_tasks.add(acc.values.get("task_id") or "")
    for ln, _off, reason in acc.invalid:
        warnings.append(line_warning(t.path, ln, reason))
    if chunk.torn_tail:
        counts["torn_lines"] += 1
        if t.batch_done:
            warnings.append(f"{t.path}:{chunk.line_no + 1}: torn last line (writer stopped mid-line)")
    if known is None:
        counts["new_rollouts"] += 1
    else:
        counts["updated_rollouts"] += 1
    new_offset = chunk.end_offset
    fs = {
        "trace_path": t.key,
        "size": size,
        "mtime_ns": st.st_mtime_ns,
        "ino": st.st_ino,
        "head": head_digest(head_src[: min(HEAD_BYTES, new_offset)]),
        "offset": new_offset,
        "line_no": chunk.line_no,
        "_read": read,
        "_base": None if known is None else (known[5], known[2]),
    }
    return acc, fs, reset and known is not None
