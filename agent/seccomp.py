"""The sandbox's seccomp filter: system calls model-written code never needs (docs/sandbox-and-verdicts.md).

Run as root, the sandbox has no user namespace of its own (one would map it to host root),
so bwrap's ``--disable-userns`` is not available: without this filter the code could make
a user namespace and be "root" in it, mount filesystems there, and reach far more kernel
code. The filter (classic BPF, handed to bwrap with ``--seccomp``) fails with EPERM: new
user namespaces (``unshare``/``clone`` with CLONE_NEWUSER), every mount call, ``setns``,
the kernel keyring, ``bpf``, ``perf_event_open``, ``userfaultfd``, module loading, kexec,
reboot, swap and clock setting, inotify and fanotify instances (the kernel counts them per
user across namespaces: run by a normal user, one rollout could take every one of that
user's, its neighbours' and the user's own programs'; no test runner needs them), and every 32-bit (``int 0x80``) call, whose numbers differ; ``clone3`` fails with ENOSYS, so the C library falls back to
``clone``, whose flags the filter can read; a netlink socket fails with EAFNOSUPPORT. x86-64 only; elsewhere there is no filter.
"""

from __future__ import annotations

import errno
import os
import platform
import struct

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_CLONE_NEWUSER = 0x10000000
_NR_UNSHARE, _NR_CLONE, _NR_CLONE3 = 272, 56, 435
# Netlink sockets: their queued replies are charged to no memory cgroup and no machine-wide
# budget (a test queued 8 MB of unread dumps a socket, gigabytes a process: sbx6-3's kind,
# without even tcp_mem's cap). The sandbox has no network to ask about; glibc's getaddrinfo
# takes EAFNOSUPPORT as "no netlink" and goes on.
_NR_SOCKET, _AF_NETLINK = 41, 16
# mount, umount2, pivot_root, setns, add_key, request_key, keyctl, bpf, perf_event_open,
# userfaultfd, open_tree, move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr,
# init_module, finit_module, delete_module, kexec_load, kexec_file_load, reboot, swapon,
# swapoff, settimeofday, clock_settime, acct, quotactl, lookup_dcookie, io_uring (3 calls),
# inotify_init, inotify_init1, fanotify_init, io_setup.
_DENIED: tuple[int, ...] = (165, 166, 155, 308, 248, 249, 250, 321, 298, 323, 428, 429, 430, 431, 432, 433, 442)
_DENIED += (175, 313, 176, 246, 320, 169, 167, 168, 164, 227, 163, 179, 212, 425, 426, 427, 253, 294, 300, 206)

_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
# The differential runner's stdin may be a pty (agent/differential_stage.py): no typing into
# it, no line discipline (each one kernel code of its own, loaded on demand), no console.
# TIOCSTI, TIOCLINUX, TIOCCONS, TIOCSETD; the kernel reads the request as 32 bits.
_NR_IOCTL, _TTY_DENIED = 16, (0x5412, 0x541C, 0x541D, 0x5423)


def filter_program() -> bytes | None:
    """The filter as bwrap reads it (an array of ``struct sock_filter``), or None off x86-64."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    # (code, jump-if-true label, jump-if-false label, k); labels resolve to relative jumps.
    prog: list[tuple[int, str | None, str | None, int]] = [
        (_LD_ABS, None, None, 4),  # seccomp_data.arch
        (_JEQ, None, "deny", _AUDIT_ARCH_X86_64),  # int 0x80 (i386 calls) too: none is ever needed
        (_LD_ABS, None, None, 0),  # seccomp_data.nr
        (_JGE, "deny", None, _X32_BIT),
        *[(_JEQ, "deny", None, nr) for nr in _DENIED],
        (_JEQ, "ioctl", None, _NR_IOCTL),
        (_JEQ, "flags", None, _NR_UNSHARE),
        (_JEQ, "flags", None, _NR_CLONE),
        (_JEQ, "enosys", None, _NR_CLONE3),
        (_JEQ, "family", None, _NR_SOCKET),
        (_RET, None, None, _ALLOW),
    ]
    labels = {"flags": len(prog)}
    prog += [(_LD_ABS, None, None, 16), (_JSET, "deny", "allow", _CLONE_NEWUSER)]  # args[0], low word
    labels["family"] = len(prog)
    prog += [(_LD_ABS, None, None, 16), (_JEQ, "noaf", "allow", _AF_NETLINK)]  # socket's domain
    labels["noaf"] = len(prog)
    prog.append((_RET, None, None, _ERRNO | errno.EAFNOSUPPORT))
    labels["ioctl"] = len(prog)  # ioctl's request (args[1], low word)
    prog += [(_LD_ABS, None, None, 24), *[(_JEQ, "deny", None, r) for r in _TTY_DENIED], (_RET, None, None, _ALLOW)]
    labels["deny"] = len(prog)
    prog.append((_RET, None, None, _ERRNO | errno.EPERM))
    labels["enosys"] = len(prog)
    prog.append((_RET, None, None, _ERRNO | errno.ENOSYS))
    labels["allow"] = len(prog)
    prog.append((_RET, None, None, _ALLOW))
    out = b""
    for at, (code, jt, jf, k) in enumerate(prog):
        t = labels[jt] - at - 1 if jt else 0
        f = labels[jf] - at - 1 if jf else 0
        out += struct.pack("<HBBI", code, t, f, k)
    return out


def filter_fd() -> int | None:
    """A file descriptor holding the filter, at offset 0, for ``bwrap --seccomp`` (the
    caller passes it to bwrap and closes it)."""
    prog = filter_program()
    if prog is None:
        return None
    fd = os.memfd_create("repo-agent-seccomp", 0)  # not close-on-exec: bwrap reads it
    os.write(fd, prog)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
