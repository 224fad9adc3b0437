"""A final run alone on the machine (docs/sandbox-and-verdicts.md, The sandbox).

A final run's workspace holds what no rollout may learn: the revealed hidden tests and the
held-out inputs. Whatever state the machine shares is a channel from its code to a sandbox
of another rollout running at the same time: flocks, POSIX and OFD record locks on the
read-only files both see (r26s-4/5, r27s-7), /proc/meminfo's Shmem (r28s-2), /proc/vmstat's
mlock counter (r30s-4), and hundreds of counters more (loadavg, file-nr, MemFree...). A fix
per counter closes one of them; this closes the class: **no sandbox of other code runs while
a final run runs**.

A machine-wide reader-writer lease on a file every user's repo-agent shares
(``MACHINE_PLACE``, root's: /run/lock/repo-agent-final-run): every sandbox holds a shared
``flock`` for its whole run, from before its clock starts (waiting is not the run's time)
until every process of it is gone; a final run holds an exclusive one for the whole of its
judgement, and its own sandboxes (the differential's calls, the reference fix's run beside
it) run under it. A writer takes a gate first, so that sandboxes starting one after another
never starve it: a sandbox passes the gate only while no final run waits, or beside the
shares that final run waits for, within the time they take (``_beside``). Locks are per open
file: two threads, two ``run`` processes and Ray workers on one machine wait for each other,
and a holder that dies (however) frees its lock with its last descriptor.

One lease for every user (round 31 r31s-5: with one per user, a normal user's sandbox read a
root final run's secret off the machine's counters). Root makes the place at its first lease;
a normal user locks root's files, opened read-only, and keeps a place of its own only while
root has made none (a name some user made first is never trusted: root sets it aside). The
cost: a local user who holds the lock holds every repo-agent of the machine.
"""

from __future__ import annotations

import contextvars
import fcntl
import os
import secrets
import stat
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from agent import subuid
from agent.uid_lease import LeaseError, UidRange, lease_dir, root_range

_LEASE, _GATE = "final-run.lease", "final-run.gate"


@dataclass
class _Hold:
    """A lease this context holds: "final" (a final run's judgement, its sandboxes under it)
    or "sandbox" (one sandbox's run); ``live`` until it is given back."""

    how: str
    live: bool = True


_held: contextvars.ContextVar[_Hold | None] = contextvars.ContextVar("final_run_lease", default=None)

P = ParamSpec("P")
R = TypeVar("R")


# A directory of its own for the lease, for one process tree that runs its final runs and
# sandboxes apart from the rest of the machine's (the test suite's workers, a bench): one
# file per user in it. Unset (every real batch): the machine-wide place below.
PLACE_ENV = "REPO_AGENT_FINAL_RUN_LEASE_DIR"

# The one place every user's repo-agent shares (round 31 r31s-5: a lease per user let a normal
# user's sandbox read a root final run's secret). Root makes it: a directory and two files of
# root's that no one else may write, which every user opens read-only to lock (``flock`` needs
# no write access). A name another user made first is moved aside: no one squats it.
MACHINE_PLACE = Path("/run/lock/repo-agent-final-run")


def place() -> Path:
    """The lease's directory: the machine's, shared by every user (``MACHINE_PLACE``, root's);
    a normal user's own (its sandbox uids' lease directory) while root has not made it."""
    made = None
    if os.geteuid() == 0:
        try:  # made at root's first lease, wherever that one is held: users' sandboxes find it
            made = machine_place()
        except OSError:  # /run/lock unusable: root's own place, as before
            pass
    apart = os.environ.get(PLACE_ENV)
    if apart:
        return Path(apart) / str(os.geteuid())
    if os.geteuid() == 0:
        return made or lease_dir(root_range())
    if _roots(MACHINE_PLACE, (_LEASE, _GATE)):
        return MACHINE_PLACE
    where, fallbacks = subuid.lease_place()
    return lease_dir(UidRange(0, 0, where, fallbacks))


