"""The per-rollout workspace: a fresh copy of a task's source (docs/ARCHITECTURE.md, Suites).

Hidden paths (reference fixes, answers) are never copied. Every path a tool names goes
through ``resolve``, which keeps it inside the workspace (no ``..``, no absolute path, no
symlink leading out). After the rollout, ``restore_protected`` puts the protected paths
(the tests) back as they were before the real tests run (agent/final_verdict.py); ``patch``
diffs the workspace against the original source, git-style.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.machinery
import os
import shlex
import shutil
import stat
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from agent.patch_format import (
    PATCH_FILE_MAX_BYTES,
    PATCH_MAX_BYTES,
    REGULAR,
    display_name,
    file_diff,
    file_digest,
    files_in_patch,  # noqa: F401 (callers read stored patches through this module)
    git_mode,
    large_file_diff,
)
from agent.private_dir import private_dir
from agent.scoring import TestResult, run_tests
from agent.suites import held_out_tests
from agent.suites.held_out import visible_files
from agent.suites.models import DirSource, Suite, SuiteError, Task
from agent.trace_io import open_regular
from agent.tree_walk import PATH_MAX, TreeWalk, open_dir, remove_tree, walk

# Never copied, diffed or listed: interpreter and tool caches, VCS metadata.
CACHE_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".hg", ".tox", ".nox"})
CACHE_SUFFIXES = (".pyc", ".pyo")


# Workspaces not yet cleaned up, so a hard stop (second Ctrl-C) can remove them.
_LIVE: set[Path] = set()
_LIVE_LOCK = threading.Lock()


def remove_live_workspaces() -> None:
    """Remove every workspace this process still has (called on a hard stop)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for p in live:
        remove_tree(p, ignore_errors=True)


class PathEscape(ValueError):
    """A tool named a path outside the workspace."""


def is_cache(name: str) -> bool:
    return name in CACHE_NAMES or name.endswith(CACHE_SUFFIXES)


def _norm_rel(rel: str) -> str:
    """'./a//b/' -> 'a/b'; '.' and '' -> ''."""
    # A name already normal (every name a walk makes) is its own answer: no path object per
    # file, of which a 65,001-file workspace's final run made 1.4 million (a third of its time).
    if rel and rel[0] != "/" and "" not in (names := rel.split("/")) and "." not in names:
        return rel
    parts = [p for p in PurePosixPath(rel).parts if p not in ("", ".")]
    return "/".join(parts)


# The few roots a task names (protected, hidden), asked about once per file of every walk.
_norm_root = functools.lru_cache(maxsize=1024)(_norm_rel)


def under(rel: str, roots: Sequence[str]) -> str | None:
    """The entry of ``roots`` that ``rel`` is (or lies under), if any."""
    if not roots:
        return None
    rel = _norm_rel(rel)
    for root in roots:
        r = _norm_root(root)
        if r and (rel == r or rel.startswith(r + "/")):
            return root
    return None


def source_dir(suite: Suite, task: Task) -> Path:
    """The task's source directory on disk."""
    src = task.source
    if not isinstance(src, DirSource):
        # Imported lazily: the suites package imports this module.
        from agent.suites.git import GitSourceError, checkout

        try:
            return checkout(suite, task)
        except GitSourceError as exc:
            raise SuiteError(str(exc)) from None
    base = suite.base_dir or Path.cwd()
    path = (Path(base) / src.path).resolve()
    if not path.is_dir():
        raise SuiteError(f"task {task.id}: source directory not found: {path}")
    return path


def task_env(suite: Suite, task: Task, source: Path) -> Path | None:
    """The venv the task's tests run in (built once for ``env: auto``); None: repo-agent's own."""
    if task.env is None or task.env == "none":
        return None
    # Imported lazily, as git sources are: the suites package imports this module.
    from agent.suites.env import ENV_AUTO, EnvError, resolve_env
    from agent.suites.git import GitSourceError, env_checkout

    try:
        declared = env_checkout(suite, task) if task.env == ENV_AUTO else None  # SWE-bench's env commit
        return resolve_env(task.env, source, suite.base_dir, declared)
    except (EnvError, GitSourceError) as exc:
        raise SuiteError(f"task {task.id}: environment: {exc}") from None


