"""The keeper of one sandbox's user namespace (agent/subuid.py), run as a process of its own.

It unshares a user namespace, waits for the host to map the user and the leased uid into
it (newuidmap, newgidmap), forbids user namespaces below it (as ``bwrap --disable-userns``
does: bwrap joins this one), and then, holding the namespace's capabilities for as long as
it lives (it never execs), answers the host's requests, one JSON line each on stdin:
``chown`` a tree (CAP_CHOWN over the mapped uids) and ``measure`` one as the sandbox's
tmpfs would count it (CAP_DAC_READ_SEARCH: a directory the tests made unreadable to the
user is read all the same). Its walk holds a descriptor per level and never follows a
link. It ends with its stdin (the host done, or gone). Standard library only: it starts
once per sandbox run.
"""

from __future__ import annotations

import ctypes
import json
import os
import stat
import sys
from collections.abc import Iterator

_CLONE_NEWUSER = 0x10000000
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PAGE = 4096  # as agent/sandbox.py's tree_cost counts a file: whole pages, holes counted
_OPEN_LEVELS = 64
_PAST_ANY_CAP = 1 << 62


class Moved(OSError):
    """A directory of the walk was moved meanwhile (only running tests move one)."""


def _entries(top: str) -> Iterator[tuple[int, str, os.stat_result]]:
    """(directory descriptor, name, lstat) of every entry below ``top``, top-down, at any
    depth: only the deepest ``_OPEN_LEVELS`` directories stay open, one above them is opened
    again through ``..`` of its child when the walk comes back to it (a chain of 100,000
    directories would take more descriptors than the keeper may hold). A name gone since
    its listing is skipped; a directory found moved when it is opened again (the running
    tests renamed it) raises ``Moved``."""
    stack: list[list] = []  # [descriptor or -1 (closed for now), names left, (dev, ino)]
    try:
        root = os.open(top, _DIR)
    except OSError:
        return
    st = os.fstat(root)
    stack.append([root, iter(os.listdir(root)), (st.st_dev, st.st_ino)])
    try:
        while stack:
            fd, names, _ = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                if stack and stack[-1][0] < 0:
                    stack[-1][0] = os.open("..", _DIR, dir_fd=fd)
                    again = os.fstat(stack[-1][0])
                    if (again.st_dev, again.st_ino) != stack[-1][2]:
                        raise Moved(f"{top}: a directory moved while it was walked")
                os.close(fd)
                continue
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue
            yield fd, name, st
            if stat.S_ISDIR(st.st_mode):
                try:
                    child = os.open(name, _DIR, dir_fd=fd)
                except OSError:
                    continue
                try:
                    stack.append([child, iter(os.listdir(child)), (st.st_dev, st.st_ino)])
                except OSError:
                    os.close(child)
                    continue
                if len(stack) > _OPEN_LEVELS and stack[-_OPEN_LEVELS - 1][0] >= 0:
                    os.close(stack[-_OPEN_LEVELS - 1][0])
                    stack[-_OPEN_LEVELS - 1][0] = -1
    finally:
        for fd, _, _ in stack:
            if fd >= 0:
                os.close(fd)


def _regroup(fd: int, name: str, owner: tuple[int, int]) -> None:
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
    given back is removed, as if the tests had."""
    failed = 0
    try:
        if top_uid is not None and stat.S_ISDIR(os.lstat(top).st_mode):
            os.chown(top, top_uid, gid, follow_symlinks=False)
            os.chmod(top, stat.S_IMODE(os.lstat(top).st_mode) | stat.S_IRWXG)
        else:
            os.chown(top, uid, gid, follow_symlinks=False)
    except OSError:
        failed += 1
    for fd, name, st in _entries(top):
        try:
            os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
            continue
        except OSError:
            if regroup is None:
                failed += 1
                continue
        try:
            _regroup(fd, name, regroup)
            os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
        except OSError:
            try:
                if stat.S_ISDIR(st.st_mode):
                    raise
                os.unlink(name, dir_fd=fd)
            except OSError:
                failed += 1
    return failed


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
    for line in sys.stdin:
        try:
            req = json.loads(line)
            if req["op"] == "chown":
                regroup = req.get("regroup")
                owner = (int(regroup[0]), int(regroup[1])) if regroup else None
                _say({"failed": chown_tree(req["path"], int(req["uid"]), int(req["gid"]), req.get("top_uid"), owner)})
            elif req["op"] == "measure":
                size, names = measure_tree(req["path"])
                _say({"bytes": size, "names": names})
            elif req["op"] == "unnamed":  # the sandbox's processes are readable from here only
                from agent.unnamed_files import unnamed_bytes

                _say({"bytes": unnamed_bytes(int(req["pid1"]), int(req["dev"]), int(req["file_max"]))})
            else:
                _say({"error": f"unknown request {req['op']!r}"})
        except (ValueError, KeyError, TypeError, OSError) as exc:
            _say({"error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    serve()
