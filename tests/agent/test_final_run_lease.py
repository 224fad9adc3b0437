"""A final run alone on the machine (agent/final_run_lease.py): real bwrap, real processes.

Each test starts repo-agent's side in processes of their own (as two ``run`` processes or two
Ray workers would), with a lease directory of the test's own, and waits on conditions: a
process is seen waiting for the lease in /proc/locks, never assumed to after a sleep.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent import final_run_lease, subuid
from agent.sandbox import run_command_full, sandbox_kind
from agent.uid_lease import UidRange, lease_dir, root_range

PROJECT = Path(__file__).resolve().parents[2]

# A sandbox (run_command_full, real bwrap) whose command waits for ``go`` in a directory bound
# read-only; the process says how it ended.
_SANDBOX = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from agent.sandbox import run_command_full
ws, gate = Path(sys.argv[2]), Path(sys.argv[3])
wait = "import os, sys, time\\nwhile not os.path.exists(sys.argv[1]): time.sleep(0.01)\\nprint('saw go')"
run = run_command_full([sys.executable, "-c", wait, str(gate / "go")], ws, timeout_s=120, sandbox="bwrap", ro_binds=(gate,))
print("RAN", run.exit_code, run.output.strip().splitlines()[-1:], flush=True)
"""
# A final run's lease, held until a line comes on stdin.
_FINAL = """
import sys
sys.path.insert(0, sys.argv[1])
from agent.final_run_lease import final_run_alone
with final_run_alone():
    print("ALONE", flush=True)
    sys.stdin.readline()
print("OVER", flush=True)
"""
_WAIT_S = 120.0  # a bound for a busy machine, never a pause: every wait ends on its condition


@pytest.fixture
def leases(tmp_path, monkeypatch) -> Path:
    """The final-run lease's place, the test's own (shared by the processes it starts). The
    sandboxes lease their uids from the REAL directory: a private uid lease directory hands out
    the uids the other test worker's sandboxes hold, and two sandboxes of one uid share its
    cgroups (agent/cgroups.py names them by the uid) and kill each other's processes."""
    if sandbox_kind() != "bwrap":
        pytest.fail("these tests need a working bwrap", pytrace=False)
    d = tmp_path / "leases"
    d.mkdir()
    monkeypatch.setenv(final_run_lease.PLACE_ENV, str(d))
    return d / str(os.geteuid())


def test_the_lease_is_kept_beside_the_uid_leases(monkeypatch):
    """Unset, the place is the machine-wide one every repo-agent of this user shares: root's is
    the sandbox uids' lease directory (a private one per process would hold nothing apart)."""
    monkeypatch.delenv(final_run_lease.PLACE_ENV, raising=False)
    if os.geteuid() == 0:
        assert final_run_lease.place() == lease_dir(root_range())
    else:
        where, fallbacks = subuid.lease_place()
        assert final_run_lease.place() == lease_dir(UidRange(0, 0, where, fallbacks))


def _start(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, str(PROJECT), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def _line(p: subprocess.Popen) -> str:
    """The process's next line (within ``_WAIT_S``)."""
    assert p.stdout is not None
    ready, _, _ = select.select([p.stdout], [], [], _WAIT_S)
    line = p.stdout.readline() if ready else ""
    assert line, f"no word from {p.args[2:4]}: {p.poll()} {p.stderr.read() if p.poll() is not None else ''}"
    return line.strip()


def _said_nothing(p: subprocess.Popen) -> bool:
    assert p.stdout is not None
    return p.poll() is None and not select.select([p.stdout], [], [], 0)[0]


def _waits_for_the_lease(pid: int, leases: Path) -> None:
    """Until /proc/locks shows ``pid`` blocked on the final run's lease file."""
    deadline = time.monotonic() + _WAIT_S
    while True:
        lease = leases / "final-run.lease"
        inode = os.stat(lease).st_ino if lease.exists() else -1
        with open("/proc/locks") as f:
            for line in f:
                parts = line.split()
                if "->" in parts and str(pid) in parts and any(p.endswith(f":{inode}") for p in parts):
                    return
        assert time.monotonic() < deadline, f"{pid} never waited for the lease"
        time.sleep(0.01)


def _sandbox_waiting_for_go(tmp_path: Path) -> tuple[Path, list[str]]:
    (tmp_path / "ws").mkdir()
    (tmp_path / "gate").mkdir(mode=0o755)
    (tmp_path / "gate").chmod(0o755)
    return tmp_path / "gate", [str(tmp_path / "ws"), str(tmp_path / "gate")]


def _ended(*ps: subprocess.Popen) -> None:
    for p in ps:
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=_WAIT_S)


