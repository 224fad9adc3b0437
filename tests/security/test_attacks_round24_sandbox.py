"""Round 24 attacks on the sandbox (open: each xfail strict until fixed).

Each runs real bwrap as root (a leased uid, cgroups, the workspace as an overlay or a copy)
and/or as a normal user (nobody, through ``run_as``).
"""

from __future__ import annotations

import resource
import textwrap
import time
from pathlib import Path

from agent.differential import run_calls
from agent.suites.models import DifferentialTarget
from tests.security.test_attacks_round11 import _as_a_user_in_400_mb


def _cpu_s() -> float:
    """This process's CPU time, all its threads (the drains of a sandbox's output among them)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# r24s-1: the differential's calls see a pseudo-terminal as stdin for part of their runs
# (agent/differential_stage.py ``terminal``), and the host reads and drops whatever the sandbox
# writes to it (``_drain``) as fast as it comes, in 4 kB reads: no rate bound, where the same
# flood on stdout as a pipe is dropped at ``DROP_BYTES_PER_S`` for "a few ms of CPU a second".
# A function under test writing to stdout (then the terminal: its stdin and stdout) made
# repo-agent spend 1.8-3.3 s of CPU in 5-8.5 s (36-39% of a core, plus the kernel's tty
# workers), outside the sandbox's one CPU share, where the same flood into the pipe cost 7%:
# four such rollouts at once take a core of a 2-core machine from neighbours and repo-agent.
_FLOOD = """\
import os, threading, time

_started = []


def _flood():
    b = b"x" * 65536
    while True:
        try:
            os.write({fd}, b)
        except OSError:
            time.sleep(0.01)


def f(x):
    if not _started:
        _started.append(1)
        try:
            import tty
            tty.setraw({fd})  # no output processing: the bytes go through as they are
        except Exception:
            pass
        for _ in range(3):
            threading.Thread(target=_flood, daemon=True).start()
    time.sleep(1.2)
    return x
"""


def _flood_cost(tmp_path: Path, tty: bool) -> tuple[float, float, int]:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "mod.py").write_text(_FLOOD.replace("{fd}", "1"))  # stdout: the terminal, or a pipe
    target = DifferentialTarget(module="mod", function="f", inputs=[[i] for i in range(4)])
    c0, w0 = _cpu_s(), time.monotonic()
    run = run_calls(ws, [target], sandbox="bwrap", stdin_tty=[tty])
    return _cpu_s() - c0, time.monotonic() - w0, len(run.results)


def test_r24s_1_control_piped_stdout_flood_costs_the_host_little(tmp_path):
    cpu, wall, n = _flood_cost(tmp_path, False)
    assert n == 4
    assert cpu < 0.15 * wall, f"{cpu:.2f} s of repo-agent's CPU in {wall:.1f} s"


def test_r24s_1_pty_flood_costs_the_host_cpu(tmp_path):
    cpu, wall, n = _flood_cost(tmp_path, True)
    assert n == 4  # the calls themselves went through: the cost below is the flood's alone
    assert cpu < 0.15 * wall, f"{cpu:.2f} s of repo-agent's CPU in {wall:.1f} s"


# r24s-2: a new instance of r11-2's class past this morning's part watch (agent/memory_part.py).
# A normal user's sandbox (no memory cgroup of its own) in a 400 MB container: at an OOM kill
# the watch counts what the sandbox's processes map (Pss_Anon, Pss_Shmem) and its workspace
# tmpfs. Pipe buffers are charged to the container's memory cgroup (and their struct file,
# inode, pipe_inode_info with them) but mapped by no one: 80 processes each filling pipes
# until RLIMIT_NOFILE (8 kB a pipe past pipe-user-pages-soft) take the container's memory
# while the watch sees a few MB of Python. The OOM killer ends a sandbox process and the run
# is taken for the machine's shortage (SandboxError, not judged) where the same excess held as
# bytes is the rollout's own (judged): a wrong fix's final run escapes its FAIL so.
# The body of a function (four spaces in): pipes filled until RLIMIT_NOFILE's 1024 descriptors
# (8 kB each past pipe-user-pages-soft), kept in ``held``, then 30 s asleep (r25s-8's too).
FILL_PIPES = """\
    data = b"x" * 4096
    try:
        while True:
            r, w = os.pipe()
            os.set_blocking(w, False)
            try:
                while True:
                    os.write(w, data)
            except BlockingIOError:
                pass
            held += [r, w]
    except OSError:  # EMFILE: RLIMIT_NOFILE's 1024 descriptors
        pass
    time.sleep(30)
"""
_HELD_BY_EACH = (
    textwrap.dedent(
        """
    import gc, os, time
    gc.disable()
    gc.freeze()
    def fill():
        held = []
        if AS_BYTES:  # the same excess as bytes, in a few processes (as r11-2's own test holds it)
            b = bytearray(60 * 2**20)
            b[::4096] = b"x" * len(b[::4096])
            held.append(b)
            time.sleep(30)
    """
    )
    + FILL_PIPES
    + textwrap.dedent(
        """
    for _ in range(8 if AS_BYTES else 80):
        if os.fork() == 0:
            try:
                fill()
            finally:
                os._exit(0)
    time.sleep(6)  # the processes the OOM killer left are the sandbox's to end
    """
    )
)


def test_r24s_2_control_bytes_held_past_the_part_are_the_rollouts(user_dir):
    said = _as_a_user_in_400_mb(user_dir, "hog.py", _HELD_BY_EACH.replace("AS_BYTES", "True"))
    assert said and said[-1].startswith("RETURNED"), f"the tests' own excess was the machine's: {said[-1:]}"


def test_r24s_2_pipe_buffers_held_past_the_part_are_the_rollouts(user_dir):
    said = _as_a_user_in_400_mb(user_dir, "hog.py", _HELD_BY_EACH.replace("AS_BYTES", "False"))
    assert said and said[-1].startswith("RETURNED"), f"the tests' own excess was the machine's: {said[-1:]}"
