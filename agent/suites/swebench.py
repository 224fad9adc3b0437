"""SWE-bench-format instances -> a suite of git-source tasks with hidden tests.

``suite_from_swebench(file, out, repos=..., env=...)`` reads instances (a JSON array or
object, or JSONL: ``instance_id``, ``repo``, ``base_commit``, ``problem_statement``,
``patch``, ``test_patch``, ``FAIL_TO_PASS``, ``PASS_TO_PASS``, optional
``environment_setup_commit``, ``version``, ``hints_text``) and writes ``out/suite.json``:
one task per instance, its id the instance id, its source the repository at
``base_commit``, its goal the problem statement, its reference fix the files ``patch``
changes (``out/fixes/<id>/``), its hidden tests ``test_patch`` (``out/hidden_tests/<id>.patch``,
applied only for the final run, agent/suites/hidden_tests.py). The repository is found in
``repos`` as ``owner__name`` or ``name``, or cloned from GitHub when none is given.
Every id and path read from an instance is confined; an instance that cannot be a task
(test ids that are not pytest node ids, a patch that does not apply, a fix that deletes
files) is refused by name with the reason, and the others are written.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from agent.suites.env import ENV_AUTO, generated_files
from agent.suites.hidden_tests import (
    PatchError,
    apply_patch,
    deleted_files,
    id_files,
    is_pytest_id,
    patch_files,
)
from agent.suites.models import GitSource, HiddenTests, Suite, SuiteError, Task
from agent.trace_io import loads_bounded

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
_REV = re.compile(r"^[0-9a-fA-F]{7,40}$")
GITHUB = "https://github.com/{repo}.git"
TIMEOUT_S = 300.0
PER_TEST_TIMEOUT_S = 60.0


class Instance(BaseModel):
    """One SWE-bench instance (unknown keys are ignored: datasets add their own)."""

    model_config = ConfigDict(extra="ignore")
    instance_id: str
    repo: str
    base_commit: str
    problem_statement: str
    patch: str
    test_patch: str
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str] = []
    environment_setup_commit: str | None = None
    version: str | None = None
    hints_text: str | None = None

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", mode="before")
    @classmethod
    def _json_list(cls, v: object) -> object:
        # The Hugging Face datasets store these lists as JSON strings.
        return json.loads(v) if isinstance(v, str) else v


@dataclass
class FromSwebench:
    suite: Suite
    refused: list[tuple[str, str]] = field(default_factory=list)  # (instance id, why)


def safe_id(text: str, what: str) -> str:
    if not _ID.match(text) or text in (".", ".."):
        raise SuiteError(f"{what} {text!r} is not a plain name (letters, digits, _ . -)")
    return text


def safe_repo(repo: str) -> tuple[str, str]:
    owner, sep, name = repo.partition("/")
    if not sep or "/" in name:
        raise SuiteError(f"repo {repo!r} is not owner/name")
    return safe_id(owner, "repo owner"), safe_id(name, "repo name")


def read_instances(path: Path) -> list[Instance]:
    """Instances from a JSON array/object or a JSONL file; a bad one is one line naming where."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SuiteError(f"{path}: not a UTF-8 text file") from None
    rows: list[tuple[str, object]] = []
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            rows = [(f"item {i + 1}", r) for i, r in enumerate(loads_bounded(text))]
        elif stripped.startswith("{") and "\n{" not in stripped:
            rows = [("the object", loads_bounded(text))]
        else:
            for n, line in enumerate(text.split("\n"), 1):  # not splitlines: JSON text may hold U+2028
                if line.strip():
                    rows.append((f"line {n}", loads_bounded(line)))
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not JSON or JSONL: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # too deep, too many values, a number past 64 bits (agent/trace_io.py)
        raise SuiteError(f"{path}: {exc}") from None
    out: list[Instance] = []
    for where, row in rows:
        try:
            out.append(Instance.model_validate(row))
        except ValidationError as exc:
            e = exc.errors()[0]
            loc = ".".join(str(x) for x in e.get("loc", ())) or "(top level)"
            raise SuiteError(f"{path}: {where}: {loc}: {e.get('msg', 'invalid')}") from None
    if not out:
        raise SuiteError(f"{path}: no instances")
    return out


