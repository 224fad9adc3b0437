"""Issue 23, second round of attacks on the sandbox by a reviewer who did not build it.

Each test runs code the model could write with the real sandbox (bwrap, run as root the
way the test suite runs in CI) and fails on the code as it was before its fix.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from agent import sandbox as sb

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="root mode: the leased uid and the tmpfs copy-back")

# A 32-bit system call from 64-bit code (``int 0x80``): the kernel reports it with the
# i386 audit arch, which a filter that only looks at x86-64 numbers lets through.
_INT80 = r"""
import ctypes, mmap, struct
libc = ctypes.CDLL(None, use_errno=True)
def sys32(nr, a=0):
    code = b"\x53\xb8" + struct.pack("<I", nr) + b"\xbb" + struct.pack("<I", a) + b"\xcd\x80\x5b\xc3"
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(code)
    fn = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
    return fn()
print("UNSHARE64", libc.unshare(0x10000000))
print("UNSHARE32", sys32(310, 0x10000000))  # i386 unshare(CLONE_NEWUSER)
print("KEYCTL32", sys32(288, 0))  # i386 keyctl(KEYCTL_GET_KEYRING_ID)
print("CAPEFF", open("/proc/self/status").read().split("CapEff:")[1].split()[0])
"""


def test_32bit_system_calls_do_not_get_past_the_seccomp_filter(tmp_path):
    """The filter allowed every call of a foreign arch: ``int 0x80`` made a user namespace
    (full capabilities in it) and reached every call the filter denies."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "int80.py").write_text(_INT80)
    code, out, _, _ = sb.run_command([sys.executable, "int80.py"], ws, timeout_s=30, sandbox="bwrap")
    assert code == 0, out
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    assert lines.get("UNSHARE64") == "-1", out
    assert lines.get("UNSHARE32") == "-1", out  # -EPERM, not 0 (a new user namespace)
    assert lines.get("KEYCTL32") == "-1", out
    assert lines.get("CAPEFF") == "0000000000000000", out


def test_copy_back_never_makes_a_setuid_file_on_the_host(tmp_path):
    """The tmpfs copy went back with its mode bits as the sandbox set them, and owned by
    root: a copy of /bin/sh the tests made ``chmod 6755`` became a setuid-root shell in
    the host's workspace (any local user who reaches it runs it as root)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    script = "cp /bin/sh rootsh && chmod 6755 rootsh && mkdir d && chmod 7777 d && echo made"
    code, out, _, _ = sb.run_command(["sh", "-c", script], ws, timeout_s=30, sandbox="bwrap")
    assert code == 0 and "made" in out, out
    for name in ("rootsh", "d"):
        st = os.lstat(ws / name)
        assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID), (name, oct(st.st_mode), st.st_uid)
    assert os.access(ws / "rootsh", os.X_OK)  # the file itself is kept, only its privilege is not


def _apparent_bytes(root: Path) -> int:
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, files in os.walk(root) for f in files)


@pytest.mark.xfail(strict=True, reason="not fixed: the copy-back keeps every sparse file at its size (reported)")
def test_sparse_files_never_cost_the_host_more_than_the_cap(tmp_path):
    """Sparse files cost the sandbox's tmpfs nothing, so its 100,000 inodes can each be a
    64 MB file of holes; the copy-back keeps each at its size, and the patch then hashes
    every one (0.12 s each here: 100,000 of them are over 3 hours of host CPU per patch,
    after the run, under no timeout). The tree a run leaves must stay within the cap."""
    ws = tmp_path / "ws"
    ws.mkdir()
    script = "for i in range(8):\n    with open(f'hole{i}', 'wb') as f:\n        f.truncate(64 * 1024**2 - 1)\nprint('made')\n"
    (ws / "holes.py").write_text(script)
    try:
        code, out, _, _ = sb.run_command([sys.executable, "holes.py"], ws, timeout_s=30, sandbox="bwrap")
        assert code == 0 and "made" in out, out
        # (today the first five also land on the host's disk as 320 MB of real zeros)
        assert _apparent_bytes(ws) <= sb.WORKSPACE_BYTES, _apparent_bytes(ws)
    finally:
        shutil.rmtree(ws, ignore_errors=True)
