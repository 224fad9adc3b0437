"""The sandbox's seccomp filter: system calls model-written code never needs (docs/sandbox-and-verdicts.md).

Run as root, the sandbox has no user namespace of its own (one would map it to host root),
so bwrap's ``--disable-userns`` is not available: without this filter the code could make
a user namespace and be "root" in it, mount filesystems there, and reach far more kernel
code. The filter (classic BPF, handed to bwrap with ``--seccomp``) fails with EPERM: new
user namespaces (``unshare``/``clone`` with CLONE_NEWUSER), every mount call, ``setns``,
the kernel keyring, ``bpf``, ``perf_event_open``, ``userfaultfd``, module loading, kexec,
reboot, swap and clock setting, NUMA memory policies (``mbind`` and the rest: kernel memory
charged to no cgroup, round 29 r29s-5, r29s-6; ``prctl(PR_FUTEX_HASH)``, EINVAL, alike: r29s-4), inotify and fanotify instances (the kernel counts them per
user across namespaces: run by a normal user, one rollout could take every one of that
user's, its neighbours' and the user's own programs'; no test runner needs them), an IPv4
or IPv6 socket but a TCP stream (UDP, ICMP, SCTP, MPTCP: see ``_SOCK_STREAM``), and every 32-bit (``int 0x80``) call, whose numbers differ; ``clone3`` fails with ENOSYS, so the C library falls back to
``clone``, whose flags the filter can read; a socket of any family but AF_UNIX, AF_INET and
AF_INET6 (netlink, vsock, ...) fails with EAFNOSUPPORT; setting an extended attribute fails with
EOPNOTSUPP (a tmpfs keeps them outside every cap); and ``setsid`` (EPERM) where a
session would get a CPU share of its own (no cpu cgroup, scheduler autogroups: round 8
sbx8-3); ``memfd_create`` and every SysV IPC call (ENOSYS) where no memory cgroup of the
sandbox's charges the pages they hold (round 17 r17-9, round 19 r19s-1); ``vmsplice``,
``splice``, ``sendfile`` (ENOSYS) and ``SO_ZEROCOPY`` (ENOPROTOOPT) everywhere (r19s-2, r19s-7);
``sync`` and ``syncfs`` answer success and do nothing; and every way to load a BPF program
(``bpf`` above; ``seccomp``, ``prctl(PR_SET_SECCOMP)``: EINVAL; socket filters: EPERM), whose
compiled code counts in one budget of the whole machine (round 26 r26s-2, r26s-3); and every
way to be told of another process's access to a file (inotify, fanotify above; ``fcntl``'s
F_NOTIFY and F_SETLEASE: EINVAL; ``cachestat``: ENOSYS), through which two sandboxes reading the
same read-only host directories signal each other (round 27 r27s-3); and every way to drop pages
of the page cache or ask whether one is there without reading it (``posix_fadvise`` DONTNEED and
NOREUSE, ``madvise`` COLD and PAGEOUT: done as nothing, answered 0; ``preadv2``/``pwritev2`` with
RWF_NOWAIT: EAGAIN), through which a sandbox sent its neighbours' imports to the disk and left a
secret for a later sandbox to read (round 28 r28s-3, r28s-4).
x86-64 only; elsewhere there is no filter.
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
_NR_SOCKET, _NR_SOCKETPAIR, _AF_UNIX = 41, 53, 1
# Every other address family is refused too (EAFNOSUPPORT): AF_VSOCK has no network namespace,
# so --unshare-net never cut it (a sandbox listened on the host's vsock ports, round 8 sbx8-1);
# AF_ALG, AF_TIPC, AF_RDS, AF_KCM, AF_XDP and the rest are kernel code no test needs.
# IPv4 and IPv6 sockets are streams only (TCP: its buffers are charged to the sandbox's
# kmem.tcp limit, and where there is no cgroup to tcp_mem's ceiling). A datagram socket's
# queue counts in the machine-wide udp_mem: with no memory cgroup (a normal user's sandbox)
# 60 loopback UDP sockets never read pinned 476 MB of it, and ~150 reach its 4.4 GB ceiling,
# past which UDP on the whole machine drops (round 7 #34; as root, cgroup v1 charged them to
# the sandbox's kmem.tcp limit, #13). The sandbox has no network
# but loopback; glibc's resolver and getaddrinfo's address sorting take the refusal (EPERM)
# as "unreachable" and go on. SOCK_RAW needs a capability the sandbox has not.
_AF_INET, _AF_INET6, _SOCK_STREAM, _SOCK_TYPE_MASK, _IPPROTO_TCP = 2, 10, 1, 0xF, 6
# mount, umount2, pivot_root, setns, add_key, request_key, keyctl, bpf, perf_event_open,
# userfaultfd, open_tree, move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr,
# init_module, finit_module, delete_module, kexec_load, kexec_file_load, reboot, swapon,
# swapoff, settimeofday, clock_settime, acct, quotactl, lookup_dcookie, io_uring (3 calls),
# inotify_init, inotify_init1, fanotify_init, io_setup; memfd_secret (its pages are cut out
# of the host kernel's direct map, split into small pages until reboot: round 11 r11-1).
_DENIED: tuple[int, ...] = (165, 166, 155, 308, 248, 249, 250, 321, 298, 323, 428, 429, 430, 431, 432, 433, 442)
_DENIED += (175, 313, 176, 246, 320, 169, 167, 168, 164, 227, 163, 179, 212, 425, 426, 427, 253, 294, 300, 206)
_DENIED += (447,)
# Later spellings of refused calls (a filter by number misses them: round 19, 4): quotactl_fd
# (Linux 5.14), open_tree_attr (6.15).
_DENIED += (443, 467)

# NUMA memory policies, refused with EPERM as a container's default seccomp profile (Docker's)
# refuses them without CAP_SYS_NICE: libnuma's numa_available() takes get_mempolicy's EPERM as "no
# NUMA", and OpenBLAS ignores its mbind's answer. The class closed: kernel memory a call makes
# that no cgroup is charged for and nothing of the sandbox bounds. ``mbind`` gives a mapping a
# policy object of its own (288 bytes of the numa_policy slab, made without __GFP_ACCOUNT:
# max_map_count x NPROC of them, ~4.8 GB a sandbox, round 29 r29s-5), and on a tmpfs file's
# range a shared policy kept on its inode once every mapping is gone, bounded by nothing (131,072
# ranges on an empty /dev/shm file: r29s-6). set_mempolicy and set_mempolicy_home_node make
# policies alike; get_mempolicy (its answer must agree), migrate_pages and move_pages go with
# them: the sandbox has one node to use.
_NUMA_POLICY = (237, 238, 239, 256, 279, 450)  # mbind .. move_pages, set_mempolicy_home_node
_DENIED += _NUMA_POLICY

# setxattr, lsetxattr, fsetxattr: refused with EOPNOTSUPP ("this filesystem keeps none"), as a
# filesystem without xattrs answers (shutil.copystat goes on). A tmpfs keeps user.* xattrs in
# memory outside its size, RLIMIT_AS and what the disk watch reads: a normal user's sandbox
# held 1.5 GB in 64 kB values on 400 files of its 64 MB /tmp (round 17 r17-37). No test needs
# to set one.
_XATTR_SET = (188, 189, 190, 463)  # and setxattrat (Linux 6.13: round 19, 4)

# memfd_create, refused with ENOSYS ("this kernel has none": Python's os.memfd_create raises, and
# code that uses one where it can falls back to a file, as on an old kernel) where the sandbox has
# no memory cgroup (``memory_cgroup=False``: a normal user's sandbox). A memfd's pages are not mapped, so
# RLIMIT_AS does not see them, and nothing but NPROC x NOFILE x FSIZE bounded them: 8 of 63 MB
# each held 504 MB past a 256 MB cap (round 17 r17-9). With a memory cgroup they are charged to
# it (shmem), capped with the rest. multiprocessing's shared memory is /dev/shm (size-capped).
_NR_MEMFD_CREATE = 319

# SysV IPC: shmget, shmat, shmctl, shmdt, semget, semop, semctl, semtimedop, msgget, msgsnd,
# msgrcv, msgctl; refused with ENOSYS ("this kernel has no SysV IPC", CONFIG_SYSVIPC=n) where
# memfd_create is, for the same reason and more: a detached segment is mapped nowhere, so
# RLIMIT_AS does not see it, and it outlives the process that made it (the sandbox's own ipc
# namespace keeps it until its last process is gone), so no OOM kill of a test gives it back:
# a process capped at 160 MB left 192 MB in 6 segments (round 19 r19s-1). A fresh ipc
# namespace bounds none of it (shmall, shmmax: unlimited; 32,000 message queues of 16 kB:
# 512 MB; 32,000 semaphore sets of 32,000: gigabytes of kernel memory), and only root of the
# namespace's user namespace may lower those, a uid no sandbox maps. With a memory cgroup
# all three are charged to it (shmem pages; messages and semaphore arrays as kernel memory).
# Refusing the *get calls alone would do (the namespace is the sandbox's own and starts empty:
# no id to reach); all of them answer alike, as such a kernel does. POSIX message queues stay:
# RLIMIT_MSGQUEUE (64 kB) and the namespace's queues_max (256) bound them.
_SYSV_IPC = (29, 30, 31, 67, 64, 65, 66, 220, 68, 69, 70, 71)

# vmsplice, splice and sendfile, refused with ENOSYS in every sandbox (code that uses them falls
# back to read and write on a kernel without them: shutil's and socket's copies do; nothing
# Python or a test runner ships needs them): each puts pages in a pipe or a socket's queue by
# reference, and the holder keeps the whole folio once the caller has unmapped or closed it.
# Without a memory cgroup, 4 kB of a 2 MB transparent huge page held 2 MB a pipe slot while the
# pipe's own count (pipe-user-pages) saw one page: a process of 160 MB held 192 MB in 6 pipes
# (round 19 r19s-2). With one, a page of a read-only file is charged to whoever read it first
# (the host, often repo-agent): pipes holding pieces of a mounted file kept 32 MB of page cache
# unreclaimable while the sandbox's cgroup counted 9 MB, bounded only by the mounted files' size
# (r19s-7; splice from the file, no mapping, alike). tee stays: it copies references pipes
# already hold, made by write() and charged as pipe pages.
_PAGE_REFS = (278, 275, 40)  # vmsplice, splice, sendfile

# Another way in, refused alike: a TCP send with MSG_ZEROCOPY keeps the sender's pages (its own,
# or a mapped file's) in the socket's queue (unread on loopback: 96 sends of 4 kB of huge pages
# held 192 MB, from a process of 160 MB), allowed only after setsockopt(SOL_SOCKET,
# SO_ZEROCOPY), which fails with ENOPROTOOPT as on a kernel without it (the send then copies).
# And every other kernel path that holds a page of user memory: where no memory cgroup charges
# the sandbox's memory, transparent huge pages are off (the launcher's
# prctl(PR_SET_THP_DISABLE, 1), inherited by every process and kept across execve): a page
# held is 4 kB, which the holder's own count (pipe pages, locked memory) sees. Only that call
# may name the option: turning them back on, or "except where advised", fails with EPERM.
_NR_SETSOCKOPT, _SOL_SOCKET, _SO_ZEROCOPY = 54, 1, 60
_NR_PRCTL, _PR_SET_THP_DISABLE = 157, 41
# A private futex hash, refused with EINVAL as a kernel before 6.16 answers an option it lacks:
# ``prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, n)`` allocates 64 bytes a slot in one call with
# no bound on n and no rlimit (16 M slots, 1 GB, given to one process), kernel memory no
# descriptor, mapping or page shows (round 29 r29s-4). The kernel's own hash, made as threads
# start, is bounded by the machine's.
_PR_FUTEX_HASH = 78

# sync and syncfs: done as nothing, answered 0 (success), never made. What the sandbox writes is
# on a tmpfs (its workspace, /tmp, /dev/shm), where syncing does nothing anyway; everything else
# it sees is a read-only bind of the host's filesystems, and a sync there writes back and
# flushes the host's own data: sync() every filesystem, syncfs() a whole one from any
# descriptor of it. 2,100 syncfs in 3 s slowed a host writer by ~40% (review of round 24,
# r24s-1). fsync, fdatasync and sync_file_range reach the kernel: answered 0 they hid its
# EBADF/EINVAL from an honest test of an error path (round 25 r25s-6), and they act on one
# file (a read-only one's costs the host at most a flush of its disk cache).
_SYNCS = (162, 306)  # sync, syncfs

# Every way to load a BPF program, refused: the kernel compiles each (JIT always on) into memory
# counted in one budget for every unprivileged program of the machine, and of every container
# of the host (net.core.bpf_jit_limit): no cgroup charges it, nothing counts it per sandbox,
# and a process holds its programs as long as it likes. A root run's sandbox took all 504 MB
# with seccomp filters kept alive by their listeners (SECCOMP_FILTER_FLAG_NEW_LISTENER,
# passed over AF_UNIX: round 26 r26s-2), or with socket filters on AF_UNIX sockets (r26s-3);
# meanwhile a normal user's sandbox could not start (its bwrap's own filter refused, ENOTSUPP)
# and no unprivileged program of the host could load a seccomp or socket filter. The ways in:
# bpf(2) (refused above, with ``_DENIED``); seccomp(2) whatever its operation and
# prctl(PR_SET_SECCOMP), EINVAL, as a kernel without seccomp filters answers (the sandbox's own
# filter is loaded by bwrap before the code runs; no test runner loads one); setsockopt
# SO_ATTACH_FILTER, SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_CBPF and _EBPF, EPERM, as a socket whose
# filter is locked (SO_LOCK_FILTER) answers. The other loaders need what the sandbox lacks: a
# packet socket's fanout program (AF_PACKET: refused by family), a tun or ppp device's filter
# (no such device in the sandbox's /dev), io_uring (refused), netfilter and traffic control
# (CAP_NET_ADMIN).
_NR_SECCOMP, _PR_SET_SECCOMP = 317, 22
_SO_ATTACH = (26, 50, 51, 52)  # SO_ATTACH_FILTER, SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_CBPF, _EBPF

# Every way to be told of another process's access to a file, refused: whoever reads a file of
# the host's read-only binds (the stdlib, the venv), a neighbouring sandbox's tests, a final run,
# the host itself, would be seen by any sandbox watching it, and two sandboxes at once have a
# channel (one reads, the other is told: a final run's secret crossed so, round 27 r27s-3).
# inotify and fanotify (``_DENIED``); dnotify, ``fcntl(F_NOTIFY)`` (a signal for each access in
# a watched directory), EINVAL, as a kernel without dnotify answers; a lease,
# ``fcntl(F_SETLEASE)`` (a signal when another process opens the file: the kernel allows it on
# the caller's own files only, yet the host opens the workspace's, and a write lease holds the
# opener back up to lease-break-time, 45 s), EINVAL, as a kernel without leases answers
# (F_GETLEASE stays: with none set it says F_UNLCK); ``cachestat`` (Linux 6.5: which pages of a
# file are in the page cache, i.e. read by anyone lately), ENOSYS. Left: the time a read takes
# (a cached page is faster), which no filter sees.
_NR_FCNTL, _F_SETLEASE, _F_NOTIFY = 72, 1024, 1026
_NR_CACHESTAT = 451

# Every way to drop a page of the page cache, done as nothing (answered 0: each is advice the
# kernel may ignore), and every way to ask whether one is cached without reading it, answered
# EAGAIN ("it would block": the caller reads as it would have, the page then cached). The page
# cache of the host's read-only binds (the stdlib, the venv, /usr) is every sandbox's and the
# host's: a root sandbox looping ``posix_fadvise(POSIX_FADV_DONTNEED)`` over those files sent
# every neighbour's imports to the disk (+57% a Python start, round 28 r28s-3), and, caching or
# dropping one file a bit, left a final run's secret that a sandbox started after it read with
# ``preadv2(RWF_NOWAIT)`` (r28s-4: the page cache outlives the sandbox). ``posix_fadvise``
# DONTNEED and NOREUSE; ``madvise`` MADV_COLD and MADV_PAGEOUT (a file's pages mapped by the
# caller alone are dropped so); ``preadv2`` and ``pwritev2`` with RWF_NOWAIT. ``mincore`` stays:
# the kernel tells a caller of a file's pages only those it maps, or of a file it may write
# (Linux 5.2), and the sandbox may write none of the host's. Left: the time a read takes, and a
# fault's read-around mapping the cached pages beside it (its ``Rss``): one-way bits a sandbox
# sets by reading a cold file, which nothing but a page cache of its own would close.
_NR_FADVISE64, _FADV_DONTNEED, _FADV_NOREUSE = 221, 4, 5
_NR_MADVISE, _MADV_COLD, _MADV_PAGEOUT = 28, 20, 21
_NR_PREADV2, _NR_PWRITEV2, _RWF_NOWAIT = 327, 328, 0x8

# setsid, refused where each new session would take a CPU share of its own (``sessions=False``:
# scheduler autogroups, no cpu cgroup of the sandbox's; agent/cgroups.py ``sessions_take_a_share``).
_NR_SETSID = 112

_LD_ABS, _JEQ, _JGE, _JSET, _RET, _AND = 0x20, 0x15, 0x35, 0x45, 0x06, 0x54
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
# The differential runner's stdin may be a pty (agent/differential_stage.py): no typing into
# it, no line discipline (each one kernel code of its own, loaded on demand), no console.
# TIOCSTI, TIOCLINUX, TIOCCONS, TIOCSETD; the kernel reads the request as 32 bits.
_NR_IOCTL, _TTY_DENIED = 16, (0x5412, 0x541C, 0x541D, 0x5423)


def filter_program(sessions: bool = True, memory_cgroup: bool = False) -> bytes | None:
    """The filter as bwrap reads it (an array of ``struct sock_filter``), or None off x86-64.
    ``sessions`` False: ``setsid`` fails with EPERM too. ``memory_cgroup`` True (a memory cgroup
    of the sandbox's charges the pages memfds and SysV IPC hold): they are allowed, and
    transparent huge pages may be turned off or on; else they fail with ENOSYS, and only
    ``prctl(PR_SET_THP_DISABLE, 1)`` may name that option."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    # (code, jump-if-true label, jump-if-false label, k); labels resolve to relative jumps.
    prog: list[tuple[int, str | None, str | None, int]] = [
        (_LD_ABS, None, None, 4),  # seccomp_data.arch
        (_JEQ, None, "deny", _AUDIT_ARCH_X86_64),  # int 0x80 (i386 calls) too: none is ever needed
        (_LD_ABS, None, None, 0),  # seccomp_data.nr
        (_JGE, "deny", None, _X32_BIT),
        *[(_JEQ, "deny", None, nr) for nr in (_DENIED if sessions else (*_DENIED, _NR_SETSID))],
        *[(_JEQ, "notsup", None, nr) for nr in _XATTR_SET],
        (_JEQ, "ioctl", None, _NR_IOCTL),
        (_JEQ, "flags", None, _NR_UNSHARE),
        (_JEQ, "flags", None, _NR_CLONE),
        (_JEQ, "enosys", None, _NR_CLONE3),
        *[(_JEQ, "enosys", None, nr) for nr in _PAGE_REFS],
        *[(_JEQ, "nothing", None, nr) for nr in _SYNCS],
        (_JEQ, "sockopt", None, _NR_SETSOCKOPT),
        (_JEQ, "einval", None, _NR_SECCOMP),
        (_JEQ, "enosys", None, _NR_CACHESTAT),
        (_JEQ, "fcntl", None, _NR_FCNTL),
        (_JEQ, "fadvise", None, _NR_FADVISE64),
        (_JEQ, "madvise", None, _NR_MADVISE),
        (_JEQ, "rwflags", None, _NR_PREADV2),
        (_JEQ, "rwflags", None, _NR_PWRITEV2),
        *([] if memory_cgroup else [(_JEQ, "enosys", None, nr) for nr in (_NR_MEMFD_CREATE, *_SYSV_IPC)]),
        (_JEQ, "prctl", None, _NR_PRCTL),
        (_JEQ, "family", None, _NR_SOCKET),
        (_JEQ, "pair", None, _NR_SOCKETPAIR),
        (_RET, None, None, _ALLOW),
    ]
    labels = {"flags": len(prog)}
    prog += [(_LD_ABS, None, None, 16), (_JSET, "deny", "allow", _CLONE_NEWUSER)]  # args[0], low word
    labels["family"] = len(prog)
    prog += [(_LD_ABS, None, None, 16), (_JEQ, "allow", None, _AF_UNIX)]  # socket's domain
    prog += [(_JEQ, "inet", None, _AF_INET), (_JEQ, "inet", "noaf", _AF_INET6)]
    labels["pair"] = len(prog)
    prog += [(_LD_ABS, None, None, 16), (_JEQ, "allow", "noaf", _AF_UNIX)]  # socketpair's domain
    labels["inet"] = len(prog)
    # socket's type, its flags (SOCK_NONBLOCK, SOCK_CLOEXEC) masked off
    prog += [(_LD_ABS, None, None, 24), (_AND, None, None, _SOCK_TYPE_MASK), (_JEQ, None, "deny", _SOCK_STREAM)]
    # and its protocol TCP (0: the default, or 6): not SCTP or MPTCP, whose modules a
    # socket() call would load and whose buffers count in budgets of their own
    prog += [(_LD_ABS, None, None, 32), (_JEQ, "allow", None, 0), (_JEQ, "allow", "deny", _IPPROTO_TCP)]
    labels["noaf"] = len(prog)
    prog.append((_RET, None, None, _ERRNO | errno.EAFNOSUPPORT))
    labels["ioctl"] = len(prog)  # ioctl's request (args[1], low word)
    prog += [(_LD_ABS, None, None, 24), *[(_JEQ, "deny", None, r) for r in _TTY_DENIED], (_RET, None, None, _ALLOW)]
    labels["fcntl"] = len(prog)  # fcntl's command (args[1], low word)
    prog += [(_LD_ABS, None, None, 24), (_JEQ, "einval", None, _F_NOTIFY), (_JEQ, "einval", "allow", _F_SETLEASE)]
    labels["fadvise"] = len(prog)  # fadvise64's advice (args[3], low word)
    prog += [(_LD_ABS, None, None, 40), (_JEQ, "nothing", None, _FADV_DONTNEED)]
    prog += [(_JEQ, "nothing", "allow", _FADV_NOREUSE)]
    labels["madvise"] = len(prog)  # madvise's advice (args[2], low word)
    prog += [(_LD_ABS, None, None, 32), (_JEQ, "nothing", None, _MADV_COLD), (_JEQ, "nothing", "allow", _MADV_PAGEOUT)]
    labels["rwflags"] = len(prog)  # preadv2's and pwritev2's flags (args[5], low word)
    prog += [(_LD_ABS, None, None, 56), (_JSET, "again", "allow", _RWF_NOWAIT)]
    labels["sockopt"] = len(prog)  # setsockopt's level and name (args[1], args[2], low words)
    prog += [(_LD_ABS, None, None, 24), (_JEQ, None, "allow", _SOL_SOCKET)]
    prog += [(_LD_ABS, None, None, 32), *[(_JEQ, "deny", None, name) for name in _SO_ATTACH]]
    prog += [(_JEQ, "noopt", "allow", _SO_ZEROCOPY)]
    labels["prctl"] = len(prog)  # prctl's option (args[0]); for PR_SET_THP_DISABLE: args[1] != 0, args[2] == 0
    prog += [(_LD_ABS, None, None, 16), (_JEQ, "einval", None, _PR_SET_SECCOMP)]
    prog.append((_JEQ, "einval", None, _PR_FUTEX_HASH))
    if memory_cgroup:
        prog.append((_RET, None, None, _ALLOW))
    else:
        prog += [(_JEQ, None, "allow", _PR_SET_THP_DISABLE), (_LD_ABS, None, None, 24), (_JEQ, "deny", None, 0)]
        prog += [(_LD_ABS, None, None, 32), (_JEQ, None, "deny", 0)]
        prog += [(_LD_ABS, None, None, 36), (_JEQ, "allow", "deny", 0)]
    labels["noopt"] = len(prog)
    prog.append((_RET, None, None, _ERRNO | errno.ENOPROTOOPT))
    labels["deny"] = len(prog)
    prog.append((_RET, None, None, _ERRNO | errno.EPERM))
    labels["notsup"] = len(prog)
    prog.append((_RET, None, None, _ERRNO | errno.EOPNOTSUPP))
    labels["enosys"] = len(prog)
    prog.append((_RET, None, None, _ERRNO | errno.ENOSYS))
    labels["einval"] = len(prog)
    prog.append((_RET, None, None, _ERRNO | errno.EINVAL))
    labels["again"] = len(prog)
    prog.append((_RET, None, None, _ERRNO | errno.EAGAIN))
    labels["nothing"] = len(prog)
    prog.append((_RET, None, None, _ERRNO | 0))  # errno 0: the call is skipped and returns 0
    labels["allow"] = len(prog)
    prog.append((_RET, None, None, _ALLOW))
    out = b""
    for at, (code, jt, jf, k) in enumerate(prog):
        t = labels[jt] - at - 1 if jt else 0
        f = labels[jf] - at - 1 if jf else 0
        out += struct.pack("<HBBI", code, t, f, k)
    return out


def filter_fd(sessions: bool = True, memory_cgroup: bool = False) -> int | None:
    """A file descriptor holding the filter, at offset 0, for ``bwrap --seccomp`` (the
    caller passes it to bwrap and closes it); ``sessions``, ``memory_cgroup``: as
    ``filter_program``'s."""
    prog = filter_program(sessions, memory_cgroup)
    if prog is None:
        return None
    fd = os.memfd_create("repo-agent-seccomp", 0)  # not close-on-exec: bwrap reads it
    os.write(fd, prog)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
