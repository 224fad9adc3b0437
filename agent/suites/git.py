"""Git sources: a repository (local path or URL) at a commit, checked out once and cached.

``checkout(suite, task)`` returns the directory a workspace copies from. The first call
for a (repository, commit, setup) clones it into the cache (``$REPO_AGENT_CACHE`` or
``~/.cache/repo-agent``) and runs the source's setup command once, in the sandbox, with
the checkout (its ``subdir``, if set) as the writable workspace (so no network: the setup builds or generates
what the tests need from what is there). Later calls, in this process or another, find
it ready. A file lock keeps concurrent rollouts from cloning the same source twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import threading
import uuid
from pathlib import Path

from agent.sandbox import SandboxError, run_command
from agent.scoring import resolve_argv
from agent.suites.models import GitSource, Suite, Task

SETUP_TIMEOUT_S = 900.0
_REV = re.compile(r"^[A-Za-z0-9_./\-]+$")
_lock = threading.Lock()


class GitSourceError(ValueError):
    """A git source that cannot be checked out or set up; one clear line."""


def cache_root() -> Path:
    env = os.environ.get("REPO_AGENT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "repo-agent"


def is_local(repo: str) -> bool:
    return "://" not in repo and not re.match(r"^[\w.\-]+@[\w.\-]+:", repo)  # not a URL, not user@host:path


def repo_location(suite: Suite, src: GitSource) -> str:
    """A local repository path resolved against the suite's directory; URLs as given."""
    if not is_local(src.repo):
        return src.repo
    return str((Path(suite.base_dir or ".") / Path(src.repo).expanduser()).resolve())


def validate(suite: Suite, src: GitSource) -> str | None:
    """Why this source can never work (checked at load, without cloning), or None."""
    if not _REV.match(src.commit) or src.commit.startswith("-"):
        return f"commit {src.commit!r} is not a git revision"
    if is_local(src.repo):
        where = Path(repo_location(suite, src))
        if not where.is_dir():
            return f"git repository not found: {where}"
    if src.env_commit is not None and (not _REV.match(src.env_commit) or src.env_commit.startswith("-")):
        return f"env_commit {src.env_commit!r} is not a git revision"
    if src.subdir and (Path(src.subdir).is_absolute() or ".." in Path(src.subdir).parts):
        return f"subdir {src.subdir!r} must be a relative path inside the repository"
    return None


def _git(args: list[str], cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    try:
        cp = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    except FileNotFoundError:
        raise GitSourceError("git is not installed: git sources need it") from None
    except subprocess.TimeoutExpired:
        raise GitSourceError(f"git {args[0]} took more than 10 minutes") from None
    if cp.returncode != 0:
        why = (cp.stderr or cp.stdout).strip().splitlines()
        what = next(a for a in args if not a.startswith("-") and "=" not in a)
        raise GitSourceError(f"git {what} failed: {why[-1] if why else f'exit status {cp.returncode}'}")
    return cp.stdout


def _key(location: str, src: GitSource) -> str:
    setup = src.setup if isinstance(src.setup, str) else shlex.join(src.setup or [])
    return hashlib.sha1(f"{location}\0{src.commit}\0{setup}".encode()).hexdigest()[:16]


def checkout(suite: Suite, task: Task) -> Path:
    """The ready checkout of ``task``'s git source (cloned and set up on first use)."""
    src = task.source
    assert isinstance(src, GitSource)
    if why := validate(suite, src):
        raise GitSourceError(f"task {task.id}: {why}")
    location = repo_location(suite, src)
    root = cache_root() / "git" / _key(location, src)
    tree = root / "tree"
    ready = root / "ready.json"
    if not ready.is_file():
        root.mkdir(parents=True, exist_ok=True)
        with _lock, open(root / "lock", "w") as lockfile:
            fcntl.flock(lockfile, fcntl.LOCK_EX)  # other processes: one clone per source
            if not ready.is_file():
                _prepare(location, src, root, tree, task.id)
                ready.write_text(json.dumps({"repo": location, "commit": src.commit, "setup": src.setup}))
    where = tree / src.subdir if src.subdir else tree
    if not where.is_dir():
        raise GitSourceError(f"task {task.id}: {src.subdir!r} is not a directory at {src.commit}")
    return where


def _prepare(location: str, src: GitSource, root: Path, tree: Path, task_id: str) -> None:
    tmp = root / f"tmp-{uuid.uuid4().hex[:8]}"
    try:
        try:
            _git(["clone", "--quiet", "--no-checkout", "--", location, str(tmp)])
            _git(["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", src.commit, "--"], cwd=tmp)
        except GitSourceError as exc:
            raise GitSourceError(f"task {task_id}: {location}@{src.commit}: {exc}") from None
        shutil.rmtree(tmp / ".git")  # a workspace never sees the history (or the fix in it)
        if src.setup:
            argv = resolve_argv(src.setup)
            try:
                # Where the tests run: the subdir, when the task names one.
                where = tmp / src.subdir if src.subdir else tmp
                code, out, _, timed_out = run_command(argv, where, timeout_s=SETUP_TIMEOUT_S)
            except SandboxError as exc:
                raise GitSourceError(f"task {task_id}: setup could not start: {exc}") from None
            if timed_out or code != 0:
                last = out.strip().splitlines()[-1:] or [""]
                what = "timed out" if timed_out else f"exit status {code}"
                raise GitSourceError(f"task {task_id}: setup {shlex.join(argv[:3])} ... {what}: {last[0][:200]}")
        if tree.exists():
            shutil.rmtree(tree)
        tmp.rename(tree)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def env_checkout(suite: Suite, task: Task) -> Path | None:
    """The checkout whose declared dependencies build ``task``'s ``auto`` env, when its source
    names another commit for that (``env_commit``); None: the source's own checkout."""
    src = task.source
    if not isinstance(src, GitSource) or not src.env_commit or src.env_commit == src.commit:
        return None
    at = GitSource(repo=src.repo, commit=src.env_commit, subdir=src.subdir)  # no setup: nothing of it runs
    return checkout(suite, task.model_copy(update={"source": at}))
