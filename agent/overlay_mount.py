"""A root sandbox's workspace as an overlay: the host's directory read-only beneath, shown as
the leased uid's (an idmapped mount), and a size-capped tmpfs above that takes every write
(agent/sandbox.py ``CappedWorkspace``; docs/sandbox-and-verdicts.md). Nothing of the
workspace is copied in for a run, and only what the run changed comes back: a workspace the
rollout filled once cost every later run a copy of every file in and out, in repo-agent's
process (round 19 r19s-6: ~20-40 s of CPU and 200,000 disk writes a run at 100,000 names).

Linux 5.19 or later (overlayfs over an idmapped layer), as root; where any step is refused
(an older kernel, a filesystem without idmapped mounts) the caller copies as before.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import signal
import threading

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

_SYS_OPEN_TREE, _SYS_MOVE_MOUNT, _SYS_MOUNT_SETATTR = 428, 429, 442  # x86-64 and aarch64 alike
_OPEN_TREE_CLONE, _AT_RECURSIVE, _AT_EMPTY_PATH, _AT_FDCWD = 1, 0x8000, 0x1000, -100
_MOVE_MOUNT_F_EMPTY_PATH = 4
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_NOSUID, _MOUNT_ATTR_NODEV, _MOUNT_ATTR_IDMAP = 1, 2, 4, 0x100000
_MS_NOSUID, _MS_NODEV, _MNT_DETACH = 2, 4, 2
# Fixed, never the kernel's defaults: a rename of a directory beneath is EXDEV (no redirect
# for the copy-back to follow), a copy-up copies data, no index or inode numbers to keep.
OVERLAY_OPTIONS = "redirect_dir=off,metacopy=off,index=off,xino=off"
OPAQUE = "trusted.overlay.opaque"  # a directory above that hides the one beneath


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _failed(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


# A user namespace is made by a child cloned into it that shares this process's memory and
# runs nothing of it: libc's raw ``syscall`` wrapper called as the child's function, with the
# number of pause(2) as its argument, on a stack of its own, until it is killed. No fork of
# this (threaded) process, no program started: ~1 ms, where ``unshare`` and a shell took 12-45 ms.
_CLONE_NEWUSER, _CLONE_VM = 0x10000000, 0x100
_SYS_PAUSE = 34  # x86-64 (aarch64 has no pause: there the workspace is copied, as before)
_libc.clone.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
_libc.clone.restype = ctypes.c_int
_STACK = ctypes.create_string_buffer(1 << 16)
_CLONE_LOCK = threading.Lock()  # one child on the stack at a time


def _userns(uid: int) -> int:
    """A descriptor of a new user namespace mapping its uid and gid 0 to ``uid``: an idmapped
    mount through it shows root's files as ``uid``'s."""
    if platform.machine() != "x86_64":
        raise OSError(errno.ENOSYS, "no idmapped workspace on this machine")
    with _CLONE_LOCK:
        fn = ctypes.cast(_libc.syscall, ctypes.c_void_p).value
        top = ctypes.addressof(_STACK) + len(_STACK) - 64
        pid = _libc.clone(fn, top, _CLONE_NEWUSER | _CLONE_VM | signal.SIGCHLD, _SYS_PAUSE)
        if pid < 0:
            raise _failed("clone")
        try:
            for name in ("uid_map", "gid_map"):
                with open(f"/proc/{pid}/{name}", "w") as f:
                    f.write(f"0 {uid} 1\n")
            return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def mount_overlay(lower: str, uid: int, base: str, merged: str) -> None:
    """``lower`` (the host's workspace, left read-only) shown at ``merged`` as ``uid``'s, with
    ``base`` (a mounted tmpfs: its ``upper`` and ``work`` directories, made here) taking every
    write. Raises OSError where the kernel or the filesystem refuses a step."""
    for d in ("upper", "work", "lower"):
        os.mkdir(os.path.join(base, d), 0o700)
    upper = os.path.join(base, "upper")
    os.chown(upper, uid, uid)  # the workspace's root as the sandbox sees it: its mode as the host's
    os.chmod(upper, os.lstat(lower).st_mode & 0o1777)
    tree = _libc.syscall(_SYS_OPEN_TREE, _AT_FDCWD, os.fsencode(lower), _OPEN_TREE_CLONE | os.O_CLOEXEC | _AT_RECURSIVE)
    if tree < 0:
        raise _failed("open_tree")
    try:
        flags = _MOUNT_ATTR_IDMAP | _MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV
        ns = _userns(uid)
        try:  # (the mount keeps the namespace it maps through)
            attr = _MountAttr(flags, 0, 0, ns)
            size = ctypes.sizeof(attr)
            if _libc.syscall(_SYS_MOUNT_SETATTR, tree, b"", _AT_EMPTY_PATH, ctypes.byref(attr), size) < 0:
                raise _failed("mount_setattr")
        finally:
            os.close(ns)
        at = os.path.join(base, "lower")
        if _libc.syscall(_SYS_MOVE_MOUNT, tree, b"", _AT_FDCWD, os.fsencode(at), _MOVE_MOUNT_F_EMPTY_PATH) < 0:
            raise _failed("move_mount")
    finally:
        os.close(tree)
    opts = f"lowerdir={at},upperdir={upper},workdir={os.path.join(base, 'work')},{OVERLAY_OPTIONS}"
    try:
        if _libc.mount(b"overlay", os.fsencode(merged), b"overlay", _MS_NOSUID | _MS_NODEV, opts.encode()) != 0:
            raise _failed("overlay")
    finally:
        _libc.umount2(os.fsencode(at), _MNT_DETACH)  # the overlay holds its own clone of it


def unmount(path: str) -> None:
    _libc.umount2(os.fsencode(path), _MNT_DETACH)