def find_repo(repo: str, repos: Path | None) -> str:
    """The repository's location: ``repos/owner__name`` or ``repos/name`` (inside ``repos``), or its GitHub URL."""
    owner, name = safe_repo(repo)
    if repos is None:
        return GITHUB.format(repo=f"{owner}/{name}")
    root = Path(repos).expanduser().resolve()
    for cand in (f"{owner}__{name}", name):
        where = (root / cand).resolve()
        if where.is_dir() and where.is_relative_to(root):
            return str(where)
    raise SuiteError(f"repository {repo} not found in {root} (as {owner}__{name} or {name})")


def _visible_command(tests: list[str], tree: Path) -> list[str]:
    """What the rollout's run_tests runs: the ids' files that exist before the test patch,
    else their nearest existing directories (the hidden tests are not there yet)."""
    there = [f for f in tests if (tree / f).is_file()]
    if not there:
        dirs = set()
        for f in tests:
            d = Path(f).parent
            while d != Path(".") and not (tree / d).is_dir():
                d = d.parent
            dirs.add(d.as_posix())
        there = sorted(dirs)
    return ["python", "-m", "pytest", "-q", *([] if there == ["."] else there)]


def _make_task(inst: Instance, location: str, out: Path, env: str | None) -> Task:
    iid = safe_id(inst.instance_id, "instance_id")
    if not _REV.match(inst.base_commit):
        raise SuiteError(f"base_commit {inst.base_commit!r} is not a commit hash")
    env_commit = inst.environment_setup_commit or None
    if env_commit is not None and not _REV.match(env_commit):
        raise SuiteError(f"environment_setup_commit {env_commit!r} is not a commit hash")
    if env_commit == inst.base_commit:
        env_commit = None
    ids = [*inst.FAIL_TO_PASS, *inst.PASS_TO_PASS]
    if not inst.FAIL_TO_PASS:
        raise SuiteError("FAIL_TO_PASS is empty: nothing the fix must make pass")
    bad = [i for i in ids if not is_pytest_id(i)]
    if bad:
        raise SuiteError(f"test ids are not pytest node ids (e.g. {bad[0]!r}): only pytest instances are supported")
    fix_files = patch_files(inst.patch, "patch")
    test_files = patch_files(inst.test_patch, "test_patch")
    if gone := deleted_files(inst.patch):
        raise SuiteError(f"the fix deletes {gone[0]}: a reference fix can only add or change files")
    hidden = HiddenTests(
        patch=f"hidden_tests/{iid}.patch", fail_to_pass=inst.FAIL_TO_PASS, pass_to_pass=inst.PASS_TO_PASS
    )
    task = Task(
        id=iid,
        # SWE-bench builds the environment from environment_setup_commit's declared requirements
        # and installs the project at base_commit: an ``auto`` env does the same.
        source=GitSource(repo=location, commit=inst.base_commit, env_commit=env_commit),
        goal=inst.problem_statement.strip(),
        test_command=["python", "-m", "pytest", "-q"],
        timeout_s=TIMEOUT_S,
        per_test_timeout_s=PER_TEST_TIMEOUT_S,
        protected=sorted(set(test_files) | set(id_files(hidden))),
        reference_fix=f"fixes/{iid}",
        tags=["swebench", f"repo:{inst.repo}", "verdict:hidden-tests"],
        features={"fix_files": len(fix_files), "fail_to_pass": len(inst.FAIL_TO_PASS)},
        env=env,
        hidden_tests=hidden,
    )
    # The checkout (cached, shared with the rollouts): the fix's files, and both patches must apply.
    from agent.suites.git import GitSourceError, checkout, env_checkout

    probe = Suite(name="probe", tasks=[task])
    probe.base_dir = out
    try:
        tree = checkout(probe, task)
        if env == ENV_AUTO and env_commit is not None:
            env_checkout(probe, task)  # the commit must be there: its declarations build the env
    except GitSourceError as exc:
        raise SuiteError(str(exc).replace(f"@{env_commit}:", f"@{env_commit} (environment_setup_commit):")) from None
    if env is not None and (made := generated_files(tree)):
        # Files the project's build would write (a version file its code imports): written by
        # a setup step in the sandbox on the cached checkout, never by the project's own build.
        write = f"import pathlib, json\nfor p, t in json.loads({json.dumps(made)!r}).items():\n"
        write += "    q = pathlib.Path(p)\n    q.parent.mkdir(parents=True, exist_ok=True)\n    q.write_text(t)\n"
        task.source = GitSource(
            repo=location, commit=inst.base_commit, setup=["python", "-c", write], env_commit=env_commit
        )
    with tempfile.TemporaryDirectory(prefix="repo-agent-swebench-") as tmp:
        work = Path(tmp) / "tree"
        shutil.copytree(tree, work, symlinks=True)
        apply_patch(work, inst.test_patch, "test_patch")
        shutil.rmtree(work)
        shutil.copytree(tree, work, symlinks=True)
        apply_patch(work, inst.patch, "patch")
        fixes = out / "fixes" / iid
        shutil.rmtree(fixes, ignore_errors=True)
        for rel in fix_files:
            src = work / rel
            if src.is_file() and not src.is_symlink():
                (fixes / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, fixes / rel)
    fixes.mkdir(parents=True, exist_ok=True)
    (out / "hidden_tests").mkdir(parents=True, exist_ok=True)
    (out / hidden.patch).write_text(inst.test_patch, encoding="utf-8", errors="surrogateescape")
    # Only files the base commit has are protected (changing one is tampering). A file the test
    # patch creates was never in the workspace: a rollout's file of that name is its own test,
    # replaced by the hidden one for the final run (hidden_tests.hidden_run).
    given = sorted(p for p in task.protected if (tree / p).exists() or (tree / p).is_symlink())
    return task.model_copy(update={"test_command": _visible_command(id_files(hidden), tree), "protected": given})


