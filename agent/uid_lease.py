"""Per-sandbox uids leased machine-wide (docs/sandbox-and-verdicts.md, The sandbox).

Run as root, each sandbox drops to a uid of its own from a reserved range, so that the
per-uid limits (RLIMIT_NPROC above all) count one rollout, never every sandbox on the
machine. Run by a normal user with a subordinate uid range, the range is that one
(agent/subuid.py, ``UidRange``) and the leases are that user's. A uid is leased by holding an exclusive ``flock`` on ``<LEASE_DIR>/<uid>`` for the
sandbox's life: locks are per open file, so two threads, two ``run`` processes or two Ray
workers on one machine never hold the same uid, and a process that dies frees its uids.
A lease is given back only once no process of its uid is left (the lock file then says
``clean``); a uid whose last holder died without that is cleared of leftovers before it
is handed out again: no leftover of one rollout ever shares a budget with the next.

The uids are the kernel's, the lock files only this machine's directory's: a uid some
process runs as that no holder of this directory left behind (another repo-agent's with a
lease directory of its own, in a container with its own /run; a rootless container's user
in a normal user's subordinate range) is someone else's: passed over, never killed
(round 9, sbx9-16, sbx9-9). A lease directory a local user made first (/run/lock is
world-writable) is never used: the next of the range's ``fallbacks`` is (sbx9-4).
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import signal
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

UID_BASE = 1_879_048_192  # 0x70000000: far above login users and the usual subuid ranges
UID_COUNT = 4096
LEASE_DIR = Path(os.environ.get("REPO_AGENT_UID_LEASE_DIR", "/run/lock/repo-agent-uids"))


class LeaseError(RuntimeError):
    """No uid could be leased (every one is held, or the lease directory is unusable)."""


def processes_of(uid: int) -> list[int]:
    """Pids of the live processes with ``uid`` as a real, effective or saved uid (a zombie
    runs nothing; its parent reaps it). Read from ``status``: a process that is not dumpable
    has its /proc directory owned by root."""
    out: list[int] = []
    want = str(uid)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as f:
                text = f.read(2048)
        except OSError:
            continue
        at = text.find(b"\nUid:")
        uids = text[at + 5 : text.find(b"\n", at + 1)].decode().split()[:3] if at >= 0 else []
        if want in uids and b"\nState:\tZ" not in text:
            out.append(int(name))
    return out


def kill_uid(uid: int, timeout_s: float = 10.0, spare: Callable[[int], bool] | None = None) -> bool:
    """SIGKILL every process of ``uid`` (but those ``spare`` says, by pid) until none is left;
    False if some outlived ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while left := [pid for pid in processes_of(uid) if spare is None or not spare(pid)]:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)  # dying processes leave /proc within a few ms
    return True


@dataclass(frozen=True)
class UidRange:
    """``count`` uids from ``base``, leased through lock files in ``lease_dir`` (else in the
    first of ``fallbacks`` that is this user's alone: the same for every repo-agent of it)."""

    base: int
    count: int
    lease_dir: Path
    fallbacks: tuple[Path, ...] = ()


# Root's lease directory when the usual one is not root's alone: /run is writable by root
# only, so no local user can make it first.
ROOT_FALLBACK = Path("/run/repo-agent-uids")


def root_range() -> UidRange:
    """Root's reserved range (read when asked: tests point it elsewhere)."""
    return UidRange(UID_BASE, UID_COUNT, LEASE_DIR, (ROOT_FALLBACK,))


def _own_dir(d: Path) -> Path:
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(d)
    except OSError as exc:
        raise LeaseError(f"cannot use the uid lease directory {d}: {exc.strerror or exc}") from None
    # Only a directory of this user's own: anyone else could steal or pin leases.
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise LeaseError(f"the uid lease directory {d} is not a directory owned by this user alone")
    return d


def lease_dir(r: UidRange) -> Path:
    """The range's lease directory, or the first fallback that is this user's alone: a local
    user who made /run/lock/repo-agent-uids first (a sticky, world-writable directory)
    refused every root sandbox of the machine (round 9, sbx9-4)."""
    try:
        return _own_dir(r.lease_dir)
    except LeaseError as first:
        for d in r.fallbacks:
            try:
                return _own_dir(d)
            except LeaseError:
                continue
        raise first from None


_CLEAN, _HELD = b"clean\n", b"held\n"


def _mark(fd: int, state: bytes) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, state, 0)


@dataclass
class UidLease:
    """One uid held for one sandbox; ``release`` kills what runs as it and frees it."""

    uid: int
    fd: int = field(repr=False)

    def release(self, *, cleared: bool = False) -> None:
        """Give the uid back; ``cleared``: the caller has just seen no process of it left."""
        if self.fd < 0:
            return
        try:
            if cleared or kill_uid(self.uid):
                _mark(self.fd, _CLEAN)  # the next holder need not look for leftovers
        finally:
            os.close(self.fd)  # closing the file drops the lock
            self.fd = -1


def lease_uid(within: UidRange | None = None) -> UidLease:
    """A uid of the reserved range (root's by default) no other sandbox on this machine holds now."""
    r = within or root_range()
    d = lease_dir(r)
    # Spread concurrent callers over the range, by a draw no seed of the process's ``random``
    # (a test's, a library's) makes the same in two processes: the range's first free uid is
    # also the one a caller with another lease directory would take (their cgroups collide).
    start = secrets.randbelow(r.count)
    for i in range(r.count):
        uid = r.base + (start + i) % r.count
        try:
            fd = os.open(d / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise LeaseError(f"cannot create a uid lease in {d}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                continue
            raise LeaseError(f"cannot lock a uid lease in {d}: {exc.strerror or exc}") from None
        # A holder of this directory that died without giving the uid back may have left
        # processes of it: they are cleared. Processes of a uid no holder of ours left (the
        # file new or ``clean``) are someone else's, running: the uid is passed over.
        if not processes_of(uid) or (os.pread(fd, 16, 0) == _HELD and kill_uid(uid, timeout_s=2.0)):
            _mark(fd, _HELD)
            return UidLease(uid, fd)
        os.close(fd)
    raise LeaseError(f"all {r.count} sandbox uids from {r.base} are in use")
