"""One rollout state, one definition of every figure (issue 25).

One fixture holds every state (pass, fail, tampered, cancelled, error, no verdict, a
running trace in a finished batch, a corrupt file, copies of another batch's rollouts);
the run summary, Runs (its batch rows and result cells), Rollout, Fleet (batch line),
``stats``, ``audit``, ``suite calibrate`` and ``compare`` must give the same numbers.
Liveness: a batch whose process is SIGKILLed reads as interrupted and resumable.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent.batch import BatchSummary, result_state
from agent.loop import RolloutResult
from agent.suites.calibrate import pass_rates
from agent.suites.loading import load_suite
from agent.trace import BatchBusy, batch_alive, batch_lock, batch_running, read_batch_meta, read_trace, rollout_state
from exports.audit import audit
from labeling.compare_batches import read_block
from labeling.stats import signal_report
from labeling.store import LabelStore
from tests import factories
from tui.cli import main
from tui.screens.runs import _status_text

ROOT = Path(__file__).resolve().parents[2]
FIX = factories.unified_patch("gcd.py", ["    return b"], ["    return a"])
WRONG = factories.unified_patch("gcd.py", ["    return b"], ["    return 0"])

# What every view must agree on for task fix_gcd (copies and not judged left out).
JUDGED, PASSED = 3, 1
LEFT_OUT = {"cancelled": 1, "copy": 2, "error": 1, "interrupted": 1, "no_verdict": 1}


def _rollout(seed: int, **kw) -> factories.Rollout:
    kw.setdefault("steps", [[factories.Call("read_file", {"rel_path": "gcd.py"}, output=f"seed {seed}")]])
    return factories.Rollout(task_id="fix_gcd", seed=seed, suite="mini-bugs", **kw)


def _no_verdict(path: Path) -> None:
    lines = path.read_text().splitlines()
    end = json.loads(lines[-1])
    end["outcome"]["verdict_known"] = False
    path.write_text("\n".join([*lines[:-1], json.dumps(end)]) + "\n")


@pytest.fixture(scope="module")
def every_state(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("states") / "runs"
    b1 = factories.write_batch(
        root,
        "b1",
        [
            _rollout(0, passed=True, patch=FIX, files=["gcd.py"]),
            _rollout(1, patch=WRONG, files=["gcd.py"]),
            _rollout(2, stop_reason="cancelled"),
            _rollout(3, stop_reason="error"),
            _rollout(4, passed=True, tampered=True, tampered_paths=["test_gcd.py"], patch=FIX),
            _rollout(5, passed=True, patch=FIX),
            _rollout(6, finished=False),  # its writer died: the batch ended without it
        ],
        suite="mini-bugs",
    )
    _no_verdict(b1 / "traces" / "fix_gcd__s5.jsonl")
    (b1 / "traces" / "junk.jsonl").write_bytes(os.urandom(300).replace(b"\n", b"x") + b"\n")
    # A replay of the first two rollouts into a batch of its own (as the studio's replay wrote
    # them): the same content under another batch id. (A byte copy still naming b1 is skipped
    # at ingest with a warning: tests/labeling/test_hostile_traces.py.)
    copy = root / "b2-copy"
    (copy / "traces").mkdir(parents=True)
    meta = read_batch_meta(b1).model_copy(update={"id": "b2-copy"})
    (copy / "batch.json").write_text(meta.model_dump_json())
    for rid in ("fix_gcd__s0", "fix_gcd__s1"):
        text = (b1 / "traces" / f"{rid}.jsonl").read_text().replace('"batch_id":"b1"', '"batch_id":"b2-copy"')
        (copy / "traces" / f"{rid}.jsonl").write_text(text)
    with LabelStore.open(None, root) as store:
        store.ingest([root])
    return root


def test_every_view_gives_the_same_figures(every_state: Path, capsys) -> None:
    root = every_state
    b1 = root / "b1"
    with LabelStore.open(None, root) as store:
        # stats (per task and overall)
        rep = signal_report(store)
        (task,) = rep.tasks
        assert (task.rollouts, task.passed, task.left_out) == (JUDGED, PASSED, LEFT_OUT)
        assert (rep.judged, rep.passed) == (JUDGED, PASSED)
        assert rep.left_out == {**LEFT_OUT, "corrupt": 1}  # a corrupt file names no task
        # Runs and Fleet: the batch rows (rate, states) and each rollout's result cell
        batches = {b.batch_id: b for b in store.batches()}
        assert (batches["b1"].judged, batches["b1"].passed) == (JUDGED, PASSED)
        assert batches["b2-copy"].judged == 0 and batches["b2-copy"].states == {"copy": 2}
        assert sum(b.judged for b in batches.values()) == JUDGED
        cells = {r.uid: r.standing for r in store.rollouts()}
        assert sorted(cells.values()) == sorted(
            ["PASS", "FAIL", "TAMPERED", "cancelled", "error", "no verdict", "interrupted", "corrupt", "copy", "copy"]
        )
        # audit: what an export leaves out
        a = audit(store)
        assert (a.rollouts.judged, a.rollouts.passed) == (JUDGED, PASSED)
        assert a.rollouts.left_out == {**LEFT_OUT, "corrupt": 1}
        assert a.sft.examples == 1  # the one judged PASS original
    # the run summary, from the results the batch runner reported
    results = []
    for p in read_batch_meta(b1).planned:
        end = read_trace(b1 / "traces" / f"{p.rollout_id}.jsonl").end
        if end is not None:
            results.append(RolloutResult(p.rollout_id, p.task_id, p.seed, end.outcome, end.stop_reason, 1.0))
    summary = BatchSummary(b1, read_batch_meta(b1), results)
    assert (len(summary.judged), summary.passed) == (JUDGED, PASSED)
    assert summary.not_judged() == {k: n for k, n in LEFT_OUT.items() if k not in ("copy", "interrupted")}
    assert [result_state(r).label for r in results].count("PASS") == PASSED
    # the Rollout screen's reading of the dead rollout's trace
    dead = read_trace(b1 / "traces" / "fix_gcd__s6.jsonl")
    assert rollout_state(dead.end, alive=batch_running(b1)).label == "interrupted"
    # suite calibrate (reads traces, not the store)
    rate = pass_rates(load_suite("mini-bugs"), [root])["fix_gcd"]
    assert (rate.rollouts, rate.passes, rate.left_out) == (JUDGED, PASSED, LEFT_OUT)
    # compare's block (an error is never a fail; cancelled ones wait for a resume)
    block = read_block("m-7b", 0, b1, read_batch_meta(b1).planned)
    assert block.verdicts == {"fix_gcd": [True, False, False]}
    assert block.left_out == {"error": 1, "no_verdict": 1}
    # the CLI's stats line and audit say the same
    assert main(["stats", str(root)]) == 0
    out = capsys.readouterr().out
    assert "10 rollouts (3 judged; left out: cancelled 1, copy 2, corrupt 1, error 1," in " ".join(out.split())
    assert main(["audit", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rollouts"]["left_out"] == {**LEFT_OUT, "corrupt": 1}


def test_pairs_and_exports_use_judged_originals_only(every_state: Path, tmp_path: Path, capsys) -> None:
    with LabelStore.open(None, every_state) as store:
        store.rebuild_pairs(strategy="all-contrastive")
        sides = {u for p in store.pairs() for u in (p.chosen_uid, p.rejected_uid)}
    assert sides == {"b1/fix_gcd__s0", "b1/fix_gcd__s1", "b1/fix_gcd__s4"}
    out = tmp_path / "dpo.jsonl"
    assert main(["export", "dpo", str(every_state), "--auto", "--keep-noisy", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    # every pair of contents once, one direction; s0 > s1 and s4 > s1 say the same: one line
    assert len(lines) == len(set(lines)) == 1
    assert "duplicate_line 1" in capsys.readouterr().out


_HOLD = """
import sys, time
from pathlib import Path
from agent.trace import batch_lock
with batch_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(600)
"""


def test_a_killed_batch_reads_as_interrupted_and_resumable(tmp_path: Path, capsys) -> None:
    root = tmp_path / "runs"
    bdir = factories.write_batch(
        root, "live", [_rollout(0, passed=True, patch=FIX), _rollout(1, finished=False)], finished=None
    )
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(bdir)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with LabelStore.open(None, root) as store:
            store.ingest([root])
            (b,) = store.batches()
            assert (b.status, b.resumable) == ("running", False)
            assert store.rollout("live/fix_gcd__s1").state.status == "running"
        with pytest.raises(BatchBusy), batch_lock(bdir):  # a second runner is refused while it lives
            pass
        os.kill(proc.pid, signal.SIGKILL)  # no clean exit: batch.json keeps finished: null
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert read_batch_meta(bdir).finished is None and batch_alive(bdir) is False
    with LabelStore.open(None, root) as store:
        (b,) = store.batches()
        assert (b.status, b.resumable) == ("interrupted", True)
        assert store.rollout("live/fix_gcd__s1").state.label == "interrupted"
        assert _status_text(b, cancelling=False).plain == "interrupted (R)"
    with batch_lock(bdir):  # resumable: the lock is free again
        pass
    assert main(["audit", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rollouts"]["left_out"] == {"interrupted": 1}
    assert main(["stats", str(root)]) == 0
    assert "interrupted batch live: its process is gone; resume with" in " ".join(capsys.readouterr().out.split())
