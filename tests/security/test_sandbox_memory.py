"""Memory a sandbox could pin outside its caps (round 7 #13, #24, #32, #34; issue 23).

UDP queues count in the machine-wide ``udp_mem`` and, with no memory cgroup (a normal
user's sandbox), in nothing else: the seccomp filter refuses IPv4/IPv6 datagram sockets.
A normal user an admin delegated a v1 memory cgroup to gets a sandbox cgroup in it, as
root does: memfds and TCP buffers are capped there. Scaled down (no test pins more than
about 100 MB); the accounting is read as the attacker read it, from inside the run.
Real bwrap; the normal-user runs are started as ``nobody`` (runuser) by the test itself.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import cgroups, sandbox
from tests.security.conftest import PROJECT, give_to_nobody, remove_cgroup, run_as

# The round 7 attack (#13, #34), scaled to 10 sockets: loopback datagrams never read, the
# receiver's buffer raised first. Prints what it queued and what the kernel refused.
UDP_HOG = r"""
import errno, json, socket
out = {"refused": [], "sent": 0}
socks = []
for fam, host in [(socket.AF_INET, "127.0.0.1")] * 9 + [(socket.AF_INET6, "::1")]:
    try:
        r = socket.socket(fam, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
    except OSError as e:
        out["refused"].append(errno.errorcode[e.errno])
        continue
    r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 512 * 1024)
    r.bind((host, 0))
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setblocking(False)
    s.connect(r.getsockname()[:2])
    for _ in range(20):
        try:
            out["sent"] += s.send(b"x" * 60000)
        except OSError:
            break
    socks.append((r, s))
# Other IP protocols than TCP on a stream (SCTP, MPTCP): refused too.
for proto in (132, 262):
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto).close()
        out["refused"].append("created")
    except OSError as e:
        out["refused"].append(errno.errorcode[e.errno])
# What still works: TCP on loopback, a local datagram socket, localhost's address.
srv = socket.create_server(("127.0.0.1", 0))
c = socket.create_connection(srv.getsockname())  # IPPROTO_TCP, from getaddrinfo
c.sendall(b"ok")
out["tcp"] = srv.accept()[0].recv(2).decode()
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
a.send(b"ok")
out["unix"] = b.recv(2).decode()
out["localhost"] = sorted({ai[4][0] for ai in socket.getaddrinfo("localhost", 80)})
print("RESULT " + json.dumps(out))
"""

# #24 and #32 in one run: 20 loopback TCP connections filled to at most 64 MB in all, then
# memfds written to 120 MB (never mapped: RLIMIT_AS does not see them).
TCP_MEMFD_HOG = r"""
import os, socket
srv = socket.create_server(("127.0.0.1", 0), backlog=64)
conns, tcp = [], 0
for _ in range(20):
    c = socket.create_connection(srv.getsockname())  # IPPROTO_TCP, from getaddrinfo
    s, _a = srv.accept()
    c.setblocking(False)
    while tcp < 64 << 20:
        try:
            tcp += c.send(b"x" * 65536)
        except OSError:
            break
    conns.append((c, s))
print("TCP", tcp, flush=True)
fds, held = [], 0
for k in range(3):
    fd = os.memfd_create("m%d" % k)
    for _ in range(40):
        held += os.write(fd, b"x" * (1 << 20))
        print("MEMFD", held, flush=True)
    fds.append(fd)
print("ALL HELD", flush=True)
"""

_RUNNER = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from agent import cgroups
from agent.sandbox import run_command_full
parents = cgroups._parents()
r = run_command_full([sys.executable, sys.argv[3]], sys.argv[2], timeout_s=60, sandbox="bwrap")
out = {"uid": os.getuid(), "parents": {k: str(v) for k, v in parents.items()}, "code": r.exit_code, "output": r.output}
print("RUNNER " + json.dumps(out))
"""


def _run_as_nobody(user_dir: Path, script: str, cgroup_dir: Path | None = None) -> dict:
    """``script`` run once in a real bwrap sandbox by repo-agent started as ``nobody`` (in
    ``cgroup_dir`` when given: the memory cgroup it is started in)."""
    ws = user_dir / "ws"
    ws.mkdir()
    (ws / "hog.py").write_text(script)
    (user_dir / "runner.py").write_text(_RUNNER)
    give_to_nobody(user_dir)
    argv = [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(ws), "hog.py"]
    cp = run_as("nobody", argv, cgroup=cgroup_dir, timeout=120)
    assert "RUNNER " in cp.stdout, cp.stdout[-2000:] + cp.stderr[-2000:]
    out = json.loads(cp.stdout.split("RUNNER ", 1)[1])
    assert out["uid"] == 65534
    return out


def _result(output: str) -> dict:
    assert "RESULT " in output, output[-2000:]
    return json.loads(output.split("RESULT ", 1)[1].splitlines()[0])


def _check_udp_refused(r: dict) -> None:
    assert r["sent"] == 0, f"{r['sent']} bytes of UDP sent (queued in the machine-wide udp_mem, no cgroup's)"
    assert r["refused"] == ["EPERM"] * 12, r
    assert (r["tcp"], r["unix"]) == ("ok", "ok") and "127.0.0.1" in r["localhost"], r


def test_udp_sockets_are_refused_as_root(tmp_path, monkeypatch):
    """#13: a root-mode sandbox's UDP queues were capped only by its kmem.tcp limit (cgroup
    v1 charges them there: 32 MB); on cgroup v2 or without a cgroup by nothing of its own.
    Refused in every mode now, so a test behaves alike whoever runs repo-agent."""
    monkeypatch.delenv("REPO_AGENT_SANDBOX", raising=False)
    (tmp_path / "hog.py").write_text(UDP_HOG)
    r = sandbox.run_command_full([sys.executable, "hog.py"], tmp_path, timeout_s=60, sandbox="bwrap")
    assert r.exit_code == 0, r.output[-2000:]
    _check_udp_refused(_result(r.output))


@pytest.mark.skipif(os.geteuid() != 0, reason="starts repo-agent as nobody itself (runuser)")
def test_udp_sockets_are_refused_for_a_normal_user(user_dir):
    """#34: in normal-user mode 60 such sockets pinned 476 MB of the machine's udp_mem,
    ~150 reach its 4.4 GB ceiling, past which UDP drops on the whole machine."""
    out = _run_as_nobody(user_dir, UDP_HOG)
    assert out["code"] == 0, out["output"][-2000:]
    _check_udp_refused(_result(out["output"]))


@pytest.fixture
def delegated() -> Iterator[Path]:
    """A v1 memory cgroup below this process's own, given to ``nobody`` as an admin would
    (``chown -R``), limited to 160 MB: a sandbox made in it gets that limit less 64 MB."""
    own = cgroups._own("memory")
    if own is None:
        pytest.fail("needs a cgroup v1 memory hierarchy (CI's machine has one)", pytrace=False)
    d = own / f"repo-agent-delegated-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    (d / "memory.limit_in_bytes").write_text(str(160 * 1024**2))
    for p in [d, *d.iterdir()]:
        os.chown(p, 65534, 65534)
    yield d
    remove_cgroup(d)  # waits for the keeper's give-back (EBUSY once in a full run)


@pytest.mark.skipif(os.geteuid() != 0, reason="makes a cgroup and starts repo-agent as nobody (runuser)")
def test_a_normal_users_sandbox_is_capped_in_a_delegated_memory_cgroup(user_dir, delegated):
    """#24 and #32: run by a normal user, a sandbox had no memory cgroup: loopback TCP
    buffers pinned the machine-wide tcp_mem (~3.9 MB a connection) and 600 MB of memfds
    passed RLIMIT_AS. Started in a memory cgroup the user owns, its sandbox gets one of its
    own, as root's does: TCP within kmem.tcp's 32 MB, and past its memory limit the run is
    OOM-killed there, the rollout's own doing (judged, with the note), as root mode does."""
    out = _run_as_nobody(user_dir, TCP_MEMFD_HOG, cgroup_dir=delegated)
    assert out["parents"] == {"memory": str(delegated)}
    lines = out["output"].splitlines()
    tcp = int(next(line.split()[1] for line in lines if line.startswith("TCP ")))
    held = max([int(line.split()[1]) for line in lines if line.startswith("MEMFD ")], default=0)
    # Accepted bytes are what the connections hold: within kmem.tcp, not the 64 MB tried.
    assert tcp <= cgroups.TCP_BYTES + 2 * 1024**2, f"{tcp >> 20} MB of TCP buffers queued"
    assert "ALL HELD" not in out["output"] and held < 100 * 1024**2, f"{held >> 20} MB held in memfds"
    assert out["code"] == 137 and "the sandbox went over its memory limit of" in out["output"], out
    assert not [p for p in delegated.iterdir() if p.is_dir()], "the sandbox's cgroup outlived its run"


