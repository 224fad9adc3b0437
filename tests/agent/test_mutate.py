"""`suite mutate` on a repository the test builds: real sandboxed pytest runs throughout."""

from __future__ import annotations

import json

import pytest

from agent.suites.loading import check_suite, load_suite
from agent.suites.mutate import MutateConfig, MutateError, mutate_repo
from tests.agent.mutate_repo import build_repo


@pytest.fixture(scope="module")
def mutated(tmp_path_factory):
    """arithmetic + remove_statement on the small repo: hangs, duplicates and real bugs."""
    root = tmp_path_factory.mktemp("mutate")
    repo = build_repo(root / "repo")
    cfg = MutateConfig(
        tests="python -m pytest -q tests",
        operators=["arithmetic", "remove_statement"],
        per_test_timeout_s=3.0,  # the least a run's test gets (MIN_PER_TEST_S)
        max_workers=2,
    )
    seen = []
    suite, stats = mutate_repo(repo, root / "out", cfg, progress=lambda s: seen.append((s.tried, s.validated)))
    return repo, root / "out", suite, stats, seen, cfg


def test_every_task_fails_at_start_and_passes_with_its_reference_fix(mutated):
    repo, out, suite, stats, seen, _ = mutated
    loaded = load_suite(out)  # what `suite check OUT` and `run --suite OUT` read
    assert [t.id for t in loaded.tasks] == [t.id for t in suite.tasks]
    checks = check_suite(loaded, max_workers=2)
    assert [c.task_id for c in checks if not c.ok] == []
    assert all(c.fails_untouched and c.passes_with_fix for c in checks)
    assert stats.validated == len(suite.tasks) >= 4
    assert seen and seen[-1][1] == stats.validated  # progress was reported as it went


def test_already_failing_tests_are_ignored(mutated):
    _, _, suite, stats, _, _ = mutated
    assert stats.baseline_tests == 7 and stats.baseline_failing == 1
    for t in suite.tasks:
        assert not any("test_answer" in a for a in t.test_command)
        assert "test_answer" not in t.goal


def test_a_hanging_mutant_is_rejected(mutated):
    # spin(): `i += 1` -> `i -= 1` loops forever; the per-test timeout stops it.
    _, _, suite, stats, _, _ = mutated
    assert stats.hang == 1
    assert not any(t.features["function"] == "spin" and "arithmetic" in t.tags for t in suite.tasks)


def test_duplicates_are_dropped(mutated):
    # double_step(): removing either of its two `x += 1` lines gives the same code.
    _, _, suite, stats, _, _ = mutated
    assert stats.duplicate >= 1
    removed = [t for t in suite.tasks if t.features["function"] == "double_step" and "remove_statement" in t.tags]
    assert len(removed) == 1


def test_goal_names_failing_tests_and_messages_never_the_diff(mutated):
    _, out, suite, _, _, _ = mutated
    for t in suite.tasks:
        assert "Failing tests:" in t.goal and "tests/test_core.py::" in t.goal
        fix = (out / t.reference_fix / "mylib" / "core.py").read_text()
        start = (out / t.source.path / "mylib" / "core.py").read_text()
        changed = {ln.strip() for ln in start.splitlines()} ^ {ln.strip() for ln in fix.splitlines()}
        assert not any(ln and ln in t.goal for ln in changed), t.goal
        assert t.protected == ["tests/test_core.py"]
        assert set(t.features) >= {"operator", "lines_changed", "failing_tests", "distance"}
        assert t.features["failing_tests"] >= 1 and t.features["distance"] >= 1


def test_a_second_run_resumes_without_running_anything(mutated):
    repo, out, suite, stats, _, cfg = mutated
    again, stats2 = mutate_repo(repo, out, cfg)
    assert [t.id for t in again.tasks] == [t.id for t in suite.tasks]
    assert stats2.resumed == stats.tried + stats.duplicate + stats.uncovered + stats.equivalent
    assert json.loads((out / "suite.json").read_text())["tasks"][0]["id"] == suite.tasks[0].id


def test_a_changed_repository_is_refused_for_the_same_out(mutated, tmp_path):
    repo, out, _, _, _, cfg = mutated
    other = build_repo(tmp_path / "other")
    (other / "mylib" / "core.py").write_text("def answer():\n    return 42\n")
    with pytest.raises(MutateError, match="another state of the repository"):
        mutate_repo(other, out, cfg)


def test_multi_joins_validated_bugs_of_different_functions(tmp_path):
    repo = build_repo(tmp_path / "repo")
    cfg = MutateConfig(
        tests="python -m pytest -q tests", operators=["remove_statement"], multi=2, max_tasks=4, per_test_timeout_s=3.0
    )
    suite, stats = mutate_repo(repo, tmp_path / "out", cfg)
    multi = [t for t in suite.tasks if "tier-2" in t.tags]
    assert multi and len(suite.tasks) <= 4
    for t in multi:
        functions = t.features["function"].split("+")
        assert t.features["mutants"] == 2 and len(set(functions)) == 2
    assert all(c.ok for c in check_suite(load_suite(tmp_path / "out"), max_workers=2))


def test_a_baseline_test_parametrised_with_its_workspace_path_is_named_by_its_function() -> None:
    from agent.suites.mutate.runner import BASELINE_PREFIX, Baseline

    here = f"/tmp/{BASELINE_PREFIX}x1/ws/tests"
    base = Baseline(
        outcomes={
            "t.py::test_a": {"outcome": "passed", "duration": 1.0},
            f"t.py::test_b[{here}]": {"outcome": "passed", "duration": 1.0},
            "t.py::test_b[plain]": {"outcome": "failed", "duration": 2.0},
            "t.py::test_c[1]": {"outcome": "passed", "duration": 1.0},
        },
        calls={"m.py": {3: {f"t.py::test_b[{here}]": 2, "t.py::test_b[plain]": 1, "t.py::test_a": 1}}},
    ).stable()
    # No id holds the path; test_b's plain case goes with it (never named twice), and the
    # function passes only if all of it does. Ids without the path stay as they were.
    assert set(base.outcomes) == {"t.py::test_a", "t.py::test_b", "t.py::test_c[1]"}
    assert base.outcomes["t.py::test_b"] == {"outcome": "failed", "duration": 3.0}
    assert base.calls == {"m.py": {3: {"t.py::test_b": 1, "t.py::test_a": 1}}}


def test_a_generated_task_protects_test_helpers_and_conftest_plugins(tmp_path) -> None:
    from agent.suites.mutate.tasks import protected_paths

    files = {
        "conftest.py": 'pytest_plugins = ["mylib.testplug", "src_plug"]\n',
        "mylib/__init__.py": "",
        "mylib/core.py": "",
        "mylib/testplug.py": "",
        "src/src_plug.py": "",
        "tests/test_core.py": "",
        "tests/checks.py": "",
        "tests/data/make.py": "",
        "test_root.py": "",
        "calc.py": "",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    got = protected_paths(tmp_path, ["tests/test_core.py::test_a", "test_root.py::test_b"], ["mylib/core.py"])
    # The test directory's helper and the conftest's plugins (also under src/) are protected;
    # the library beside a root-level test, a nested data dir and the mutated file are not.
    assert got == [
        "conftest.py",
        "mylib/testplug.py",
        "src/src_plug.py",
        "test_root.py",
        "tests/checks.py",
        "tests/test_core.py",
    ]
    assert "mylib/testplug.py" not in protected_paths(tmp_path, ["tests/test_core.py::test_a"], ["mylib/testplug.py"])
