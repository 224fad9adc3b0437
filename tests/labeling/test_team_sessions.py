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


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.labeling._session_helpers", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _line(proc: subprocess.Popen) -> list[str]:
    line = proc.stdout.readline()
    if not line:  # it died: say why
        raise AssertionError(proc.stderr.read())
    return line.split()


def test_five_sessions_label_while_a_batch_runs(env):
    specs = [Spec(f"t{t}", s, passed=s % 2 == 0, patch=FIX if s else "") for t in range(4) for s in range(2)]
    env.batch("b1", specs)
    env.store.ingest([env.root])
    assert len(env.store.pairs()) == 4
    writer = _spawn("write", str(env.root / "b-live"), "2", str(VERDICTS_EACH + 1))
    sessions: dict[str, subprocess.Popen] = {}
    reported: dict[str, list[str]] = {who: [] for who in LABELERS}
    try:
        assert _line(writer) == ["started"]  # a batch mid-way: rollouts running
        sessions = {who: _spawn("label", str(env.db), str(env.root), who, str(VERDICTS_EACH)) for who in LABELERS}
        for k in range(1, VERDICTS_EACH + 2):
            writer.stdin.write("go\n")  # the batch writes a step while the five label
            writer.stdin.flush()
            if k <= VERDICTS_EACH:
                for who, proc in sessions.items():
                    ok, pair_id = _line(proc)
                    assert ok == "ok"
                    reported[who].append(pair_id)
            assert _line(writer) == ["step", str(k)]
        assert _line(writer) == ["done"]
        for who, proc in sessions.items():
            assert _line(proc) == ["done"]  # its last ingest, after the batch ended
            err = proc.stderr.read()
            assert proc.wait(timeout=60) == 0, f"{who}: {err}"
            assert "locked" not in err.lower(), err
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
            assert [e.target for e in events if e.labeler == who] == reported[who], who  # each commit, once
        assert len(events) == len(LABELERS) * VERDICTS_EACH
        assert {r.status for r in store.rollouts() if r.batch_id == "b-live"} == {"finished"}
        for pair in store.pairs():  # the derived columns agree with the log: the last verdict wins
            last = [e for e in events if e.target == pair.pair_id]
            if last:
                assert (pair.verdict, pair.labeler) == (last[-1].value, last[-1].labeler)
