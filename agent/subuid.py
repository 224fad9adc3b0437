"""A kernel uid of its own for each sandbox a normal user runs (issue 23; docs/sandbox-and-verdicts.md).

Run by a normal user, ``bwrap --unshare-user`` keeps the user's own kernel uid, and the
kernel counts per uid across user namespaces: pipe pages, epoll watches, descriptors in
flight, processes. One rollout could take them from its neighbours and the user's own
programs. Where the user has a subordinate uid and gid range (/etc/subuid, /etc/subgid;
the first line of each) and the setuid helpers ``newuidmap``/``newgidmap`` (Debian's
``uidmap``, what rootless podman uses), each sandbox instead runs as a uid of that range,
leased machine-wide (agent/uid_lease.py), and the gid at the same place of the gid range:
a keeper process (agent/subuid_keeper.py) makes a user namespace mapping just the user
and that uid, each to itself, which bwrap joins (``--userns``). The keeper holds the
namespace's capabilities: it hands the workspace to the uid before the run, measures it
during the run (the disk watch), and hands it back after it, once no process of the uid
is left, every file however the tests locked it.

``REPO_AGENT_SUBUIDS=0`` keeps the user's own uid (the tests of that mode set it).
"""

from __future__ import annotations

import functools
import json
import os
import pwd
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from agent.bwrap import UserNs, bwrap_argv
from agent.subuid_keeper import HELD
from agent.uid_lease import LeaseError, UidLease, UidRange, kill_uid, lease_uid

SUBUIDS_ENV = "REPO_AGENT_SUBUIDS"
LEASE_DIR_ENV = "REPO_AGENT_SUBUID_LEASE_DIR"
_ROOT = Path(__file__).resolve().parent.parent  # what the keeper imports agent.subuid_keeper from
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from agent.subuid_keeper import serve; serve()"
_ANSWER_S = 120.0  # a keeper that says nothing for this long is stuck (a walk of 100,000 names takes < 1 s)


class SubuidError(RuntimeError):
    """The sandbox's user namespace could not be made or used (an infrastructure failure)."""


@dataclass(frozen=True)
class SubidRange:
    """The user's subordinate uids and gids: ``count`` of each, from ``uid_base``/``gid_base``."""

    uid_base: int
    gid_base: int
    count: int


def _first_range(path: str, user: str, uid: int) -> tuple[int, int] | None:
    """(start, count) of the first ``user:start:count`` (or ``uid:start:count``) line of ``path``."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in (user, str(uid)) and parts[1].isdigit() and parts[2].isdigit():
            return (int(parts[1]), int(parts[2])) if int(parts[2]) > 0 else None
    return None


def subid_range() -> SubidRange | None:
    """This user's subordinate range, when one exists for both uids and gids."""
    uid = os.geteuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        return None
    uids, gids = _first_range("/etc/subuid", user, uid), _first_range("/etc/subgid", user, uid)
    if uids is None or gids is None:
        return None
    return SubidRange(uids[0], gids[0], min(uids[1], gids[1]))


def _leased_part(r: SubidRange) -> tuple[int, int]:
    """(first, count) of ``r`` the sandboxes lease: its upper half, less the last four. Rootless
    podman (docker, buildah) runs the user's containers in the same range, a container's uid
    c as the c-th uid of it: their users are the low ones (system users, 1000 and on) and
    nobody/nogroup (65534, 65535) at the very end; a lease that met one killed the user's
    container process and ran the tests as its uid (round 9, sbx9-9). A uid any process runs
    as is passed over besides (agent/uid_lease.py)."""
    if r.count < 16:
        return r.uid_base, r.count
    low = r.count // 2
    return r.uid_base + low, r.count - low - 4


def _fallbacks() -> tuple[Path, ...]:
    """This user's own directories a squatted lease directory gives way to (agent/uid_lease.py)."""
    uid = os.geteuid()
    out = [Path(f"/run/user/{uid}/repo-agent-subuids")]
    try:
        home = pwd.getpwuid(uid).pw_dir
    except KeyError:
        return tuple(out)
    return (*out, Path(home) / ".cache" / "repo-agent" / "subuid-leases")


def lease_place() -> tuple[Path, tuple[Path, ...]]:
    """This user's lease directory, one per user machine-wide, and the fallbacks it gives way to."""
    where = os.environ.get(LEASE_DIR_ENV)
    if where:
        return Path(where), _fallbacks()
    top = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
    return top / f"repo-agent-subuids-{os.geteuid()}", _fallbacks()