def test_a_final_run_waits_for_a_running_sandbox(tmp_path, leases):
    gate, args = _sandbox_waiting_for_go(tmp_path)
    box = _start(_SANDBOX, *args)
    final = None
    try:
        _waits_for_the_lease_held(box.pid, leases)
        final = _start(_FINAL)
        _waits_for_the_lease(final.pid, leases)
        assert _said_nothing(final), "the final run started while another sandbox ran"
        (gate / "go").touch()
        assert _line(box) == "RAN 0 ['saw go']"
        assert _line(final) == "ALONE"  # once the sandbox's run is over
        final.stdin.write("\n")
        final.stdin.flush()
        assert _line(final) == "OVER"
    finally:
        _ended(box, *([final] if final else []))


def test_a_sandbox_waits_for_a_final_run(tmp_path, leases):
    gate, args = _sandbox_waiting_for_go(tmp_path)
    (gate / "go").touch()  # the sandbox's command would end at once: it does not start
    final = _start(_FINAL)
    box = None
    try:
        assert _line(final) == "ALONE"
        box = _start(_SANDBOX, *args)
        _waits_for_the_lease(box.pid, leases)
        assert _said_nothing(box), "a sandbox ran while a final run ran"
        final.stdin.write("\n")
        final.stdin.flush()
        assert _line(final) == "OVER"
        assert _line(box) == "RAN 0 ['saw go']"
    finally:
        _ended(final, *([box] if box else []))


def test_a_final_run_that_died_frees_the_lease(tmp_path, leases):
    gate, args = _sandbox_waiting_for_go(tmp_path)
    (gate / "go").touch()
    final = _start(_FINAL)
    box = None
    try:
        assert _line(final) == "ALONE"
        box = _start(_SANDBOX, *args)
        _waits_for_the_lease(box.pid, leases)
        os.kill(final.pid, signal.SIGKILL)  # no release: the lock goes with its last descriptor
        assert _line(box) == "RAN 0 ['saw go']"
    finally:
        _ended(final, *([box] if box else []))


def test_a_final_runs_own_sandboxes_run_under_its_lease(tmp_path, leases):
    """Its sandboxes beside it (the reference fix's run, in a pool's thread) share its lease;
    a new thread's context holds nothing, so without ``under_this_lease`` the sandbox would
    wait for the final run that waits for it."""
    (tmp_path / "ws").mkdir()
    argv = [sys.executable, "-c", "print('beside')"]
    # The pool outside the lease: a thread stuck on it ends once it is given back.
    with ThreadPoolExecutor(1) as pool, final_run_lease.final_run_alone():
        run = final_run_lease.under_this_lease(run_command_full)
        beside = pool.submit(run, argv, tmp_path / "ws", timeout_s=60, sandbox="bwrap")
        here = run_command_full(argv, tmp_path / "ws", timeout_s=60, sandbox="bwrap")
        assert beside.result(timeout=30).output.strip() == "beside"
    assert here.output.strip() == "beside"


def _waits_for_the_lease_held(pid: int, leases: Path) -> None:
    """Until /proc/locks shows ``pid`` holding a share of the lease (its sandbox running)."""
    deadline = time.monotonic() + _WAIT_S
    while True:
        lease = leases / "final-run.lease"
        if lease.exists():
            inode = os.stat(lease).st_ino
            with open("/proc/locks") as f:
                for line in f:
                    parts = line.split()
                    if "->" not in parts and str(pid) in parts and any(p.endswith(f":{inode}") for p in parts):
                        return
        assert time.monotonic() < deadline, f"{pid} never held the lease"
        time.sleep(0.01)
