"""BugsInPy projects -> a suite with hidden tests (docs/agent-and-suites.md).

``suite_from_bugsinpy(root, project, out, ...)`` reads ``projects/NAME/project.info``
(``github_url``) and each ``projects/NAME/bugs/N/`` (``bug.info``: ``python_version``,
``buggy_commit_id``, ``fixed_commit_id``, ``test_file``; ``bug_patch.txt``;
``run_test.sh``; ``requirements.txt``) and makes each bug a SWE-bench-style instance: the
buggy commit is the base, ``bug_patch.txt`` the reference fix, the test files' change from
the buggy to the fixed commit the hidden test patch, and the pytest node ids of
``run_test.sh`` FAIL_TO_PASS. Then agent/suites/swebench.py writes the tasks. With
``env="auto"`` each bug gets a venv from its own ``requirements.txt`` on this machine's
Python (pins first; without the pins when they do not install); a bug whose environment
cannot be built is refused with uv's reason, and the project's other bugs stay usable.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from agent.suites.env import ENV_AUTO, EnvError, EnvPlan, build_env, import_roots, write_generated
from agent.suites.hidden_tests import confined, is_pytest_id
from agent.suites.models import SuiteError
from agent.suites.swebench import FromSwebench, Instance, make_tasks, safe_id

_LINE = re.compile(r'^\s*([A-Za-z_]+)\s*=\s*"?(.*?)"?\s*$')
_SKIP_REQS = ("pkg-resources", "pkg_resources")


@dataclass
class Bug:
    number: int
    info: dict[str, str]
    instance: Instance | None = None
    requirements: list[str] = field(default_factory=list)


def read_info(path: Path) -> dict[str, str]:
    """``KEY="value"`` lines (BugsInPy's .info files)."""
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read: {exc.strerror or exc}") from None
    for line in text.splitlines():
        if m := _LINE.match(line):
            out[m.group(1)] = m.group(2).strip().strip('"')
    return out


def parse_bugs(spec: str) -> list[int]:
    """``1,4-9`` -> [1, 4, 5, 6, 7, 8, 9]."""
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise SuiteError(f"--bugs: {part!r} is not N or N-M")
        out += list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
    return sorted(set(out))


def pytest_ids(run_test: str) -> list[str]:
    """The node ids ``run_test.sh`` runs with pytest; SuiteError when it runs another runner."""
    ids: list[str] = []
    for line in run_test.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            argv = shlex.split(line)
        except ValueError as exc:  # an unclosed quote: one line, not a traceback
            raise SuiteError(f"run_test.sh: cannot read {line[:80]!r}: {exc}") from None
        if "pytest" not in argv and not (argv and argv[0].endswith("pytest")):
            raise SuiteError(f"run_test.sh runs {' '.join(argv[:3])!r}, not pytest node ids")
        ids += [a for a in argv[argv.index("pytest") + 1 if "pytest" in argv else 1 :] if not a.startswith("-")]
    bad = [i for i in ids if not is_pytest_id(i)]
    if bad or not ids:
        raise SuiteError(f"run_test.sh names no pytest node ids ({bad[0] if bad else 'none'!r})")
    return ids


def _git(repo: Path, *args: str) -> str:
    cp = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=600)
    if cp.returncode != 0:
        why = (cp.stderr or cp.stdout).strip().splitlines()
        raise SuiteError(f"git {args[0]} failed: {why[-1] if why else cp.returncode}")
    return cp.stdout


def read_bug(bug_dir: Path, number: int, repo_name: str, repo: Path) -> Bug:
    info = read_info(bug_dir / "bug.info")
    buggy, fixed = info.get("buggy_commit_id", ""), info.get("fixed_commit_id", "")
    tests = [confined(t.strip(), "test_file") for t in info.get("test_file", "").split(";") if t.strip()]
    if not buggy or not fixed or not tests:
        raise SuiteError("bug.info lacks buggy_commit_id, fixed_commit_id or test_file")
    ids = pytest_ids((bug_dir / "run_test.sh").read_text(encoding="utf-8", errors="replace"))
    patch = (bug_dir / "bug_patch.txt").read_text(encoding="utf-8", errors="surrogateescape")
    test_patch = _git(repo, "diff", buggy, fixed, "--", *tests)
    if not test_patch.strip():
        raise SuiteError(f"the test files do not change from {buggy[:8]} to {fixed[:8]}")
    reqs_file = bug_dir / "requirements.txt"
    reqs = reqs_file.read_text(encoding="utf-8", errors="replace").splitlines() if reqs_file.is_file() else []
    reqs = [r.strip() for r in reqs if r.strip() and not r.startswith(("#", "-")) and not r.startswith(_SKIP_REQS)]
    project = repo_name.split("/")[-1]
    own = re.sub(r"[-_.]+", "-", project).lower()  # the project itself is the workspace, never installed
    reqs = [r for r in reqs if re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]).lower() != own]
    inst = Instance(
        instance_id=f"{safe_id(project, 'project')}-{number}",
        repo=repo_name,
        base_commit=buggy,
        problem_statement=(
            f"BugsInPy {project} bug {number}: the tests {', '.join(ids[:3])} fail. "
            "Find the bug in the project's code and fix it. Do not change the tests."
        ),
        patch=patch,
        test_patch=test_patch,
        FAIL_TO_PASS=ids,
        PASS_TO_PASS=[],
        version=info.get("python_version"),
    )
    return Bug(number, info, inst, reqs)


