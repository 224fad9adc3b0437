"""The disk cap of a sandbox run by a normal user, held during the run (issue 23).

Root mode runs the tests in a size-capped tmpfs copy of the workspace; a normal user can
mount none, so the tests write straight into the host's workspace (round 5: 360 MB and
150,000 files on the host disk in one run). RLIMIT_FSIZE caps one file; this watcher caps
the tree: it polls the filesystem's used blocks and inodes (``statvfs``, one system call)
and, once they grew by more than the workspace's room since it last looked, measures the
workspace itself (a walk, which a neighbour's writes never fool) and what the sandbox's
processes hold there under no name (agent/unnamed_files.py); over the cap, it kills the
sandbox. What holds: the workspace ends within the cap plus what the tests can write
in one poll and one walk (the caller then trims it back to the cap).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from agent.unnamed_files import unnamed_bytes

POLL_S = 0.05


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
    ):
        self.path, self.measure = path, measure
        self._start = start  # the caller's own first measure: the tree is not walked twice
        self.max_bytes, self.max_names = max_bytes, max_names
        self.file_max = file_max  # the most one file can hold (RLIMIT_FSIZE): a mapping's extent is cut to it
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
                size += unnamed_bytes(self._pid1, self._dev, self.file_max)
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
            while not self._stop.wait(POLL_S):
                used = self._used()
                if used[0] - base[0] <= self.max_bytes - size and used[1] - base[1] <= self.max_names - names:
                    continue
                base, (size, names) = used, self._measure()  # grown: by us, or by a neighbour?
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
