"""Walking and removing a tree that code under test wrote, however deep (issue 23).

``os.walk`` and ``shutil.rmtree`` recurse (Python 3.11): 1,200 nested directories, which
a test makes in a blink and well under PATH_MAX, raised RecursionError out of the host's
copy-back, patch and clean-up, which no ``except OSError`` catches, so a rollout's own
doing ended *not judged*. Both here keep their own stack and never follow a link.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

# Directory descriptors ``remove_tree`` holds at once; a deeper directory is moved up to
# the top (a rename) and removed from there.
_MAX_OPEN_DIRS = 64
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


# The longest path the kernel takes, its closing NUL included: past it no path string
# reaches a file (pytest's neither), so a walk lists nothing past it (a test made a
# conftest.py there through relative names, and an lstat of it raised out of the verdict).
PATH_MAX = 4096


def walk(top: str | os.PathLike[str]) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(top)`` (top-down, links not followed, unreadable directories skipped)
    without recursion: the caller may prune ``dirnames`` in place, as with ``os.walk``.
    A link to a directory is listed among the directories, as ``os.walk`` lists it.
    A name whose path is ``PATH_MAX`` bytes or more is not listed (``remove_tree`` still
    removes it)."""
    stack = [os.fspath(top)]
    while stack:
        path = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            continue
        dirnames: list[str] = []
        filenames: list[str] = []
        room = PATH_MAX - len(os.fsencode(path)) - 1  # the "/" before a name
        for entry in entries:
            if len(os.fsencode(entry.name)) >= room:
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            (dirnames if is_dir else filenames).append(entry.name)
        yield path, dirnames, filenames
        for name in reversed(dirnames):  # visited in order, as os.walk does
            child = os.path.join(path, name)
            if not os.path.islink(child):
                stack.append(child)


def _open_dir(name: str, parent: int | None) -> int:
    """``name`` (in directory ``parent``) opened, and made readable, writable and
    searchable first when its owner is us and it is not (a test ran as this user and
    locked it, mode 000, at a depth no path string reaches; root needs no permission)."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    except PermissionError:
        os.chmod(name, stat.S_IRWXU, dir_fd=parent)  # a directory, never a link (lstat'ed)
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    st = os.fstat(fd)
    if st.st_uid == os.geteuid() and st.st_mode & stat.S_IRWXU != stat.S_IRWXU:
        os.fchmod(fd, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
    return fd


class _Dir:
    """One open directory of ``remove_tree``: its descriptor and the subdirectories left."""

    def __init__(self, fd: int, name: str | None):
        self.fd, self.name = fd, name
        self.subdirs: list[str] = []
        self.scan()

    def scan(self) -> None:
        with os.scandir(self.fd) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    self.subdirs.append(entry.name)
                else:
                    os.unlink(entry.name, dir_fd=self.fd)


def remove_tree(path: str | os.PathLike[str], *, ignore_errors: bool = False) -> None:
    """``shutil.rmtree(path)`` without recursion and at any depth (descriptor-relative, so
    past PATH_MAX too); a link is removed, never followed. A file or link at ``path`` is
    unlinked; a missing ``path`` is nothing to do."""
    try:
        _remove_tree(os.fspath(path))
    except OSError:
        if not ignore_errors:
            raise


def _remove_tree(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    top = _Dir(_open_dir(path, None), None)
    stack = [top]
    moved = 0
    try:
        while stack:
            here = stack[-1]
            if not here.subdirs:
                stack.pop()
                os.close(here.fd)
                if stack and here.name is not None:
                    os.rmdir(here.name, dir_fd=stack[-1].fd)
                continue
            name = here.subdirs.pop()
            if len(stack) >= _MAX_OPEN_DIRS:  # deeper: moved up to the top, removed later
                while True:  # a name nothing at the top has (the tests chose those)
                    moved += 1
                    up = f".repo-agent-deep-{moved}"
                    try:
                        os.lstat(up, dir_fd=top.fd)
                    except FileNotFoundError:
                        break
                os.rename(name, up, src_dir_fd=here.fd, dst_dir_fd=top.fd)
                top.subdirs.append(up)
                continue
            stack.append(_Dir(_open_dir(name, here.fd), name))
    finally:
        for d in stack:
            os.close(d.fd)
    os.rmdir(path)
