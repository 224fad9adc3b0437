"""A final run alone on the machine (agent/final_run_lease.py): real bwrap, real processes.

Each test starts repo-agent's side in processes of their own (as two ``run`` processes or two
Ray workers would), with a lease directory of the test's own, and waits on conditions: a
process is seen waiting for the lease in /proc/locks, never assumed to after a sleep.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent import final_run_lease
from agent.sandbox import SandboxError, run_command_full, sandbox_kind
from agent.uid_lease import LeaseError
from tests.security.conftest import AS_NOBODY, NOBODY

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


def test_the_lease_is_the_machines_for_every_user(monkeypatch):
    """Unset, the place is the machine-wide one every repo-agent shares, root's and normal
    users' (round 31 r31s-5): root's directory and files, which no one else may write."""
    monkeypatch.delenv(final_run_lease.PLACE_ENV, raising=False)
    if os.geteuid() != 0:
        pytest.fail("run as root: root makes the machine's place", pytrace=False)
    d = final_run_lease.place()
    assert d == final_run_lease.MACHINE_PLACE
    for p in (d, d / "final-run.lease", d / "final-run.gate"):
        st = os.lstat(p)
        assert st.st_uid == 0 and not st.st_mode & 0o022, (p, oct(st.st_mode))
    assert os.lstat(d).st_mode & 0o005 == 0o005  # every user may open the files


@pytest.fixture
def machine_place(monkeypatch) -> Path:
    """``MACHINE_PLACE`` moved to a directory of the test's own that every user may reach (the
    real one is shared with every sandbox of the machine), and no place apart."""
    top = Path(tempfile.mkdtemp(prefix="repo-agent-machine-place-"))
    top.chmod(0o1777)  # sticky and world-writable, as /run/lock is
    monkeypatch.setattr(final_run_lease, "MACHINE_PLACE", top / "repo-agent-final-run")
    monkeypatch.delenv(final_run_lease.PLACE_ENV, raising=False)
    yield top / "repo-agent-final-run"
    shutil.rmtree(top, ignore_errors=True)


def test_a_name_another_user_made_first_is_set_aside(machine_place):
    """A local user who made the machine's place first (/run/lock is world-writable) could
    swap its files and split the lease: root never uses it, but makes its own."""
    (machine_place).mkdir(mode=0o777)
    (machine_place / "final-run.lease").write_text("")
    for p in (machine_place, machine_place / "final-run.lease"):
        os.chown(p, NOBODY, NOBODY)
    assert final_run_lease.place() == machine_place
    assert os.lstat(machine_place).st_uid == 0 and os.lstat(machine_place / "final-run.lease").st_uid == 0
    aside = [p for p in machine_place.parent.iterdir() if p.name.startswith(machine_place.name + ".squatted-")]
    assert len(aside) == 1 and os.lstat(aside[0]).st_uid == NOBODY


# A normal user's side (nobody's, environment cleared: no place apart): where its lease is, or
# a share of it taken (printed once held) and kept until a line comes on stdin.
_USERS_SIDE = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from agent import final_run_lease
final_run_lease.MACHINE_PLACE = Path(sys.argv[2])
if sys.argv[3] == "place":
    print(final_run_lease.place(), flush=True)
else:
    with final_run_lease.sandbox_turn():
        print("SHARE", flush=True)
        sys.stdin.readline()
"""


