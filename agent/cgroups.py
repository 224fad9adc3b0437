"""A CPU, memory and process cgroup per sandbox, where the machine lets us make one (root, cgroup v1).

Without one, 250 spinning children that each call ``setsid`` get an autogroup each, and the
scheduler gives that rollout 250 shares of the CPU against an honest neighbour's one: found
by the reviewer's attack after issue 23, it made a neighbour's 2 s test run take 36-50 s
(its limits: 10 s a test, 60 s a run). In a cpu cgroup of its own every sandbox gets one
equal share (``CPU_SHARES``) whatever it forks.

RLIMIT_AS caps one process, not a sandbox of 256 of them, and a machine out of memory
kills whoever the kernel picks: a rollout beside the hog, whose run then ends for no
fault of its own. With a cgroup of its own, a sandbox that outgrows ``MEMORY_BYTES`` is
OOM-killed inside its cgroup (the rollout's own doing, judged as such), and ``PIDS_MAX``
bounds its processes and threads whatever uid they run as. The command is started by a
``sh`` that first moves itself into the cgroups and then execs it, so nothing it forks
is ever outside them. Without a usable cgroup v1 hierarchy there is none (documented).

Run by a normal user, the sandbox gets the same cgroups wherever that user may make them: in
its own cgroup directory when an admin gave it to the user (``chown -R``), or in the
directories ``REPO_AGENT_CGROUP`` names (``CGROUP_ENV``). Without one, memory a rollout keeps
in memfds, socket buffers and other kernel objects is capped by nothing but the machine
(round 7 #24, #32): RLIMIT_AS counts only a process's mappings.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

CPU_SHARES = 1024  # one equal share per sandbox (v1 cpu.shares' default weight)
MEMORY_BYTES = 4 * 1024**3
_HOST_MARGIN = 64 * 1024**2  # what this process may still grow by under an enclosing limit
_MIN_BYTES = 32 * 1024**2
TCP_BYTES = 32 * 1024**2  # a sandbox's TCP buffers (its loopback connections)
PIDS_MAX = 1024
_ROOT = Path("/sys/fs/cgroup")
_CONTROLLERS = ("cpu", "memory", "pids")
# Where sandboxes' cgroups are made instead of this process's own cgroups: directories of
# the v1 hierarchies (``/sys/fs/cgroup/memory/...``), separated by ``:``, each the parent
# for its controller's. For a user an admin delegated a cgroup to, outside it.
CGROUP_ENV = "REPO_AGENT_CGROUP"
_OWN_PREFIX = "repo-agent-p"  # a normal user's sandbox cgroups: repo-agent-p<pid>-<random>
# How many sandboxes run at once under an enclosing memory limit, machine-wide (``_Slots``).
SLOTS_ENV = "REPO_AGENT_SANDBOXES"


class CgroupError(ValueError):
    """``REPO_AGENT_CGROUP`` names no cgroup directory this process may make cgroups in."""


def _own(controller: str) -> Path | None:
    """This process's cgroup directory for ``controller`` in a v1 hierarchy (None: none)."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            d = _ROOT / controller / path.lstrip("/")
            return d if (d / "cgroup.procs").is_file() else None
    return None


def _number(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):  # v2's "max": no limit
        return None


def _unified_own() -> Path | None:
    """This process's cgroup v2 directory, where /sys/fs/cgroup is a v2 hierarchy."""
    try:
        with open("/proc/self/cgroup") as f:
            unified = [line[3:].strip() for line in f.read().splitlines() if line.startswith("0::")]
    except OSError:
        return None
    if not unified or not (_ROOT / "cgroup.controllers").is_file():
        return None
    return _ROOT / unified[0].lstrip("/")


class MemoryCgroups(NamedTuple):
    """The memory cgroups around a process and their ancestors (``memory_cgroups``)."""

    dirs: list[Path]  # innermost first
    limit: str  # the name of a limit's file in each (v1 ``memory.limit_in_bytes``, v2 ``memory.max``)
    usage: str  # of its usage's (v1 ``memory.usage_in_bytes``, v2 ``memory.current``)


def memory_cgroups(start: Path | None = None) -> MemoryCgroups:
    """The memory cgroups around this process (or v1 memory cgroup ``start``) and their
    ancestors up to the hierarchy's root."""
    d, top, names = start or _own("memory"), _ROOT / "memory", ("memory.limit_in_bytes", "memory.usage_in_bytes")
    if d is None:
        d, top, names = _unified_own(), _ROOT, ("memory.max", "memory.current")
    dirs = []
    while d is not None and (d == top or top in d.parents):
        dirs.append(d)
        d = d.parent if d != top else None
    return MemoryCgroups(dirs, *names)


