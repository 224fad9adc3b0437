"""Round 11 attacks (the reviewer's own): each a strict xfail until it is defended."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from agent.sandbox import run_command_full, sandbox_kind
from tests.security.conftest import AS_NOBODY

PROJECT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("bwrap") is None or os.geteuid() != 0 or sandbox_kind() != "bwrap",
    reason="real bwrap, run as root (the normal-user case runs as nobody from here)",
)


# --------------------------------------------------------------------------- r11-1

# memfd_secret(2) (x86-64 number 447): every page of a secret memory area is taken out of
# the kernel's direct map, splitting the huge pages (2 MB, 1 GB) that map it. The split is
# never undone until reboot: a rollout's tests fragment the host kernel's direct map (seen
# here: one 8 MB area moved 7 GB of DirectMap1G to 2 MB pages, 64 pages split a 2 MB one),
# a lasting slow-down of every process on the machine, outliving the run. Secret pages are
# also locked and unswappable (RLIMIT_MEMLOCK per process, 256 processes). No test runner
# needs it; the seccomp filter lets it through in both modes.
_SECRETMEM = textwrap.dedent(
    """
    import ctypes, errno, json
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(447, 0)  # memfd_secret(0): the descriptor alone, nothing mapped
    print(json.dumps({"fd": fd, "errno": ctypes.get_errno() if fd < 0 else 0}))
    """
)


def _secretmem_result(output: str) -> dict:
    line = [x for x in output.splitlines() if x.startswith("{")][-1]
    return json.loads(line)


@pytest.mark.xfail(strict=True, reason="open: r11-1 memfd_secret is allowed in the sandbox (root mode)")
def test_memfd_secret_is_refused_as_root(tmp_path):
    (tmp_path / "probe.py").write_text(_SECRETMEM)
    run = run_command_full([sys.executable, "probe.py"], tmp_path, timeout_s=30, sandbox="bwrap")
    got = _secretmem_result(run.output)
    assert got["fd"] < 0, f"memfd_secret gave descriptor {got['fd']} inside the sandbox"


@pytest.mark.xfail(strict=True, reason="open: r11-1 memfd_secret is allowed in the sandbox (normal user)")
def test_memfd_secret_is_refused_as_a_user():
    work = Path(tempfile.mkdtemp(prefix="repo-agent-r11-"))
    try:
        (work / "probe.py").write_text(_SECRETMEM)
        (work / "outer.py").write_text(
            textwrap.dedent(
                f"""
                import sys
                sys.path.insert(0, {str(PROJECT)!r})
                from pathlib import Path
                from agent.sandbox import run_command_full
                run = run_command_full([sys.executable, "probe.py"], Path({str(work / "ws")!r}), timeout_s=30,
                                       sandbox="bwrap")
                print(run.output)
                """
            )
        )
        (work / "ws").mkdir()
        shutil.copy(work / "probe.py", work / "ws" / "probe.py")
        for p in [work, *work.rglob("*")]:
            os.chown(p, 65534, 65534)
        cp = subprocess.run(
            [*AS_NOBODY, sys.executable, str(work / "outer.py")],
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
        )
        got = _secretmem_result(cp.stdout)
        assert got["fd"] < 0, f"memfd_secret gave descriptor {got['fd']} inside a normal user's sandbox"
    finally:
        shutil.rmtree(work, ignore_errors=True)