def _as_nobody(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*AS_NOBODY, sys.executable, "-c", _USERS_SIDE, str(PROJECT), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_users_sandbox_waits_for_roots_final_run(machine_place):
    """A normal user's sandbox shares root's lease: it waits while root's final run runs (it
    read that run's secret off the machine's counters with a lease per user: r31s-5)."""
    with final_run_lease.final_run_alone():
        user = _as_nobody(str(machine_place), "share")
        try:
            _someone_waits_for(machine_place / "final-run.lease", user)
        except BaseException:
            _ended(user)
            raise
    try:
        assert _line(user) == "SHARE"
        user.stdin.write("\n")
        user.stdin.flush()
    finally:
        _ended(user)


def test_a_user_keeps_its_own_place_where_root_made_none(machine_place):
    """Before root made the machine's place (or where a user squats its name), a normal user's
    lease is its own: never a place another user could swap files in."""
    user = _as_nobody(str(machine_place), "place")
    try:
        assert _line(user) != str(machine_place)
    finally:
        _ended(user)
    final_run_lease.machine_place()
    user = _as_nobody(str(machine_place), "place")
    try:
        assert _line(user) == str(machine_place)
    finally:
        _ended(user)


def test_an_unusable_place_refuses_the_sandbox_at_once(tmp_path, monkeypatch):
    """The lease's place cannot be opened (here: a file where its directory should be): the
    sandbox is refused (SandboxError, a run's ERROR), never left waiting."""
    (tmp_path / "not-a-dir").write_text("")
    monkeypatch.setenv(final_run_lease.PLACE_ENV, str(tmp_path / "not-a-dir"))
    (tmp_path / "ws").mkdir()
    start = time.monotonic()
    with pytest.raises(SandboxError, match="final run's lease"):
        run_command_full([sys.executable, "-c", "print(1)"], tmp_path / "ws", timeout_s=30, sandbox="bwrap")
    assert time.monotonic() - start < 10


def test_a_sandbox_started_after_its_lease_is_over_is_refused(tmp_path, leases):
    """A function wrapped under a final run's lease and run after that lease was given back
    neither runs unleased (beside the next final run) nor waits for ever: it is refused."""
    (tmp_path / "ws").mkdir()

    def judge() -> str:
        with final_run_lease.final_run_alone():
            return "judged"

    with final_run_lease.final_run_alone():
        late = final_run_lease.under_this_lease(run_command_full)
        late_judge = final_run_lease.under_this_lease(judge)
    with pytest.raises(SandboxError, match="lease this was started under is over"):
        late([sys.executable, "-c", "print(1)"], tmp_path / "ws", timeout_s=30, sandbox="bwrap")
    with pytest.raises(LeaseError, match="lease this was started under is over"):
        late_judge()
    assert judge() == "judged"  # (this context's own: a new lease)


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


def _someone_waits_for(lease: Path, p: subprocess.Popen) -> None:
    """Until /proc/locks shows some process blocked on ``lease`` (a place only the test uses),
    ``p`` having said nothing meanwhile."""
    deadline = time.monotonic() + _WAIT_S
    inode = os.stat(lease).st_ino
    while True:
        with open("/proc/locks") as f:
            if any("->" in line.split() and line.split()[-3].endswith(f":{inode}") for line in f):
                return
        assert _said_nothing(p), "the process watched spoke (or ended) meanwhile"
        assert time.monotonic() < deadline, f"no process waited for {lease}"
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


def test_a_sandbox_runs_beside_the_long_run_a_final_run_waits_for(tmp_path, leases):
    """A final run waits at the gate for a long sandbox run: a sandbox arriving meanwhile runs
    beside that run at once, its clock cut to end by that run's end (the final run waits no
    longer), where it waited for that run's end (round 31 r31s-2)."""
    gate, args = _sandbox_waiting_for_go(tmp_path)
    box = _start(_SANDBOX, *args)  # a 120 s clock: over by ~150 s from now at the latest
    final = None
    said: list = []

    def arriving() -> None:
        with final_run_lease.sandbox_turn(200.0) as allowed:
            said.append(allowed)
            run = run_command_full(
                [sys.executable, "-c", "print('beside')"], tmp_path / "ws", timeout_s=200, sandbox="bwrap"
            )
            said.append(run.output.strip())

    thread = threading.Thread(target=arriving)
    try:
        _waits_for_the_lease_held(box.pid, leases)
        final = _start(_FINAL)
        _waits_for_the_lease(final.pid, leases)
        thread.start()
        thread.join(_WAIT_S / 2)
        assert not thread.is_alive(), "a sandbox waited for the long run a final run waits for"
        assert said[1] == "beside"
        assert 100 <= said[0] < 150, said  # its clock ends by the long run's (200 s asked)
        assert _said_nothing(final), "the final run started while sandboxes ran"
        (gate / "go").touch()
        assert _line(box) == "RAN 0 ['saw go']"
        assert _line(final) == "ALONE"
        final.stdin.write("\n")
        final.stdin.flush()
    finally:
        (gate / "go").touch()
        _ended(box, *([final] if final else []))
        if thread.ident is not None:
            thread.join(_WAIT_S)


def test_a_sandbox_whose_clock_would_be_cut_under_half_waits_its_turn(tmp_path, leases):
    """Beside the long run only with half its time at least: a sandbox asking 1,000 s (the long
    run over in ~150) waits at the gate as before, then gets its whole clock."""
    gate, args = _sandbox_waiting_for_go(tmp_path)
    box = _start(_SANDBOX, *args)
    final = None
    said: list = []

    def arriving() -> None:
        with final_run_lease.sandbox_turn(1000.0) as allowed:
            said.append(allowed)

    thread = threading.Thread(target=arriving)
    try:
        _waits_for_the_lease_held(box.pid, leases)
        final = _start(_FINAL)
        _waits_for_the_lease(final.pid, leases)
        thread.start()
        _someone_waits_for(leases / "final-run.gate", final)  # the arriving sandbox, at the gate
        assert not said
        (gate / "go").touch()
        assert _line(box) == "RAN 0 ['saw go']"
        assert _line(final) == "ALONE"
        assert not said, "a sandbox ran while the final run ran"
        final.stdin.write("\n")
        final.stdin.flush()
        thread.join(_WAIT_S)
        assert said == [1000.0]
    finally:
        (gate / "go").touch()
        _ended(box, *([final] if final else []))
        if thread.ident is not None:
            thread.join(_WAIT_S)


def test_a_run_outliving_its_cut_clock_is_an_error_never_its_timeout(tmp_path, monkeypatch):
    """A clock cut so a waiting final run goes first is repo-agent's doing: a run that outlives
    the cut is a SandboxError (ERROR), never the command's own timeout (a FAIL of the rollout)."""
    import contextlib

    from agent import sandbox as sb

    @contextlib.contextmanager
    def cut_turn(timeout_s=None):
        yield 1.0  # beside the shares a final run waits for: 1 s of the run's 30

    monkeypatch.setattr(final_run_lease, "sandbox_turn", cut_turn)
    (tmp_path / "ws").mkdir()
    with pytest.raises(sb.SandboxError, match="clock was cut"):
        run_command_full(
            [sys.executable, "-c", "import time; time.sleep(30)"], tmp_path / "ws", timeout_s=30, sandbox="bwrap"
        )
    ran = run_command_full([sys.executable, "-c", "print('quick')"], tmp_path / "ws", timeout_s=30, sandbox="bwrap")
    assert not ran.timed_out and "quick" in ran.output  # a run within the cut is its own
