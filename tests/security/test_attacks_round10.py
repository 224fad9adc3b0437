"""Round 10 attacks on the sandbox and the verdict (a reviewer who did not build them). Each
open finding is a strict xfail: it fails today and must pass once it is fixed. Real bwrap,
run as root here, or as the user nobody (runuser in a private mount namespace)."""

from __future__ import annotations

import threading

import pytest

from agent import cgroups
from agent.final_verdict import final_test_run
from agent.suites.loading import load_suite
from agent.workspace import Workspace

GIB = 1024**3
EUCLID = "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return abs(a)\n"


@pytest.fixture(scope="module")
def mini_bugs():
    return load_suite("mini-bugs")


# r10-1: a final run starts the reference fix's run of the planted tests beside the rollout's
# (agent/final_verdict.py ``final_run``), but the memory each sandbox gets under an enclosing
# limit is that limit shared by ``SANDBOX_SLOTS`` (one per executor worker, here one): both
# sandboxes get the whole part, so two of them together may use twice the enclosing limit. A
# rollout using all of its own limit (its right: "a rollout over it did it alone") then runs
# the enclosing cgroup out of memory, and the kill of either run is the machine's shortage
# (SandboxError / DifferentialError: not judged). Shown by the accounting (no memory used):
# an enclosing limit of 1 GiB, the limits of the sandboxes alive at once.
@pytest.mark.xfail(strict=True, reason="open: r10-1 the reference run beside the rollout's takes no memory slot")
def test_final_run_sandboxes_alive_at_once_fit_the_enclosing_limit(mini_bugs, tmp_path, monkeypatch):
    if not cgroups._parents().get("memory"):
        pytest.fail("no memory cgroup for the sandboxes here: this attack needs root's cgroups")
    monkeypatch.setattr(cgroups, "memory_limit", lambda start=None: GIB)
    real = cgroups.SandboxCgroup.create.__func__
    real_close = cgroups.SandboxCgroup.close
    live: list[cgroups.SandboxCgroup] = []
    peaks: list[int] = []
    lock, two = threading.Lock(), threading.Event()

    def create(cls, name):
        group = real(cls, name)
        with lock:
            if group is not None:
                live.append(group)
                peaks.append(sum(g.memory_bytes for g in live))
            if len(live) >= 2:
                two.set()
        # Only while the reference run's thread is alive: both sandboxes made before either runs.
        if any(t.name.startswith("reference-run") for t in threading.enumerate()):
            two.wait(20)
        return group

    def close(self):
        with lock:
            if self in live:
                live.remove(self)
        real_close(self)

    monkeypatch.setattr(cgroups.SandboxCgroup, "create", classmethod(create))
    monkeypatch.setattr(cgroups.SandboxCgroup, "close", close)
    task = mini_bugs.task("fix_gcd")
    ws = Workspace.create(mini_bugs, task, tmp_path)
    (ws.path / "gcd.py").write_text(EUCLID)
    result, _ = final_test_run(ws)
    assert result.passed, result.summary
    assert two.is_set(), "the two sandboxes never ran at once"
    assert max(peaks) <= GIB - cgroups._HOST_MARGIN, [p // 2**20 for p in peaks]
