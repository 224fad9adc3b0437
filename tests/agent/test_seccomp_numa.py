"""agent/seccomp.py: no NUMA memory policy and no private futex hash is made in the sandbox (kernel memory
charged to no cgroup or past the part: round 29 r29s-4, r29s-5, r29s-6), while the calls beside them work."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.agent.test_seccomp import _filter_loaded, _in_the_sandbox, _printed

# Each call's errno (0: made). mbind on a mapping of the probe's own and on a /dev/shm file's range,
# the process's policy, the home node, a page's node asked and moved, migrate_pages of itself; a
# futex hash of 16 slots asked and set; and the honest calls beside them.
_POLICIES = r"""
import ctypes, json, mmap, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
node0 = ctypes.c_ulong(1)
got = {}

def errno_of(*args):
    ctypes.set_errno(0)
    return 0 if libc.syscall(*args) >= 0 else ctypes.get_errno()

at = libc.mmap(None, 4096, 3, 0x22, -1, 0)
ctypes.c_char.from_address(at).value = b"x"
got["mbind"] = errno_of(237, ctypes.c_void_p(at), ctypes.c_ulong(4096), 2, ctypes.byref(node0), ctypes.c_ulong(64), 0)
fd = os.open("/dev/shm/probe", os.O_RDWR | os.O_CREAT)
shared = libc.mmap(None, 4096, 3, mmap.MAP_SHARED, fd, 0)
got["mbind_shared"] = errno_of(
    237, ctypes.c_void_p(shared), ctypes.c_ulong(4096), 2, ctypes.byref(node0), ctypes.c_ulong(64), 0
)
os.unlink("/dev/shm/probe")
got["set_mempolicy"] = errno_of(238, 0, None, ctypes.c_ulong(0))  # MPOL_DEFAULT
mode = ctypes.c_int(-1)
got["get_mempolicy"] = errno_of(239, ctypes.byref(mode), None, ctypes.c_ulong(0), None, ctypes.c_ulong(0))
got["home_node"] = errno_of(450, ctypes.c_ulong(at), ctypes.c_ulong(4096), ctypes.c_ulong(0), ctypes.c_ulong(0))
page = (ctypes.c_void_p * 1)(at)
status = (ctypes.c_int * 1)(-1)
got["move_pages"] = errno_of(279, 0, ctypes.c_ulong(1), page, None, status, 0)  # nodes NULL: asks
got["migrate_pages"] = errno_of(256, 0, ctypes.c_ulong(64), ctypes.byref(node0), ctypes.byref(node0))
got["futex_hash_get"] = errno_of(157, 78, 2, 0, 0, 0)  # PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS
got["futex_hash_set"] = errno_of(157, 78, 1, 16, 0, 0)  # PR_FUTEX_HASH_SET_SLOTS: 16 slots
got["prctl_name"] = errno_of(157, 15, b"honest", 0, 0, 0)  # PR_SET_NAME
got["madvise"] = errno_of(28, ctypes.c_void_p(at), ctypes.c_ulong(4096), mmap.MADV_RANDOM)
got["mprotect"] = errno_of(10, ctypes.c_void_p(at), ctypes.c_ulong(4096), 1)
print("POLICIES " + json.dumps(got))
"""
_NUMA = ("mbind", "mbind_shared", "set_mempolicy", "get_mempolicy", "home_node", "move_pages", "migrate_pages")
_HONEST = {"prctl_name": 0, "madvise": 0, "mprotect": 0}
# EPERM each NUMA call (as a container's default profile answers), EINVAL the futex hash (as a
# kernel before 6.16 answers an option it lacks).
_REFUSED = dict.fromkeys(_NUMA, 1) | {"futex_hash_get": 22, "futex_hash_set": 22} | _HONEST


def _policies(out: str) -> dict[str, int]:
    return _printed(out, "POLICIES")


def test_control_policies_and_a_futex_hash_are_made_outside_the_sandbox():
    cp = subprocess.run([sys.executable, "-c", _POLICIES], capture_output=True, text=True, timeout=60)
    assert _policies(cp.stdout) == dict.fromkeys(_NUMA, 0) | {"futex_hash_get": 0, "futex_hash_set": 0} | _HONEST


@pytest.mark.parametrize("memory_cgroup", [True, False])
def test_the_filter_makes_no_policy_and_no_futex_hash(memory_cgroup):
    """The filter of each kind of sandbox (their prctl rules differ), loaded here as bwrap loads it."""
    load = _filter_loaded(memory_cgroup)
    cp = subprocess.run([sys.executable, "-c", load + _POLICIES], capture_output=True, text=True, timeout=60)
    assert _policies(cp.stdout) == _REFUSED, cp.stderr


def test_the_sandbox_makes_no_policy_and_no_futex_hash(tmp_path):
    assert _policies(_in_the_sandbox(tmp_path, _POLICIES)) == _REFUSED