def memory_limit(start: Path | None = None) -> int | None:
    """The least memory limit of the cgroups around this process (or v1 memory cgroup
    ``start``) and their ancestors (``memory_cgroups``). None: no limit there. A limit, never
    what is free under it: what a neighbour uses at the moment a sandbox starts must not set
    that sandbox's limits (sbx8-7)."""
    around = memory_cgroups(start)
    limits = (_number(d / around.limit) for d in around.dirs)
    return min((limit for limit in limits if limit is not None and limit < 2**60), default=None)


def memory_room(around: MemoryCgroups) -> int | None:
    """The least memory left under the limits of cgroups ``around`` (``memory_cgroups``, found
    once: a watch asks this every few tens of milliseconds): each limit less its cgroup's usage.
    None: no limit there, or none readable."""
    least: int | None = None
    for d in around.dirs:
        limit, usage = _number(d / around.limit), _number(d / around.usage)
        if limit is not None and limit < 2**60 and usage is not None:
            least = limit - usage if least is None else min(least, limit - usage)
    return least


# A rollout's judging runs two sandboxes at once: the final run beside the reference fix's run
# of the same planted tests, the differential beside the reference's calls. Counted one a
# rollout, the two together could take twice the enclosing limit (round 10, r10-1).
SANDBOXES_PER_ROLLOUT = 2


