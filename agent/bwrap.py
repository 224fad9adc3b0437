"""The bubblewrap command line: what a sandboxed test run can see (docs/ARCHITECTURE.md, sandbox).

The sandbox's root is empty but for: the system directories programs need (/usr and its
/bin, /lib links, a few files of /etc) read-only; this interpreter's prefix and the venv
read-only (only those directories: the project checkout around the venv, with the
suites' hidden reference fixes, stays invisible, and so does the home directory the
interpreter may live in); the pytest plugins' directory read-only; the workspace
read-write; a size-capped private /tmp and /dev/shm; a private /proc. No /var, no /run,
no host /tmp, no network, its own pid, ipc and uts namespaces.

Process limits only bind a non-root user (Linux exempts uid 0 from RLIMIT_NPROC, also
inside a user namespace mapped to host root). A normal user runs bwrap with
``--unshare-user`` and keeps their own uid. When this process is root, bwrap runs
privileged and the launcher inside drops to ``SANDBOX_UID`` before anything untrusted
starts; the workspace is handed to that uid first (``hand_over``).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

SANDBOX_UID = 65534  # "nobody": owns nothing on the host
TMP_BYTES = 64 * 1024**2  # the sandbox's /tmp (RAM)
SHM_BYTES = 16 * 1024**2  # its /dev/shm (RAM)
_ETC_FILES = ("passwd", "group", "nsswitch.conf", "ld.so.cache", "ld.so.conf", "localtime", "hosts", "resolv.conf")


def drops_root() -> bool:
    """True when the sandbox must switch to ``SANDBOX_UID`` itself (we are root)."""
    return os.geteuid() == 0


@functools.lru_cache(maxsize=8)
def runtime_dirs(python_env: Path | None = None) -> tuple[str, ...]:
    """Interpreter prefix and venv (resolved), each once, parents before children dropped.
    With ``python_env`` (a task's own venv, agent/suites/env.py) that venv and the
    interpreter it runs on, in place of repo-agent's venv."""
    if python_env is not None:
        here = {
            Path(sys.base_prefix).resolve(),
            Path(python_env).resolve(),
            (Path(python_env) / "bin" / "python").resolve().parent.parent,
        }
    else:
        here = {
            Path(sys.prefix).resolve(),
            Path(sys.base_prefix).resolve(),
            Path(sys.executable).parent,
            Path(sys.executable).resolve().parent.parent,
        }
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


def bwrap_argv(
    workspace: Path, ro_binds: tuple[Path, ...] = (), rw_binds: tuple[Path, ...] = (), python_env: Path | None = None
) -> list[str]:
    """``bwrap ... --`` for a command run in ``workspace`` (the only writable host path);
    ``python_env`` mounts a task's venv read-only in place of repo-agent's."""
    ws = str(workspace)
    argv = ["bwrap"]
    if not drops_root():
        argv.append("--unshare-user")
    made: set[str] = set()
    argv += _system_mounts(made)
    argv += ["--dev", "/dev", "--perms", "1777", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
    argv += ["--proc", "/proc", "--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    for d in runtime_dirs(python_env):
        if not ws.startswith(d + "/"):
            argv += _bind("--ro-bind", d, made)
    for b in ro_binds:
        argv += _bind("--ro-bind", str(b), made)
    argv += _bind("--bind", ws, made)
    for b in rw_binds:
        argv += _bind("--bind", str(b), made)
    argv += [
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--setenv",
        "TMPDIR",
        "/tmp",
        "--chdir",
        ws,
        "--",
    ]
    return argv


def hand_over(workspace: Path) -> None:
    """Give the workspace to the sandbox's uid (root only), so the tests can write in it."""
    if not drops_root():
        return
    for dirpath, dirnames, filenames in os.walk(workspace):
        for name in [*dirnames, *filenames, None]:
            path = dirpath if name is None else os.path.join(dirpath, name)
            try:
                os.lchown(path, SANDBOX_UID, SANDBOX_UID)
            except OSError:
                pass
