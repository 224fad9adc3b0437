"""A final run alone on the machine (docs/sandbox-and-verdicts.md, The sandbox).

A final run's workspace holds what no rollout may learn: the revealed hidden tests and the
held-out inputs. Whatever state the machine shares is a channel from its code to a sandbox
of another rollout running at the same time: flocks, POSIX and OFD record locks on the
read-only files both see (r26s-4/5, r27s-7), /proc/meminfo's Shmem (r28s-2), /proc/vmstat's
mlock counter (r30s-4), and hundreds of counters more (loadavg, file-nr, MemFree...). A fix
per counter closes one of them; this closes the class: **no sandbox of other code runs while
a final run runs**.

A machine-wide reader-writer lease on a file in this user's lease directory (the one the
sandbox uids are leased in, agent/uid_lease.py, agent/subuid.py): every sandbox holds a
shared ``flock`` for its whole run, from before its clock starts (waiting is not the run's
time) until every process of it is gone; a final run holds an exclusive one for the whole
of its judgement, and its own sandboxes (the differential's calls, the reference fix's run
beside it) run under it. A writer takes a gate first, so that sandboxes starting one after
another never starve it: a sandbox passes the gate only while no final run waits. Locks
are per open file: two threads, two ``run`` processes and Ray workers on one machine wait
for each other, and a holder that dies (however) frees its lock with its last descriptor.

The lease is per user: a sandbox another user runs (another repo-agent's, with a lease
directory of its own) is not held back by this one's final run.
"""

from __future__ import annotations

import contextvars
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

from agent import subuid
from agent.uid_lease import LeaseError, UidRange, lease_dir, root_range

_LEASE, _GATE = "final-run.lease", "final-run.gate"

# What this context holds: "final" (a final run's judgement, its sandboxes under it),
# "sandbox" (one sandbox's run), or nothing.
_held: contextvars.ContextVar[str | None] = contextvars.ContextVar("final_run_lease", default=None)

P = ParamSpec("P")
R = TypeVar("R")


# A directory of its own for the lease, for one process tree that runs its final runs and
# sandboxes apart from the rest of the machine's (the test suite's workers, a bench): one
# file per user in it. Unset (every real batch): the machine-wide place below.
PLACE_ENV = "REPO_AGENT_FINAL_RUN_LEASE_DIR"


def place() -> Path:
    """This user's machine-wide lease directory (the sandbox uids' own)."""
    apart = os.environ.get(PLACE_ENV)
    if apart:
        return Path(apart) / str(os.geteuid())
    if os.geteuid() == 0:
        return lease_dir(root_range())
    where, fallbacks = subuid.lease_place()
    return lease_dir(UidRange(0, 0, where, fallbacks))


def _open(name: str) -> int:
    d = place()
    try:
        if os.environ.get(PLACE_ENV):
            d.mkdir(mode=0o700, exist_ok=True)
        return os.open(d / name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise LeaseError(f"cannot open the final run's lease in {d}: {exc.strerror or exc}") from None


@contextmanager
def _holding(how: str) -> Iterator[None]:
    lease = _open(_LEASE)
    try:
        gate = _open(_GATE)
        try:
            fcntl.flock(gate, fcntl.LOCK_EX)  # a final run waiting holds it: no sandbox starts meanwhile
            fcntl.flock(lease, fcntl.LOCK_EX if how == "final" else fcntl.LOCK_SH)
        finally:
            os.close(gate)  # (closing drops the lock)
        token = _held.set(how)
        try:
            yield
        finally:
            _held.reset(token)
    finally:
        os.close(lease)


@contextmanager
def sandbox_turn() -> Iterator[None]:
    """Hold a sandbox's share of the lease for its run: waits while a final run runs (none
    held under a final run's own lease, or a sandbox's already)."""
    if _held.get() is not None:
        yield
        return
    with _holding("sandbox"):
        yield


@contextmanager
def final_run_alone() -> Iterator[None]:
    """Hold the lease alone for a final run's judgement: waits until no other sandbox of this
    user runs on the machine, and none starts until it is over. Its own sandboxes started in
    other threads must be started through ``under_this_lease``."""
    held = _held.get()
    if held == "final":
        yield
        return
    if held is not None:  # it would wait for its own sandbox's share for ever
        raise LeaseError("a final run cannot start from within a sandbox's run")
    with _holding("final"):
        yield


def under_this_lease(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run (in a pool's thread) under the lease the caller holds now: a final run's
    sandboxes started beside it share its lease instead of waiting for it (a new thread's
    context holds nothing)."""
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.run(fn, *args, **kwargs)

    return run