def lease_range(r: SubidRange) -> UidRange:
    """Where this user's leases of ``r`` are held: one directory per user, machine-wide."""
    first, count = _leased_part(r)
    where, fallbacks = lease_place()
    return UidRange(first, count, where, fallbacks)


def unavailable() -> str | None:
    """Why a normal user's sandboxes keep the user's own uid here (None: each gets its own).
    Probed once per process (this interpreter started in a sandbox as a leased uid), unless
    switched off."""
    if os.environ.get(SUBUIDS_ENV, "").strip().lower() in ("0", "false", "no"):
        return f"{SUBUIDS_ENV}=0"
    return _probe()


@functools.lru_cache(maxsize=1)
def _probe() -> str | None:
    if os.geteuid() == 0:
        return "run as root (root mode leases its own uids)"
    if not (shutil.which("newuidmap") and shutil.which("newgidmap")):
        return "newuidmap/newgidmap (the uidmap package) are not installed"
    r = subid_range()
    if r is None:
        return "this user has no subordinate uid and gid range in /etc/subuid and /etc/subgid"
    try:
        u = SandboxUid.open(r)
    except SubuidError as exc:
        return str(exc)
    try:
        why = _start_as(u)
        if why is None:
            u.give_back()  # nothing of the probe left: the uid waits for the first sandbox
        return why
    except SubuidError as exc:
        return str(exc)
    finally:
        u.close()


def _start_as(u: SandboxUid) -> str | None:
    """Why a bwrap sandbox as ``u`` cannot start this interpreter (None: it can). A setuid
    bwrap refuses ``--userns``; a venv only this user can read (umask 077) is out of the
    leased uid's reach."""
    if shutil.which("bwrap") is None:
        return None  # no sandbox at all: agent/sandbox.py says so
    with tempfile.TemporaryDirectory(prefix="repo-agent-probe-") as d:
        argv = [*bwrap_argv(Path(d), userns=u.userns), sys.executable, "-I", "-S", "-c", "pass"]
        try:
            cp = subprocess.run(argv, capture_output=True, text=True, timeout=30, pass_fds=(u.ns.fd,))
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bwrap cannot run a sandbox as a uid of its own: {exc}"
    if cp.returncode != 0:
        why = (cp.stderr or cp.stdout).strip().splitlines()
        return f"a sandbox as uid {u.uid} cannot start {sys.executable}: {why[-1] if why else cp.returncode}"
    return None