def same_bytes(a: Path, b: Path) -> bool:
    """The two files hold the same bytes, read now. Never ``filecmp.cmp``: its module cache
    keys on size and mtime, so a file rewritten to the same size with its mtime put back
    after one comparison compared equal again (round 14, r14-10/r14-11: an edited test file
    was no tampered path, an edited helper stayed trusted)."""
    try:
        if os.stat(a).st_size != os.stat(b).st_size:
            return False
        with open_regular(a, follow=True) as fa, open_regular(b, follow=True) as fb:  # never a FIFO or device
            while True:
                x, y = fa.read(1 << 16), fb.read(1 << 16)
                if x != y:
                    return False
                if not x:
                    return True
    except OSError:
        return False


def walk_files(root: Path, skip: Sequence[str] = ()) -> list[str]:
    """Relative posix paths of the regular files under ``root`` (no caches, no ``skip``).

    Symlinks are not followed and not listed: a file is what a tool can read or write.
    """
    out: list[str] = []
    root = Path(root)
    for dirpath, dirnames, filenames in walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        keep = []
        for d in sorted(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            if is_cache(d) or under(rel, skip) or os.path.islink(os.path.join(dirpath, d)):
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            rel = f"{rel_dir}/{f}" if rel_dir else f
            if is_cache(f) or under(rel, skip):
                continue
            try:  # one lstat: a link (never followed) or anything but a regular file is no file here
                st = os.lstat(os.path.join(dirpath, f))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out.append(rel)
    return sorted(out)


def copy_tree(src: Path, dst: Path, skip: Sequence[str] = ()) -> None:
    """Copy the files of ``src`` into ``dst`` (created), leaving out caches and ``skip``."""
    dst.mkdir(parents=True, exist_ok=True)
    for rel in walk_files(src, skip):
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, target)


def _remove(path: Path) -> None:
    # lstat, never stat: a link's target is the tests' choice (one named 300 x's made
    # Path.is_dir() raise ENAMETOOLONG out of the final verdict).
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        remove_tree(path)
    else:  # files, symlinks, and FIFOs / sockets the tests made
        path.unlink()


def has_reference_fix(task: Task) -> bool:
    return bool(task.reference_fix or task.reference_fix_files)


