"""Five served-studio sessions label at once while a batch is being written (each ingesting
it, as a session's tail worker does): no verdict is lost or doubled, and no session sees
"database is locked". On SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.labeling.conftest import FIX, Spec

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("sqlite", "postgres")
LABELERS = ("ann", "bob", "cy", "dee", "eve")
VERDICTS_EACH = 3


def _spawn(*args: str, stdin: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_five_sessions_label_while_a_batch_runs(env):
    specs = [Spec(f"t{t}", s, passed=s % 2 == 0, patch=FIX if s else "") for t in range(4) for s in range(2)]
    env.batch("b1", specs)
    env.store.ingest([env.root])
    assert len(env.store.pairs()) == 4
    writer = _spawn("tests.labeling._helpers", "write", str(env.root / "b-live"), "2", stdin=True)
    sessions: dict[str, subprocess.Popen] = {}
    try:
        assert writer.stdout.readline().strip() == "half"  # a batch mid-way: rollouts running
        sessions = {
            who: _spawn("tests.labeling._session_helpers", str(env.db), str(env.root), who, str(VERDICTS_EACH))
            for who in LABELERS
        }
        writer.stdin.write("go\n")  # it writes on while the five label
        writer.stdin.flush()
        reported: dict[str, list[str]] = {}
        for who, proc in sessions.items():
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"{who}: {err}"
            assert "locked" not in err.lower() and "locked" not in out.lower(), err
            lines = out.split("\n")
            assert lines[VERDICTS_EACH] == "done", out
            reported[who] = [line.split()[1] for line in lines[:VERDICTS_EACH]]
        assert writer.wait(timeout=60) == 0
    finally:
        for proc in [writer, *sessions.values()]:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    with env.open("checker") as store:
        store.ingest([env.root])
        events = [e for e in store.events() if e.kind == "verdict"]
        for who in LABELERS:
            mine = [e.target for e in events if e.labeler == who]
            assert mine == reported[who], who  # each reported commit is there, in order, once
        assert len(events) == len(LABELERS) * VERDICTS_EACH
        assert {b.batch_id for b in store.batches()} == {"b1", "b-live"}
        assert {r.status for r in store.rollouts() if r.batch_id == "b-live"} == {"finished"}
        for pair in store.pairs():  # the derived columns agree with the log: the last verdict wins
            last = [e for e in events if e.target == pair.pair_id]
            if last:
                assert (pair.verdict, pair.labeler) == (last[-1].value, last[-1].labeler)
