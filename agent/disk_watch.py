"""The disk cap of a sandbox run by a normal user, held during the run (issue 23).

Root mode runs the tests in a size-capped tmpfs copy of the workspace; a normal user can
mount none, so the tests write straight into the host's workspace (round 5: 360 MB and
150,000 files on the host disk in one run). RLIMIT_FSIZE caps one file; this watcher caps
the tree: it polls the filesystem's used blocks and inodes (``statvfs``, one system call)
and, once they grew by more than the workspace's room since it last looked, measures the
workspace itself (a walk, which a neighbour's writes never fool) and what the sandbox's
processes hold there under no name (agent/unnamed_files.py); over the cap, it kills the
sandbox. Names that take no inode (hard links) are seen by walks on any change of the
filesystem, and now and then on none, as often as 2% of a core allows. What holds: the
workspace ends within the cap plus what the tests can write in one poll and one walk
(names: in the time between two walks); the caller then trims it back to the cap.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.unnamed_files import unnamed_bytes

POLL_S = 0.05
# Walks not forced by growth past the room: at most one a WALK_EVERY_S, never more than
# WALK_SHARE of a core (a walk of 100,000 names takes ~0.4 s: one in 20 s), and on a
# filesystem that did not change at all, WALK_IDLE_S later still.
WALK_EVERY_S = 0.25
WALK_SHARE = 0.02
WALK_IDLE_S = 2.0
# ...and never further apart than this while the filesystem changes: a walk the tests made
# costly (descriptors and mappings it reads) spaced the next ~50 s out, and names grew
# unchecked (round 11 r11-7). Past the share, the tests' own processes set the price.
WALK_MAX_GAP_S = 5.0


class DiskWatch:
    """Kills a run (``start``'s ``kill``) whose workspace at ``path`` outgrows ``max_bytes``
    or ``max_names``, as ``measure()`` (bytes, names) counts them; ``measure`` must not
    raise for a file that vanishes while it walks (the tests may churn files to stop it)."""

    def __init__(
        self,
        path: Path,
        measure: Callable[[], tuple[int, int]],
        max_bytes: int,
        max_names: int,
        start: tuple[int, int] | None = None,
        file_max: int = 64 * 1024**2,
        unnamed: Callable[[int, int, int], int] = unnamed_bytes,
        spent: Callable[[], float] = time.thread_time,
    ):
        self.path, self.measure = path, measure
        self._start = start  # the caller's own first measure: the tree is not walked twice
        self.max_bytes, self.max_names = max_bytes, max_names
        self.unnamed = unnamed  # where the sandbox's /proc can be read from (agent/subuid.py: its keeper)
        self.file_max = file_max  # the most one file can hold (RLIMIT_FSIZE): a mapping's extent is cut to it
        # CPU seconds spent measuring so far: the watch thread's own, and that of any process
        # walking for it (the keeper: round 9 sbx9-8). A loaded machine's wall clock is not the cost.
        self.spent = spent
        self.fired = False
        self._pid1: int | None = None
        self._dev = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _used(self) -> tuple[int, int]:
        st = os.statvfs(self.path)
        return (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_files - st.f_ffree

    def _measure(self) -> tuple[int, int]:
        try:
            size, names = self.measure()
            if self._pid1 is not None:  # files the tests hold open or mapped with no name left
                size += self.unnamed(self._pid1, self._dev, self.file_max)
            return size, names
        except Exception:  # a watch thread that died would let the tests write on
            return self.max_bytes + 1, self.max_names + 1  # what cannot be measured is over the cap

    def start(self, kill: Callable[[], None], pid1: int | None = None) -> None:
        """Watch until ``stop``; ``kill`` ends the run. ``pid1``: the sandbox's pid 1 (host
        numbering), whose pid namespace's unnamed files count too."""
        self._pid1, self._dev = pid1, os.stat(self.path).st_dev
        self._thread = threading.Thread(target=self._watch, args=(kill,), daemon=True)
        self._thread.start()

    def _watch(self, kill: Callable[[], None]) -> None:
        try:
            base, (size, names) = self._used(), self._start or self._measure()
            due = time.monotonic() + WALK_EVERY_S
            while not self._stop.wait(POLL_S):
                used, now = self._used(), time.monotonic()
                past_room = used[0] - base[0] > self.max_bytes - size or used[1] - base[1] > self.max_names - names
                # A hard link takes no inode and a few bytes of a directory (none in one the
                # tests emptied first): names past the cap that no room check sees (round 8
                # sbx8-4). Any change is looked at, and a still filesystem now and then, as
                # often as a walk's cost allows (WALK_SHARE of a core at most).
                if not past_room and now < due + (0 if used != base else WALK_IDLE_S):
                    continue
                cpu = self.spent()
                base, (size, names) = used, self._measure()  # grown: by us, or by a neighbour?
                gap = max(WALK_EVERY_S, (self.spent() - cpu) / WALK_SHARE)
                due = time.monotonic() + min(gap, WALK_MAX_GAP_S)
                if size > self.max_bytes or names > self.max_names:
                    self.fired = True
                    kill()
                    return
        except OSError:  # statvfs: the workspace is gone, nothing left to watch
            return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class TmpfsWatch:
    """The disk cap of a normal user's sandbox whose workspace is a tmpfs of its own
    (agent/sandbox.py ``StagedWorkspace``): a tmpfs counts everything the tests hold in it,
    named or not (unlinked open files, mappings of deleted files, descriptors in flight,
    a thread's own descriptor table, a process /proc hides: round 9 sbx9-1/2/3/5), and a
    hard link as an inode, so its ``fstatvfs`` is the measure: no walk, no census. Past
    ``max_bytes`` or ``max_names`` the run is killed; the tmpfs itself refuses writes a
    slack past them, so what one poll misses is bounded too."""

    def __init__(self, fd: Callable[[], int], max_bytes: int, max_names: int):
        self.fd = fd  # the tmpfs's root, open in this process (known once the sandbox is up)
        self.max_bytes, self.max_names = max_bytes, max_names
        self.fired = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def used(self) -> tuple[int, int]:
        """The bytes and names the tmpfs holds."""
        st = os.fstatvfs(self.fd())
        # every name but the root takes an inode, a hard link's too
        return (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_files - st.f_ffree - 1

    def over(self) -> bool:
        used, names = self.used()
        return used > self.max_bytes or names > self.max_names

    def start(self, kill: Callable[[], None], pid1: int | None = None) -> None:
        """Watch until ``stop``; ``kill`` ends the run (``pid1``: unused, as ``DiskWatch.start``)."""
        self._thread = threading.Thread(target=self._watch, args=(kill,), daemon=True)
        self._thread.start()

    def _watch(self, kill: Callable[[], None]) -> None:
        while True:
            try:
                over = self.over()
            except OSError:  # what cannot be measured is over the cap
                over = True
            if over:
                self.fired = True
                try:
                    kill()
                except ProcessLookupError:  # the sandbox already gone (one that never started too)
                    pass
                return
            if self._stop.wait(POLL_S):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
