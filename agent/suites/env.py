"""Per-repository Python environments (docs/agent-and-suites.md, Suites from real repositories).

A task's ``env`` names the interpreter its tests run with: ``None``/``"none"`` is
repo-agent's own venv; ``"auto"`` a venv built with uv from what the repository declares
(pyproject dependencies, the extras and dependency groups named test/tests/testing/dev,
setup.cfg's install_requires and those extras, test requirements files); anything else a
venv directory, relative to the suite file.

Building never runs the repository's code on the host: dependencies are installed from
wheels only (``--only-binary :all:``: an sdist is refused with uv's reason), and the
project itself is never built or installed. It is made importable by a ``.pth`` line that
appends the running workspace (``REPO_AGENT_WORKSPACE``, set by the sandbox) and its
``src/`` to ``sys.path`` after site-packages, so the rollout's edits are what the tests
import and nothing in the workspace shadows the environment's pytest. An ``auto`` env is
cached under ``$REPO_AGENT_CACHE/envs/<hash of what it was built from>`` and shared by
every task and rollout that declares the same. uv reads its own settings from the
environment (``UV_OFFLINE``, ``UV_FIND_LINKS``, ``UV_NO_INDEX``, ``UV_INDEX_URL``).
"""

from __future__ import annotations

import configparser
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.bwrap import runtime_dirs

ENV_AUTO = "auto"
ENV_NONE = "none"
BUILDER_VERSION = "2"  # part of the cache key: bump when the build recipe changes
EXTRA_NAMES = ("test", "tests", "testing", "dev")
# Test requirements files, relative to the repository root.
REQUIREMENTS_GLOBS = (
    "requirements.txt",
    "requirements-test*.txt",
    "requirements_test*.txt",
    "requirements-dev*.txt",
    "requirements_dev*.txt",
    "test-requirements*.txt",
    "test_requirements*.txt",
    "dev-requirements*.txt",
    "requirements/test*.txt",
    "requirements/dev*.txt",
    "requirements/tests*.txt",
)
PTH_NAME = "_repo_agent_workspace.pth"
WORKSPACE_VAR = "REPO_AGENT_WORKSPACE"
INSTALL_TIMEOUT_S = 900.0
_lock = threading.Lock()


class EnvError(ValueError):
    """An environment that cannot be built or used; the message is one clear line."""


@dataclass(frozen=True)
class EnvPlan:
    """What an ``auto`` environment is built from (read from files, nothing run)."""

    project: str  # the project's own name (never installed), "" when not declared
    requirements: tuple[str, ...]  # PEP 508 requirement strings, sorted
    roots: tuple[str, ...]  # workspace-relative import roots ("src", or "" for the root)
    sources: tuple[str, ...]  # the files they were read from
    python: str = field(default_factory=lambda: base_python())

    @property
    def key(self) -> str:
        data = [BUILDER_VERSION, self.python, sys.version, self.requirements, self.roots]
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def base_python() -> str:
    """The interpreter environments are built on: the one repo-agent runs on (not its venv)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return str(Path(base).resolve())


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[([^\]]*)\])?")


def _split(req: str) -> tuple[str, list[str]]:
    m = _REQ_NAME.match(req)
    if not m:
        return "", []
    extras = [e.strip() for e in (m.group(3) or "").split(",") if e.strip()]
    return _norm(m.group(1)), extras


def _requirements_file(path: Path, root: Path, seen: set[Path]) -> list[str]:
    """Requirement lines of a requirements file; ``-r`` includes followed inside the repository."""
    path = path.resolve()
    if path in seen or not path.is_relative_to(root) or not path.is_file():
        return []
    seen.add(path)
    out: list[str] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            out += _requirements_file(path.parent / line.split(None, 1)[1].strip(), root, seen)
            continue
        if line.startswith("-") or line.startswith((".", "/")) or "://" in line or line.startswith("file:"):
            continue  # options, editable or local installs (the project itself), URLs
        out.append(line)
    return out


def _pyproject(root: Path) -> tuple[str, list[str], dict[str, list[str]]]:
    """(name, dependencies, extras and groups by name) from pyproject.toml."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return "", [], {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EnvError(f"{path}: not valid TOML: {exc}") from None
    project = data.get("project") or {}
    named: dict[str, list[str]] = {}
    for name, reqs in (project.get("optional-dependencies") or {}).items():
        named[_norm(name)] = [r for r in reqs if isinstance(r, str)]
    groups = data.get("dependency-groups") or {}

    def group(name: str, depth: int = 0) -> list[str]:
        out: list[str] = []
        for item in groups.get(name) or []:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and "include-group" in item and depth < 10:
                out += group(str(item["include-group"]), depth + 1)
        return out

    for name in groups:
        named.setdefault(_norm(name), []).extend(group(name))
    deps = [r for r in project.get("dependencies") or [] if isinstance(r, str)]
    return str(project.get("name") or ""), deps, named


