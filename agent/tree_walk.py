"""Walking and removing a tree that code under test wrote, however deep (issue 23).

``os.walk`` and ``shutil.rmtree`` recurse (Python 3.11): 1,200 nested directories, which
a test makes in a blink and well under PATH_MAX, raised RecursionError out of the host's
copy-back, patch and clean-up, which no ``except OSError`` catches, so a rollout's own
doing ended *not judged*. Both here keep their own stack and never follow a link.

``walk`` names paths (what tools and the patch can reach); ``TreeWalk`` goes by directory
descriptors (``openat``), so what lies past PATH_MAX or in a directory the tests made
unreadable is seen too: what the disk cap counts and trims (round 7 #2, #8).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

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


def remove_tree(path: str | os.PathLike[str], *, ignore_errors: bool = False, dir_fd: int | None = None) -> None:
    """``shutil.rmtree(path)`` without recursion and at any depth (descriptor-relative, so
    past PATH_MAX too); a link is removed, never followed. A file or link at ``path`` is
    unlinked; a missing ``path`` is nothing to do. ``dir_fd``: ``path`` is a name in that
    directory. A directory this user owns and locked (mode 000) is unlocked first."""
    try:
        _remove_tree(os.fspath(path), dir_fd)
    except OSError:
        if not ignore_errors:
            raise


def _remove_tree(path: str, parent: int | None) -> None:
    try:
        st = os.lstat(path, dir_fd=parent)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path, dir_fd=parent)
        return
    top = _Dir(open_dir(path, parent, unlock=True)[0], None)
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
            stack.append(_Dir(open_dir(name, here.fd, unlock=True)[0], name))
    finally:
        for d in stack:
            os.close(d.fd)
    os.rmdir(path, dir_fd=parent)


# --------------------------------------------------------------------------- by descriptor

# Directory descriptors a ``TreeWalk`` holds at once (a chain 100,000 deep is one inode
# each); a directory whose descriptor was let go is reopened as its child's "..".
_WALK_OPEN_DIRS = 64
_PATH_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class TreeMoved(OSError):
    """A directory's ".." was not the directory the walk came down from: the tree was
    moved while it was walked (only code still running in it can do that)."""


def open_dir(name: str, parent: int | None, *, unlock: bool = False) -> tuple[int, int | None]:
    """(descriptor, mode it had) of the directory ``name`` in ``parent`` (a path when
    ``parent`` is None), never through a link. With ``unlock``, one this user owns is made
    readable, writable and searchable first when it is not (a test ran as this user and
    locked it); the mode it had is returned then (else None) for the caller to put back.
    Raises PermissionError for one it cannot open (not ours), NotADirectoryError or
    OSError(ELOOP) for a name that is no directory."""
    handle = os.open(name, _PATH_FLAGS, dir_fd=parent)  # needs no permission on the directory itself
    try:
        st = os.fstat(handle)
        me = os.geteuid()  # root needs no permission (and a leased uid's tree is not root's)
        if not unlock or me == 0 or st.st_uid != me or st.st_mode & stat.S_IRWXU == stat.S_IRWXU:
            return os.open(".", _DIR_FLAGS, dir_fd=handle), None
        # By descriptor, never by name: the name may be a link to a host directory by now.
        os.chmod(f"/proc/self/fd/{handle}", stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
        return os.open(".", _DIR_FLAGS, dir_fd=handle), stat.S_IMODE(st.st_mode)
    finally:
        os.close(handle)


@dataclass
class Listing:
    """One directory of a ``TreeWalk``: its descriptor (open until the walk moves on), its
    names from the root, its entries (``DirEntry.stat`` reads them through ``fd``) and the
    subdirectories the walk goes into next (the caller may remove names, in place)."""

    fd: int
    parts: tuple[str, ...]
    entries: list[os.DirEntry[str]]
    dirs: list[str] = field(default_factory=list)


@dataclass
class _Frame:
    fd: int | None
    key: tuple[int, int]  # (st_dev, st_ino): what its child's ".." must be
    parts: tuple[str, ...]
    subdirs: list[str]
    mode: int | None  # to put back once it is done (``keep_modes``)


class TreeWalk:
    """Every directory under the directory descriptor ``root_fd`` (the caller's: never
    closed here), top-down, at any depth, by descriptor (``openat``, O_NOFOLLOW): no path
    is ever built, so no name is too deep to reach. Links are never followed.

    ``unlock``: a directory this user owns and cannot list is made listable (u+rwx) first;
    ``keep_modes``: its mode is put back once the walk leaves it (a walk during the run,
    beside the tests, leaves their tree as they made it). What still cannot be listed is
    in ``unlisted`` (names from the root): counted by nobody, so the caller decides.
    A tree moved while it is walked ends the walk with ``moved`` set."""

    def __init__(self, root_fd: int, *, unlock: bool = False, keep_modes: bool = False):
        self.root_fd = root_fd
        self.unlock, self.keep_modes = unlock, keep_modes
        self.unlisted: list[tuple[str, ...]] = []
        self.moved = False

    def __iter__(self) -> Iterator[Listing]:
        fd = os.dup(self.root_fd)  # never reopened: the tests may have locked the root since
        st = os.fstat(fd)
        stack = [_Frame(fd, (st.st_dev, st.st_ino), (), [], None)]
        try:
            yield from self._walk(stack)
        finally:
            for frame in stack:
                self._close(frame)

    def _walk(self, stack: list[_Frame]) -> Iterator[Listing]:
        low = 1  # the shallowest frame below the root whose descriptor is still open
        listing = self._list(stack[0])
        if listing is not None:
            yield listing
            stack[0].subdirs = listing.dirs[::-1]
        while stack:
            here = stack[-1]
            if not here.subdirs:
                stack.pop()
                if stack and stack[-1].fd is None:  # let go on the way down: its child's ".."
                    try:
                        stack[-1].fd, _ = self._open("..", here, stack[-1].key)
                    except OSError:
                        self.moved = True
                        self._close(here)
                        return
                    low = len(stack) - 1
                self._close(here)
                continue
            name = here.subdirs.pop()
            assert here.fd is not None  # the deepest frame is always open
            try:
                fd, mode = self._open(name, here, None)
            except (FileNotFoundError, NotADirectoryError):
                continue  # gone, or no longer a directory, since it was listed
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # a link now: never followed
                    continue
                self.unlisted.append((*here.parts, name))
                continue
            st = os.fstat(fd)
            child = _Frame(fd, (st.st_dev, st.st_ino), (*here.parts, name), [], mode)
            stack.append(child)
            if len(stack) - low > _WALK_OPEN_DIRS:
                self._close(stack[low])
                low += 1
            listing = self._list(child)
            if listing is not None:
                yield listing
                child.subdirs = listing.dirs[::-1]

    def _open(self, name: str, parent: _Frame, key: tuple[int, int] | None) -> tuple[int, int | None]:
        fd, mode = open_dir(name, parent.fd, unlock=self.unlock)
        st = os.fstat(fd)
        if key is not None and (st.st_dev, st.st_ino) != key:
            os.close(fd)
            raise TreeMoved(errno.ESTALE, "the tree moved while it was walked")
        return fd, mode if self.keep_modes else None

    def _list(self, frame: _Frame) -> Listing | None:
        assert frame.fd is not None
        try:
            with os.scandir(frame.fd) as it:
                entries = list(it)
        except OSError:
            self.unlisted.append(frame.parts)
            return None
        dirs = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    dirs.append(entry.name)
            except OSError:
                pass
        return Listing(frame.fd, frame.parts, entries, dirs)

    @staticmethod
    def _close(frame: _Frame) -> None:
        if frame.fd is None:
            return
        if frame.mode is not None:
            try:
                os.fchmod(frame.fd, frame.mode)
            except OSError:
                pass
        os.close(frame.fd)
        frame.fd = None