def bug_env(bug: Bug, tree: Path) -> Path:
    """A venv from the bug's requirements on this machine's Python: pinned when the bug was
    recorded on this Python's minor version, else (or when the pins do not install) the same
    packages unpinned, the closest that installs here; EnvError when neither does. pytest and
    pluggy are never pinned: repo-agent's verdict plugins need a current pytest."""
    write_generated(tree)
    name_of = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    wanted = ".".join(bug.info.get("python_version", "").split(".")[:2])
    current = ("pytest", "pluggy")
    pinned = sorted({r for r in bug.requirements if not r.lower().startswith(current)} | {"pytest"})
    loose = sorted({m.group(1) for r in bug.requirements if (m := name_of.match(r))} | {"pytest"})
    first: EnvError | None = None
    for reqs in (pinned, loose) if wanted == mine else (loose,):
        try:
            return build_env(EnvPlan("", tuple(reqs), import_roots(tree), ("requirements.txt",))).path
        except EnvError as exc:
            first = first or exc
    assert first is not None
    raise first


def suite_from_bugsinpy(
    root: Path,
    project: str,
    out: Path,
    *,
    bugs: list[int] | None = None,
    repos: Path | None = None,
    env: str | None = None,
) -> FromSwebench:
    """Write ``out/suite.json`` from a BugsInPy checkout's bugs of ``project``."""
    root = Path(root).expanduser().resolve()
    pdir = (root / "projects" / safe_id(project, "--project")).resolve()
    if not pdir.is_relative_to(root) or not (pdir / "project.info").is_file():
        raise SuiteError(f"{root}: no projects/{project}/project.info (a BugsInPy checkout?)")
    url = read_info(pdir / "project.info").get("github_url", "").rstrip("/")
    m = re.match(r"^https://github\.com/([^/]+/[^/]+?)(?:\.git)?$", url)
    if not m:
        raise SuiteError(f"{pdir / 'project.info'}: github_url {url!r} is not a GitHub repository URL")
    repo_name = m.group(1)
    from agent.suites.swebench import find_repo

    location = find_repo(repo_name, repos)
    if "://" in location:
        raise SuiteError(f"{repo_name}: clone {url} into a directory and give it as --repos")
    available = (
        sorted(int(p.name) for p in (pdir / "bugs").iterdir() if p.name.isdigit()) if (pdir / "bugs").is_dir() else []
    )
    wanted = bugs or available
    refused: list[tuple[str, str]] = []
    chosen: list[Bug] = []
    for n in wanted:
        label = f"{project}-{n}"
        if n not in available:
            refused.append((label, f"no bugs/{n} in {pdir}"))
            continue
        try:
            chosen.append(read_bug(pdir / "bugs" / str(n), n, repo_name, Path(location)))
        except (SuiteError, OSError) as exc:
            refused.append((label, str(exc)))
    envs: dict[str, str | None] = {}
    if env == ENV_AUTO:
        for bug in list(chosen):
            assert bug.instance is not None
            tree = Path(_tree(location, bug.instance.base_commit, out))
            try:
                envs[bug.instance.instance_id] = str(bug_env(bug, tree))
            except EnvError as exc:
                refused.append((bug.instance.instance_id, f"environment: {exc}"))
                chosen.remove(bug)
    if not chosen:
        why = f" ({refused[0][0]}: {refused[0][1]})" if refused else ""
        raise SuiteError(f"{pdir}: no bug can be a task{why}")
    made = make_tasks(
        [b.instance for b in chosen if b.instance is not None],
        lambda inst: location,
        out,
        env=env if env != ENV_AUTO else None,
        envs={k: v for k, v in envs.items() if v},
        name=f"bugsinpy-{project}",
        description=f"BugsInPy {project} from {root}",
    )
    made.refused[:0] = refused
    return made


def _tree(location: str, commit: str, out: Path) -> Path:
    """A plain export of the repository at ``commit`` (for reading what the bug needs)."""
    dest = out / ".bugsinpy" / commit[:16]
    if not dest.is_dir():
        dest.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", commit], cwd=location, capture_output=True, timeout=600)
        if archive.returncode != 0:
            raise SuiteError(f"git archive {commit[:8]} failed in {location}")
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest
