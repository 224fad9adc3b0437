"""agent/memory_part.py: what a descriptor in flight holds (an open file sent over an AF_UNIX socket and closed by
its sender, in no descriptor table) is counted as a held descriptor's is (round 29 r29s-2)."""

from __future__ import annotations

import os

import pytest

from agent.memory_part import _OPEN_FILE, _SOCKET_OBJECTS, sandbox_held, sandbox_held_apart
from tests.agent.test_memory_part import _running

# 40 epolls each watching 500 pipe ends (20,000 watches), sent over a socket (a datagram socket's
# and a stream socket's queue, behind a message without descriptors) and closed; or kept open (the
# control).
_IN_FLIGHT = """
import array, os, select, socket, time
ends = [end for _ in range(250) for end in os.pipe()]
epolls = [select.epoll() for _ in range(40)]
for ep in epolls:
    for end in ends:
        ep.register(end, select.EPOLLIN)
queue, peer = socket.socketpair(socket.AF_UNIX, socket.KIND)
queue.send(b"first")
if SEND:
    for ep in epolls:
        queue.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [ep.fileno()]))])
        ep.close()
print("READY", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("kind", ["SOCK_DGRAM", "SOCK_STREAM"])
def test_a_sandbox_holds_what_its_descriptors_in_flight_hold(kind):
    script = _IN_FLIGHT.replace("KIND", kind)
    with _running(script.replace("SEND", "True")) as pid:
        in_flight = sandbox_held(pid)
    with _running(script.replace("SEND", "False")) as pid:
        held = sandbox_held(pid)
    # 20,000 watches of 128 bytes and 40 epolls' own 256, in flight as held (an open file each)
    assert in_flight.pipes == held.pipes >= 20_000 * 128 + 40 * 256
    assert in_flight.files == held.files


# A chain of sockets in flight, each in the queue of the one before (the first held open): each
# socket's queue holds the next one, 600 deep, well within the 1,024 descriptors a user may have in
# flight. Walked one socket at a time, not a call deeper each (a RecursionError ended the watch).
_CHAIN = """
import array, socket, time
pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(DEPTH + 1)]
for here, there in zip(pairs, pairs[1:]):
    here[1].sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [there[0].fileno()]))])
for pair in pairs[1:]:
    pair[0].close()
for pair in pairs:
    pair[1].close()
print("READY", flush=True)
time.sleep(60)
"""


def test_a_chain_of_sockets_in_flight_is_walked_to_its_end():
    with _running(_CHAIN.replace("DEPTH", "600")) as pid:
        chained = sandbox_held(pid)
    with _running(_CHAIN.replace("DEPTH", "0")) as pid:
        alone = sandbox_held(pid)
    # 600 sockets in flight, each a socket's objects and an open file
    assert chained.files - alone.files == 600 * (_SOCKET_OBJECTS + _OPEN_FILE)


def test_the_watch_counts_descriptors_in_flight_apart_from_its_own_process():
    # The same figures as a walk in this process, through copies taken into a child of its own
    # (round 30 r30s-5..7): this process holds none of them, during the look or after.
    script = _IN_FLIGHT.replace("KIND", "SOCK_DGRAM").replace("SEND", "True")
    before = set(os.listdir("/proc/self/fd"))
    with _running(script) as pid:
        apart = sandbox_held_apart(pid)
        here = sandbox_held(pid)
    assert apart.pipes == here.pipes >= 20_000 * 128 + 40 * 256
    assert apart.files == here.files
    assert set(os.listdir("/proc/self/fd")) == before