def _setup_cfg(root: Path) -> tuple[str, list[str], dict[str, list[str]]]:
    path = root / "setup.cfg"
    if not path.is_file():
        return "", [], {}
    cfg = configparser.ConfigParser(interpolation=None)
    try:
        cfg.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise EnvError(f"{path}: cannot read: {exc}") from None

    def lines(text: str) -> list[str]:
        return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]

    name = cfg.get("metadata", "name", fallback="")
    deps = lines(cfg.get("options", "install_requires", fallback=""))
    extras = (
        {_norm(k): lines(v) for k, v in cfg.items("options.extras_require")}
        if cfg.has_section("options.extras_require")
        else {}
    )
    return name, deps, extras


VERSION_TEXT = '__version__ = version = "0.0.0"\n__version_tuple__ = version_tuple = (0, 0, 0)\n'


def generated_files(root: Path) -> dict[str, str]:
    """Files the project's own build would write that its code imports (hatch-vcs and
    setuptools-scm version files): workspace path -> text, only those missing, paths confined."""
    path = Path(root) / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    tool = data.get("tool") or {}
    hatch = tool.get("hatch") or {}
    scm = tool.get("setuptools_scm") or {}
    names = [
        ((hatch.get("build") or {}).get("hooks") or {}).get("vcs", {}).get("version-file"),
        scm.get("version_file"),
        scm.get("write_to"),
    ]
    out: dict[str, str] = {}
    for rel in names:
        if not isinstance(rel, str) or not rel.endswith(".py") or rel.startswith("/") or ".." in Path(rel).parts:
            continue
        if not (Path(root) / rel).exists():
            out[rel] = VERSION_TEXT
    return out


def write_generated(root: Path) -> list[str]:
    """Write ``generated_files`` into a checkout or snapshot (fixed text: nothing of the project runs)."""
    made = generated_files(root)
    for rel, text in made.items():
        target = Path(root) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return sorted(made)


def import_roots(root: Path) -> tuple[str, ...]:
    """Where the project's packages import from: ``src/`` when it holds Python code, else the root."""
    src = root / "src"
    if src.is_dir() and any(p.suffix == ".py" or (p / "__init__.py").is_file() for p in src.iterdir()):
        return ("src", "")
    return ("",)


def plan_env(root: Path) -> EnvPlan:
    """Read what the repository at ``root`` declares for running its tests."""
    root = Path(root).resolve()
    name, deps, named = _pyproject(root)
    sources = ["pyproject.toml"] if (root / "pyproject.toml").is_file() else []
    cfg_name, cfg_deps, cfg_named = _setup_cfg(root)
    if cfg_deps or cfg_named:
        sources.append("setup.cfg")
    name = name or cfg_name
    for k, v in cfg_named.items():
        named.setdefault(k, []).extend(v)
    reqs = list(deps) + cfg_deps
    for extra in EXTRA_NAMES:
        reqs += named.get(extra, [])
    seen: set[Path] = set()
    for pattern in REQUIREMENTS_GLOBS:
        for path in sorted(root.glob(pattern)):
            got = _requirements_file(path, root, seen)
            if got:
                sources.append(path.relative_to(root).as_posix())
                reqs += got
    # The project itself is never installed: a self-reference brings in its extras instead.
    me = _norm(name) if name else ""
    out: list[str] = []
    todo = list(reqs)
    expanded: set[str] = set()
    while todo:
        req = todo.pop(0).strip()
        req_name, extras = _split(req)
        if not req_name:
            continue
        if me and req_name == me:
            for e in extras:
                if _norm(e) not in expanded:
                    expanded.add(_norm(e))
                    todo += named.get(_norm(e), [])
            continue
        if req not in out:
            out.append(req)
    if not any(_split(r)[0] == "pytest" for r in out):
        out.append("pytest")
    return EnvPlan(me, tuple(sorted(out)), import_roots(root), tuple(sources))


# --------------------------------------------------------------------------- building