class _Slots:
    """How many sandboxes run at once under the same enclosing limit: each gets an equal
    part of it. The executors running rollouts side by side in this process add theirs
    (``at_once``: `SANDBOXES_PER_ROLLOUT` each); ``SLOTS_ENV`` says it for the whole
    machine, in sandboxes (Ray workers sharing a node's limit, several repo-agents in one
    service: twice the rollouts they run at once)."""

    def __init__(self) -> None:
        self._running = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def at_once(self, n: int) -> Iterator[None]:
        with self._lock:
            self._running += max(1, n)
        try:
            yield
        finally:
            with self._lock:
                self._running -= max(1, n)

    def count(self) -> int:
        value = os.environ.get(SLOTS_ENV, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
        with self._lock:
            return max(1, self._running) * SANDBOXES_PER_ROLLOUT


SANDBOX_SLOTS = _Slots()


def enclosing_memory(start: Path | None = None) -> int | None:
    """A sandbox's part of the host, container or session limit around us (or around
    ``start``, the memory cgroup its own is made in): the limit less ``_HOST_MARGIN`` kept
    for this process, shared equally by the sandboxes that run at once (``SANDBOX_SLOTS``),
    at least ``_MIN_BYTES``; None: no such limit. Fixed by the limit and the number of
    sandboxes, never by a neighbour's usage: a rollout over it did it alone, and an OOM
    kill under it is the machine's shortage (not judged)."""
    limit = memory_limit(start)
    return None if limit is None else max(_MIN_BYTES, (limit - _HOST_MARGIN) // SANDBOX_SLOTS.count())


def sandbox_memory(parent: Path | None = None) -> int:
    """A sandbox's memory limit (its cgroup made in ``parent``, by default this process's
    memory cgroup): ``MEMORY_BYTES``, or its part of an enclosing limit when that is less
    (``enclosing_memory``). Under an enclosing limit below the sandbox's own, a rollout's
    own excess was killed by the enclosing cgroup's OOM, its own count unmoved: judged the
    machine's (not judged) instead of the rollout's (sbx4-5, sbx4-6). The sandbox's limit
    now comes first."""
    part = enclosing_memory(parent)
    return MEMORY_BYTES if part is None else min(MEMORY_BYTES, part)


def own_oom_kills() -> int | None:
    """The OOM kills of processes in this process's memory cgroup (v1 ``memory.oom_control``:
    its own processes, where a normal user's sandboxes run; v2 ``memory.events``: and every
    cgroup under it), for a limit of that cgroup or the machine's. None in the root cgroup
    (which counts nothing) or without a readable one. The machine-wide count also moves
    for a kill inside any other small cgroup (a container, a service, a root-mode sandbox
    over its own limit), which says nothing of a run here."""
    v1 = _own("memory")
    if v1 is not None:
        if v1 == _ROOT / "memory":
            return None
        return _count(v1 / "memory.oom_control", "oom_kill")
    v2 = _unified_own()
    return None if v2 is None or v2 == _ROOT else _count(v2 / "memory.events", "oom_kill")


def _count(path: Path, key: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return None


def _drain(d: Path) -> None:
    """Kill every process in cgroup ``d`` and remove it."""
    deadline = time.monotonic() + 10
    while True:
        try:
            pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        if not pids or time.monotonic() > deadline:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)
    while True:  # EBUSY a moment after cgroup.procs is empty: its last tasks still exiting
        try:
            d.rmdir()
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                return
        time.sleep(0.005)


def _limit_tcp(d: Path) -> None:
    """Charge the sandbox's TCP buffers to its memory cgroup, within ``TCP_BYTES`` (v1 counts
    them only under a ``kmem.tcp`` limit). Uncharged, a test filling loopback connections
    in its own network namespace pinned the machine-wide ``tcp_mem`` budget (2.25 GB here,
    past the 4 GB cgroup's reach): no TCP socket of the machine could queue data (sbx6-3).
    Where the kernel has no such file, nothing is set."""
    try:
        (d / "memory.kmem.tcp.limit_in_bytes").write_text(str(TCP_BYTES))
    except OSError:
        pass


def _override() -> dict[str, Path] | None:
    """The parents ``REPO_AGENT_CGROUP`` names, by controller (None: not set)."""
    value = os.environ.get(CGROUP_ENV, "").strip()
    if not value:
        return None
    parents: dict[str, Path] = {}
    for part in value.split(":"):
        d = Path(os.path.realpath(part.strip()))  # a v1 hierarchy's name: cpu -> cpu,cpuacct
        rel = d.relative_to(_ROOT).parts if d.is_absolute() and _ROOT in d.parents else ()
        names = [c for c in (rel[0].split(",") if rel else ()) if c in _CONTROLLERS]
        if not names or not (d / "cgroup.procs").is_file() or not os.access(d, os.W_OK):
            raise CgroupError(
                f"{CGROUP_ENV}={value}: {d} is no cgroup v1 directory of {', '.join(_CONTROLLERS)} that this"
                " user may make cgroups in (e.g. /sys/fs/cgroup/memory/DIR, owned by the user)"
            )
        parents.update(dict.fromkeys(names, d))
    return parents


def check_override() -> None:
    """Raise CgroupError when ``REPO_AGENT_CGROUP`` is set but unusable (front ends: before a batch)."""
    _override()


def _parents() -> dict[str, Path]:
    """Where each controller's sandbox cgroup is made: ``REPO_AGENT_CGROUP``'s directories,
    else this process's own cgroups (as a normal user, those it may write: delegated)."""
    override = _override()
    if override is not None:
        return override
    own = {c: _own(c) for c in _CONTROLLERS}
    root = os.geteuid() == 0
    return {c: d for c, d in own.items() if d is not None and (root or os.access(d, os.W_OK))}


def own_name() -> str:
    """A fresh cgroup name for a sandbox started by this process as a normal user (root
    names them by the leased uid). Random too: another repo-agent sharing the directory
    from another pid namespace may have our pid."""
    return f"{_OWN_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"


STALE_S = 600.0  # a sandbox's group this old and empty, of a pid not seen: left by a dead repo-agent


def _remove_stale(parent: Path) -> None:
    """Remove the empty sandbox cgroups a normal user's repo-agent left when it died
    (killed before its ``close``; its sandboxes' processes die with it: the alive pipe).
    Never a kill: a pid not found here may be a live repo-agent's in another namespace, and
    its sandbox's group is empty between its ``mkdir`` and the sandbox joining it: only a group
    older than `STALE_S` is taken for a dead one's."""
    for d in parent.glob(f"{_OWN_PREFIX}*-*"):
        pid = d.name[len(_OWN_PREFIX) :].split("-")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                if time.time() - d.stat().st_mtime < STALE_S:
                    continue
                d.rmdir()  # EBUSY while a process is in it
            except OSError:
                pass
        except OSError:
            pass


def autogroups() -> bool:
    """The scheduler gives every session (``setsid``) of the root cpu group a CPU share of
    its own (``kernel.sched_autogroup_enabled``)."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "0"
    except OSError:
        return False


def sessions_take_a_share(cgroup: SandboxCgroup | None) -> bool:
    """A new session in this sandbox would take a CPU share of its own: autogroups are on and
    the sandbox has no cpu cgroup (where it has one, autogroups do not apply). A normal
    user's sandbox, 4 setsid children made 5 autogroups, each weighed like a whole
    neighbour (round 8 sbx8-3); there ``setsid`` is refused (agent/seccomp.py)."""
    return autogroups() and (cgroup is None or not cgroup.has_cpu())


def _watch_oom(parent: Path) -> int | None:
    """An eventfd the kernel signals when the v1 memory cgroup ``parent``, or one above it,
    runs out of memory (``cgroup.event_control`` on its ``memory.oom_control``: an OOM is
    told to the cgroup at its limit and those below it, so a sandbox's own is not). None
    where that cannot be set up."""
    try:
        efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
    except OSError:
        return None
    try:
        ofd = os.open(parent / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        try:
            (parent / "cgroup.event_control").write_text(f"{efd} {ofd}")
        finally:
            os.close(ofd)
    except OSError:
        os.close(efd)
        return None
    return efd


class SandboxCgroup:
    """The cgroups (cpu, memory, pids) one sandbox runs in."""

    def __init__(self, dirs: list[Path], memory_bytes: int = MEMORY_BYTES):
        self.dirs = dirs
        self.memory_bytes = memory_bytes  # its memory limit (``sandbox_memory``)
        self._enclosing_oom: int | None = None  # ``_watch_oom`` of its memory cgroup's parent

    @classmethod
    def create(cls, name: str) -> SandboxCgroup | None:
        """The sandbox's cgroups, named ``name``, in each controller's parent (``_parents``);
        None where there is none. Raises CgroupError for an unusable ``REPO_AGENT_CGROUP``."""
        made: list[Path] = []
        parents = _parents()
        if not parents:
            return None
        memory = sandbox_memory(parents.get("memory"))
        try:
            for controller, settings in (
                ("cpu", {"cpu.shares": CPU_SHARES}),
                ("memory", {"memory.limit_in_bytes": memory}),
                ("pids", {"pids.max": PIDS_MAX}),
            ):
                parent = parents.get(controller)
                if parent is None:
                    continue
                if name.startswith(_OWN_PREFIX):
                    _remove_stale(parent)
                d = parent / name
                if d.exists():  # left by a process that died: its lease is ours now
                    _drain(d)
                d.mkdir()
                made.append(d)
                for key, value in settings.items():
                    (d / key).write_text(str(value))
                if controller == "memory":
                    _limit_tcp(d)
        except OSError:
            for d in made:
                _drain(d)
            return None
        if not made:
            return None
        group = cls(made, memory)
        if "memory" in parents:
            group._enclosing_oom = _watch_oom(parents["memory"])
        return group

    def hold_outside(self, held: int) -> None:
        """Its memory limit less ``held`` bytes its run holds outside its cgroup: root mode's
        workspace tmpfs, which this process copies in, so the kernel charges those pages to
        this process's memory cgroup (the sandbox's parent) and not to the sandbox. Counted
        in the sandbox's part, they kept a rollout with 128 MB in its workspace and a hog at
        85% of its limit from running the enclosing 192 MB cgroup out (round 9 sbx9-6): what
        the sandbox writes into its tmpfs is its own cgroup's already. At least
        ``_MIN_BYTES`` (a workspace past its part: see docs/sandbox-and-verdicts.md)."""
        limit = max(_MIN_BYTES, self.memory_bytes - held)
        for d in self.dirs:
            if (d / "memory.limit_in_bytes").is_file():
                (d / "memory.limit_in_bytes").write_text(str(limit))
                self.memory_bytes = limit

    def wrap(self, argv: list[str], then: str = "") -> list[str]:
        """``argv`` started inside the cgroups (moved in before it execs); ``then``: shell
        commands run once moved, before the exec, each ending in ``&& ``."""
        procs = [str(d / "cgroup.procs") for d in self.dirs]
        moves = "".join(f'echo $$ > "${i + 1}" && ' for i in range(len(procs)))
        return ["/bin/sh", "-c", f'{moves}shift {len(procs)} && {then}exec "$@"', "sh", *procs, *argv]

    def has_cpu(self) -> bool:
        """A cpu cgroup of its own (one CPU share, however many sessions it starts)."""
        return any((d / "cpu.shares").is_file() for d in self.dirs)

    def has_memory(self) -> bool:
        """A memory cgroup of its own: ``oom_kills`` then says whether the run was OOM-killed."""
        return any((d / "memory.oom_control").is_file() for d in self.dirs)

    def hit_limit(self) -> bool:
        """The sandbox reached its own memory limit (an OOM kill without it: the machine's)."""
        for d in self.dirs:
            try:
                return int((d / "memory.failcnt").read_text()) > 0
            except (OSError, ValueError):
                continue
        return False

    def enclosing_oom(self) -> bool:
        """The cgroups around the sandbox's ran out of memory since it was made: an OOM kill
        then is the machine's shortage, even where the sandbox's own count once touched its
        limit (page cache it could give back). Its own limit's OOM is not seen there."""
        if self._enclosing_oom is None:
            return False
        try:
            return os.eventfd_read(self._enclosing_oom) > 0
        except OSError:  # nothing signalled (EAGAIN)
            return False

    def oom_kills(self) -> int:
        """How many of its processes the kernel's OOM killer ended (for its limit or the machine's)."""
        for d in self.dirs:
            kills = _count(d / "memory.oom_control", "oom_kill")
            if kills is not None:
                return kills
        return 0

    def close(self) -> None:
        if self._enclosing_oom is not None:
            os.close(self._enclosing_oom)
            self._enclosing_oom = None
        for d in self.dirs:
            _drain(d)
