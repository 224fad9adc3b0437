"""Suites: loading (JSON, directory, builtin, QuixBugs checkout), errors, and checking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import differential
from agent.suites.loading import BUILTIN, SuiteError, TaskCheck, check_suite, load_quixbugs, load_suite
from agent.suites.models import DirSource
from agent.workspace import Workspace

from .conftest import ADD_TASK, write_suite

# --------------------------------------------------------------------------- the shipped suite


def test_shipped_suite_loads(mini_suite):
    assert mini_suite.name == "mini-bugs"
    assert len(mini_suite.tasks) >= 12
    ids = [t.id for t in mini_suite.tasks]
    assert len(set(ids)) == len(ids) and all(i.startswith("fix_") for i in ids)
    for t in mini_suite.tasks:
        assert isinstance(t.source, DirSource)
        assert t.reference_fix and "_fix" in t.hidden and "tests" in t.protected
        assert (mini_suite.base_dir / t.source.path / "tests").is_dir()
    tags = {tag for t in mini_suite.tasks for tag in t.tags}
    assert {"infinite-loop", "off-by-one", "wrong-operator", "missing-base-case", "two-places", "two-files"} <= tags


def test_shipped_suite_checks(mini_suite):
    """Every shipped task fails untouched and passes with its reference fix (real pytest runs)."""
    seen: list[tuple[str, int, int]] = []
    checks = check_suite(mini_suite, progress=lambda c, done, total: seen.append((c.task_id, done, total)))
    bad = [c for c in checks if not c.ok]
    assert not bad, "\n".join(f"{c.task_id}: {c.detail}" for c in bad)
    assert [c.task_id for c in checks] == [t.id for t in mini_suite.tasks]
    assert all(c.fails_untouched and c.passes_with_fix is True for c in checks)
    # Every shipped task is judged on held-out inputs too, and its bug answers one differently.
    assert all(c.held_out_calls >= 12 and c.held_out_bug_differs >= 1 for c in checks), [c.differential for c in checks]
    assert sorted(d for _, d, _ in seen) == list(range(1, len(checks) + 1))
    # the infinite loop was stopped by the per-test timeout, not by the whole-run timeout
    loop = next(c for c in checks if c.task_id == "fix_bitcount")
    assert "failed" in loop.detail and "timed out" not in loop.detail


def test_check_reports_a_task_that_passes_untouched_or_stays_broken(tmp_path):
    path = write_suite(
        tmp_path / "s",
        {
            "already_ok": {
                "m.py": "X = 1\n",
                "tests/test_m.py": "from m import X\n\ndef test_x():\n    assert X == 1\n",
            },
            "bad_fix": dict(ADD_TASK, **{"_fix/add.py": "def add(a, b):\n    return a * b\n"}),
            "no_fix": {k: v for k, v in ADD_TASK.items() if not k.startswith("_fix")},
            "fix_edits_tests": dict(ADD_TASK, **{"_fix/tests/test_add.py": "def test_nothing():\n    pass\n"}),
        },
    )
    checks = {c.task_id: c for c in check_suite(load_suite(path))}
    assert checks["already_ok"] == TaskCheck("already_ok", False, None, checks["already_ok"].detail, False)
    assert checks["bad_fix"].fails_untouched and checks["bad_fix"].passes_with_fix is False and not checks["bad_fix"].ok
    assert checks["no_fix"].ok and checks["no_fix"].passes_with_fix is None
    assert "untouched: 1 passed" in checks["already_ok"].detail
    bad = checks["fix_edits_tests"]
    assert bad.fails_untouched and bad.passes_with_fix is False and not bad.ok
    assert "the reference fix changes protected paths: tests/test_add.py" in bad.detail


# --------------------------------------------------------------------------- loading


def test_load_by_file_dir_and_builtin(tmp_path):
    path = write_suite(tmp_path / "s", {"fix_add": ADD_TASK})
    a, b = load_suite(path), load_suite(path.parent)
    assert a.name == b.name == "t" and a.base_dir == path.parent.resolve()
    assert load_suite("mini-bugs").base_dir == BUILTIN["mini-bugs"].parent


def test_plain_string_source_is_a_directory(tmp_path):
    path = write_suite(tmp_path / "s", {"fix_add": ADD_TASK})
    data = json.loads(path.read_text())
    data["tasks"][0]["source"] = "fix_add"
    path.write_text(json.dumps(data))
    assert load_suite(path).tasks[0].source == DirSource(path="fix_add")


def _bad(tmp_path, text: str) -> str:
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(SuiteError) as info:
        load_suite(p)
    msg = str(info.value)
    assert "\n" not in msg and str(p.resolve()) in msg
    return msg


def test_bad_suite_files_give_one_clear_line(tmp_path):
    assert "not valid JSON: line 2 column 1" in _bad(tmp_path, '{"name": "x",\n}')
    assert "a suite is a JSON object" in _bad(tmp_path, "[1, 2]")
    assert "tasks: Field required" in _bad(tmp_path, '{"name": "x"}')
    (tmp_path / "src").mkdir()
    msg = _bad(tmp_path, json.dumps({"name": "x", "tasks": [{"id": "a", "source": "src"}]}))
    assert "tasks.0.goal: Field required" in msg
    msg = _bad(tmp_path, json.dumps({"name": "x", "tasks": [{"id": "a", "source": "src", "goal": "g", "colour": 1}]}))
    assert "tasks.0.colour: Extra inputs are not permitted" in msg
    msg = _bad(tmp_path, json.dumps({"name": "x", "tasks": [{"id": "a", "source": "nowhere", "goal": "g"}]}))
    assert "task a: source directory not found" in msg
    two = [{"id": "a", "source": "src", "goal": "g"}] * 2
    assert "duplicate task id 'a'" in _bad(tmp_path, json.dumps({"name": "x", "tasks": two}))
    git = {"id": "a", "source": {"kind": "git", "repo": "no-such-repo", "commit": "abc123"}, "goal": "g"}
    msg = _bad(tmp_path, json.dumps({"name": "x", "tasks": [git]}))
    assert "task a: git repository not found" in msg and "no-such-repo" in msg
    assert "has no tasks" in _bad(tmp_path, json.dumps({"name": "x", "tasks": []}))


def test_missing_suite_path(tmp_path):
    with pytest.raises(SuiteError, match="suite not found: .*nope.*mini-bugs"):
        load_suite(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SuiteError, match="no suite.json here and not a QuixBugs checkout"):
        load_suite(tmp_path / "empty")


# --------------------------------------------------------------------------- QuixBugs


QUIX_FILES = {
    "conftest.py": (
        "import pytest\n\n\n"
        "def pytest_addoption(parser):\n"
        "    parser.addoption('--correct', action='store_true', help='run tests on the correct version')\n\n\n"
        "def pytest_configure(config):\n"
        "    pytest.use_correct = config.getoption('--correct')\n"
    ),
    "python_testcases/load_testdata.py": (
        "import json\nfrom pathlib import Path\n\n\n"
        "def load_json_testcases(algorithm):\n"
        "    path = Path(__file__).parent / '..' / f'json_testcases/{algorithm}.json'\n"
        "    with open(path) as f:\n"
        "        return [json.loads(line) for line in f]\n"
    ),
    "python_testcases/node.py": (
        "class Node:\n"
        "    def __init__(self, value=None, successor=None, successors=[]):\n"
        "        self.value = value\n        self.successor = successor\n        self.successors = successors\n"
    ),
    # a JSON-driven program with an operator bug
    "python_programs/add.py": "def add(a, b):\n    return a - b\n",
    "correct_python_programs/add.py": "def add(a, b):\n    return a + b\n",
    "json_testcases/add.json": "[[1, 2], 3]\n[[0, 0], 0]\n[[5, -2], 3]\n[[2, 2], 4]\n[[3, 4], 7]\n[[10, 1], 11]\n",
    "python_testcases/test_add.py": (
        "import pytest\nfrom load_testdata import load_json_testcases\n\n"
        "if pytest.use_correct:\n    from correct_python_programs.add import add\n"
        "else:\n    from python_programs.add import add\n\n\n"
        "testdata = load_json_testcases(add.__name__)\n\n\n"
        "@pytest.mark.parametrize('input_data,expected', testdata)\n"
        "def test_add(input_data, expected):\n    assert add(*input_data) == expected\n"
    ),
    # a graph program that loops forever on a cycle (no visited set)
    "python_programs/reach.py": (
        "def reach(start, goal):\n"
        "    todo = [start]\n"
        "    while todo:\n"
        "        node = todo.pop()\n"
        "        if node is goal:\n            return True\n"
        "        todo.extend(node.successors)\n"
        "    return False\n"
    ),
    "correct_python_programs/reach.py": (
        "def reach(start, goal):\n"
        "    todo, seen = [start], set()\n"
        "    while todo:\n"
        "        node = todo.pop()\n"
        "        if node is goal:\n            return True\n"
        "        if id(node) in seen:\n            continue\n"
        "        seen.add(id(node))\n"
        "        todo.extend(node.successors)\n"
        "    return False\n"
    ),
    "python_testcases/test_reach.py": (
        "import pytest\nfrom node import Node\n\n"
        "if pytest.use_correct:\n    from correct_python_programs.reach import reach\n"
        "else:\n    from python_programs.reach import reach\n\n\n"
        "def test_found():\n    b = Node('b')\n    a = Node('a', None, [b])\n    assert reach(a, b)\n\n\n"
        "def test_cycle_without_path():\n"
        "    a = Node('a')\n    b = Node('b', None, [a])\n    a.successors = [b]\n"
        "    assert not reach(a, Node('z'))\n"
    ),
    # no tests for this one: not a task
    "python_programs/helper_only.py": "X = 1\n",
    "java_programs/ADD.java": "class ADD {}\n",
}


@pytest.fixture
def quixbugs(tmp_path) -> Path:
    root = tmp_path / "QuixBugs"
    for rel, text in QUIX_FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_quixbugs_checkout_loads(quixbugs):
    suite = load_suite(quixbugs)
    assert suite.name == "quixbugs" and [t.id for t in suite.tasks] == ["add", "reach"]
    t = suite.task("add")
    assert t.test_command == ["python", "-m", "pytest", "-q", "python_testcases/test_add.py"]
    assert "correct_python_programs" in t.hidden and "python_testcases" in t.protected
    assert t.reference_fix_files == {"python_programs/add.py": "correct_python_programs/add.py"}
    assert [x.id for x in load_suite(f"{quixbugs}:reach").tasks] == ["reach"]
    assert [x.id for x in load_suite(f"{quixbugs}:reach, add").tasks] == ["reach", "add"]
    with pytest.raises(SuiteError, match="no QuixBugs program with tests named nope"):
        load_suite(f"{quixbugs}:nope")


def test_quixbugs_workspace_hides_answers(quixbugs, tmp_path):
    suite = load_suite(quixbugs)
    ws = Workspace.create(suite, suite.task("add"), tmp_path / "runs")
    files = sorted(str(p.relative_to(ws.path)) for p in ws.path.rglob("*") if p.is_file())
    assert not any(f.startswith(("correct_python_programs", "java_programs")) for f in files)
    assert "python_programs/add.py" in files and "json_testcases/add.json" in files and "conftest.py" in files
    # The held-out lines are not in the workspace, and their absence is no change of the rollout's.
    given = (ws.path / "json_testcases/add.json").read_text().splitlines()
    assert len(given) == 4 and set(given) < set(QUIX_FILES["json_testcases/add.json"].splitlines())
    assert ws.patch() == "" and ws.tampered_paths() == []
    ws.reveal_held_out()
    assert len((ws.path / "json_testcases/add.json").read_text().splitlines()) == 6
    ws.restore_protected()
    assert (ws.path / "json_testcases/add.json").read_text().splitlines() == given
    ws.cleanup()


def test_quixbugs_check_with_looping_program(quixbugs):
    suite = load_quixbugs(quixbugs, per_test_timeout_s=3.0)
    # (3 s, not 1: on a loaded 2-core machine an honest test took over 1 s and failed the check)
    checks = {c.task_id: c for c in check_suite(suite)}
    assert all(c.ok for c in checks.values()), {k: (c.detail, c.differential) for k, c in checks.items()}
    # A third of add's test data is held out of the workspace: the rollout's tests see 4 of
    # its 6 lines, the final run all 6 (hidden tests), and the differential calls all 6
    # outside the tests' process (the 2 held-out lines first).
    assert checks["add"].detail.startswith("untouched: 4 failed in") and "with fix: 6 passed" in checks["add"].detail
    assert (checks["add"].held_out_calls, checks["add"].held_out_bug_differs) == (6, 5)  # add(0, 0) is 0 either way
    assert checks["reach"].held_out_calls == 0  # Node arguments: the verdict rests on the tests
    # the infinite loop on the cycle is one failed test, cut by the per-test timeout
    assert checks["reach"].detail.startswith("untouched: 1 failed, 1 passed")
    assert checks["reach"].passes_with_fix is True


def test_check_says_what_the_held_out_inputs_cannot_prove(tmp_path):
    """A pool on which the bug agrees with the fix proves nothing (check_task then fails the
    task); an input the reference answers two ways (a random number) is left out and said."""
    pool = {
        "targets": [
            {"module": "add", "function": "add", "inputs": [[1, 0], [7, 0], [-3, 0]]},
            {"module": "add", "function": "roll", "inputs": [[]]},
        ]
    }
    files = dict(ADD_TASK)
    files["add.py"] += "\n\ndef roll():\n    return 4\n"
    files["_fix/add.py"] += "\n\nimport random\n\n\ndef roll():\n    return random.random()\n"
    files["_heldout/pool.json"] = json.dumps(pool)
    path = write_suite(
        tmp_path / "s",
        {"fix_add": files},
        hidden=["_fix", "_heldout"],
        differential={"pool": "fix_add/_heldout/pool.json"},
    )
    suite = load_suite(path)
    (tmp_path / "s" / "fix_add" / "_heldout" / "pool.json").rename(tmp_path / "elsewhere.json")
    with pytest.raises(SuiteError, match="task fix_add: held-out pool not found"):
        load_suite(path)
    (tmp_path / "elsewhere.json").rename(tmp_path / "s" / "fix_add" / "_heldout" / "pool.json")
    cov = differential.check(suite, suite.task("fix_add"), tmp_path / "check")
    assert (cov.calls, cov.pool, cov.left_out, cov.bug_differs) == (3, 4, 1, 0)
    assert "1 left out (nondeterministic" in cov.line and cov.line.endswith("the bug differs on 0")