def machine_place() -> Path:
    """``MACHINE_PLACE``, made (as root) with its two files if it is not there or not root's
    alone; raises OSError where it cannot be."""
    d = MACHINE_PLACE
    if _roots(d, (_LEASE, _GATE)):
        return d
    if not _roots(d, ()):
        if os.path.lexists(d):  # a user's (in the sticky /run/lock): set aside, never trusted
            os.rename(d, d.with_name(f"{d.name}.squatted-{secrets.token_hex(4)}"))
        os.makedirs(d, 0o755, exist_ok=True)  # (another root process may make it meanwhile)
        if not _roots(d, ()):
            raise OSError(f"{d} is not root's alone")
    for name in (_LEASE, _GATE):
        fd = os.open(d / name, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            os.fchmod(fd, 0o644)  # (whatever the umask)
        finally:
            os.close(fd)
    os.chmod(d, 0o755)
    return d


def _roots(d: Path, names: tuple[str, ...]) -> bool:
    """Whether ``d`` and its files ``names`` are root's, and only root may write them."""
    try:
        for st in [os.lstat(d), *(os.lstat(d / n) for n in names)]:
            if st.st_uid != 0 or st.st_mode & 0o022:
                return False
        return stat.S_ISDIR(os.lstat(d).st_mode)
    except OSError:
        return False


def _open(d: Path, name: str) -> int:
    try:
        if os.environ.get(PLACE_ENV):
            d.mkdir(mode=0o700, exist_ok=True)
        if d == MACHINE_PLACE:  # root's files, made by ``machine_place``: read-only is enough to lock
            return os.open(d / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        return os.open(d / name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise LeaseError(f"cannot open the final run's lease in {d}: {exc.strerror or exc}") from None


# A share says when its sandbox will be over at the latest: an OFD read lock on one byte of the
# lease file at that second since the epoch (a lock, not a write: a normal user opens root's
# file read-only; it goes with the share). A final run waiting says so with one on the gate's
# first byte. A sandbox that arrives while a final run waits runs beside the shares running, if
# it can be over before the latest of them (its clock cut to that): the final run waits no
# longer than it must already, and none runs while it runs. Without it one rollout's long run
# held every other rollout's run for as long as it ran, behind a final run at the gate (r31s-2).
_FLOCK = "@hhqqi4x"  # struct flock
_OVER_S = 30.0  # a sandbox's end past its clock's: its uid, cgroup and workspace, the kill
_LEAST_PART = 0.5  # beside the shares only with half its time at least: else it waits its turn


def _lock_byte(fd: int, at: int) -> None:
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack(_FLOCK, fcntl.F_RDLCK, os.SEEK_SET, at, 1, 0))


def _locked_from(fd: int, at: int, length: int = 0) -> int | None:
    """The first byte at or past ``at`` (within ``length``; 0: to the end) another open file
    holds a lock on, or None."""
    q = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, at, length, 0)
    kind, _, start, _, _ = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_OFD_GETLK, q))
    return None if kind == fcntl.F_UNLCK else int(start)


def _latest_end(lease: int) -> int:
    """The latest second a running share said its sandbox is over by (0: none)."""
    latest, at = 0, int(time.time())
    for _ in range(4096):  # (one a share, at most: the sandbox uids are 4096)
        found = _locked_from(lease, at)
        if found is None:
            break
        latest, at = found, found + 1
    return latest


def _beside(gate: int, lease: int, timeout_s: float) -> float | None:
    """The seconds this sandbox may run beside the shares running while a final run waits (a
    share taken), or None: it waits at the gate."""
    if _locked_from(gate, 0, 1) is None:  # no final run waits: the gate is a sandbox's, passing
        return None
    allowed = min(timeout_s, _latest_end(lease) - time.time() - _OVER_S)
    if allowed < max(1.0, _LEAST_PART * timeout_s):
        return None
    try:
        fcntl.flock(lease, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # the final run has it now
        return None
    return allowed


@contextmanager
def _holding(how: str, timeout_s: float | None = None) -> Iterator[float | None]:
    d = place()  # once a hold: both files in one place
    lease = _open(d, _LEASE)
    try:
        allowed = timeout_s
        gate = _open(d, _GATE)
        try:
            beside = None
            try:
                fcntl.flock(gate, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if how == "sandbox" and timeout_s is not None:
                    beside = _beside(gate, lease, timeout_s)
                if beside is None:
                    fcntl.flock(gate, fcntl.LOCK_EX)  # a final run waiting holds it: no sandbox starts meanwhile
            if beside is not None:  # its share taken beside the running ones
                allowed = beside
            elif how == "final":
                _lock_byte(gate, 0)  # a final run waits
                fcntl.flock(lease, fcntl.LOCK_EX)
            else:
                fcntl.flock(lease, fcntl.LOCK_SH)
        finally:
            os.close(gate)  # (closing drops its locks)
        if how == "sandbox" and allowed is not None:
            _lock_byte(lease, min(int(time.time() + allowed + _OVER_S) + 1, 2**62))
        hold = _Hold(how)
        token = _held.set(hold)
        try:
            yield allowed
        finally:
            hold.live = False
            _held.reset(token)
    finally:
        os.close(lease)


def _live_hold() -> _Hold | None:
    """What this context holds. A hold given back already (a context copied under a lease, run
    after it: ``under_this_lease`` late) is refused, never honoured: a sandbox or a final run
    would run under no lease at all, or wait for ever for a final run that waits for it."""
    held = _held.get()
    if held is not None and not held.live:
        raise LeaseError(f"the {held.how} lease this was started under is over")
    return held


@contextmanager
def sandbox_turn(timeout_s: float | None = None) -> Iterator[float | None]:
    """Hold a sandbox's share of the lease for its run: waits while a final run runs (none
    held under a final run's own lease, or a sandbox's already). Yields the seconds the run
    may take: ``timeout_s``, or less where it runs beside the shares a final run waits for
    (``_beside``)."""
    if _live_hold() is not None:
        yield timeout_s
        return
    with _holding("sandbox", timeout_s) as allowed:
        yield allowed


@contextmanager
def final_run_alone() -> Iterator[None]:
    """Hold the lease alone for a final run's judgement: waits until no other sandbox runs on
    the machine, and none starts until it is over. Its own sandboxes started in other threads
    must be started through ``under_this_lease``."""
    held = _live_hold()
    if held is not None and held.how == "final":
        yield
        return
    if held is not None:  # it would wait for its own sandbox's share for ever
        raise LeaseError("a final run cannot start from within a sandbox's run")
    with _holding("final"):
        yield


def under_this_lease(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run (in a pool's thread) under the lease the caller holds now: a final run's
    sandboxes started beside it share its lease instead of waiting for it (a new thread's
    context holds nothing). Run after that lease is given back, ``fn``'s sandbox raises
    LeaseError (``_live_hold``)."""
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.run(fn, *args, **kwargs)

    return run
