"""The keeper of one sandbox's user namespace (agent/subuid.py), run as a process of its own.

It unshares a user namespace, waits for the host to map the user and the leased uid into
it (newuidmap, newgidmap), forbids user namespaces below it (as ``bwrap --disable-userns``
does: bwrap joins this one), and then, holding the namespace's capabilities for as long as
it lives (it never execs), answers the host's requests, one JSON line each on stdin:
``chown`` a tree (CAP_CHOWN over the mapped uids) and ``measure`` one as the sandbox's
tmpfs would count it (CAP_DAC_READ_SEARCH: a directory the tests made unreadable to the
user is read all the same); a tree handed over with ``hold`` (a staged workspace tmpfs,
reached through the sandbox's pid 1) it keeps open and is then asked for as ``held:NAME``.
Its walks are agent/tree_walk.py's ``TreeWalk`` (by descriptor, at any depth, never through
a link). It ends with its stdin (the host done, or gone);
gone during a run (kill -9, the OOM killer), the host gave nothing back: the keeper ends
what is left of the sandbox and gives back what was handed over itself (round 9 sbx9-11),
then exits, which the sandbox's pid 1 waits for (the end of a pipe only the keeper holds).
Standard library only, and the project's modules that are: it starts once per sandbox run.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import stat
import sys

from agent.tree_walk import TreeMoved, TreeWalk

# How the host names a tree the keeper holds open ("held:NAME", agent/subuid.py ``hand_over``):
# no host path starts so (the host's are absolute), so it never stands for one.
HELD = "held:"

_CLONE_NEWUSER = 0x10000000
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PAST_ANY_CAP = 1 << 62


def _regroup(fd: int | None, name: str, owner: tuple[int, int]) -> None:
    """``name`` (in directory ``fd``) given its owner's own group by a child that becomes
    its owner (``owner``: the sandbox's uid and gid). Made in a setgid directory of one of
    the user's groups the namespace does not map, a file has that group: no capability
    reaches it then, but its owner may still give it a group of its own."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([owner[1]])
            os.setresgid(owner[1], owner[1], owner[1])
            os.setresuid(owner[0], owner[0], owner[0])  # from a uid not 0: the search capability stays
            os.chown(name, -1, owner[1], dir_fd=fd, follow_symlinks=False)
            code = 0
        finally:
            os._exit(code)
    os.waitpid(pid, 0)


def chown_tree(top: str, uid: int, gid: int, top_uid: int | None = None, regroup: tuple[int, int] | None = None) -> int:
    """``top`` and everything below it given to ``uid``:``gid``; returns how many could not
    be. ``top_uid``: ``top``, a directory, is ``top_uid``'s instead, and its group may write
    in it. ``regroup`` (the sandbox's uid and gid, when giving back): a file with a group out
    of the namespace's reach is given its owner's group first, and one that still cannot be
    given back is removed, as if the tests had. Handing over (``top_uid``), ``regroup`` is the
    user's uid and gid: a file of a team's group (a setgid checkout) is given the user's own
    group first (it loses its group to the sandbox's anyway), and nothing is ever removed."""
    failed = 0
    try:
        _chown_top(top, uid, gid, top_uid)
    except OSError:
        try:
            if regroup is None:
                raise
            _regroup(None, top, regroup)
            _chown_top(top, uid, gid, top_uid)
        except OSError:
            failed += 1
    try:
        root = os.open(top, _DIR)
    except OSError:  # a file (a held-out input), or gone: nothing below it
        return failed
    try:
        walk = TreeWalk(root)
        for listing in walk:
            for entry in listing.entries:
                failed += _give(listing.fd, entry, uid, gid, regroup, remove=top_uid is None)
        if walk.moved:  # only running tests move a directory: what was given is unknown
            raise TreeMoved(errno.ESTALE, f"{top}: a directory moved while it was walked")
    finally:
        os.close(root)
    return failed + len(walk.unlisted)


def _chown_top(top: str, uid: int, gid: int, top_uid: int | None) -> None:
    if top_uid is not None and stat.S_ISDIR(os.lstat(top).st_mode):
        os.chown(top, top_uid, gid, follow_symlinks=False)
        os.chmod(top, stat.S_IMODE(os.lstat(top).st_mode) | stat.S_IRWXG)
    else:
        os.chown(top, uid, gid, follow_symlinks=False)


def _give(
    fd: int, entry: os.DirEntry[str], uid: int, gid: int, regroup: tuple[int, int] | None, *, remove: bool = True
) -> int:
    """``chown_tree``'s work on one entry of the directory ``fd``: 1 when it could not be given."""
    name = entry.name
    try:
        os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
        return 0
    except OSError:
        if regroup is None:
            return 1
    try:
        _regroup(fd, name, regroup)
        os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
    except OSError:
        try:
            if entry.is_dir(follow_symlinks=False) or not remove:
                raise
            os.unlink(name, dir_fd=fd)
        except OSError:
            return 1
    return 0


def measure_tree(top: str) -> tuple[int, int]:
    """(bytes, names) below ``top`` as agent/sandbox.py ``tree_cost`` counts them (agent/tree_cost.py:
    blocks past a file's end, directories' blocks); a walk the tests led astray by moving
    directories, or a directory not read, counts as past any cap (the watch stops the run)."""
    from agent.tree_cost import measure  # standard library only, as this module

    try:
        fd = os.open(top, _DIR)
    except OSError:
        return 0, 0
    try:
        cost = measure(fd)
    finally:
        os.close(fd)
    return (_PAST_ANY_CAP, _PAST_ANY_CAP) if cost.unlisted else (cost.bytes, cost.names)


def _say(reply: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


def serve() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWUSER) != 0:
        _say({"error": f"unshare(CLONE_NEWUSER): {os.strerror(ctypes.get_errno())}"})
        return
    _say({"unshared": True})
    if sys.stdin.readline().strip() != "mapped":
        return
    try:
        # No user namespace below this one: the sandbox's own would count under a uid of
        # the sandbox's choosing. (bwrap --disable-userns cannot be used with --userns.)
        with open("/proc/sys/user/max_user_namespaces", "w") as f:
            f.write("0")
    except OSError as exc:
        _say({"error": f"cannot close user namespaces below the sandbox's: {exc}"})
        return
    _say({"ready": True})
    handed: dict[str, Handed] = {}  # what the host has not given back yet
    # Directories held open, by name: a staged workspace tmpfs (agent/sandbox.py StagedWorkspace)
    # is reached through the sandbox's pid 1 only while it lives, and a process of this user
    # namespace may not read the host's descriptors: handed over with "hold", named "held:NAME".
    held: dict[str, int] = {}  # by NAME, without the prefix
    for line in sys.stdin:
        try:
            req = json.loads(line)
            if req["op"] == "chown":
                regroup = req.get("regroup")
                owner = (int(regroup[0]), int(regroup[1])) if regroup else None
                key, uid, gid, top_uid = req["path"], int(req["uid"]), int(req["gid"]), req.get("top_uid")
                path = held_path(key, held)
                if req.get("hold") is not None and top_uid is not None:
                    name = str(req["hold"])
                    key = HELD + name
                    if name in held:  # (never an earlier run's: this one's from now on)
                        os.close(held.pop(name))
                    held[name] = os.open(path, _DIR)
                if top_uid is not None and owner is not None and key not in handed:
                    handed[key] = Handed(owner, (uid, gid), stat.S_IMODE(os.lstat(path).st_mode))
                _say({"failed": chown_tree(path, uid, gid, top_uid, owner)})
                if top_uid is None and key in handed and (uid, gid) == handed[key].user:
                    del handed[key]  # (given back: the host restores the mode)
                if top_uid is None and key.startswith(HELD) and key.removeprefix(HELD) in held:
                    os.close(held.pop(key.removeprefix(HELD)))  # given back: the host's copy is the last
            elif req["op"] == "measure":
                size, names = measure_tree(req["path"])
                _say({"bytes": size, "names": names})
            elif req["op"] == "spare":  # the sandbox's pid 1, not the OOM killer's first choice
                try:
                    with open(f"/proc/{int(req['pid'])}/oom_score_adj", "w") as f:
                        f.write(str(int(req["adj"])))
                    _say({"spared": ""})
                except OSError as exc:  # (gone meanwhile: its run is over; the channel stays in step)
                    _say({"spared": f"{type(exc).__name__}: {exc}"})
            elif req["op"] == "unnamed":  # the sandbox's processes are readable from here only
                from agent.unnamed_files import unnamed_bytes

                _say({"bytes": unnamed_bytes(int(req["pid1"]), int(req["dev"]), int(req["file_max"]))})
            else:
                _say({"error": f"unknown request {req['op']!r}"})
        except (ValueError, KeyError, TypeError, OSError) as exc:
            _say({"error": f"{type(exc).__name__}: {exc}"})
    give_back_all(handed, held)


def held_path(path: str, held: dict[str, int]) -> str:
    """``path``, or for ``held:NAME`` the directory held under that name, as a path of this process."""
    return f"/proc/self/fd/{held[path.removeprefix(HELD)]}/." if path.startswith(HELD) else path


class Handed:
    """A tree handed to the sandbox: whose it was (``user``: uid, gid), to whom (``sandbox``),
    and its top's mode before."""

    def __init__(self, user: tuple[int, int], sandbox: tuple[int, int], mode: int):
        self.user, self.sandbox, self.mode = user, sandbox, mode


def _pid1(pid: int) -> bool:
    """``pid`` is the first process of its pid namespace (a sandbox's pid 1, which waits for
    this keeper's exit): the tests cannot be one (no user namespace below this one, so no pid
    namespace of theirs)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"NSpid:"):
                    return line.split()[-1] == b"1"
    except OSError:
        pass
    return False


def give_back_all(handed: dict[str, Handed], held: dict[str, int] | None = None, timeout_s: float = 30.0) -> None:
    """The host gone mid-run: every process of the sandbox's uid but its pid 1 (which waits
    for this one's exit) ended, then each tree handed over its user's again."""
    # Imported here, at repo-agent's death only: its imports cost each keeper's start ~20 ms.
    from agent.uid_lease import kill_uid

    for uid in {h.sandbox[0] for h in handed.values()}:
        kill_uid(uid, timeout_s, spare=_pid1)
    for key, h in handed.items():
        try:
            path = held_path(key, held or {})
            chown_tree(path, h.user[0], h.user[1], regroup=h.sandbox)
            if stat.S_ISDIR(os.lstat(path).st_mode):
                os.chmod(path, h.mode)  # the group's write, given with it, taken back
        except OSError:
            pass


if __name__ == "__main__":
    serve()