def apply_reference_fix(suite: Suite, task: Task, ws: Workspace) -> None:
    """Write the task's known fix into the workspace (to check the task, or to back a verdict)."""
    base = Path(suite.base_dir or ".")
    ws.forget_given()  # written here, not by the copy: the patch reads every file
    if task.reference_fix:
        fix_root = base / task.reference_fix
        for rel in walk_files(fix_root):
            # Not copy2: a fix file of the source's size and time (a checkout writes them in
            # one tick) would look unchanged, and the reference patch would be empty.
            target = ws.resolve(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            _remove(target)
            shutil.copyfile(fix_root / rel, target)
    for dst, fix in task.reference_fix_files.items():
        target = ws.resolve(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base / fix, target)


class Workspace:
    """One rollout's copy of a task's source; tools act only inside ``path``."""

    def __init__(
        self,
        suite: Suite,
        task: Task,
        path: Path,
        source: Path,
        *,
        sandbox: str = "auto",
        python_env: Path | None = None,
    ):
        self.suite = suite
        self.task = task
        self.path = path
        self.source = source
        self.sandbox = sandbox
        self.python_env = python_env  # the task's own venv (agent/suites/env.py); None: repo-agent's
        self._root_resolved = str(path.resolve())
        # Files the workspace holds with lines held out (hidden tests): the rollout's baseline.
        self.visible: dict[str, bytes] = visible_files(suite, task, source)
        # What each file copied from the source was just after the copy (``_fingerprint``):
        # a file that still matches is unchanged and never read by ``patch``.
        self._given: dict[str, tuple[int, ...]] = {}
        # The held-out tests are in (the final run, after the differential): the command runs them.
        self._revealed = False

    @property
    def holds_back(self) -> bool:
        """The task keeps tests or test data out of this workspace until the final run."""
        return bool(self.visible) or self.task.held_out_tests is not None

    @classmethod
    def create(cls, suite: Suite, task: Task, root: Path, *, sandbox: str = "auto") -> Workspace:
        """A fresh copy of the task's source, minus hidden paths, in a new dir under ``root``."""
        source = source_dir(suite, task)
        python_env = task_env(suite, task, source)
        root = private_dir(Path(root).absolute())  # another user's root is never written in
        path = (root / f"{task.id}-{uuid.uuid4().hex[:8]}").resolve()
        with _LIVE_LOCK:
            _LIVE.add(path)
        copy_tree(source, path, task.hidden)
        ws = cls(suite, task, path, source, sandbox=sandbox, python_env=python_env)
        for rel, data in ws.visible.items():
            (path / rel).write_bytes(data)
        for rel in walk_files(path, task.hidden):
            if rel not in ws.visible:
                ws._given[rel] = _fingerprint(os.lstat(path / rel))
        return ws

    def forget_given(self, rel: str | None = None) -> None:
        """Host code wrote ``rel`` (every file, when None): ``patch`` reads it, whatever its stat."""
        if rel is None:
            self._given.clear()
        else:
            self._given.pop(_norm_rel(rel), None)

    def held_out_files(self) -> dict[str, Path]:
        """What ``reveal_held_out`` writes: workspace path -> the source's file it copies (the
        files with held-out lines whole, the held-out test files)."""
        out = {rel: self.source / rel for rel in self.visible}
        held = self.task.held_out_tests
        if held is not None:
            out.update((rel, self.source / held.dir / rel) for rel in held_out_tests.files(self.task, self.source))
        return out

    def reveal_held_out(self) -> None:
        """Put the held-out lines back and the held-out test files in (the final run's hidden
        tests, agent/suites/held_out_tests.py); ``restore_protected`` takes them out again."""
        for rel, src in self.held_out_files().items():
            self._real_parents(rel)
            _remove(self.path / rel)
            shutil.copyfile(src, self.path / rel)
        if self.task.held_out_tests is not None:
            self._revealed = True

    def _same_as_given(self, rel: str, mine: Path) -> bool:
        """``mine`` holds what the rollout was given at ``rel`` (its visible part, if any)."""
        if rel in self.visible:
            return mine.is_file() and not mine.is_symlink() and mine.read_bytes() == self.visible[rel]
        orig = self.source / rel
        return orig.is_file() and mine.is_file() and same_bytes(orig, mine)

    # ------------------------------------------------------------------ paths

    def resolve(self, rel: str) -> Path:
        """The absolute path for a workspace-relative ``rel``; raises PathEscape if it leads out."""
        if not isinstance(rel, str):
            raise PathEscape(f"path must be a string, got {type(rel).__name__}")
        if "\x00" in rel:
            raise PathEscape("path contains a NUL byte")
        p = PurePosixPath(rel)
        if p.is_absolute() or rel.startswith("~"):
            raise PathEscape(f"{rel!r} is absolute; use a path relative to the workspace root")
        if ".." in p.parts:
            raise PathEscape(f"{rel!r} contains '..'; paths must stay inside the workspace")
        full = self.path.joinpath(*[x for x in p.parts if x != "."])
        self.forget_given(rel)  # a tool may write it: never trusted as unchanged again
        # resolve() follows every symlink on the way: one that leads out is caught here.
        try:
            real = os.path.realpath(full)
        except RecursionError:  # Python 3.11 recurses once per link: a 1,500-link chain (sbx6-7)
            raise PathEscape(f"{rel!r} is a chain of symlinks too long to follow") from None
        if real != self._root_resolved and not real.startswith(self._root_resolved + os.sep):
            raise PathEscape(f"{rel!r} leads outside the workspace (through a symlink)")
        return full

    def rel(self, path: str | Path) -> str:
        r = os.path.relpath(path, self.path).replace(os.sep, "/")
        return "." if r == "." else r

    def is_hidden(self, rel: str) -> bool:
        return under(rel, self.task.hidden) is not None

    def is_protected(self, rel: str) -> bool:
        return under(rel, self.task.protected) is not None

    # ------------------------------------------------------------------ tests

    def run_tests(self, trusted: tuple[str, ...] = ()) -> TestResult:
        """The agent's ``run_tests``: the test command on the workspace as it is now.
        ``trusted``: more workspace-relative files of the task's own (a hidden test patch's)."""
        # Only the task's own conftest.py files, and its protected modules (a plugin a
        # conftest names in pytest_plugins), may implement the hooks that decide outcomes.
        # Test code from another file: only the protected ones (restored in the final run).
        files = walk_files(self.source, self.task.hidden)
        own = [rel for rel in files if rel.split("/")[-1] == "conftest.py" or self.is_protected(rel)]
        hooks = tuple(str(self.path / rel) for rel in [*own, *trusted] if rel.endswith(".py"))
        code = tuple(str(self.path / rel) for rel in [*files, *trusted] if self.is_protected(rel) or rel in trusted)
        # And any file of the task's the rollout left as the source has it, if the run leaves
        # it untouched too (a project's test decorator, base class or pytest plugin: round 13,
        # r13-8/9/10): code under test cannot use it, its code being the project's.
        unchanged = tuple(rel for rel in files if rel.endswith(".py") and self._as_in_source(rel))
        task = self.task
        if self._revealed and task.held_out_tests is not None:
            cmd = task.test_command
            argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
            task = task.model_copy(update={"test_command": held_out_tests.final_argv(argv, task.held_out_tests)})
        result = run_tests(
            self.path,
            task,
            sandbox=self.sandbox,
            trusted_hook_files=hooks,
            trusted_code_files=code,
            python_env=self.python_env,
            unchanged_files=unchanged,
        )
        # One file is capped by RLIMIT_FSIZE while the tests run; the total is checked after.
        used = _tree_bytes(self.path)
        if used > WORKSPACE_MAX_BYTES:
            result = dataclasses.replace(
                result, passed=False, error=f"the workspace grew to {used} bytes (cap {WORKSPACE_MAX_BYTES})"
            )
        return result

    def tampered_paths(self) -> list[str]:
        """Files under a protected path that differ from the source (changed, added, deleted),
        named as on disk (``display_name`` before they go into a trace)."""
        out: list[str] = []
        for prot in self.task.protected:
            p = _norm_rel(prot)
            if not p:
                continue
            orig, mine = self.source / p, self.path / p
            if self._symlinked_ancestor(p) or (mine.is_symlink() and not orig.is_symlink()):
                out.append(p)
                continue
            if orig.is_file() or mine.is_file():
                if not self._same_as_given(p, mine):
                    out.append(p)
                continue
            a = set(walk_files(orig, self.task.hidden)) if orig.is_dir() else set()
            b = set(walk_files(mine)) if mine.is_dir() else set()
            for f in sorted(a | b):
                if f not in a or f not in b or not self._same_as_given(f"{p}/{f}", mine / f):
                    out.append(f"{p}/{f}")
        return sorted(set(out))

    def _symlinked_ancestor(self, rel: str) -> bool:
        parts = rel.split("/")[:-1]
        return any((self.path.joinpath(*parts[: i + 1])).is_symlink() for i in range(len(parts)))

    def _real_parents(self, rel: str) -> None:
        """Make every ancestor of ``rel`` a real directory inside the workspace (code run by
        the tests may have planted a symlink or a file there), so a restore never writes out."""
        parts = rel.split("/")[:-1]
        for i in range(len(parts)):
            d = self.path.joinpath(*parts[: i + 1])
            if d.is_symlink() or (d.exists() and not d.is_dir()):
                _remove(d)
            d.mkdir(exist_ok=True)

    def restore_protected(self) -> None:
        """Put every protected path back exactly as it is in the source (files with held-out
        lines as the rollout was given them; held-out test files out)."""
        self._revealed = False
        for prot in self.task.protected:
            p = _norm_rel(prot)
            if not p:
                continue
            orig, mine = self.source / p, self.path / p
            self._real_parents(p)
            _remove(mine)
            if orig.is_dir():
                copy_tree(orig, mine, [h[len(p) + 1 :] for h in self.task.hidden if under(h, [p])])
            elif orig.is_file():
                mine.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(orig, mine)
        for rel, data in self.visible.items():  # the rollout's part only: the rest stays hidden
            self._real_parents(rel)
            _remove(self.path / rel)
            (self.path / rel).write_bytes(data)

    def put_back(self, dirs: Sequence[str], keep: Sequence[str] = ()) -> list[str]:
        """Make each directory of ``dirs`` hold what the source holds there (a file with
        held-out lines as the rollout was given it): changed files copied back, files and
        directories the source lacks there removed (a new module beside the tests shadows the
        code under test), but for the files ``keep`` names (a hidden test patch's new files,
        which its run replaces itself). Compares rather than copies: a test tree can be large.
        Returns the paths it put back or removed."""
        done: list[str] = []
        for d in dirs:
            p = _norm_rel(d)
            if not p or self.is_hidden(p):
                continue
            orig, mine = self.source / p, self.path / p
            self._real_parents(p)
            if mine.is_symlink() or not mine.is_dir():
                _remove(mine)
                mine.mkdir()
            skip = [h[len(p) + 1 :] for h in self.task.hidden if under(h, [p])]
            theirs = set(walk_files(orig, skip))
            for dirpath, dirnames, filenames in walk(mine):
                rel_dir = os.path.relpath(dirpath, mine).replace(os.sep, "/")
                rel_dir = "" if rel_dir == "." else rel_dir + "/"
                descend = []
                subdirs = set(dirnames)  # a list's ``in``: quadratic in the tests' 100,000 directories (sbx6-4)
                for name in dirnames + filenames:
                    rel = rel_dir + name
                    full = Path(dirpath) / name
                    if name in subdirs and not full.is_symlink() and not under(rel, skip):
                        in_source = (orig / rel).is_dir() and not (orig / rel).is_symlink()
                        if in_source or any(under(k, [f"{p}/{rel}"]) for k in keep):
                            descend.append(name)
                            continue
                    elif rel in theirs or f"{p}/{rel}" in keep:
                        continue
                    _remove(full)
                    done.append(f"{p}/{rel}")
                dirnames[:] = descend
            for rel in sorted(theirs):
                at = f"{p}/{rel}"
                if not self._as_in_source(at):
                    self._real_parents(at)
                    _remove(self.path / at)
                    if at in self.visible:
                        (self.path / at).write_bytes(self.visible[at])
                    else:
                        shutil.copy2(orig / rel, self.path / at)
                    done.append(at)
        return done

    def _as_in_source(self, rel: str) -> bool:
        mine = self.path / rel
        try:
            if not stat.S_ISREG(os.lstat(mine).st_mode):
                return False
        except OSError:
            return False
        return self._unchanged(rel, mine) or self._same_as_given(rel, mine)

    def patch(self) -> str:
        """Git-style unified diff of the workspace against the original source.

        A file over ``PATCH_FILE_MAX_BYTES`` (or any file once the patch has passed
        ``PATCH_MAX_BYTES``) is recorded by name, size and sha256, never its content: code
        under test can write huge files, and the patch goes into the trace and the store.
        Names are quoted when they are not plain (agent/patch_format.py).
        """
        return "".join(chunk for _, chunk in self._changes())

    def _changes(self) -> list[tuple[str, str]]:
        """(name, patch entry) of each file that differs from the source."""
        hidden = list(self.task.hidden)
        a = set(walk_files(self.source, hidden))
        b = set(walk_files(self.path, hidden))
        chunks: list[tuple[str, str]] = []
        total = 0
        unread = PATCH_READ_MAX_BYTES  # of the workspace's bytes: what code under test wrote
        for rel in sorted(a | b):
            old_p = self.source / rel if rel in a else None
            new_p = self.path / rel if rel in b else None
            if old_p and new_p and rel not in self.visible and self._unchanged(rel, new_p):
                continue  # as the copy left it, by every stat field code can and cannot set
            new_st = os.lstat(new_p) if new_p else None
            new_size = new_st.st_size if new_st else 0
            # The executable bit too, as git records it: a script the tests run as ``./x`` is
            # part of what the run judged, and a rebuild from the patch sets it again.
            modes = (
                git_mode(os.lstat(old_p).st_mode) if old_p else REGULAR,
                git_mode(new_st.st_mode) if new_st else REGULAR,
            )
            if new_size > unread:  # sparse files cost the disk nothing and the reads everything
                old_size = old_p.stat().st_size if old_p else None
                sides = (old_size, None) if old_size is not None else None
                chunk = large_file_diff(rel, sides, (new_size, None) if new_p else None, modes)
                total += len(chunk)
                chunks.append((rel, chunk))
                continue
            unread -= new_size
            if rel in self.visible:  # diffed against what the rollout was given
                given = self.visible[rel]
                now = new_p.read_bytes() if new_p else None
                if given != now or modes[0] != modes[1]:
                    chunk = file_diff(rel, given, now, modes)
                    total += len(chunk)
                    chunks.append((rel, chunk))
                continue
            big = max(p.stat().st_size if p else 0 for p in (old_p, new_p)) > PATCH_FILE_MAX_BYTES
            if big or total > PATCH_MAX_BYTES:
                old_h, new_h = (file_digest(p) for p in (old_p, new_p))
                if old_h == new_h and modes[0] == modes[1]:
                    continue
                chunk = large_file_diff(rel, old_h, new_h, modes)
            else:
                old = old_p.read_bytes() if old_p else None
                new = new_p.read_bytes() if new_p else None
                if old == new and modes[0] == modes[1]:
                    continue
                chunk = file_diff(rel, old, new, modes)
            total += len(chunk)
            chunks.append((rel, chunk))
        return chunks

    def as_copied(self, rel: str) -> bool:
        """``rel`` is the file the copy from the source made, unwritten since (``_fingerprint``)."""
        return rel not in self.visible and self._unchanged(rel, self.path / rel)

    def _unchanged(self, rel: str, path: Path) -> bool:
        given = self._given.get(rel)
        try:
            return given is not None and given == _fingerprint(os.lstat(path))
        except OSError:
            return False

    def drop_unrecorded(self) -> list[str]:
        """Remove what ``patch`` leaves out (caches such as ``__pycache__``, symlinks, hidden
        paths, FIFOs), so that a verdict judges only what the rollout's patch records: a fix
        in an unchecked-hash pyc, or a package symlinked from a hidden path, would otherwise
        run in the tests while the patch shows nothing. So does a compiled extension module
        the source does not have: Python imports ``gcd.cpython-311-...so`` before ``gcd.py``,
        and the patch holds only its sha256, so a wrong gcd.py passed beside a compiled
        right one. So does whatever lies past PATH_MAX (made through relative names): no
        path reaches it, so no patch records it. So does a directory the source has not that
        holds nothing left (round 30 r30v-11: an empty ``winsound/`` beside gcd.py imports as a
        namespace package, and a gcd right only where that import succeeds PASSed live while
        its patch, which records files only, rebuilt FAILed). Returns the removed paths."""
        source = set(walk_files(self.source, self.task.hidden))
        kept = {
            rel
            for rel in walk_files(self.path, self.task.hidden)
            if rel in source or not rel.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
        }
        removed: list[str] = []
        fileless: list[str] = []  # directories keeping no file of their own (``_drop_empty_directories``)
        for dirpath, dirnames, filenames in walk(self.path):
            rel_dir = os.path.relpath(dirpath, self.path)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
            descend = []
            holds_a_file = False
            subdirs = set(dirnames)  # a list's ``in`` made 100,000 directories quadratic (sbx6-4)
            for name in sorted(dirnames) + sorted(filenames):
                rel = f"{rel_dir}/{name}" if rel_dir else name
                full = os.path.join(dirpath, name)  # a Path only where needed: one per file cost more than the walk
                if name in subdirs and not Path(full).is_symlink() and not is_cache(name):
                    if not under(rel, self.task.hidden):
                        descend.append(name)
                        continue
                elif rel in kept:
                    holds_a_file = True
                    continue
                _remove(Path(full))
                removed.append(rel)
            dirnames[:] = descend
            if rel_dir and not holds_a_file:
                fileless.append(rel_dir)
        removed += self._drop_empty_directories(fileless)
        return removed + _drop_past_path_max(self.path)

    def _drop_empty_directories(self, directories: list[str]) -> list[str]:
        """Of ``directories`` (relative, each keeping no file of its own), those holding
        nothing that the source has not, removed deepest first (a parent emptied by its child's removal goes too): a patch
        records files, never a directory, so its rebuild has none of them. One ``rmdir`` a
        directory, which fails on one holding anything (no second walk)."""
        removed = []
        for rel in sorted(directories, key=lambda r: r.count("/"), reverse=True):
            if (self.source / rel).is_dir():
                continue  # the source's own (a rebuild starts from the source: it has it too)
            try:
                os.rmdir(self.path / rel)
            except OSError:
                continue  # holds something
            removed.append(rel)
        return removed

    def files_touched(self) -> list[str]:
        """The names of the files the patch touches, as the trace shows them (``display_name``)."""
        return [display_name(rel) for rel, _ in self._changes()]

    def cleanup(self) -> None:
        remove_tree(self.path, ignore_errors=True)
        with _LIVE_LOCK:
            _LIVE.discard(self.path)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


WORKSPACE_MAX_BYTES = 256 * 1024**2
# What ``patch`` reads of the workspace, at most; past it, files are recorded by name and
# size only. Run as root the copy-back keeps a workspace within the sandbox's 256 MB (holes
# counted), so this is never reached there; run as a normal user, RLIMIT_FSIZE caps a file
# but not how many there are.
PATCH_READ_MAX_BYTES = 2 * WORKSPACE_MAX_BYTES


def _tree_bytes(root: Path) -> int:
    """The sizes of the files under ``root``, at any depth (by descriptor)."""
    total = 0
    fd, _ = open_dir(os.fspath(root), None, unlock=True)
    try:
        for listing in TreeWalk(fd, unlock=True):
            for entry in listing.entries:
                try:
                    total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    pass
    finally:
        os.close(fd)
    return total


def _drop_past_path_max(root: Path) -> list[str]:
    """Remove every name under ``root`` whose path is ``PATH_MAX`` bytes or more (a
    directory there whole, by descriptor); returns them, workspace-relative."""
    removed: list[str] = []
    fd, _ = open_dir(os.fspath(root), None, unlock=True)
    try:
        # Only directories a path reaches are walked: no deeper than PATH_MAX / 2 levels.
        for listing in TreeWalk(fd, unlock=True):
            rel = "/".join(listing.parts)
            here = os.path.join(root, rel) if rel else os.fspath(root)
            room = PATH_MAX - len(os.fsencode(here)) - 1  # the "/" before a name
            for entry in listing.entries:
                if len(os.fsencode(entry.name)) >= room:
                    remove_tree(entry.name, dir_fd=listing.fd)
                    removed.append(f"{rel}/{entry.name}" if rel else entry.name)
            listing.dirs[:] = [d for d in listing.dirs if len(os.fsencode(d)) < room]
    finally:
        os.close(fd)
    return removed


def _fingerprint(st: os.stat_result) -> tuple[int, ...]:
    """What says a file is the one the copy made, unwritten since. Code under test can put
    a file's size and mtime back, but not its ctime (any write or ``utime`` sets it to the
    clock; only the clock's owner could set it back) nor, once it is replaced, its inode.
    The sandbox's copy-back (root) makes every file new: then each is read."""
    return (st.st_mode, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
