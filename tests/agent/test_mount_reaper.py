"""agent/mount_reaper.py: what repo-agent held when it died is unmounted, and nothing else."""

from __future__ import annotations

import ctypes
import os
import tempfile
from pathlib import Path

import pytest

from agent.mount_reaper import MountReaper


def _mounted(path: Path) -> bool:
    return any(line.split()[4] == str(path) for line in Path("/proc/self/mountinfo").read_text().splitlines())


def test_the_reaper_unmounts_what_was_held_at_its_end_and_nothing_else():
    if os.geteuid() != 0:
        pytest.fail("runs as root (mounting needs it)")
    libc = ctypes.CDLL(None, use_errno=True)
    top = Path(tempfile.mkdtemp(prefix="reaper-"))
    held, dropped, planted = top / "held", top / "dropped", top / "planted"
    overlaid, lower = top / "overlaid", top / "lower"  # a root workspace's overlay (agent/overlay_mount.py)
    for d in (held, dropped, planted, overlaid, lower):
        d.mkdir()
    for d in (held, dropped):
        assert libc.mount(b"tmpfs", os.fsencode(d), b"tmpfs", 0, b"size=1m") == 0
    (held / "upper").mkdir()
    (held / "work").mkdir()
    layers = f"lowerdir={lower},upperdir={held}/upper,workdir={held}/work"
    assert libc.mount(b"overlay", os.fsencode(overlaid), b"overlay", 0, layers.encode()) == 0
    os.chown(planted, 65534, 65534)  # a local user's directory named to it: never removed
    reaper = MountReaper()
    try:
        for d in (held, dropped, planted, overlaid):
            reaper.hold(str(d))
        reaper.drop(str(dropped))  # ours to unmount, as a run's close does
        assert reaper._proc is not None and reaper._proc.stdin is not None
        reaper._proc.stdin.close()  # as when repo-agent dies, however
        reaper._proc.wait(timeout=30)
        assert not _mounted(held) and not held.exists()
        assert not _mounted(overlaid) and not overlaid.exists()
        assert _mounted(dropped) and planted.is_dir()
    finally:
        for d in (overlaid, held, dropped):
            if _mounted(d):
                libc.umount2(os.fsencode(d), 2)
        for d in (held, dropped, planted, overlaid, lower):
            if d.exists():
                d.rmdir()
        top.rmdir()
