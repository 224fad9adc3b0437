"""agent/look_apart.py: a look at a sandbox's objects is done in a child of its own, which nothing of it outlives
(round 30 r30s-5, r30s-6, r30s-7)."""

from __future__ import annotations

import os
import threading
import time

from agent.look_apart import look_apart


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_a_look_gives_what_its_child_reported_last():
    def walk(report):
        for n in range(1, 4):
            report([n, n * 10])

    assert look_apart(walk, 10.0) == [3, 30]


def test_a_look_that_never_ends_is_cut_at_its_deadline_and_holds_nothing_after():
    # What the look took (300 descriptors) and a wait that never ends (a close lingering for good:
    # r30s-6) stay in its child: the look returns at its deadline with what was counted by then.
    def walk(report):
        held = [os.open("/dev/null", os.O_RDONLY) for _ in range(300)]
        report([len(held)])
        threading.Event().wait()

    before = _open_fds()
    start = time.monotonic()
    assert look_apart(walk, 1.0) == [300]
    assert time.monotonic() - start < 5.0
    assert _open_fds() == before


def test_a_look_has_room_for_descriptors_this_process_lacks():
    # The child's own RLIMIT_NOFILE: this process's soft limit (a normal user's 1,024) is not the look's.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    room = len(_open_fds()) + 16

    def walk(report):
        held = [os.open("/dev/null", os.O_RDONLY) for _ in range(min(hard, 2048) - room - 64)]
        report([len(held)])

    resource.setrlimit(resource.RLIMIT_NOFILE, (room, hard))
    try:
        got = look_apart(walk, 10.0)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert got == [min(hard, 2048) - room - 64]
