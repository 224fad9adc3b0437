"""Ingest against traces that are odd on purpose: every finding ends in a clear warning
and every good rollout still counted (never a crash, a hang, a merge or a double count)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from labeling.stats import signal_report
from labeling.store import LabelStore, StoreError
from tests.labeling.conftest import FIX, Spec, make_batch

BACKENDS = ("sqlite", "postgres")  # the store tests run on both (conftest.py)

SPECS = [Spec("t1", 1, passed=True, patch=FIX), Spec("t1", 2), Spec("t2", 1, passed=True, patch=FIX)]


def _rewrite(path: Path, kind: str, fn) -> None:
    """Apply ``fn`` to the raw text of the first line of ``kind`` in the trace."""
    lines = path.read_bytes().split(b"\n")
    for i, raw in enumerate(lines):
        if raw and json.loads(raw)["kind"] == kind:
            lines[i] = fn(raw)
            break
    else:
        raise AssertionError(f"no {kind} line")
    path.write_bytes(b"\n".join(lines))


def _trace(bdir: Path, spec: Spec) -> Path:
    return bdir / "traces" / f"{spec.rollout_id}.jsonl"


def test_lone_surrogates_and_bad_bytes_are_escaped_never_fatal(env):
    bdir = env.batch("b1", SPECS)
    # A lone surrogate is valid JSON but not encodable: it made SQLite raise.
    _rewrite(_trace(bdir, SPECS[0]), "final", lambda raw: raw.replace(b'"done"', b'"done \\ud800 x"'))
    _rewrite(_trace(bdir, SPECS[0]), "tool_call", lambda raw: raw.replace(b'"read_file"', b'"read\\udfff"', 1))
    # A byte that is not UTF-8 inside a string: the line is kept, the byte shown as \xff.
    _rewrite(_trace(bdir, SPECS[1]), "final", lambda raw: raw.replace(b'"done"', b'"do\xffne"'))
    # A surrogate encoded as UTF-8 bytes (ED A0 80): not UTF-8, but json would decode it.
    _rewrite(_trace(bdir, SPECS[2]), "final", lambda raw: raw.replace(b'"done"', b'"d\xed\xa0\x80"'))
    rep = env.store.ingest([env.root])
    assert (rep.new_rollouts, rep.finished_rollouts, rep.invalid_lines) == (3, 3, 0), rep.warnings
    assert env.store.rollout(f"b1/{SPECS[0].rollout_id}").summary == "done \\ud800 x"
    assert env.store.steps(f"b1/{SPECS[0].rollout_id}")[0].calls[0].name == "read\\udfff"
    assert env.store.rollout(f"b1/{SPECS[1].rollout_id}").summary == "do\\xffne"
    assert env.store.rollout(f"b1/{SPECS[2].rollout_id}").summary == "d\\ud800"
    assert signal_report(env.store).rollouts == 3
    assert env.store.ingest([env.root]).files_unchanged == 3  # and the store still works


def test_numbers_no_reader_can_use_make_their_line_invalid_in_any_chunk(env):
    """Ingest parses a chunk with C's own numbers unless its prescan finds a digit run or an
    exponent that could need the checks: 1e999 (inf), a 20-digit step, 2**63 are still refused,
    line by line, and the rest of the trace is indexed."""
    bdir = env.batch("b1", SPECS)
    _rewrite(_trace(bdir, SPECS[0]), "llm_call", lambda raw: raw.replace(b'"latency_s":', b'"latency_s":1e999,"x":'))
    _rewrite(
        _trace(bdir, SPECS[1]), "llm_call", lambda raw: raw.replace(b'"step":', b'"step":99999999999999999999,"s":')
    )
    _rewrite(
        _trace(bdir, SPECS[2]), "tool_result", lambda raw: raw.replace(b'"seq":', b'"seq":9223372036854775808,"q":')
    )
    rep = env.store.ingest([env.root])
    assert (rep.new_rollouts, rep.finished_rollouts, rep.invalid_lines) == (3, 3, 3), rep.warnings
    assert sum("not JSON" in w for w in rep.warnings) == 3, rep.warnings
    assert signal_report(env.store).rollouts == 3


def test_a_fifo_named_like_a_trace_is_skipped_with_a_warning(env):
    bdir = env.batch("b1", SPECS)
    fifo = bdir / "traces" / "f.jsonl"
    os.mkfifo(fifo)
    rep = ingest_beside(env.store, env.root, fifo)
    assert rep.new_rollouts == 3 and rep.files_skipped == 1
    assert [w for w in rep.warnings if "f.jsonl" in w] == [f"{fifo}: a FIFO, not a regular file: skipped"]
    assert len(env.store.rollouts()) == 3


def test_a_fifo_named_batch_json_does_not_block(env):
    bdir = env.batch("b1", SPECS)
    meta = bdir / "batch.json"
    meta.unlink()
    os.mkfifo(meta)
    rep = ingest_beside(env.store, env.root, meta)
    assert rep.new_rollouts == 3
    assert f"{meta}: a FIFO, not a regular file: skipped" in rep.warnings


def ingest_beside(store, root: Path, fifo: Path):
    """Ingest in a thread; if it blocks on ``fifo``, fail (and unblock it so pytest exits)."""
    done: list = []
    worker = threading.Thread(target=lambda: done.append(store.ingest([root])), daemon=True)
    worker.start()
    worker.join(timeout=60)
    blocked = worker.is_alive()
    if blocked:  # a writer end lets the blocked open() return
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(timeout=60)
    assert not blocked, f"ingest blocked on the FIFO {fifo}"
    return done[0]


def test_symlinked_trace_files_are_not_followed(env, tmp_path):
    bdir = env.batch("b1", SPECS[:1])
    outside = tmp_path / "elsewhere.jsonl"
    shutil.copy(_trace(bdir, SPECS[0]), outside)
    link = bdir / "traces" / "t9__s9.jsonl"
    link.symlink_to(outside)
    rep = env.store.ingest([env.root])
    assert rep.new_rollouts == 1 and f"{link}: a symlink, not a regular file: skipped" in rep.warnings


def test_the_same_directory_by_relative_and_absolute_path_is_one_batch(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    make_batch(root, "b1", SPECS)
    monkeypatch.chdir(tmp_path)
    store = LabelStore(LabelStore.default_path(Path("runs")))
    try:
        first = store.ingest([Path("runs")])
        second = store.ingest([root])  # absolute now
        via_link = tmp_path / "alias"
        via_link.symlink_to(root)
        third = store.ingest([via_link])
    finally:
        store.close()
    assert first.new_rollouts == 3 and not first.warnings
    for rep in (second, third):
        assert (rep.new_rollouts, rep.files_read, rep.files_unchanged) == (0, 0, 3), rep
    # Stored relative to the store's directory: readable from any working directory.
    monkeypatch.chdir("/")
    with LabelStore(root / "labels.sqlite") as again:
        paths = [Path(r.trace_path) for r in again.rollouts()]
        assert len(paths) == 3 and all(p.is_file() for p in paths)
        assert {b.path for b in again.batches()} == {str(root / "b1")}


def test_a_moved_traces_directory_keeps_its_rollouts(tmp_path):
    root = tmp_path / "runs"
    make_batch(root, "b1", SPECS)
    with LabelStore(LabelStore.default_path(root)) as store:
        store.ingest([root])
    moved = tmp_path / "moved"
    root.rename(moved)
    with LabelStore(LabelStore.default_path(moved)) as store:
        rep = store.ingest([moved])
        assert (rep.new_rollouts, rep.files_unchanged, rep.dropped_rollouts) == (0, 3, 0)
        assert all(Path(r.trace_path).is_file() for r in store.rollouts())


def test_one_batch_id_in_two_directories_is_reported_not_merged(env):
    a = make_batch(env.root / "a", "b1", SPECS)
    b = make_batch(env.root / "b", "b1", SPECS[:2] + [Spec("t3", 1)])
    rep = env.store.ingest([env.root])
    assert rep.new_rollouts == 3 and len(env.store.rollouts()) == 3
    assert f"duplicate batch id b1: {a} and {b}; only {a} is indexed (rename one of them)" in rep.warnings
    # Later, on its own: still the indexed one wins, still reported.
    rep = env.store.ingest([env.root / "b"])
    assert rep.new_rollouts == 0 and any(w.startswith("duplicate batch id b1:") for w in rep.warnings)
    assert {r.rollout_id for r in env.store.rollouts()} == {s.rollout_id for s in SPECS}


def test_a_copied_trace_is_reported_and_counted_once(env):
    bdir = env.batch("b1", SPECS)
    orig = _trace(bdir, SPECS[0])
    copy = bdir / "traces" / "t1__s1 (copy).jsonl"
    shutil.copy(orig, copy)
    other = make_batch(env.root, "b2", [Spec("t5", 1)])
    into_other = other / "traces" / orig.name
    shutil.copy(orig, into_other)  # the same rollout copied into another batch
    rep = env.store.ingest([env.root])
    assert rep.new_rollouts == 4 and rep.files_skipped == 2
    assert len(env.store.rollouts()) == 4 and signal_report(env.store).rollouts == 4
    assert f"{copy}: a copy of {orig} (both hold rollout b1/{SPECS[0].rollout_id}): not indexed twice" in rep.warnings
    assert f"{into_other}: a copy of {orig} (both hold rollout b1/{SPECS[0].rollout_id}): not indexed twice" in (
        rep.warnings
    )


def test_trace_files_deleted_from_disk_leave_the_index(env):
    bdir = env.batch("b1", SPECS)
    env.store.ingest([env.root])
    assert env.store.pairs()
    _trace(bdir, SPECS[1]).unlink()  # the failing t1 rollout: its pair goes
    rep = env.store.ingest([env.root])
    assert rep.dropped_rollouts == 1
    assert {r.rollout_id for r in env.store.rollouts()} == {SPECS[0].rollout_id, SPECS[2].rollout_id}
    assert signal_report(env.store).rollouts == 2
    assert all(p.stale for p in env.store.pairs(_all()))


def _all():
    from labeling.records import PairFilter

    return PairFilter(include_stale=True)


def test_a_line_ingest_rejects_is_recorded_with_its_warning(env):
    bdir = env.batch("b1", SPECS[:1])
    path = _trace(bdir, SPECS[0])
    _rewrite(path, "llm_call", lambda raw: raw.replace(b'"step":1', b'"step":1.5', 1))
    rep = env.store.ingest([env.root])
    n = next(i for i, raw in enumerate(path.read_bytes().split(b"\n"), 1) if b'"step":1.5' in raw)
    assert rep.warnings == [f"{path}:{n}: step is not an integer"]
    assert env.store.rollout(f"b1/{SPECS[0].rollout_id}").status == "finished"
    ends, bad = env.store.accepted_lines()
    assert [(ln, reason) for ln, _off, reason in bad[str(path)]] == [(n, "step is not an integer")]


@pytest.mark.parametrize(
    "garbage", [b"not a database at all\n" * 200, b"SQLite format 3\x00" + b"\xff" * 8000], ids=["text", "header"]
)
def test_a_garbage_store_file_is_one_clear_error(tmp_path, garbage):
    db = tmp_path / "labels.sqlite"
    db.write_bytes(garbage)
    with pytest.raises(StoreError) as info:
        LabelStore(db)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{db} is not a usable label store")
