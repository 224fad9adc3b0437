"""Workspace mounts that go when repo-agent goes, however it dies (docs/sandbox-and-verdicts.md).

Root mode mounts each workspace's size-capped tmpfs (and the overlay above the workspace
that writes into it) in the host's mount namespace and unmounts them when the run ends
(agent/sandbox.py ``CappedWorkspace``). Killed during a run
(the OOM killer, kill -9, a crashed worker), repo-agent unmounted nothing: each leftover
held up to 272 MB of RAM no swap takes, for ever (round 9 sbx9-18). A small process of its
own (one for each repo-agent process, started with the first mount) is told each mount
point as it is made and as it goes; when its stdin ends (repo-agent is gone, however it
died) it unmounts what is left. It only ever hears paths from repo-agent itself (a pipe),
unmounts only a tmpfs or an overlay mounted at exactly that path (no normal user can mount
one there),
and removes only an empty directory of its own uid.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

# The reaper waits in a shell (a few hundred kB: it lives in repo-agent's memory cgroup,
# whose limit the sandboxes' parts are cut from), keeping the mount points held as its
# arguments; only at the end, repo-agent gone, does Python look at them (``_CLEANUP``).
_WAIT = r"""
py=$1 code=$2
set --
while IFS= read -r l; do
    case $l in
        +*) set -- "$@" "${l#?}" ;;
        -*) d=${l#?}; for p; do shift; [ "$p" = "$d" ] || set -- "$@" "$p"; done ;;
    esac
done
[ $# -eq 0 ] || exec "$py" -I -S -c "$code" "$@"
"""
_CLEANUP = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def shown(p):  # /proc/self/mountinfo's escapes
    return p.replace(b"\\", b"\\134").replace(b" ", b"\\040").replace(b"\t", b"\\011").replace(b"\n", b"\\012")
for path in map(os.fsencode, sys.argv[1:]):
    try:
        mounts = open("/proc/self/mountinfo", "rb").read().splitlines()
    except OSError:
        mounts = []
    for m in mounts:
        f = m.split(b" - ", 1)
        if len(f) == 2 and f[0].split()[4:5] == [shown(path)] and f[1].split()[:1] in ([b"tmpfs"], [b"overlay"]):
            libc.umount2(path, 2)  # MNT_DETACH
    try:
        st = os.lstat(path)
        if st.st_uid == os.geteuid() and os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
    except OSError:
        pass
"""


class MountReaper:
    """This process's reaper: ``hold`` a mount point before mounting it, ``drop`` it once it
    is unmounted and removed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = -1

    def _stdin(self) -> int | None:
        if self._proc is None or self._owner != os.getpid() or self._proc.poll() is not None:
            try:
                self._proc = subprocess.Popen(
                    ["/bin/sh", "-c", _WAIT, "mount-reaper", sys.executable, _CLEANUP],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd="/",
                    start_new_session=True,  # Ctrl-C in the terminal ends repo-agent, not it first
                )
            except OSError:
                self._proc = None
                return None
            self._owner = os.getpid()
        return self._proc.stdin.fileno() if self._proc.stdin is not None else None

    def _say(self, line: bytes) -> None:
        with self._lock:
            fd = self._stdin()
            if fd is None:
                return
            try:
                os.write(fd, line)
            except OSError:  # gone: the next hold starts another
                pass

    def hold(self, path: str) -> None:
        if "\n" not in path:  # (a line each: mkdtemp's names hold none)
            self._say(b"+" + os.fsencode(path) + b"\n")

    def drop(self, path: str) -> None:
        self._say(b"-" + os.fsencode(path) + b"\n")


REAPER = MountReaper()
