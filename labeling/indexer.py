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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.trace import BATCH_FILE, TRACES_DIR, find_batches, read_batch_meta
from labeling.records import IngestProgress, IngestReport
from labeling.trace_rows import (
    HEAD_BYTES,
    ROLLOUT_DEFAULTS,
    RolloutAccum,
    head_digest,
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
    path: Path
    rollout_id: str
    size: int
    known: tuple | None  # (rid, size, mtime_ns, ino, head, offset, line_no)
    reset: bool
    batch_done: bool


def _batch_row(bdir: Path, batch_id: str, st: os.stat_result | None, warnings: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"batch_id": batch_id, "path": str(bdir)}
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
        except Exception as exc:  # a malformed batch.json is reported, never fatal
            warnings.append(f"{bdir / BATCH_FILE}: unreadable batch.json ({type(exc).__name__})")
        racy = time.time_ns() - st.st_mtime_ns < RACY_NS
        row.update(meta_size=st.st_size, meta_mtime_ns=-1 if racy else st.st_mtime_ns)
    return row


def ingest(db: Any, roots: Iterable[Path], *, progress: Callable[[IngestProgress], None] | None = None) -> IngestReport:
    t0 = time.perf_counter()
    warnings: list[str] = []
    counts: dict[str, Any] = dict(
        files_seen=0,
        files_read=0,
        files_unchanged=0,
        bytes_read=0,
        events=0,
        new_rollouts=0,
        updated_rollouts=0,
        finished_rollouts=0,
        torn_lines=0,
        invalid_lines=0,
    )

    batches_read = 0
    finished_tasks: set[str] = set()
    open_batches: list[str] = []
    batch_dirs: list[Path] = []
    seen: set[Path] = set()
    for root in roots:
        for b in find_batches(Path(root)):
            key = b.resolve()
            if key not in seen:
                seen.add(key)
                batch_dirs.append(b)

    # Phase 1: stat everything, decide what to read (cheap: no file is opened).
    todo: list[_Todo] = []
    for bdir in batch_dirs:
        batch_id = bdir.name
        try:
            meta_st: os.stat_result | None = os.stat(bdir / BATCH_FILE)
        except OSError:
            meta_st = None
        state = db.batch_state(batch_id)
        if state is None or meta_st is None or (state[0], state[1]) != (meta_st.st_size, meta_st.st_mtime_ns):
            row = _batch_row(bdir, batch_id, meta_st, warnings)
            if state is None or meta_st is not None:
                db.upsert_batch(row)
                batches_read += 1
            batch_done = bool(row.get("finished_at"))
        else:
            batch_done = bool(state[2])
        if not batch_done:
            open_batches.append(str(bdir))
        known_files = db.file_states(batch_id)
        tdir = bdir / TRACES_DIR
        try:
            entries = list(os.scandir(tdir))
        except OSError:
            entries = []
        for entry in entries:
            name = entry.name
            if not name.endswith(".jsonl"):
                continue
            counts["files_seen"] += 1
            path = str(tdir / name)
            try:
                st = entry.stat()
            except OSError:
                continue
            known = known_files.get(path)
            if known is not None:
                _rid, size, mtime_ns, ino, _head, offset, _ln = known
                if size == st.st_size and mtime_ns == st.st_mtime_ns and ino == st.st_ino:
                    counts["files_unchanged"] += 1
                    continue
                reset = ino != st.st_ino or st.st_size < (offset or 0) or st.st_size == size
            else:
                reset = False
            todo.append(_Todo(batch_id, Path(path), name[: -len(".jsonl")], st.st_size, known, reset, batch_done))

    # Phase 2: read what changed, flushing groups of files in one transaction each.
    bytes_total = sum(t.size - (0 if t.reset or t.known is None else (t.known[5] or 0)) for t in todo)
    bytes_done = 0
    group: list[tuple[RolloutAccum, dict[str, Any], bool]] = []
    changed: list[str] = []
    group_bytes = 0
    for i, t in enumerate(todo):
        item = _read_one(db, t, warnings, counts, finished_tasks)
        if item is not None:
            group.append(item)
            changed.append(item[0].uid)
            group_bytes += item[1]["_read"]
            bytes_done += item[1]["_read"]
        if group and (len(group) >= FLUSH_FILES or group_bytes >= FLUSH_BYTES or i == len(todo) - 1):
            db.write_rollouts(group)
            group, group_bytes = [], 0
            if progress is not None:
                progress(
                    IngestProgress(
                        files_done=i + 1, files_total=len(todo), bytes_done=bytes_done, bytes_total=bytes_total
                    )
                )
    if group:
        db.write_rollouts(group)
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


def _read_one(db: Any, t: _Todo, warnings: list[str], counts: dict[str, int], finished_tasks: set[str]):
    uid = f"{t.batch_id}/{t.rollout_id}"
    known = t.known
    reset = t.reset or known is None
    try:
        f = open(t.path, "rb")
    except OSError as exc:
        warnings.append(f"{t.path}: cannot open ({exc.strerror})")
        return None
    with f:
        st = os.fstat(f.fileno())
        size = st.st_size  # read exactly up to what this stat saw; later bytes wait for next time
        offset, line_no = 0, 0
        if not reset:
            assert known is not None  # (reset when unknown)
            _rid, _size, _mtime, _ino, head, offset, line_no = known
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
        f.seek(offset)
        data = f.read(size - offset)
        if offset == 0:
            head_src = data[:HEAD_BYTES]
        else:
            f.seek(0)
            head_src = f.read(HEAD_BYTES)
    acc = RolloutAccum(uid, t.batch_id, t.rollout_id, values=values, known_steps=steps)
    chunk = parse_chunk(acc, data, offset, line_no)
    counts["files_read"] += 1
    counts["bytes_read"] += len(data)
    counts["events"] += acc.events
    counts["invalid_lines"] += len(acc.invalid)
    counts["finished_rollouts"] += acc.finished_now
    if acc.finished_now:
        finished_tasks.add(acc.values.get("task_id") or "")
    for ln, _off, reason in acc.invalid:
        warnings.append(f"{t.path}:{ln}: {reason}")
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
        "trace_path": str(t.path),
        "size": size,
        "mtime_ns": st.st_mtime_ns,
        "ino": st.st_ino,
        "head": head_digest(head_src[: min(HEAD_BYTES, new_offset)]),
        "offset": new_offset,
        "line_no": chunk.line_no,
        "_read": len(data),
        "_base": None if known is None else (known[5], known[2]),
    }
    return acc, fs, reset and known is not None
