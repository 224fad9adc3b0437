"""Human work: verdicts, marks, tags as an append-only log; exact undo/redo across reopen."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from labeling.records import PairFilter
from labeling.store import LabelStore, StoreError
from tests.labeling.conftest import FIX, Call, Spec, make_patch

BACKENDS = ("sqlite", "postgres")  # every test here runs on both stores (conftest.py)

OTHER = make_patch("prog.py", ["    return x - 1"], ["    return x * 2"])


@pytest.fixture
def two_pairs(env):
    env.batch(
        "b1",
        [
            Spec("t", 1, passed=True, patch=FIX),
            Spec("t", 2, patch=OTHER),
            Spec("u", 1, passed=True, patch=FIX),
            Spec("u", 2, patch=OTHER, steps=5),
        ],
    )
    env.store.ingest([env.root])
    a, b = env.store.pairs()
    return env, a.pair_id, b.pair_id


def reopen(env, tmp_path, labeler="alice") -> LabelStore:
    env.store.close()
    env.store = env.open(labeler)
    return env.store


def test_verdict_undo_redo_across_reopen(two_pairs, tmp_path):
    env, a, b = two_pairs
    s = env.store
    s.set_verdict(a, "confirm")
    s.set_verdict(a, "discard", note="both wrong really")
    s.set_verdict(b, "flip")
    s = reopen(env, tmp_path)
    assert (s.pair(a).verdict, s.pair(a).note, s.pair(b).verdict) == ("discard", "both wrong really", "flip")
    u = s.undo()
    assert (u.kind, u.target, u.value) == ("undo", b, "verdict")
    assert s.pair(b).verdict is None
    s = reopen(env, tmp_path)
    u2 = s.undo()
    assert u2.target == a and s.pair(a).verdict == "confirm"  # the exact previous state, not "unlabeled"
    s = reopen(env, tmp_path)
    r = s.redo()
    assert (r.kind, r.target) == ("redo", a) and s.pair(a).verdict == "discard"
    s = reopen(env, tmp_path)
    assert s.redo().target == b and s.pair(b).verdict == "flip"
    assert s.redo() is None  # nothing left to redo
    # undo everything, then one more undo is a no-op
    assert [s.undo().target for _ in range(3)] == [b, a, a]
    assert s.undo() is None
    assert s.pair(a).verdict is None and s.pair(b).verdict is None
    assert s.counts().labeled == 0


def test_new_action_clears_redo(two_pairs):
    env, a, b = two_pairs
    s = env.store
    s.set_verdict(a, "confirm")
    s.undo()
    s.set_verdict(b, "discard")
    assert s.redo() is None
    assert s.pair(a).verdict is None and s.pair(b).verdict == "discard"


def test_undo_is_per_labeler(two_pairs, tmp_path):
    env, a, b = two_pairs
    env.store.set_verdict(a, "confirm")
    bob = env.open("bob")
    bob.set_verdict(b, "flip")
    env.store.undo()  # alice undoes her own verdict, not bob's later one
    assert env.store.pair(a).verdict is None and env.store.pair(b).verdict == "flip"
    assert env.store.pair(b).labeler == "bob"
    assert bob.undo().target == b and bob.undo() is None
    bob.close()


def test_log_is_append_only_and_derives_state(two_pairs, tmp_path):
    env, a, _ = two_pairs
    s = env.store
    s.set_verdict(a, "confirm")
    s.undo()
    s.redo()
    events = s.events()
    assert [e.kind for e in events] == ["verdict", "undo", "redo"]
    assert events[0].undone_by is None and events[1].ref == events[0].id and events[2].ref == events[1].id
    s.undo()
    assert s.events()[0].undone_by == s.events()[-1].id
    if env.backend == "postgres":
        with psycopg.connect(env.db, autocommit=True) as pg:
            for sql in ("UPDATE label_events SET value = 'flip'", "DELETE FROM label_events", "TRUNCATE label_events"):
                with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                    pg.execute(sql)
        return
    con = sqlite3.connect(tmp_path / "labels.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE label_events SET value = 'flip'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM label_events")
    con.close()


def test_clear_verdict_and_bad_input(two_pairs):
    env, a, _ = two_pairs
    s = env.store
    s.set_verdict(a[:5], "confirm")  # unique prefix
    s.set_verdict(a, None)
    assert s.pair(a).verdict is None
    s.undo()
    assert s.pair(a).verdict == "confirm"
    with pytest.raises(StoreError, match="unknown verdict"):
        s.set_verdict(a, "maybe")
    logged = len(s.events())
    with pytest.raises(KeyError):
        s.set_verdict("ffffffffffff", "confirm")  # a full id: checked inside the write, rolled back
    with pytest.raises(KeyError):
        s.set_verdict("fffff", "confirm")  # a prefix: looked up first
    assert len(s.events()) == logged  # neither left an event in the log
    s.set_verdict(f"  {a.upper()} ", "flip")  # a full id, as typed
    assert s.pair(a).verdict == "flip" and s.events()[-1].target == a


def test_step_marks_with_undo(env, tmp_path):
    env.batch("b1", [Spec("t", 1, steps=3)])
    env.store.ingest([env.root])
    s = env.store
    uid = "b1/t__s1"
    s.mark_step(uid, 2, "loop", "reads prog.py again")
    s.mark_step(uid, 3, "premature_finish")
    s = reopen(env, tmp_path)
    marks = s.step_marks(uid)
    assert marks[2].reason == "loop" and marks[2].text == "reads prog.py again" and marks[2].labeler == "alice"
    assert [st.mark.reason if st.mark else None for st in s.steps(uid)] == [None, "loop", "premature_finish"]
    s.unmark_step(uid, 2)
    assert set(s.step_marks(uid)) == {3}
    s.undo()
    assert set(s.step_marks(uid)) == {2, 3}
    assert set(s.all_step_marks()[uid]) == {2, 3}
    with pytest.raises(StoreError, match="unknown reason"):
        s.mark_step(uid, 1, "ugly")
    with pytest.raises(StoreError, match="numbered from 1"):
        s.mark_step(uid, 0, "other")
    with pytest.raises(KeyError):
        s.mark_step("b1/nope", 1, "other")


def test_tags(two_pairs):
    env, a, b = two_pairs
    s = env.store
    s.tag_pair(a, "hard")
    s.tag_pair(b, "hard")
    s.tag_pair(a, "revisit")
    assert s.pair(a).tags == ["hard", "revisit"]
    s.untag_pair(a, "hard")
    assert [p.pair_id for p in s.pairs(PairFilter(tag="hard"))] == [b]
    s.undo()
    assert {p.pair_id for p in s.pairs(PairFilter(tag="hard"))} == {a, b}


def test_auto_step_flags(env):
    calls = [
        [Call("list_dir", {"rel_dir": ""}, valid=False)],  # 1 invalid
        [Call("read_file", {"rel_path": "prog.py"})],  # 2 (patched later: used)
        [Call("read_file", {"rel_path": "./README.md"})],  # 3 never used
        [Call("read_file", {"rel_path": "prog.py"})],  # 4 same call, nothing written since
        [Call("run_tests", {}, ok=False)],  # 5 tool error
        [Call("write_file", {"rel_path": "prog.py", "content": "x"})],  # 6
        [Call("read_file", {"rel_path": "prog.py"})],  # 7 re-read after a write: fine
        [Call("grep", {"pattern": "x", "rel_dir": "."}), Call("grep", {"rel_dir": ".", "pattern": "x"})],  # 8 loop
        [Call("finish", {"summary": "done"})],
    ]
    env.batch("b1", [Spec("t", 1, calls=calls, patch=FIX)])
    env.store.ingest([env.root])
    flags = {s.step: s.auto_flags for s in env.store.steps("b1/t__s1")}
    assert flags == {
        1: ["invalid_call"],
        2: [],
        3: ["unused_read"],
        4: ["repeated_call"],
        5: ["tool_error"],
        6: [],
        7: [],
        8: ["repeated_call"],
        9: [],
    }
