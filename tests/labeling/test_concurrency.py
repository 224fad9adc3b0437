"""Real processes: a labeler killed with SIGKILL loses nothing; ingest while a batch writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from labeling.store import LabelStore
from tests.labeling.conftest import FIX, Spec, make_patch

OTHER = make_patch("prog.py", ["    return x - 1"], ["    return x * 2"])

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("sqlite", "postgres")  # the tests taking `env` run on both stores (conftest.py)


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.labeling._helpers", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_sigkill_right_after_a_verdict_loses_nothing(env, tmp_path):
    env.batch("b1", [Spec("t", 1, passed=True, patch=FIX), Spec("t", 2, patch=make_patch("p.py", ["a"], ["b"]))])
    env.store.ingest([env.root])
    [pair] = env.store.pairs()
    proc = _spawn("label", str(env.db), pair.pair_id[:8])
    try:
        assert proc.stdout.readline().strip() == "ok"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    with env.open("killed") as after:
        p = after.pair(pair.pair_id)
        assert (p.verdict, p.note, p.labeler) == ("flip", "set right before the kill", "killed")
        assert after.step_marks(pair.chosen_uid)[1].reason == "loop"
        assert after.undo().value == "mark"  # the log is intact and undoable after the crash


def test_ingest_while_a_batch_is_writing(tmp_path):
    root = tmp_path / "traces"
    bdir = root / "b-live"
    store = LabelStore(tmp_path / "labels.sqlite", labeler="t")
    proc = _spawn("write", str(bdir), "3")
    try:
        assert proc.stdout.readline().strip() == "half"
        mid = store.ingest([root])
        assert mid.new_rollouts == 3 and {r.status for r in store.rollouts()} == {"running"}
        assert {r.steps for r in store.rollouts()} == {11}
        proc.stdin.write("go\n")
        proc.stdin.flush()
        rounds = 0
        while proc.poll() is None:  # ingest over and over while the writer runs
            store.ingest([root])
            rounds += 1
        assert proc.wait(timeout=60) == 0
        final = store.ingest([root])
        assert final.invalid_lines == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    # the incrementally built index equals a fresh one built from the finished files
    with LabelStore(tmp_path / "fresh.sqlite", labeler="t") as fresh:
        fresh.ingest([root])
        rows = store.rollouts()
        assert [r.model_dump() for r in rows] == [r.model_dump() for r in fresh.rollouts()]
        assert all(r.status == "finished" and r.steps == 24 for r in rows)
        for r in rows:
            inc, ref = store.steps(r.uid), fresh.steps(r.uid)
            assert [s.model_dump() for s in inc] == [s.model_dump() for s in ref]
            assert len(inc) == 24 and all(s.calls[0].ok for s in inc)
        assert [p.model_dump() for p in store.pairs()] == [p.model_dump() for p in fresh.pairs()]
    store.close()


def test_two_stores_ingesting_the_same_bytes_do_not_duplicate(env, tmp_path):
    from tests.labeling.conftest import write_rollout

    bdir = env.batch("b1", [Spec("t", 1, steps=3)])
    env.store.ingest([env.root])
    write_rollout(bdir, Spec("t", 2, steps=4, passed=True, patch=FIX))  # a new file
    other = env.open("other")
    real = env.store._db.write_rollouts

    def racing_write(items):
        other.ingest([env.root])  # another process indexes the same bytes first
        return real(items)

    env.store._db.write_rollouts = racing_write
    env.store.ingest([env.root])
    env.store._db.write_rollouts = real
    steps = env.store.steps("b1/t__s2")
    assert [s.step for s in steps] == [1, 2, 3, 4] and all(len(s.calls) == 1 for s in steps)
    assert [s.tokens_in for s in steps] == [100] * 4  # not counted twice
    other.close()


def test_two_labelers_writing_at_once_with_sigkills_lose_and_double_nothing(env):
    """Two labeler processes give verdicts to the same pairs at the same time; each is
    SIGKILLed twice mid-stream and restarted (it resumes from the log). Every verdict a
    process reported committed is in the log, none twice; the derived pair columns and
    the counters agree with the log."""
    specs = [Spec(f"t{t}", s, passed=s % 2 == 0, patch=FIX if s % 2 else OTHER) for t in range(3) for s in range(4)]
    env.batch("b1", specs)
    env.store.ingest([env.root], rebuild=False)
    env.store.rebuild_pairs(strategy="all-contrastive")
    pair_ids = {p.pair_id for p in env.store.pairs()}
    assert len(pair_ids) >= 12
    reported: dict[str, list[str]] = {"ann": [], "bob": []}
    verdict = {"ann": "confirm", "bob": "flip"}
    procs = {who: _spawn("label-all", str(env.db), who, verdict[who]) for who in reported}
    try:
        for kill in range(2):
            n = 2 + kill
            for proc in procs.values():  # both write at once; one verdict more than we wait for
                proc.stdin.write("go\n" * (n + 1))
                proc.stdin.flush()
            for who in reported:  # read n commits, then SIGKILL it (in or around verdict n + 1)
                for _ in range(n):
                    line = procs[who].stdout.readline().split()
                    assert line[0] == "ok", line
                    reported[who].append(line[1])
                os.kill(procs[who].pid, signal.SIGKILL)
                assert procs[who].wait(timeout=60) == -signal.SIGKILL
                procs[who] = _spawn("label-all", str(env.db), who, verdict[who])
        for proc in procs.values():
            proc.stdin.write("go\n" * len(pair_ids))
            proc.stdin.flush()
        for who, proc in procs.items():
            while (line := proc.stdout.readline().split()) != ["done"]:
                assert line and line[0] == "ok", line
                reported[who].append(line[1])
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(timeout=60)
    with env.open("checker") as s:
        events = s.events()
        for who in reported:
            mine = [e.target for e in events if e.labeler == who]
            assert sorted(mine) == sorted(pair_ids), who  # each pair exactly once: none lost, none doubled
            assert set(reported[who]) <= set(mine) and len(set(reported[who])) == len(reported[who])
        latest = {e.target: e for e in events}  # in id order: the last verdict wins
        pairs = s.pairs()
        assert {p.pair_id: (p.verdict, p.labeler) for p in pairs} == {
            pid: (e.value, e.labeler) for pid, e in latest.items()
        }
        c = s.counts()
        assert (c.total, c.labeled, c.confirm, c.flip) == (
            len(pairs),
            len(pairs),
            sum(p.verdict == "confirm" for p in pairs),
            sum(p.verdict == "flip" for p in pairs),
        )
