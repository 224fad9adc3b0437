"""Per-repository environments (agent/suites/env.py): a src-layout repository whose one
dependency is a wheel built here, offline; its venv built once with uv, mounted by the
sandbox in place of repo-agent's, with the workspace's code on the path."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from agent import differential
from agent.suites.env import VERSION_TEXT, EnvError, build_env, generated_files, plan_env, write_generated
from agent.suites.loading import load_suite
from agent.workspace import Workspace

BUGGY = "import tinydep\n\n\ndef triple(x):\n    return tinydep.double(x) + x - 1\n"
FIXED = "import tinydep\n\n\ndef triple(x):\n    return tinydep.double(x) + x\n"
TESTS = (
    "import importlib.metadata\nimport importlib.util\n\nfrom calc import triple\n\n\n"
    "def test_triple():\n    assert triple(2) == 6\n\n\n"
    "def test_runs_in_the_repository_env_not_repo_agents():\n"
    "    assert importlib.util.find_spec('pydantic') is None\n"
    "    assert importlib.metadata.version('calc') == '0.0.0'  # metadata only: never installed\n"
)
PYPROJECT = (
    '[project]\nname = "calc"\nversion = "0.1"\ndependencies = ["tinydep>=1"]\n'
    '[project.optional-dependencies]\ntest = ["pytest"]\ndocs = ["sphinx"]\n'
)


PYTEST_DISTS = ("pytest", "iniconfig", "packaging", "pluggy", "pygments")  # pytest's own, on this Python


def _uv_env(monkeypatch: pytest.MonkeyPatch, wheels: Path, cache: Path) -> None:
    monkeypatch.setenv("REPO_AGENT_CACHE", str(cache))
    monkeypatch.setenv("UV_OFFLINE", "1")  # every wheel from the local directory: no index, no network
    monkeypatch.setenv("UV_NO_INDEX", "1")
    monkeypatch.setenv("UV_FIND_LINKS", str(wheels))


def _wheel_from_installed(name: str, out: Path) -> None:
    """Pack an installed pure-Python distribution of this venv back into a wheel (no network)."""
    dist = importlib.metadata.distribution(name)
    root = Path(str(dist.locate_file("")))
    files = [f for f in dist.files or [] if "__pycache__" not in f.parts and f.name != "RECORD"]
    info = next(f.parts[0] for f in dist.files or [] if f.parts[0].endswith(".dist-info"))
    target = out / f"{dist.metadata['Name'].replace('-', '_')}-{dist.version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w") as whl:
        for f in files:
            if (root / f).is_file() and not str(f).startswith(".."):
                whl.write(root / f, str(f))
        whl.writestr(f"{info}/RECORD", "".join(f"{f},,\n" for f in files) + f"{info}/RECORD,,\n")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    """tinydep-1.0, built from a tiny source with ``uv build --offline``."""
    src = tmp_path_factory.mktemp("tinydep")
    (src / "src" / "tinydep").mkdir(parents=True)
    (src / "src" / "tinydep" / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    # A pytest plugin with an outcome hook, as real test dependencies ship (pytest-lazy-fixtures).
    (src / "src" / "tinydep" / "plugin.py").write_text("def pytest_collection_modifyitems(items):\n    pass\n")
    (src / "pyproject.toml").write_text(
        '[project]\nname = "tinydep"\nversion = "1.0"\n'
        '[project.entry-points.pytest11]\ntinydep = "tinydep.plugin"\n'
        '[build-system]\nrequires = ["uv_build"]\nbuild-backend = "uv_build"\n'
    )
    out = tmp_path_factory.mktemp("wheels")
    for name in PYTEST_DISTS:
        _wheel_from_installed(name, out)
    subprocess.run(
        [shutil.which("uv") or "uv", "build", "--offline", "--wheel", "--quiet", "-o", str(out)],
        cwd=src,
        check=True,
        capture_output=True,
    )
    assert list(out.glob("tinydep-1.0-*.whl"))
    return out


@pytest.fixture(scope="module")
def env_suite(wheels, tmp_path_factory):
    """A suite of one task on the src-layout repository ``calc``, ``env: auto``; its env built once."""
    root = tmp_path_factory.mktemp("calc_suite")
    repo = root / "calc"
    (repo / "src" / "calc").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "src" / "calc" / "__init__.py").write_text(BUGGY)
    (repo / "tests" / "test_calc.py").write_text(TESTS)
    (repo / "pyproject.toml").write_text(PYPROJECT)
    (root / "fix" / "src" / "calc").mkdir(parents=True)
    (root / "fix" / "src" / "calc" / "__init__.py").write_text(FIXED)
    task = {
        "id": "triple",
        "source": {"kind": "dir", "path": "calc"},
        "goal": "triple(x) is off by one",
        "test_command": ["python", "-m", "pytest", "-q", "tests"],
        "protected": ["tests"],
        "reference_fix": "fix",
        "env": "auto",
        # calc is under src/ and imports tinydep: both only through the task's env
        "differential": {"targets": [{"module": "calc", "function": "triple", "inputs": [[1], [2], [5]]}]},
    }
    (root / "suite.json").write_text(json.dumps({"name": "calc", "tasks": [task]}))
    with pytest.MonkeyPatch.context() as mp:
        _uv_env(mp, wheels, root / "cache")
        built = build_env(plan_env(repo))
        yield load_suite(root), root / "cache", built


def test_plan_reads_what_the_repository_declares_and_its_src_layout(env_suite, tmp_path):
    suite, _, _ = env_suite
    plan = plan_env(Path(suite.base_dir) / "calc")
    assert plan.project == "calc"
    assert plan.requirements == ("pytest", "tinydep>=1")  # the test extra, not docs
    assert plan.roots == ("src", "")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "me"\ndependencies = ["a"]\n'
        '[project.optional-dependencies]\ntests = ["b", "me[extra]"]\nextra = ["c"]\ndocs = ["d"]\n'
        '[dependency-groups]\ndev = ["e", {include-group = "lint"}]\nlint = ["f"]\n'
    )
    (tmp_path / "requirements-test.txt").write_text("g==1.0  # pinned\n-e .\n-r more.txt\n")
    (tmp_path / "more.txt").write_text("h\n")
    plan = plan_env(tmp_path)
    assert plan.requirements == ("a", "b", "c", "e", "f", "g==1.0", "h", "pytest") and plan.roots == ("",)


def test_version_files_a_build_would_write_are_named_confined(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.hatch.build.hooks.vcs]\nversion-file = "src/p/_version.py"\n'
        '[tool.setuptools_scm]\nwrite_to = "../outside.py"\n'
    )
    assert generated_files(tmp_path) == {"src/p/_version.py": VERSION_TEXT}
    assert write_generated(tmp_path) == ["src/p/_version.py"] and generated_files(tmp_path) == {}


def test_the_env_is_built_once_and_the_workspace_edit_is_what_the_tests_import(env_suite, tmp_path, monkeypatch):
    suite, cache, built = env_suite
    monkeypatch.setenv("REPO_AGENT_CACHE", str(cache))
    assert built.built and (built.path / "repo-agent-env.json").is_file()
    assert build_env(plan_env(Path(suite.base_dir) / "calc")).built is False  # cached
    assert [p.name for p in (cache / "envs").iterdir() if p.is_dir()] == [built.path.name]
    ws = Workspace.create(suite, suite.tasks[0], tmp_path / "ws")
    try:
        assert ws.python_env == built.path
        before = ws.run_tests()
        assert not before.passed and before.outcomes == {
            "tests/test_calc.py::test_triple": "failed",
            "tests/test_calc.py::test_runs_in_the_repository_env_not_repo_agents": "passed",
        }, before.output
        (ws.path / "src" / "calc" / "__init__.py").write_text(FIXED)  # the rollout's edit
        after = ws.run_tests()
        assert after.passed, after.output
    finally:
        ws.cleanup()


def test_the_held_out_differential_runs_in_the_task_env(env_suite, tmp_path, monkeypatch):
    """The differential's calls (agent/differential.py) import the task's code and its
    dependencies from the task's own venv, as its tests do."""
    suite, cache, _ = env_suite
    monkeypatch.setenv("REPO_AGENT_CACHE", str(cache))
    ws = Workspace.create(suite, suite.tasks[0], tmp_path / "ws")
    try:
        buggy = differential.judge(ws)
        assert buggy is not None and buggy.checked == 3 and len(buggy.differ) == 3, buggy
        (ws.path / "src" / "calc" / "__init__.py").write_text(FIXED)
        fixed = differential.judge(ws)
        assert fixed is not None and fixed.passed and fixed.checked == 3, fixed
    finally:
        ws.cleanup()


def test_a_dependency_that_cannot_be_installed_is_one_line_naming_it(wheels, tmp_path, monkeypatch):
    _uv_env(monkeypatch, wheels, tmp_path / "cache")
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "pyproject.toml").write_text('[project]\nname = "r"\ndependencies = ["no-such-dist-repo-agent"]\n')
    with pytest.raises(EnvError, match="no-such-dist-repo-agent") as err:
        build_env(plan_env(repo))
    assert "\n" not in str(err.value)
    assert not any((tmp_path / "cache" / "envs").glob("*/bin"))  # nothing half-built left


def test_suite_mutate_with_env_auto_validates_in_the_repository_env(env_suite, tmp_path, monkeypatch, capsys):
    """`suite mutate --env auto` on the src-layout repository: the baseline and every
    validation run (through the warm pytest, agent/suites/mutate/zygote.py) import the
    workspace's mutated code and tinydep from the repository's venv. Run in repo-agent's own
    venv, the tests could not import tinydep or calc at all."""
    from agent.suites.mutate import zygote as zygote_module
    from tui.cli import main

    suite, cache, built = env_suite
    monkeypatch.setenv("REPO_AGENT_CACHE", str(cache))
    repo = tmp_path / "calc"
    shutil.copytree(Path(suite.base_dir) / "calc", repo)
    (repo / "src" / "calc" / "__init__.py").write_text(FIXED)  # the baseline passes
    warm_runs: list[str] = []
    real_run = zygote_module.Zygote.run

    def counted(self, args, env, timeout_s):
        warm_runs.append(str(self.python_env))
        return real_run(self, args, env, timeout_s)

    monkeypatch.setattr(zygote_module.Zygote, "run", counted)
    out = tmp_path / "suite"
    argv = ["suite", "mutate", str(repo), "--out", str(out), "--env", "auto", "--max-workers", "1"]
    assert main([*argv, "--tests", "python -m pytest -q tests", "--max-tasks", "1", "--seed", "1"]) == 0
    made = json.loads((out / "suite.json").read_text())
    tasks = made["tasks"]
    assert tasks and all(t["env"] == "auto" for t in tasks), capsys.readouterr().out
    assert warm_runs and set(warm_runs) == {str(built.path)}  # warm, in the repository's venv
    for t in tasks:  # each bug fails test_triple on its assertion, not on an import
        assert "No module named" not in t["goal"] and "test_triple" in t["goal"], t["goal"]
        assert "test_runs_in_the_repository_env" not in t["goal"]
    assert "0 failing there" in capsys.readouterr().out  # the baseline passed in the env


