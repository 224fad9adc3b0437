"""Round 24 attacks on the sandbox (open: each xfail strict until fixed).

Each runs real bwrap as root (a leased uid, cgroups, the workspace as an overlay or a copy)
and/or as a normal user (nobody, through ``run_as``).
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

from agent.differential import run_calls
from agent.suites.models import DifferentialTarget


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
