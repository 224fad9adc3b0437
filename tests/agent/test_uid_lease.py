"""Leasing sandbox uids (agent/uid_lease.py): a squatted lease directory, uids someone else
runs as (round 9: sbx9-4, sbx9-16, sbx9-9). Real processes, real lock files; root."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import pytest

from agent import uid_lease
from agent.subuid import SubidRange, lease_range
from agent.uid_lease import LeaseError, UidRange, lease_uid, processes_of

BASE = uid_lease.UID_BASE + 0x02000000  # a range of these tests' own: no sandbox's uid
# Each test its own four uids of it: the two test workers run them at once, and one test's
# lease kills the processes another runs as its uid (a neighbour it must spare).
PASSED_OVER = {"new": BASE + 16, "clean": BASE + 32}
LEFT_OVER = BASE + 48


@pytest.fixture
def root_only():
    if os.geteuid() != 0:
        pytest.fail("runs as root (a squatter's directory, processes of other uids)")


def test_a_squatted_lease_directory_gives_way_to_the_fallback(tmp_path, root_only):
    squatted = tmp_path / "lock" / "repo-agent-uids"
    squatted.mkdir(parents=True, mode=0o700)
    os.chown(squatted, 65534, 65534)  # made first by a local user (nobody)
    fallback = tmp_path / "run" / "repo-agent-uids"
    lease = lease_uid(UidRange(BASE, 4, squatted, (fallback,)))
    try:
        assert (fallback / str(lease.uid)).is_file() and not any(squatted.iterdir())
    finally:
        lease.release()
    with pytest.raises(LeaseError, match="not a directory owned by this user alone"):
        lease_uid(UidRange(BASE, 4, squatted))


def _running_as(uid: int) -> subprocess.Popen:
    proc = subprocess.Popen(["sleep", "60"], user=uid, group=uid, cwd="/")
    for _ in range(2000):  # until the child has switched uids
        if proc.pid in processes_of(uid):
            return proc
        subprocess.run(["true"], check=False)
    proc.kill()
    pytest.fail(f"no process of uid {uid} appeared")


@pytest.mark.parametrize("state", ["new", "clean"])
def test_a_uid_someone_else_runs_as_is_passed_over_never_killed(tmp_path, monkeypatch, root_only, state):
    base = PASSED_OVER[state]
    monkeypatch.setattr(secrets, "randbelow", lambda n: 0)  # the search starts at base
    leases = tmp_path / "leases"
    leases.mkdir(mode=0o700)
    if state == "clean":  # this directory's last holder gave the uid back
        (leases / str(base)).write_bytes(b"clean\n")
    neighbour = _running_as(base)  # another repo-agent's sandbox (its own lease directory)
    try:
        lease = lease_uid(UidRange(base, 4, leases))
        lease.release()
        assert lease.uid == base + 1
        assert neighbour.poll() is None, "the neighbour's process was killed"
    finally:
        neighbour.kill()
        neighbour.wait()


def test_a_dead_holders_leftovers_are_cleared_before_the_uid_is_leased(tmp_path, monkeypatch, root_only):
    monkeypatch.setattr(secrets, "randbelow", lambda n: 0)
    leases = tmp_path / "leases"
    leases.mkdir(mode=0o700)
    (leases / str(LEFT_OVER)).write_bytes(b"held\n")  # its holder died with the uid's processes running
    leftover = _running_as(LEFT_OVER)
    try:
        lease = lease_uid(UidRange(LEFT_OVER, 4, leases))
        lease.release()
        assert lease.uid == LEFT_OVER
        assert leftover.wait(timeout=10) == -9
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()


def test_sandboxes_lease_the_subordinate_ranges_top_half_where_containers_users_are_not(tmp_path, monkeypatch):
    monkeypatch.setenv("REPO_AGENT_SUBUID_LEASE_DIR", str(tmp_path))
    r = lease_range(SubidRange(uid_base=100_000, gid_base=200_000, count=65_536))
    # a rootless container's uid c is the range's c-th: its users (0..32767) and nobody/nogroup
    # (65534, 65535) are never leased
    assert (r.base, r.base + r.count) == (100_000 + 32_768, 100_000 + 65_532)
    small = lease_range(SubidRange(uid_base=500, gid_base=500, count=8))
    assert (small.base, small.count) == (500, 8)
    assert Path(f"/run/user/{os.geteuid()}/repo-agent-subuids") in r.fallbacks