class UserNamespace:
    """A user namespace mapping this user and ``uid``/``gid`` (each to itself), and its keeper."""

    def __init__(self, uid: int, gid: int):
        self.uid, self.gid = uid, gid
        self._lock = threading.Lock()
        self._broken = False
        self.fd = -1
        self.done_r, done_w = os.pipe()  # its write end the keeper's alone: EOF when the keeper is gone
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _BOOT, str(_ROOT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd="/",
                start_new_session=True,
                pass_fds=(done_w,),
            )
        except OSError as exc:
            os.close(self.done_r)
            raise SubuidError(f"cannot start the user namespace's keeper: {exc}") from None
        finally:
            os.close(done_w)
        try:
            self._expect("unshared")
            pid = str(self.proc.pid)
            me, group = os.geteuid(), os.getegid()
            self._map(["newuidmap", pid, str(me), str(me), "1", str(uid), str(uid), "1"])
            self._map(["newgidmap", pid, str(group), str(group), "1", str(gid), str(gid), "1"])
            self._send("mapped")
            self._expect("ready")
            self.fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        except BaseException:
            self.close()
            raise

    def _map(self, argv: list[str]) -> None:
        try:
            cp = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            raise SubuidError(f"{argv[0]} failed: {exc}") from None
        if cp.returncode != 0:
            why = (cp.stderr or cp.stdout).strip().splitlines()
            raise SubuidError(f"{argv[0]} failed: {why[-1] if why else f'exit status {cp.returncode}'}")

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise SubuidError(f"the user namespace's keeper is gone: {exc}") from None

    def _expect(self, key: str) -> dict[str, object]:
        assert self.proc.stdout is not None
        ready = select.select([self.proc.stdout], [], [], _ANSWER_S)[0]
        line = self.proc.stdout.readline() if ready else b""
        try:
            reply = json.loads(line)
        except ValueError:
            reply = {"error": "no answer" if not line else f"answered {line[:200]!r}"}
        if not isinstance(reply, dict) or key not in reply:
            why = reply.get("error") if isinstance(reply, dict) else reply
            raise SubuidError(f"the sandbox's user namespace: {why}")
        return reply

    def ask(self, request: dict[str, object], key: str) -> dict[str, object]:
        """One request to the keeper and its answer (which must hold ``key``)."""
        with self._lock:
            if self._broken:
                raise SubuidError(
                    "the sandbox's user namespace: a request was cut short (its answer would be the next one's)"
                )
            try:
                self._send(json.dumps(request))
                return self._expect(key)
            except BaseException:
                self._broken = True  # Ctrl-C or no answer: the keeper and we no longer agree on whose answer is next
                raise

    def chown(
        self,
        path: Path | str,
        uid: int,
        gid: int,
        *,
        top_uid: int | None = None,
        regroup: tuple[int, int] | None = None,
        hold: str | None = None,
    ) -> int:
        """``path`` and everything below given to ``uid``:``gid``; how many could not be
        (``top_uid``: the directory ``path`` itself is that uid's, and writable by the group;
        ``regroup``: the owner whose files of an unmapped group are given its own group first:
        the sandbox's uid and gid giving back, this user's handing over: agent/subuid_keeper.py
        ``chown_tree``)."""
        request: dict[str, object] = {"op": "chown", "path": str(path), "uid": uid, "gid": gid}
        if top_uid is not None:
            request["top_uid"] = top_uid
        if regroup is not None:
            request["regroup"] = list(regroup)
        if hold is not None:  # the keeper keeps ``path`` open, reached as "held:<hold>" from then on
            request["hold"] = hold
        return int(str(self.ask(request, "failed")["failed"]))

    def measure(self, path: Path) -> tuple[int, int]:
        """(bytes, names) below ``path``, every directory read, however locked."""
        reply = self.ask({"op": "measure", "path": str(path)}, "bytes")
        return int(str(reply["bytes"])), int(str(reply["names"]))

    def unnamed(self, pid1: int, dev: int, file_max: int) -> int:
        """agent/unnamed_files.py ``unnamed_bytes``, read from inside the namespace."""
        reply = self.ask({"op": "unnamed", "pid1": pid1, "dev": dev, "file_max": file_max}, "bytes")
        return int(str(reply["bytes"]))

    def spare(self, pid: int, adj: int) -> str:
        """Set the ``oom_score_adj`` of process ``pid`` of the namespace's uids to ``adj``;
        why it could not ("": it did)."""
        return str(self.ask({"op": "spare", "pid": pid, "adj": adj}, "spared")["spared"])

    def cpu_s(self) -> float:
        """The keeper's CPU time so far (its walks are the disk watch's cost: agent/disk_watch.py)."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone: what it spent is no longer anyone's
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        return self.fd >= 0 and not self._broken and self.proc.poll() is None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.done_r >= 0:
            os.close(self.done_r)
            self.done_r = -1
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()  # the keeper ends with its stdin
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@dataclass
class SandboxUid:
    """One sandbox's leased subordinate uid, its namespace, and what was handed to it."""

    lease: UidLease
    gid: int
    ns: UserNamespace
    handed: list[tuple[Path | str, int]] = field(default_factory=list)  # and the mode it had
    cleared: bool = False  # no process of the uid was left at the last look
    owner_pid: int = field(default_factory=os.getpid)  # a forked child never shares the keeper

    @classmethod
    def open(cls, r: SubidRange) -> SandboxUid:
        """A uid of ``r`` no other sandbox on this machine holds, in a namespace of its own."""
        try:
            lease = lease_uid(lease_range(r))
        except LeaseError as exc:
            raise SubuidError(str(exc)) from None
        try:
            gid = r.gid_base + (lease.uid - r.uid_base)
            return cls(lease, gid, UserNamespace(lease.uid, gid))
        except BaseException:
            lease.release()
            raise

    @property
    def uid(self) -> int:
        return self.lease.uid

    @property
    def userns(self) -> UserNs:
        return UserNs(self.ns.fd, self.uid, self.gid, self.ns.done_r)

    def hand_over(self, path: Path | str, hold: str | None = None) -> None:
        """``path`` (a tree) the sandbox's until ``give_back``. A directory itself stays this
        user's, the sandbox writing in it as its group: the host can still put a file in the
        workspace while the tests run, and the tests cannot lock the host out of it. ``hold``:
        the keeper keeps it open under that name, and gives it back by it (a staged workspace
        tmpfs, reached through the sandbox's pid 1 only while it lives: agent/sandbox.py)."""
        try:
            mode = os.lstat(path).st_mode
        except OSError as exc:
            raise SubuidError(f"cannot hand {path} to the sandbox: {exc.strerror or exc}") from None
        self.handed.append((path if hold is None else HELD + hold, stat.S_IMODE(mode)))
        failed = self.ns.chown(
            path, self.uid, self.gid, top_uid=os.geteuid(), regroup=(os.geteuid(), os.getegid()), hold=hold
        )
        if failed:  # the tests would meet EACCES there: the machine's doing, never the rollout's verdict
            raise SubuidError(
                f"{failed} files of {path} could not be handed to the sandbox's uid {self.uid} (files of another"
                f" user, or of a group other than your primary one: chown/chgrp them to yours, or {SUBUIDS_ENV}=0)"
            )

    def measure(self, path: Path) -> tuple[int, int]:
        return self.ns.measure(path)

    def unnamed(self, pid1: int, dev: int, file_max: int) -> int:
        return self.ns.unnamed(pid1, dev, file_max)

    def spare(self, pid: int, adj: int) -> str:
        return self.ns.spare(pid, adj)

    def cpu_s(self) -> float:
        return self.ns.cpu_s()

    def give_back(self, ended: bool = False) -> None:
        """Every process of the uid ended, then what was handed over (and all the tests
        made in it) this user's again. ``ended``: the sandbox's pid namespace was seen ended
        (agent/sandbox.py ``CommandRun.sandbox_gone``), so none is left to look for."""
        if not ended and not kill_uid(self.uid):
            raise SubuidError(f"processes of sandbox uid {self.uid} outlived the kill")
        self.cleared = True
        me, group = os.geteuid(), os.getegid()
        while self.handed:
            path, mode = self.handed[-1]
            failed = self.ns.chown(path, me, group, regroup=(self.uid, self.gid))
            if failed:
                raise SubuidError(f"{failed} files of {path} could not be given back from the sandbox's uid")
            try:
                if not str(path).startswith(HELD):  # (a held tmpfs: its mode is the host's to set)
                    os.chmod(path, mode, follow_symlinks=False)  # the group's write, given with it, taken back
            except OSError:  # (a link: no mode to restore; or gone)
                pass
            self.handed.pop()

    def close(self) -> None:
        """``give_back`` if it has not been; then, all given back, the uid and its keeper wait
        for this process's next sandbox (a keeper and two setuid helpers cost most of the
        mode's 60-90 ms a run), else the namespace and the lease go. Never raises: a caller's
        own error comes first."""
        keep = False
        try:
            if self.handed:
                self.give_back()
            keep = self.cleared and not self.handed and self.owner_pid == os.getpid() and self.ns.alive()
        except SubuidError:
            pass
        finally:
            if not (keep and _keep_idle(self)):
                self.ns.close()
                self.lease.release(cleared=self.cleared)


_IDLE: list[SandboxUid] = []  # given back, held for this process's next sandbox
_IDLE_LOCK = threading.Lock()
_IDLE_MAX = 16


def _keep_idle(u: SandboxUid) -> bool:
    with _IDLE_LOCK:
        if len(_IDLE) >= _IDLE_MAX:
            return False
        _IDLE.append(u)
        return True


def _take_idle() -> SandboxUid | None:
    """An idle uid of this process whose keeper still answers, or None."""
    with _IDLE_LOCK:
        while _IDLE:
            u = _IDLE.pop()
            if u.owner_pid == os.getpid() and u.ns.alive():
                u.cleared = False
                return u
            if u.owner_pid == os.getpid():  # its keeper is gone: so is the lease
                u.ns.close()
                u.lease.release()
    return None


def sandbox_uid() -> SandboxUid | None:
    """A uid of its own for the next sandbox run by this normal user, or None where there
    is none to have (``unavailable`` says why)."""
    if unavailable() is not None:
        return None
    r = subid_range()
    if r is None:
        return None
    return _take_idle() or SandboxUid.open(r)
