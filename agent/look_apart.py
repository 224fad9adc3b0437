"""A look at a sandbox's objects done in a short-lived process of its own (round 30 r30s-5..7).

To count what a sandbox's descriptors hold, the part watch (agent/memory_part.py) takes copies of
them (``pidfd_getfd``, a peek of the descriptors in flight): hostile objects in the looking
process. Taken into repo-agent's own process they ran it out of descriptors (r30s-5), made its
close block for good on a lingering TCP socket it then held the last copy of (r30s-6), and took
its memory (r30s-7). The class closed: whatever the sandbox's objects do to the process that
holds them, they do it to a child forked for one look, with its own RLIMIT_NOFILE and RLIMIT_AS,
killed at a deadline; what it held dies with it (a dying process's close never lingers), and
nothing of the sandbox's is ever in repo-agent's process. The child reports its figures as it
goes: one cut at its deadline, or out of descriptors or memory, counts what it saw (a lower bound,
as every figure of the watch is).
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence

# The look's own room: the bytes its child may map past what repo-agent maps when it forks (a
# peek's 4 MB buffer, a process's /proc/PID/maps and an epoll's fdinfo read whole), and the
# descriptors it may hold (what it peeks at once: 253 a message, a few levels of a chain).
SPARE_BYTES = 256 << 20
MOST_FILES = 4096


def _limit_self() -> None:
    """Bound this (the child's) process: RLIMIT_AS to what it maps now and ``SPARE_BYTES``,
    RLIMIT_NOFILE to ``MOST_FILES`` (within its hard limit)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", "rb") as f:
            mapped = next(int(line.split()[1]) * 1024 for line in f if line.startswith(b"VmSize:"))
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        want = mapped + SPARE_BYTES
        resource.setrlimit(resource.RLIMIT_AS, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))
    with contextlib.suppress(OSError, ValueError):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        want = MOST_FILES if hard == resource.RLIM_INFINITY else min(MOST_FILES, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def look_apart(
    walk: Callable[[Callable[[Sequence[int]], object]], object],
    deadline_s: float,
    stop: threading.Event | None = None,
) -> list[int] | None:
    """Run ``walk`` in a forked child of this process and return the last figures it reported
    (``walk`` is given ``report``, called with the figures so far as often as it likes), or None
    where it reported none. The child is killed ``deadline_s`` after it starts, or once ``stop``
    is set (within a tenth of a second)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return None
    if pid == 0:  # (the child: never returns)
        try:
            os.close(r)
            # Repo-agent's own descriptors are not the look's (a pipe's end kept here would hold
            # back its reader's end of file).
            os.closerange(3, w)
            os.closerange(w + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
            _limit_self()
            walk(lambda figures: os.write(w, b" ".join(b"%d" % n for n in figures) + b"\n"))
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    try:
        end = time.monotonic() + deadline_s
        while (left := end - time.monotonic()) > 0 and not (stop is not None and stop.is_set()):
            if not select.select([r], [], [], min(left, 0.1))[0]:
                continue
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            data += chunk
            last = data.rfind(b"\n")  # the last whole line kept, and what follows it
            data = data[data.rfind(b"\n", 0, last) + 1 :] if last >= 0 else data
    finally:
        os.close(r)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
    whole = data[: data.rfind(b"\n")].rsplit(b"\n", 1)[-1] if b"\n" in data else b""
    return [int(n) for n in whole.split()] if whole else None


def _reap(pid: int) -> None:
    """Wait for the killed child ``pid``, at most a second here; longer (a kill not taken yet, in
    an uninterruptible wait), in a thread of its own: a look never waits on it."""
    with contextlib.suppress(ChildProcessError):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            os.waitpid(pid, 0)
            return
        try:
            if select.select([pidfd], [], [], 1.0)[0]:
                os.waitpid(pid, 0)
                return
        finally:
            os.close(pidfd)
        threading.Thread(target=os.waitpid, args=(pid, 0), daemon=True).start()
