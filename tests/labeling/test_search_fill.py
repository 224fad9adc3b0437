"""The search index of a SQLite store is its own file, filled from the rows ingest wrote
(labeling/search_index.py, labeling/search_fill.py): started in the background for a large
backlog, searched while it fills (and saying so), killed mid-way and resumed with nothing
lost or doubled, emptied when it belongs to another store, and never in the ingest's way."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from labeling import search_fill, search_index
from labeling.records import IndexProgress
from labeling.store import LabelStore
from tests import factories
from tests.factories import Call, Rollout, Step

ROLLOUTS = 12


def _batch(root: Path, n: int = ROLLOUTS, word: str = "zebra") -> None:
    rollouts = [
        Rollout(
            "t_sort",
            i,
            steps=[
                Step([Call("grep", {"pattern": f"{word}{i}"}, output=f"{word} crossing {i}")], content="look around"),
                Step([Call("read_file", {"rel_path": "a.py"}, output="def f(): pass")]),
            ],
        )
        for i in range(n)
    ]
    factories.write_batch(root, "b1", rollouts)


def _docs(store_path: Path) -> Counter:
    """The index's documents (rollout, step, place, offset), each as often as it is there."""
    with sqlite3.connect(search_index.index_path(store_path)) as c:
        return Counter(c.execute("SELECT rid, step, place, offset FROM search_docs"))


@pytest.fixture
def rows_only(tmp_path, monkeypatch):
    """A store whose ingest wrote its rows and no index yet (the filler kept from starting)."""
    root = tmp_path / "runs"
    _batch(root)
    monkeypatch.setattr(search_fill, "catch_up", lambda store, base: None)
    store = LabelStore(root / "labels.sqlite", labeler="t")
    store.ingest([root])
    monkeypatch.undo()
    yield root, store
    store.close()


def _filler(store: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*search_fill.FILLER_COMMAND, str(store), str(store.parent), *extra])


def _write_locked(index: Path) -> bool:
    """Whether a write transaction is open on the index file (another connection's)."""
    c = sqlite3.connect(index, timeout=0)
    try:
        c.execute("BEGIN IMMEDIATE")
        c.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        c.close()


