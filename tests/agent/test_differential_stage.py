"""The differential's terminal (agent/differential_stage.py ``terminal``): what the command
writes to it is drained at a bounded pace, in bytes and in reads (round 24 r24s-1)."""

from __future__ import annotations

import os
import select
import threading
import time
import tty

from agent import differential_stage
from agent.differential_stage import TERMINAL_BYTES_PER_S, terminal

_FLOOD_S = 1.5
_SLACK_BYTES = 256 * 1024  # what the pty itself holds (n_tty's buffer, the flip buffers) and more


def _flood(slave: int, chunk: bytes) -> tuple[int, float]:
    """Write ``chunk`` to the terminal as fast as it takes it for ``_FLOOD_S``: (bytes taken, seconds)."""
    tty.setraw(slave)  # no output processing: the bytes go through as written
    os.set_blocking(slave, False)
    taken, began = 0, time.monotonic()
    while time.monotonic() - began < _FLOOD_S:
        try:
            taken += os.write(slave, chunk)
        except BlockingIOError:
            select.select([], [slave], [], 0.05)
    return taken, time.monotonic() - began


def test_a_flood_written_to_the_terminal_is_drained_at_the_pace():
    with terminal() as slave:
        assert slave is not None
        taken, elapsed = _flood(slave, b"x" * 65536)
    # Drained as fast as it came, a pty passes 50-100 MB a second here.
    allowed = TERMINAL_BYTES_PER_S * (elapsed + differential_stage._TERMINAL_BURST_S) + _SLACK_BYTES
    assert taken <= allowed, f"{taken} bytes in {elapsed:.2f} s"


def test_one_byte_writes_cost_the_drain_no_more_reads_than_full_ones(monkeypatch):
    reads = [0]
    read = os.read
    drains: list[threading.Thread] = []

    def counted(fd: int, n: int) -> bytes:
        if threading.current_thread() in drains:
            reads[0] += 1
        return read(fd, n)

    monkeypatch.setattr(os, "read", counted)
    started = threading.Thread.start

    def start(self: threading.Thread) -> None:
        drains.append(self)  # the only thread started meanwhile: terminal()'s drain
        started(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    with terminal() as slave:
        monkeypatch.setattr(threading.Thread, "start", started)
        assert slave is not None
        _, elapsed = _flood(slave, b"x")
    allowed = (
        TERMINAL_BYTES_PER_S / differential_stage._TERMINAL_READ * (elapsed + differential_stage._TERMINAL_BURST_S)
    )
    assert reads[0] <= allowed + 8, f"{reads[0]} reads in {elapsed:.2f} s"