def suite_from_swebench(
    path: Path,
    out: Path,
    *,
    repos: Path | None = None,
    env: str | None = None,
    ids: list[str] | None = None,
    name: str | None = None,
) -> FromSwebench:
    """Write ``out/suite.json`` from the instances in ``path``; returns the suite and what was refused."""
    instances = read_instances(path)
    if ids:
        unknown = sorted(set(ids) - {i.instance_id for i in instances})
        if unknown:
            raise SuiteError(f"{path}: no instance named {', '.join(unknown[:5])}")
        instances = [i for i in instances if i.instance_id in set(ids)]
    try:
        return make_tasks(
            instances,
            lambda inst: find_repo(inst.repo, repos),
            out,
            env=env,
            name=name or safe_id(Path(path).stem.replace(" ", "_") or "swebench", "suite name"),
            description=f"SWE-bench-format instances from {Path(path).name}",
        )
    except SuiteError as exc:
        raise SuiteError(f"{path}: {exc}") from None


def make_tasks(
    instances: list[Instance],
    locate: Callable[[Instance], str],
    out: Path,
    *,
    env: str | None,
    name: str,
    description: str = "",
    envs: dict[str, str] | None = None,
) -> FromSwebench:
    """One task per instance (``envs``: a venv per instance id, over ``env``); writes ``out/suite.json``."""
    out = Path(out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    tasks: list[Task] = []
    refused: list[tuple[str, str]] = []
    seen: set[str] = set()
    for inst in instances:
        label = inst.instance_id if _ID.match(inst.instance_id) else repr(inst.instance_id[:60])
        try:
            if inst.instance_id in seen:
                raise SuiteError("duplicate instance_id")
            seen.add(inst.instance_id)
            tasks.append(_make_task(inst, locate(inst), out, (envs or {}).get(inst.instance_id, env)))
        except (SuiteError, PatchError) as exc:
            refused.append((label, str(exc)))
    if not tasks:
        why = f" ({refused[0][0]}: {refused[0][1]})" if refused else ""
        raise SuiteError(f"no instance can be a task{why}")
    suite = Suite(name=name, description=description, tasks=tasks)
    suite.base_dir = out
    (out / "suite.json").write_text(suite.model_dump_json(indent=1, exclude_defaults=True) + "\n", encoding="utf-8")
    return FromSwebench(suite, refused)