def _wait(cond, what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, what
        time.sleep(0.01)


def test_ingest_writes_rows_and_no_document(rows_only):
    root, store = rows_only
    assert store.search_progress() == IndexProgress(done=0, total=ROLLOUTS, filling=False)
    with sqlite3.connect(root / "labels.sqlite") as c:  # the store itself holds no index
        names = {n for (n,) in c.execute("SELECT name FROM sqlite_master")}
    assert not names & {"search_docs", "search_fts"}


def test_a_search_while_the_index_fills_finds_what_is_there_and_says_so(rows_only, capsys):
    root, store = rows_only
    path = root / "labels.sqlite"
    conn = search_index.connect(path, create=True)
    assert conn is not None
    with search_fill.fill_lock(path) as mine:  # a filler at work: this process waits for it
        assert mine
        assert search_fill.fill(conn, lambda key: str(root / key), group_rollouts=4, max_groups=1) == 4
        hits = store.search("crossing", limit=100)
        assert len(hits) == 4 and hits.partial_index == IndexProgress(done=4, total=ROLLOUTS, filling=True)
        assert hits.partial_index.words.startswith("index filling (4 of 12 rollouts)")
        from tui.cli import main

        assert main(["search", str(root), "crossing", "--no-ingest"]) == 0
        out = capsys.readouterr().out
        assert "index filling (4 of 12 rollouts): hits from what is indexed so far" in out
    conn.close()
    hits = store.search("crossing", limit=100)  # the lock is free: the rest is filled here
    assert len(hits) == ROLLOUTS and hits.partial_index is None


def test_a_killed_filler_resumes_with_nothing_lost_or_doubled(rows_only, tmp_path):
    root, store = rows_only
    path = root / "labels.sqlite"
    index = search_index.index_path(path)
    proc = _filler(path, "--group-rollouts", "3", "--pause-after", "2")
    try:
        # two groups committed, the third written and not committed: killed there
        _wait(lambda: index.exists() and store.search_progress() is not None, "the filler made its file")
        _wait(lambda: store.search_progress().done == 6 and _write_locked(index), "the filler paused")  # type: ignore[union-attr]
        assert search_fill.filling(path)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not search_fill.filling(path)
    assert store.search_progress() == IndexProgress(done=6, total=ROLLOUTS, filling=False)
    assert len(store.search("crossing", limit=100)) == ROLLOUTS  # resumed (here: a small backlog)
    # the same documents as an index filled in one go, each once
    fresh = tmp_path / "fresh.sqlite"
    with sqlite3.connect(path) as src, sqlite3.connect(fresh) as dst:
        src.backup(dst)
    with LabelStore(fresh, labeler="t", base=root) as other:
        assert len(other.search("crossing", limit=100)) == ROLLOUTS
    assert _docs(path) == _docs(fresh) and max(_docs(path).values()) == 1


def test_a_large_backlog_is_filled_by_a_background_process(tmp_path, monkeypatch):
    monkeypatch.setattr(search_fill, "INLINE_BYTES", 0)
    root = tmp_path / "runs"
    _batch(root)
    with LabelStore(root / "labels.sqlite", labeler="t") as store:
        started = len(search_fill.FILLERS)
        store.ingest([root])
        assert len(search_fill.FILLERS) == started + 1  # ingest returned; the filler goes on
        proc = search_fill.FILLERS.pop()
        assert proc.wait(timeout=60) == 0
        assert store.search_progress() is None
        assert len(store.search("crossing", limit=100)) == ROLLOUTS


def test_ingest_says_the_index_is_filling(tmp_path, monkeypatch, capsys):
    from tui.cli import main

    monkeypatch.setattr(search_fill, "INLINE_BYTES", 0)
    root = tmp_path / "runs"
    _batch(root)
    with search_fill.fill_lock(root / "labels.sqlite") as mine:  # a filler at work: none is started
        assert mine
        assert main(["ingest", str(root)]) == 0
    assert "search index filling (0 of 12 rollouts): `repo-agent search` finds" in capsys.readouterr().out


def test_bytes_edited_after_ingest_never_stop_the_fill(rows_only):
    """A trace rewritten before the filler reads it, then grown (same file, same first bytes:
    ingest reads only its new end): lines that are no event are left out, never a traceback,
    and the rest is indexed."""
    root, store = rows_only
    trace = next(root.rglob("t_sort__s0.jsonl"))
    lines = trace.read_bytes().splitlines(keepends=True)
    edited = [
        _line({"kind": "rollout_end", "outcome": {"patch": 5}}) + b"\n",
        _line({**MSG, "step": [1], "message": {"role": "user", "content": "walrus"}}) + b"\n",
        _line({**CALL, "step": "one", "name": "walrus"}) + b"\n",
    ]
    with open(trace, "r+b") as f:
        f.write(b"".join(lines[:-1] + edited + lines[-1:]))
    store.ingest([root])
    assert store.search("walrus") == [] and store.search_progress() is None
    assert len(store.search("crossing", limit=100)) == ROLLOUTS


def test_an_index_left_by_another_store_is_emptied(tmp_path):
    root = tmp_path / "runs"
    _batch(root)
    db = root / "labels.sqlite"
    with LabelStore(db, labeler="t") as store:
        store.ingest([root])
        assert len(store.search("zebra0")) == 1
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    other = tmp_path / "other"
    _batch(other, n=2, word="walrus")
    with LabelStore(db, labeler="t", base=other) as store:  # a new store at the same path
        store.ingest([other])
        assert store.search("zebra0") == [] and len(store.search("walrus1")) == 1
        assert store.search_progress() is None


def test_a_foreign_object_in_the_index_file_has_it_made_again(tmp_path):
    root = tmp_path / "runs"
    _batch(root, n=2)
    db = root / "labels.sqlite"
    with LabelStore(db, labeler="t") as store:
        store.ingest([root])
    with sqlite3.connect(search_index.index_path(db)) as c:
        c.execute("CREATE VIEW pairs AS SELECT 1 AS pair_id")  # would shadow the store's pairs
    with LabelStore(db, labeler="t") as store:
        assert len(store.search("crossing")) == 2
    with sqlite3.connect(search_index.index_path(db)) as c:
        assert not c.execute("SELECT 1 FROM sqlite_master WHERE name = 'pairs'").fetchall()


def test_a_garbage_index_file_is_made_again(tmp_path):
    root = tmp_path / "runs"
    _batch(root, n=2)
    db = root / "labels.sqlite"
    with LabelStore(db, labeler="t") as store:
        store.ingest([root])
    search_index.index_path(db).write_bytes(b"SQLite format 3\x00" + b"\xff" * 8000)
    with LabelStore(db, labeler="t") as store:
        assert len(store.search("crossing")) == 2


def test_a_deleted_index_file_is_made_again_under_an_open_store(tmp_path):
    root = tmp_path / "runs"
    _batch(root, n=2)
    with LabelStore(root / "labels.sqlite", labeler="t") as store:
        store.ingest([root])
        assert len(store.search("crossing")) == 2
        search_index.remove(root / "labels.sqlite")  # as the damaged-file message says to
        factories.write_batch(root, "b2", [Rollout("t_sort", 9, steps=[Step([Call("grep", {}, output="walrus")])])])
        store.ingest([root])
        assert len(store.search("walrus")) == 1 and len(store.search("crossing")) == 2


def test_an_index_that_cannot_be_written_leaves_ingest_working(tmp_path):
    root = tmp_path / "runs"
    _batch(root, n=2)
    db = root / "labels.sqlite"
    search_index.index_path(db).mkdir(parents=True)  # no file can be made there
    with LabelStore(db, labeler="t") as store:
        assert store.ingest([root]).new_rollouts == 2
        hits = store.search("crossing")
        assert hits == [] and hits.partial_index == IndexProgress(done=0, total=2, filling=False)


def test_a_version_9_store_drops_its_inner_index_and_fills_the_file(tmp_path):
    root = tmp_path / "runs"
    _batch(root, n=2)
    db = root / "labels.sqlite"
    with LabelStore(db, labeler="t") as store:
        store.ingest([root])
    search_index.remove(db)
    with sqlite3.connect(db) as c:  # as schema 9 left it: the index inside, no read_gen
        c.executescript(search_index.STORE_SEARCH_DDL)
        c.execute("ALTER TABLE rollouts DROP COLUMN read_gen")
        c.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    with LabelStore(db, labeler="t") as store:
        assert len(store.search("crossing")) == 2
    with sqlite3.connect(db) as c:
        names = {n for (n,) in c.execute("SELECT name FROM sqlite_master")}
    assert not names & {"search_docs", "search_fts"}


def test_the_filler_runs_alone(rows_only):
    root, store = rows_only
    path = root / "labels.sqlite"
    with search_fill.fill_lock(path) as mine:
        assert mine and search_fill.filling(path)
        assert search_fill.main([str(path), str(root)]) == 0  # another holds the lock: it leaves
        assert store.search_progress().done == 0  # type: ignore[union-attr]
    assert not search_fill.filling(path)
    assert search_fill.main([str(path), str(root)]) == 0
    assert store.search_progress() is None


def _line(d: dict) -> bytes:
    return json.dumps(d).encode()


MSG = {"kind": "message", "step": 1, "message": {"role": "assistant", "content": "hello zebra"}}
CALL = {
    "kind": "tool_call",
    "step": 1,
    "seq": 0,
    "call_id": "c",
    "name": "grep",
    "arguments": '{"p": 1}',
    "valid": True,
}
HOSTILE = [
    _line(MSG),
    _line({**MSG, "reasoning": "because"}),
    _line({**MSG, "message": {"role": "tool", "content": [{"type": "text", "text": "part"}, {"text": 3}]}}),
    _line({**MSG, "message": {"role": "system", "content": "not indexed"}}),
    _line({**MSG, "step": "1"}),  # invalid: step not an int
    _line({**MSG, "message": "not an object"}),
    _line(CALL),
    _line({**CALL, "name": 3}),  # invalid: wrong types
    _line({**CALL, "step": 9223372036854775808}),  # a number no reader can use
    b'{"kind": "message", "step": 2, "message": {"role": "user", "content": "lone \\ud800 surrogate"}}',
    b'{"kind": "message", "step": 2, "message": {"role": "user", "content": "bad \xff byte"}}',
    b'{"kind": "message", "step": 2, "message": {"role": "user", "content": "encoded \xed\xa0\x80 surrogate"}}',
    b'{"kind": "message", "step": 2, "message": {"role": "user", "content": "nan"}, "x": NaN}',
    b'{"kind": "message", "step": 2, "message": {"role": "user", "content": "form feed"}}\x0c',
    b'\xef\xbb\xbf{"kind": "message", "step": 2, "message": {"role": "user", "content": "bom"}}',
    b'  {"kind": "message", "step": 3, "message": {"role": "user", "content": "indented"}}',
    b"[" * 3000 + b"]" * 3000,
    b"not json",
    _line({"kind": "rollout_end", "outcome": {"patch": "diff"}}),  # invalid: rollout_end lacks fields
]


@pytest.mark.parametrize("with_bad_bytes", [False, True], ids=["utf8", "bad-bytes-chunk"])
def test_the_filler_reads_the_documents_ingest_would_write(tmp_path, with_bad_bytes):
    """The filler parses only documents (labeling/search_fill.py); for every line ingest took as
    an event (labeling/trace_rows.py parse_chunk), the same documents, and none of the lines it
    refused (their offsets are the store's bad_lines). In a chunk of valid UTF-8, and in one
    holding a bad byte (ingest's line-by-line path)."""
    from labeling.indexer import parse_capped
    from labeling.search_index import Work
    from labeling.trace_rows import ROLLOUT_DEFAULTS, RolloutAccum

    lines = [raw for raw in HOSTILE if with_bad_bytes or not (b"\xff" in raw or b"\xed" in raw)]
    trace = tmp_path / "t.jsonl"
    trace.write_bytes(b"\n".join(lines) + b"\n")
    acc = RolloutAccum("u", "b", "r", values=dict(ROLLOUT_DEFAULTS))
    with open(trace, "rb") as f:
        parse_capped(f, acc, 0, trace.stat().st_size, 0)
    assert acc.docs and acc.invalid  # both kinds are here
    skip = {off for _ln, off, _why in acc.invalid}
    got = search_fill._docs(str(trace), Work(1, "t", 0, trace.stat().st_size, 1, False), skip)
    assert got == acc.docs
