"""The bubblewrap command line: what a sandboxed test run can see (docs/ARCHITECTURE.md, sandbox).

The sandbox's root is empty but for: the system directories programs need (/usr and its
/bin, /lib links, a few files of /etc) read-only; this interpreter's prefix and the venv
read-only (only those directories: the project checkout around the venv, with the
suites' hidden reference fixes, stays invisible, and so does the home directory the
interpreter may live in); the pytest plugins' directory read-only; the workspace
read-write; a size-capped private /tmp and /dev/shm; a private /proc. No /var, no /run,
no host /tmp, no network, its own pid, ipc and uts namespaces.

Process limits only bind a non-root user (Linux exempts uid 0 from RLIMIT_NPROC, also
inside a user namespace mapped to host root). A normal user with a subordinate uid range
runs bwrap in a user namespace made for the sandbox (``--userns``, agent/subuid.py) as a
uid of that range leased for it alone, with no capability; without one, bwrap runs with
``--unshare-user`` (and ``--disable-userns``): the sandbox keeps their uid and no
capability, and its limits count in a user namespace of its own. When this process is
root, bwrap runs privileged (a user namespace would map the sandbox to host root) and the
launcher (agent/sandbox.py) switches to a uid leased for this sandbox alone
(agent/uid_lease.py) and drops every capability before anything of the workspace can run;
the workspace is handed to that uid first (``hand_over``). Either way the launcher is the
pid 1 of the sandbox (``--as-pid-1``): when the command ends, everything it left ends too.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from agent.tree_walk import walk

TMP_BYTES = 64 * 1024**2  # the sandbox's /tmp (RAM)
SHM_BYTES = 16 * 1024**2  # its /dev/shm (RAM)
# Their inodes (~1 kB of kernel memory each, outside every byte cap): set by the host once bwrap
# made them, where no memory cgroup charges them (a normal user's: agent/sandbox.py ``StagedWorkspace``).
TMP_INODES = 32768
SHM_INODES = 4096
_ETC_FILES = ("passwd", "group", "nsswitch.conf", "ld.so.cache", "ld.so.conf", "localtime", "hosts", "resolv.conf")


@dataclass(frozen=True)
class UserNs:
    """A user namespace made for one sandbox (agent/subuid.py): bwrap joins it (``fd``) and
    runs the command as ``uid``/``gid``, the host's ids of the sandbox (mapped to themselves)."""

    fd: int
    uid: int
    gid: int
    # The read end of a pipe only the namespace's keeper holds: at repo-agent's death pid 1
    # waits for its EOF (the keeper has given the workspace back: agent/subuid_keeper.py).
    keeper_fd: int = -1


def drops_root() -> bool:
    """True when the sandbox must switch to a leased uid itself (we are root)."""
    return os.geteuid() == 0


