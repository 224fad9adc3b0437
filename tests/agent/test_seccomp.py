"""agent/seccomp.py: the sandbox's whole-filesystem syncs are done as nothing (the host's disks are not the tests'
to flush); a sync of one file reaches the kernel (its errors are the tests' to see)."""

from __future__ import annotations

import json
import subprocess
import sys

from agent.sandbox import run_command

# Each sync call on a descriptor that is none: the kernel answers EBADF, so a call that reaches
# it shows; one the filter answers returns 0 without being made. sync() itself cannot fail.
_SYNCS = r"""
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
got = {}
for name, args in (("syncfs", (-1,)), ("fsync", (-1,)), ("fdatasync", (-1,)), ("sync_file_range", (-1, 0, 0, 0))):
    ctypes.set_errno(0)
    got[name] = [getattr(libc, name)(*args), ctypes.get_errno()]
fd = os.open(os.__file__, os.O_RDONLY)  # a file of a read-only bind of the host's (the stdlib)
ctypes.set_errno(0)
got["fsync_read_only"] = [libc.fsync(fd), ctypes.get_errno()]
print("SYNCS " + json.dumps(got))
"""


def _syncs(out: str) -> dict[str, list[int]]:
    lines = [line for line in out.splitlines() if line.startswith("SYNCS ")]
    assert lines, out
    return json.loads(lines[-1].removeprefix("SYNCS "))


def test_control_the_syncs_reach_the_kernel_outside_the_sandbox():
    out = subprocess.run([sys.executable, "-c", _SYNCS], capture_output=True, text=True, timeout=60).stdout
    got = _syncs(out)
    assert all(got[name] == [-1, 9] for name in ("syncfs", "fsync", "fdatasync", "sync_file_range")), got  # EBADF


def test_the_sandbox_syncs_no_filesystem_of_the_host(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "syncs.py").write_text(_SYNCS)
    code, out, _, _ = run_command([sys.executable, "syncs.py"], ws, timeout_s=30, sandbox="bwrap")
    assert code == 0, out
    got = _syncs(out)
    assert got["syncfs"] == [0, 0], got  # answered, never made
    # One file's syncs are made: the kernel's EBADF (round 25 r25s-6), a read-only file's 0.
    assert all(got[name] == [-1, 9] for name in ("fsync", "fdatasync", "sync_file_range")), got
    assert got["fsync_read_only"] == [0, 0], got
