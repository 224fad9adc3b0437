"""Whose an OOM kill was, for a sandbox with no memory cgroup of its own (issue 23, r11-2).

A normal user's sandbox is held to its part of an enclosing memory limit (a container's, a
session's: ``cgroups.enclosing_memory``) by RLIMIT_AS alone, one process at a time. Several
processes each within it go past the part together, the enclosing cgroup runs out, and the
kernel's OOM killer ends one of them: without a cgroup of the sandbox's own to count that,
the run was taken for the machine's shortage (not judged) where root mode's own cgroup
judges it. This watch looks, at each OOM kill counted while the sandbox runs, at what the
sandbox still holds: its processes' proportional share of anonymous and shared-memory pages
(``smaps_rollup``: a page forked processes share counted once, never a page of the host's)
and its workspace tmpfs (a file of it the tests map counted once). Past its part, the excess
was the rollout's own (the part is fixed by the limit and the number of sandboxes, never by
a neighbour's use). What it measures is a lower bound (the killed process is gone, what
cannot be read counts nothing), so a neighbour's shortage is never blamed on the rollout; an
excess that died with the victim stays not judged.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

POLL_S = 0.05
# A sandbox holds at most RLIMIT_NPROC (256) processes and threads of its own uid: the walk
# stops past this many tasks whatever the tree shows.
_MOST_TASKS = 4096
_KB = 1024


def _children(pid: int) -> list[int]:
    """The children of every thread of process ``pid`` (``/proc/PID/task/TID/children``)."""
    found: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return found


def _held(pid: int) -> tuple[int, int]:
    """The anonymous and the shared-memory pages process ``pid`` maps, each divided by the
    number of processes that map it (``Pss_Anon``, ``Pss_Shmem``), in bytes; 0 if unreadable."""
    anon = shmem = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss_Anon:"):
                    anon = int(line.split()[1]) * _KB
                elif line.startswith(b"Pss_Shmem:"):
                    shmem = int(line.split()[1]) * _KB
    except (OSError, ValueError, IndexError):
        return 0, 0
    return anon, shmem


def sandbox_held(pid1: int) -> tuple[int, int]:
    """What the processes of the sandbox whose pid 1 is ``pid1`` (host numbering) hold in
    memory, in bytes: anonymous, and shared memory (``_held`` of each). Every process of its
    pid namespace descends from its pid 1 (an orphan is given to it)."""
    anon = shmem = 0
    todo = [pid1]
    seen: set[int] = set()
    while todo and len(seen) < _MOST_TASKS:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        a, s = _held(pid)
        anon, shmem = anon + a, shmem + s
        todo.extend(_children(pid))
    return anon, shmem


class PartWatch:
    """Sees whether a sandbox held more than ``part`` bytes when an OOM kill was counted
    (``kills``: the kernel's count where the sandbox's kills show) while it ran; ``extra``:
    what it holds outside its processes (its workspace tmpfs's bytes). ``held`` is the most
    it was seen to hold past its part then (None: never past it)."""

    def __init__(self, part: int, kills: Callable[[], int], extra: Callable[[], int] = lambda: 0):
        self.part, self.kills, self.extra = part, kills, extra
        self.held: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, pid1: int, base: int | None = None) -> None:
        """Watch the sandbox of pid 1 ``pid1`` (host numbering) until ``stop``; ``base``: the
        count of kills before the sandbox started (a kill since then is looked at at once)."""
        base = self.kills() if base is None else base
        self._thread = threading.Thread(target=self._watch, args=(pid1, base), daemon=True)
        self._thread.start()

    def look(self, pid1: int) -> None:
        """Measure the sandbox now; past its part, remember it."""
        anon, shmem = sandbox_held(pid1)
        try:
            extra = self.extra()
        except OSError:  # the workspace tmpfs not there (yet, or any more): what it held is unknown
            extra = 0
        # A workspace file the tests map shared is in both: the larger is a lower bound of the two.
        held = anon + max(shmem, extra)
        if held > self.part and (self.held is None or held > self.held):
            self.held = held

    def _watch(self, pid1: int, base: int) -> None:
        while True:
            count = self.kills()
            if count != base:
                base = count
                self.look(pid1)
            if self._stop.wait(POLL_S):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