@functools.lru_cache(maxsize=8)
def runtime_dirs(python: str = sys.executable) -> tuple[str, ...]:
    """The directories ``python`` needs, read-only: its venv (the directory holding
    ``pyvenv.cfg`` above it) and its real prefix, each once, children of another dropped."""
    exe = Path(python)
    here = {exe.parent, exe.resolve().parent.parent}
    venv = exe.parent.parent
    if (venv / "pyvenv.cfg").is_file():
        here.add(venv.resolve())
    if python == sys.executable:
        here |= {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    keep = sorted(str(p) for p in here if p.exists() and str(p) != "/")
    return tuple(p for p in keep if not any(p != q and p.startswith(q + "/") for q in keep))


def _system_mounts(made: set[str]) -> list[str]:
    argv: list[str] = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            argv += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            argv += ["--ro-bind", str(top), str(top)]
    for name in _ETC_FILES:
        f = Path("/etc") / name
        if f.exists():
            argv += _bind("--ro-bind", str(f), made)
    return argv


def _bind(flag: str, path: str, made: set[str]) -> list[str]:
    """A bind of ``path`` onto itself, its missing ancestors made traversable (bwrap makes them 0700)."""
    argv: list[str] = []
    parts = Path(path).parts[1:-1]
    for i in range(len(parts)):
        d = "/" + "/".join(parts[: i + 1])
        if d not in made and d not in ("/tmp", "/usr", "/dev", "/proc"):
            made.add(d)
            argv += ["--perms", "0755", "--dir", d]
    return argv + [flag, path, path]


def _hide_installed_suites(mounted: list[str]) -> list[str]:
    """An empty read-only directory over each ``agent/suites`` installed under a mounted
    directory: the imported package's own, and any in a site directory of /usr, /usr/local
    or a mounted venv or prefix. Installed as a wheel (``pip install .``, ``sudo pip``
    into /usr/local/.../dist-packages, ``uv sync --no-editable``, a container image) the
    package's suites, every task's hidden reference fix and held-out inputs with them, sit
    where the sandbox can read; nothing in the sandbox imports the package (the plugins and
    the differential runner are its own). And /dev/null over each installed metadata file
    that names a file of them (``_metadata_naming``)."""
    found: set[Path] = set()
    for top in ("/usr", "/usr/local", *mounted):
        found.update(Path(top).glob("lib*/python3*/*-packages/agent/suites"))
    here = Path(__file__).resolve().parent / "suites"
    if any(str(here).startswith(d.rstrip("/") + "/") for d in ("/usr", *mounted)):
        found.add(here)
    argv: list[str] = []
    for suites in sorted(found):
        if suites.is_dir() and not suites.is_symlink():
            p = str(suites)
            argv += ["--size", "4096", "--tmpfs", p, "--remount-ro", p]
            for named in _metadata_naming(suites):
                argv += ["--ro-bind", "/dev/null", str(named)]
    return argv


# The most of an installed package's metadata file read for the suites' names (a RECORD of
# thousands of files is a few hundred kB).
_METADATA_BYTES = 16 * 1024**2


def _metadata_naming(suites: Path) -> list[Path]:
    """``_naming``'s answer, read again only once the site directory changed (an install or an
    uninstall makes or removes a metadata directory): every sandbox's start asks."""
    site = suites.parent.parent
    try:
        changed = os.stat(site).st_mtime_ns
    except OSError:
        return []
    return list(_naming(suites, changed))


@functools.lru_cache(maxsize=16)
def _naming(suites: Path, changed: int) -> tuple[Path, ...]:
    """The installed packages' metadata files beside ``suites`` (its site directory's
    ``*.dist-info`` and ``*.egg-info``) that name a file of it: a wheel's RECORD gives each
    one's sha256 and size, which confirm a guess of a reference fix byte for byte (round 27
    r27s-4); an egg-info's SOURCES.txt and installed-files.txt list them. Read by content,
    not by name, so every such file of every installer is found; one that names none
    (METADATA, entry points, direct_url.json: a URL of the source, unmounted) stays."""
    site = suites.parent.parent
    needle = os.fsencode(suites.relative_to(site).as_posix() + "/")
    found: list[Path] = []
    for meta in sorted([*site.glob("*.dist-info"), *site.glob("*.egg-info")]):
        if not meta.is_dir() or meta.is_symlink():
            continue
        for f in sorted(meta.iterdir()):
            try:
                if f.is_file() and not f.is_symlink():
                    with open(f, "rb") as fh:
                        if needle in fh.read(_METADATA_BYTES):
                            found.append(f)
            except OSError:  # unreadable to this process: to the sandbox, which has no more rights, too
                continue
    return tuple(found)


def bwrap_argv(
    workspace: Path,
    ro_binds: tuple[Path, ...] = (),
    rw_binds: tuple[Path, ...] = (),
    *,
    python: str = sys.executable,
    workspace_from: Path | None = None,
    info_fd: int | None = None,
    seccomp_fd: int | None = None,
    userns: UserNs | None = None,
    workspace_tmpfs: int | None = None,
) -> list[str]:
    """``bwrap ... --`` for a command run in ``workspace`` (the only writable host path).

    ``python``: the interpreter whose venv and prefix are mounted read-only (the one that
    runs the launcher); ``workspace_from``: the host directory shown at ``workspace`` (a
    size-capped copy, agent/sandbox.py), by default ``workspace`` itself; ``info_fd``:
    where bwrap writes the host pid of the sandbox's pid 1; ``seccomp_fd``: the filter of
    agent/seccomp.py; ``userns``: the namespace and uid of a normal user's sandbox;
    ``workspace_tmpfs``: no host path at ``workspace`` but an empty tmpfs of that many bytes in
    the sandbox's own mount namespace, which the host fills and empties through the sandbox's
    pid 1 (a normal user's disk cap: agent/sandbox.py ``StagedWorkspace``).
    """
    ws = str(workspace)
    argv = ["bwrap"]
    if userns is not None:
        argv += ["--userns", str(userns.fd), "--uid", str(userns.uid), "--gid", str(userns.gid)]
        # Kept by the command (the launcher) only to leave the user's supplementary groups,
        # which bwrap keeps; it drops it before anything else runs (agent/sandbox.py).
        argv += ["--cap-add", "CAP_SETGID"]
    elif not drops_root():
        argv += ["--unshare-user", "--disable-userns"]
    made: set[str] = set()
    argv += _system_mounts(made)
    argv += ["--dev", "/dev", "--perms", "1777", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
    # No pseudo-terminal: ``kernel.pty.max`` counts every devpts instance of the machine
    # together, so one rollout holding ptys took them from every neighbour and container.
    # An empty read-only tmpfs over bwrap's devpts (/dev/ptmx links into it); mounting
    # another is refused by the seccomp filter. Test runners need no terminal.
    argv += ["--size", "4096", "--tmpfs", "/dev/pts", "--remount-ro", "/dev/pts"]
    # /proc read-only: the tests wrote 0 to their own and pid 1's oom_score_adj (1000, set
    # before bwrap: agent/sandbox.py ``_oom_first``), and an enclosing memory limit's OOM
    # killer took repo-agent instead (round 9 sbx9-12); a normal user's sandbox cannot set a
    # floor (oom_score_adj_min needs CAP_SYS_RESOURCE in the host's namespace). Reads, and
    # writes through /proc/self/fd links (/dev/stdout), reach their files as before; other
    # writes fail (EROFS): /proc/self/comm too (prctl PR_SET_NAME names a process).
    argv += ["--proc", "/proc", "--remount-ro", "/proc"]
    argv += ["--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    mounted = [d for d in runtime_dirs(python) if not ws.startswith(d + "/")]
    for d in mounted:
        argv += _bind("--ro-bind", d, made)
        if os.path.isfile(os.path.join(d, ".lock")):
            # uv's venv lock (0666): a flock on it through the read-only bind held the
            # host's uv for as long as the tests liked (round 5 #13). The sandbox's is /dev/null.
            argv += ["--ro-bind", "/dev/null", os.path.join(d, ".lock")]
    argv += _hide_installed_suites(mounted)
    for b in ro_binds:
        argv += _bind("--ro-bind", str(b), made)
    if workspace_tmpfs is not None:
        argv += _bind("--dir", ws, made)[:-3]  # its ancestors made traversable, as a bind's
        argv += ["--perms", "0777", "--size", str(workspace_tmpfs), "--tmpfs", ws]
    else:
        argv += _bind("--bind", ws, made)
        if workspace_from is not None:
            argv[-2] = str(workspace_from)
    for b in rw_binds:
        argv += _bind("--bind", str(b), made)
    # bwrap's own / and /dev tmpfs have no size: a normal user's sandbox (it owns them) wrote
    # there past the /tmp and /dev/shm caps (round 8 #21). Read-only once every mount is made
    # (not recursive: /tmp, /dev/shm, the workspace and the device nodes stay as they are).
    argv += ["--remount-ro", "/dev", "--remount-ro", "/"]
    argv += [
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--as-pid-1",
        "--setenv",
        "TMPDIR",
        "/tmp",
        # The launcher starts outside the workspace (nothing there is importable); it
        # changes into it only to exec the command, once no privilege is left.
        "--chdir",
        "/",
    ]
    if info_fd is not None:
        argv += ["--info-fd", str(info_fd)]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    return argv + ["--"]


def hand_over(workspace: Path, uid: int | None) -> None:
    """Give the workspace to the sandbox's uid (root only), so the tests can write in it."""
    if uid is None or not drops_root():
        return
    for dirpath, dirnames, filenames in walk(workspace):
        for name in [*dirnames, *filenames, None]:
            path = dirpath if name is None else os.path.join(dirpath, name)
            try:
                os.lchown(path, uid, uid)
            except OSError:
                pass