@pytest.mark.skipif(os.geteuid() != 0, reason="makes cgroups")
def test_repo_agent_cgroup_names_where_sandbox_cgroups_are_made(delegated, monkeypatch, tmp_path):
    """``REPO_AGENT_CGROUP``: the parent directory of the sandboxes' cgroups (a user's
    delegated cgroup outside the one repo-agent runs in); its limits count, a stale group of
    a dead repo-agent is removed, and a value that names no usable cgroup is one clear
    error before any run."""
    monkeypatch.setenv(cgroups.CGROUP_ENV, str(delegated))
    stale = delegated / "repo-agent-p999999999-0"  # no such pid
    stale.mkdir()
    old = time.time() - cgroups.STALE_S - 60
    os.utime(stale, (old, old))
    # Another namespace's repo-agent, its pid unseen here, between its mkdir and its sandbox
    # joining: empty, but fresh; removing it left that sandbox with no cap (review).
    fresh = delegated / "repo-agent-p999999998-0"
    fresh.mkdir()
    group = cgroups.SandboxCgroup.create(cgroups.own_name())
    assert group is not None
    try:
        assert [d.parent for d in group.dirs] == [delegated]
        limit = int((group.dirs[0] / "memory.limit_in_bytes").read_text())
        assert limit == group.memory_bytes <= 160 * 1024**2 - 64 * 1024**2
        assert int((group.dirs[0] / "memory.kmem.tcp.limit_in_bytes").read_text()) == cgroups.TCP_BYTES
        assert not stale.exists() and fresh.exists()
    finally:
        group.close()
        fresh.rmdir()
    monkeypatch.setenv(cgroups.CGROUP_ENV, str(tmp_path))
    with pytest.raises(sandbox.SandboxError, match="REPO_AGENT_CGROUP=.*no cgroup v1 directory"):
        sandbox.require_sandbox()


@pytest.mark.skipif(os.geteuid() != 0, reason="leases a uid")
def test_a_sandbox_cgroup_refused_at_the_start_of_a_run_releases_its_uid(monkeypatch, tmp_path):
    """A REPO_AGENT_CGROUP gone between the up-front check and a run (a Ray worker, a batch's
    middle): the run is one SandboxError, and its leased uid goes back to the pool (the
    cgroup was made before the run's cleanup could see the lease: the uid leaked)."""
    released: list[bool] = []
    real = sandbox.lease_for

    def tracked(kind):
        lease = real(kind)
        if lease is not None:
            release = lease.release
            monkeypatch.setattr(lease, "release", lambda **kw: (released.append(True), release(**kw))[1])
        return lease

    monkeypatch.setattr(sandbox, "lease_for", tracked)
    monkeypatch.setenv(cgroups.CGROUP_ENV, str(tmp_path))  # no cgroup there
    with pytest.raises(sandbox.SandboxError, match="REPO_AGENT_CGROUP"):
        sandbox.run_command_full([sys.executable, "-c", "pass"], tmp_path, timeout_s=30, sandbox="bwrap")
    assert released == [True]


# Round 8 #21: bwrap's own / and /dev are tmpfs of no size, the normal user's sandbox's own:
# it wrote there (RAM) past the /tmp and /dev/shm caps. Both read-only now, in every mode.
WRITES = r"""
import json, os
out = {}
for p in ["/x", "/dev/x", "/etc/x", "/tmp/x", "/dev/shm/x", "/dev/null", "x"]:
    try:
        with open(p, "w") as f:
            f.write("y")
        out[p] = "written"
    except OSError as e:
        out[p] = e.errno
print("RESULT " + json.dumps(out))
"""
_WRITABLE = {"/tmp/x": "written", "/dev/shm/x": "written", "/dev/null": "written", "x": "written"}


def _check_writes(r: dict) -> None:
    assert {p: r[p] for p in _WRITABLE} == _WRITABLE, r
    assert all(r[p] in (errno.EROFS, errno.EACCES) for p in ("/x", "/dev/x", "/etc/x")), r


def test_the_sandboxs_own_root_and_dev_are_read_only_as_root(tmp_path, monkeypatch):
    monkeypatch.delenv("REPO_AGENT_SANDBOX", raising=False)
    (tmp_path / "hog.py").write_text(WRITES)
    r = sandbox.run_command_full([sys.executable, "hog.py"], tmp_path, timeout_s=60, sandbox="bwrap")
    _check_writes(_result(r.output))


@pytest.mark.skipif(os.geteuid() != 0, reason="starts repo-agent as nobody itself (runuser)")
def test_the_sandboxs_own_root_and_dev_are_read_only_for_a_normal_user(user_dir):
    out = _run_as_nobody(user_dir, WRITES)
    _check_writes(_result(out["output"]))