def cache_dir() -> Path:
    env = os.environ.get("REPO_AGENT_CACHE")
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "repo-agent") / "envs"


def env_python(env: Path) -> Path:
    return Path(env) / "bin" / "python"


def _site_packages(env: Path) -> Path:
    found = sorted((Path(env) / "lib").glob("python3*/site-packages"))
    if not found:
        raise EnvError(f"{env}: no lib/python3*/site-packages (not a venv)")
    return found[0]


def pth_text(roots: tuple[str, ...]) -> str:
    """One ``.pth`` import line: the workspace's import roots, appended after site-packages."""
    # site.py runs it with exec() in a function: no comprehension (its scope would not see ``w``).
    return (
        f"import os, sys; w = os.environ.get({WORKSPACE_VAR!r}) or os.getcwd(); "
        f"sys.path.extend(map(os.path.join, [w] * {len(roots)}, {list(roots)!r}))\n"
    )


def _uv() -> str:
    exe = shutil.which("uv")
    if not exe:
        raise EnvError("uv is not installed: building a repository's environment (--env auto) needs it")
    return exe


def _run_uv(args: list[str], what: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    try:
        cp = subprocess.run([_uv(), *args], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        raise EnvError(f"{what}: uv took more than {INSTALL_TIMEOUT_S:.0f}s") from None
    if cp.returncode != 0:
        text = re.sub(r"\x1b\[[0-9;]*m", "", cp.stderr or cp.stdout)
        lines = [ln.strip().lstrip("×╰─▶│ ").strip() for ln in text.splitlines()]
        # uv says what failed, then why (the package and its reason); hints follow.
        lines = [ln for ln in lines if ln and not ln.startswith(("hint:", "help:"))][:2]
        why = " ".join(lines).removeprefix("error: ") or f"exit status {cp.returncode}"
        raise EnvError(f"{what}: {why[:400]}")


@dataclass
class BuiltEnv:
    path: Path
    built: bool  # False: found ready in the cache
    seconds: float


def build_env(plan: EnvPlan, *, progress: Callable[[str], None] | None = None) -> BuiltEnv:
    """The environment for ``plan``, built once (a file lock keeps concurrent builders out)."""
    say = progress or (lambda _msg: None)
    path = cache_dir() / plan.key
    ready = path / "repo-agent-env.json"
    if ready.is_file():
        return BuiltEnv(path, False, 0.0)
    start = time.monotonic()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock, open(path.parent / f"{plan.key}.lock", "w") as lockfile:
        fcntl.flock(lockfile, fcntl.LOCK_EX)
        if ready.is_file():
            return BuiltEnv(path, False, 0.0)
        shutil.rmtree(path, ignore_errors=True)  # a build that died half way
        try:
            say(f"creating a venv on {plan.python}")
            _run_uv(["venv", "--quiet", "--no-project", "--python", plan.python, str(path)], "creating the venv")
            reqs_file = path / "repo-agent-requirements.txt"
            reqs_file.write_text("\n".join(plan.requirements) + "\n", encoding="utf-8")
            say(f"installing {len(plan.requirements)} requirements from wheels")
            _run_uv(
                [
                    "pip",
                    "install",
                    "--quiet",
                    "--python",
                    str(env_python(path)),
                    "--only-binary",
                    ":all:",
                    "-r",
                    str(reqs_file),
                ],
                "installing the requirements from wheels",
            )
            site = _site_packages(path)
            (site / PTH_NAME).write_text(pth_text(plan.roots), encoding="utf-8")
            if plan.project:  # metadata only, so importlib.metadata.version(project) answers
                info = site / f"{plan.project.replace('-', '_')}-0.0.0.dist-info"
                info.mkdir(exist_ok=True)
                (info / "METADATA").write_text(
                    f"Metadata-Version: 2.1\nName: {plan.project}\nVersion: 0.0.0\n", encoding="utf-8"
                )
                (info / "INSTALLER").write_text("repo-agent\n", encoding="utf-8")
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        meta = {
            "project": plan.project,
            "requirements": list(plan.requirements),
            "roots": list(plan.roots),
            "sources": list(plan.sources),
            "python": plan.python,
            "seconds": round(time.monotonic() - start, 2),
        }
        ready.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return BuiltEnv(path, True, time.monotonic() - start)


def check_env_dir(env: Path) -> Path:
    """A user-given venv: it must have an interpreter and site-packages."""
    env = Path(env).expanduser().resolve()
    if not env_python(env).exists() or not (env / "pyvenv.cfg").is_file():
        raise EnvError(f"{env}: not a venv (no bin/python or pyvenv.cfg)")
    _site_packages(env)
    return env


def check_spec(spec: str | None) -> str | None:
    """``--env``'s value as stored in a task (None for repo-agent's own)."""
    if spec is None or spec == ENV_NONE:
        return None
    return spec


def plan_env_at(source: Path, declared: Path) -> EnvPlan:
    """The plan for ``source`` with its dependencies as ``declared`` (another commit's tree)
    says, as SWE-bench builds an instance's environment from its environment_setup_commit's
    requirements and installs the project at its base commit: what ``declared`` names wins,
    ``source``'s own declarations add the rest; the import roots are ``source``'s."""
    mine, theirs = plan_env(source), plan_env(declared)
    named = {_split(r)[0] for r in theirs.requirements}
    reqs = set(theirs.requirements) | {r for r in mine.requirements if _split(r)[0] not in named}
    sources = (*(f"env commit: {f}" for f in theirs.sources), *mine.sources)
    return EnvPlan(mine.project or theirs.project, tuple(sorted(reqs)), mine.roots, sources)


def plan_for(source: Path, declared: Path | None = None) -> EnvPlan:
    """``plan_env(source)``, or ``plan_env_at`` when another tree declares the dependencies."""
    return plan_env(source) if declared is None else plan_env_at(source, declared)


def resolve_env(spec: str | None, source: Path, base_dir: Path | None, declared: Path | None = None) -> Path | None:
    """The venv a task's tests run in (built on first use for ``auto``, from what ``declared``
    declares when given: see ``plan_env_at``), or None for repo-agent's own."""
    if spec is None or spec == ENV_NONE:
        return None
    if spec == ENV_AUTO:
        return build_env(plan_for(source, declared)).path
    return check_env_dir(Path(base_dir or ".") / spec)


def trusted_env_dirs(env: Path) -> tuple[str, ...]:
    """Where a task venv's pytest plugins (their hooks, trace functions) may come from without
    being the run's doing (agent/pytest_report.judge ``trusted_dirs``): the venv, and for a
    venv made with ``--system-site-packages`` (pyvenv.cfg ``include-system-site-packages =
    true``), whose tests load the base interpreter's plugins too (pytest-benchmark's,
    hypothesis'), that interpreter's site directories. Each only where the sandbox mounts it
    read-only (``runtime_dirs``: the interpreter's real prefix): code under test cannot write
    a file there, so a hook found there was installed by the user before the run, as a hook
    in the venv is. The user site (``~/.local``) is not mounted and not trusted."""
    env = Path(env)
    out = [str(env)]
    if _cfg_value(env, "include-system-site-packages").lower() == "true":
        python = str(env.resolve() / "bin" / "python")  # as agent/scoring.py hands it to the sandbox
        mounted = runtime_dirs(python)
        for d in _base_site_dirs(python):
            real = os.path.realpath(d)
            if real not in out and any(real == m or real.startswith(m + os.sep) for m in mounted):
                out.append(real)
    return tuple(out)


def _cfg_value(env: Path, name: str) -> str:
    """A key of the venv's pyvenv.cfg (case-insensitive), "" when absent or unreadable."""
    try:
        for line in (Path(env) / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip().lower() == name:
                return value.strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return ""


def _base_site_dirs(python: str) -> tuple[str, ...]:
    """The site directories of the interpreter a venv runs on, as that interpreter names them
    (Debian's dist-packages too); asked with ``-I -S``: no site, no .pth file, no environment.
    Not known (it could not be asked): nothing more trusted, and asked again next time (only
    an answer is cached: one slow start must not stop trusting them for the process's life)."""
    try:
        return _asked_site_dirs(python)
    except (OSError, subprocess.SubprocessError, ValueError):
        return ()


@functools.lru_cache(maxsize=16)
def _asked_site_dirs(python: str) -> tuple[str, ...]:
    code = "import json, site, sys; print(json.dumps(site.getsitepackages([sys.base_prefix, sys.base_exec_prefix])))"
    run = subprocess.run([python, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=30, check=True)
    found = json.loads(run.stdout)
    return tuple(d for d in found if isinstance(d, str) and os.path.isabs(d)) if isinstance(found, list) else ()


def env_home(env: Path) -> Path | None:
    """The directory of the interpreter a venv runs on (its pyvenv.cfg ``home``)."""
    home = _cfg_value(env, "home")
    return Path(home) if home else None