def _git(cwd: Path, *args: str) -> str:
    cp = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return cp.stdout


def test_swebench_environment_setup_commit_declares_the_env(wheels, tmp_path, monkeypatch, capsys):
    """As SWE-bench's harness: the env comes from environment_setup_commit's declared
    dependencies, the project from base_commit. Here only the later setup commit declares
    tinydep, which calc already imports at its base commit: built from the base commit's
    declarations alone, the instance cannot hold."""
    from agent.suites.loading import check_suite
    from agent.suites.swebench import suite_from_swebench
    from agent.workspace import source_dir, task_env
    from tui.cli import main

    _uv_env(monkeypatch, wheels, tmp_path / "cache")
    repo = tmp_path / "repos" / "calc"
    (repo / "src" / "calc").mkdir(parents=True)
    (repo / "tests").mkdir()
    _git(repo, "init", "-q")
    (repo / "src" / "calc" / "__init__.py").write_text(BUGGY)
    (repo / "tests" / "test_calc.py").write_text("def test_nothing_yet():\n    pass\n")
    (repo / "pyproject.toml").write_text('[project]\nname = "calc"\nversion = "0.1"\n')  # tinydep undeclared
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "src" / "calc" / "__init__.py").write_text(FIXED)
    (repo / "tests" / "test_calc.py").write_text(
        "from calc import triple\n\n\ndef test_triple():\n    assert triple(2) == 6\n"
    )
    _git(repo, "commit", "-qam", "fix triple")
    fix = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "pyproject.toml").write_text(PYPROJECT)  # declares tinydep
    _git(repo, "commit", "-qam", "declare tinydep")
    setup = _git(repo, "rev-parse", "HEAD").strip()
    inst = {
        "instance_id": "acme__calc-1",
        "repo": "acme/calc",
        "base_commit": base,
        "problem_statement": "triple(x) is off by one",
        "patch": _git(repo, "diff", base, fix, "--", "src"),
        "test_patch": _git(repo, "diff", base, fix, "--", "tests"),
        "FAIL_TO_PASS": ["tests/test_calc.py::test_triple"],
        "environment_setup_commit": setup,
    }
    undeclared = {**inst, "instance_id": "acme__calc-2", "environment_setup_commit": base}
    missing = {**inst, "instance_id": "acme__calc-3", "environment_setup_commit": "0" * 40}
    path = tmp_path / "calc.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in (inst, undeclared, missing)))

    made = suite_from_swebench(path, tmp_path / "suite", repos=tmp_path / "repos", env="auto")
    assert [t.source.env_commit for t in made.suite.tasks] == [setup, None]  # type: ignore[union-attr]
    [(iid, why)] = made.refused
    assert iid == "acme__calc-3" and "environment_setup_commit" in why and "\n" not in why
    suite = load_suite(tmp_path / "suite")
    envs = {t.id: task_env(suite, t, source_dir(suite, t)) for t in suite.tasks}
    assert envs["acme__calc-1"] != envs["acme__calc-2"]
    has_tinydep = {k: any(v.glob("lib/python3*/site-packages/tinydep")) for k, v in envs.items() if v}
    assert has_tinydep == {"acme__calc-1": True, "acme__calc-2": False}
    [check] = check_suite(suite.model_copy(update={"tasks": suite.tasks[:1]}), max_workers=1)
    assert check.ok, check.detail  # F2P fails before, passes with the fix, in that env

    # Without --env auto, the setup commit builds nothing: said in one line.
    argv = ["suite", "from-swebench", str(path), "--out", str(tmp_path / "s2"), "--repos", str(tmp_path / "repos")]
    assert main(argv) == 0
    assert "name an environment_setup_commit: only --env auto builds" in capsys.readouterr().out
