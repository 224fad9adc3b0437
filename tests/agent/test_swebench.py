"""SWE-bench-format suites: instances from a small git repository's real history (a base
commit, a fix commit with its tests), hidden tests applied only for the final run, F2P/P2P
verdicts, refusal by name; end to end with a scripted model (reference fix: PASS; nothing: FAIL)."""

from __future__ import annotations

import json
import subprocess

import pytest

from agent.suites.hidden_tests import PatchError, confined
from agent.suites.loading import check_suite, load_suite
from agent.suites.models import SuiteError
from agent.suites.swebench import find_repo, suite_from_swebench
from agent.trace import rollout_state
from agent.trace_file import read_trace
from tests.agent.rollout_fixtures import openai_for, scripted, scripted_batch  # noqa: F401
from tests.doubles.scripted_policies import PolicyRequest, assistant

AREA_BUGGY = "def square(s):\n    return s * s\n\n\ndef rect(w, h):\n    return w + h\n"
AREA_FIXED = "def square(s):\n    return s * s\n\n\ndef rect(w, h):\n    return w * h\n"
TEST_BASE = "from shapes.area import square\n\n\ndef test_square():\n    assert square(3) == 9\n"
TEST_FIXED = TEST_BASE + "\n\ndef test_rect():\n    from shapes.area import rect\n\n    assert rect(2, 5) == 10\n"


def _git(cwd, *args) -> str:
    cp = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return cp.stdout


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """``repos/acme__shapes`` with a bug-fix commit, and a JSONL of instances made from it."""
    root = tmp_path_factory.mktemp("swebench")
    repo = root / "repos" / "acme__shapes"
    (repo / "shapes").mkdir(parents=True)
    (repo / "tests").mkdir()
    _git(repo, "init", "-q")
    (repo / "shapes" / "__init__.py").write_text("")
    (repo / "shapes" / "area.py").write_text(AREA_BUGGY)
    (repo / "tests" / "test_area.py").write_text(TEST_BASE)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "shapes" / "area.py").write_text(AREA_FIXED)
    (repo / "tests" / "test_area.py").write_text(TEST_FIXED)
    _git(repo, "commit", "-qam", "fix rect, test it")
    fix = _git(repo, "rev-parse", "HEAD").strip()
    good = {
        "instance_id": "acme__shapes-1",
        "repo": "acme/shapes",
        "base_commit": base,
        "problem_statement": "rect(w, h) returns the wrong area: rect(2, 5) should be 10.",
        "patch": _git(repo, "diff", base, fix, "--", "shapes"),
        "test_patch": _git(repo, "diff", base, fix, "--", "tests"),
        "FAIL_TO_PASS": json.dumps(["tests/test_area.py::test_rect"]),  # as the HF datasets store it
        "PASS_TO_PASS": ["tests/test_area.py::test_square"],
        "version": "0.1",
    }
    django = {**good, "instance_id": "acme__shapes-2", "FAIL_TO_PASS": ["test_rect (shapes.tests.AreaTests)"]}
    evil = {**good, "instance_id": "acme__shapes-3", "repo": "../etc"}
    outside = {**good, "instance_id": "acme__shapes-4", "patch": good["patch"].replace("a/shapes", "a/../x")}
    path = root / "instances.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in (good, django, evil, outside)))
    return path, root


@pytest.fixture(scope="module")
def made(dataset, tmp_path_factory):
    path, root = dataset
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REPO_AGENT_CACHE", str(root / "cache"))
        result = suite_from_swebench(path, root / "suite", repos=root / "repos")
        yield result, root


def test_instances_become_git_tasks_with_hidden_tests_and_bad_ones_are_refused_by_name(made):
    result, root = made
    [task] = result.suite.tasks
    assert task.id == "acme__shapes-1" and task.goal.startswith("rect(w, h)")
    assert task.hidden_tests and task.hidden_tests.fail_to_pass == ["tests/test_area.py::test_rect"]
    assert (root / "suite" / "fixes" / "acme__shapes-1" / "shapes" / "area.py").read_text() == AREA_FIXED
    assert task.protected == ["tests/test_area.py"]
    refused = dict(result.refused)
    assert "not pytest node ids" in refused["acme__shapes-2"]
    assert "not a plain name" in refused["acme__shapes-3"]
    assert "leads outside" in refused["acme__shapes-4"]
    loaded = load_suite(root / "suite")  # the written suite loads as any suite
    assert loaded.tasks[0].hidden_tests == task.hidden_tests


def test_repos_and_patch_paths_are_confined():
    with pytest.raises(SuiteError, match="not owner/name"):
        find_repo("a/b/c", None)
    with pytest.raises(SuiteError, match="not a plain name"):
        find_repo("../x", None)
    for bad in ("/etc/passwd", "a/../../b", ".git/config", "a\\b"):
        with pytest.raises(PatchError):
            confined(bad, "path")


def test_suite_check_proves_each_instance(made, monkeypatch):
    result, root = made
    monkeypatch.setenv("REPO_AGENT_CACHE", str(root / "cache"))
    [check] = check_suite(load_suite(root / "suite"), max_workers=1)
    assert check.ok and check.fails_untouched and check.passes_with_fix, check.detail
    assert "FAIL_TO_PASS 0/1, PASS_TO_PASS 1/1" in check.detail and "FAIL_TO_PASS 1/1" in check.detail


def _policy(req: PolicyRequest):
    """Seed 0 writes the reference fix; seed 1 changes nothing."""
    if req.step == 1:
        # The hidden test is not in the workspace: only the base test file is.
        return assistant(1, ("read_file", {"rel_path": "tests/test_area.py"}))
    if req.step == 2 and req.seed == 0:
        return assistant(2, ("write_file", {"rel_path": "shapes/area.py", "content": AREA_FIXED}))
    return assistant(req.step, ("finish", {"summary": "done", "changes": []}))


def test_end_to_end_the_reference_fix_passes_and_no_change_fails(made, scripted, tmp_path, monkeypatch):
    result, root = made
    monkeypatch.setenv("REPO_AGENT_CACHE", str(root / "cache"))
    suite = load_suite(root / "suite")
    provider = openai_for(scripted(_policy))
    summary = scripted_batch(suite, lambda t, s: provider, tmp_path / "b", tmp_path, rollouts=2, max_workers=2)
    verdicts = {}
    for r in summary.results:
        events = read_trace(summary.batch_dir / "traces" / f"{r.rollout_id}.jsonl").events
        reads = [e for e in events if e.kind == "tool_result"]
        assert reads and reads[0].ok  # the visible test file is there; the hidden test is not
        verdicts[r.seed] = (rollout_state(events[-1]).label, r.outcome.tests_passed)
    assert verdicts == {0: ("PASS", True), 1: ("FAIL", False)}


def test_the_command_line_writes_the_suite_and_names_what_it_refused(dataset, tmp_path, monkeypatch, capsys):
    from tui.cli import main

    path, root = dataset
    monkeypatch.setenv("REPO_AGENT_CACHE", str(root / "cache"))
    out = tmp_path / "suite"
    assert main(["suite", "from-swebench", str(path), "--out", str(out), "--repos", str(root / "repos")]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "1 tasks in" in text and "3 instances refused" in text and "refused acme__shapes-2:" in text
    assert main(["suite", "from-swebench", str(tmp_path / "nope.jsonl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("nope.jsonl: no such file") and "\n" not in err and "Traceback" not in err


@pytest.fixture(scope="module")
def adds_a_test_file(tmp_path_factory):
    """An instance whose test patch creates tests/test_rect.py (SWE-bench's usual F2P file)."""
    root = tmp_path_factory.mktemp("swebench_new_file")
    repo = root / "repos" / "shapes"
    (repo / "shapes").mkdir(parents=True)
    (repo / "tests").mkdir()
    _git(repo, "init", "-q")
    (repo / "shapes" / "__init__.py").write_text("")
    (repo / "shapes" / "area.py").write_text(AREA_BUGGY)
    (repo / "tests" / "test_area.py").write_text(TEST_BASE)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "shapes" / "area.py").write_text(AREA_FIXED)
    (repo / "tests" / "test_rect.py").write_text(HIDDEN_RECT)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "fix rect, test it in a new file")
    fix = _git(repo, "rev-parse", "HEAD").strip()
    inst = {
        "instance_id": "acme__shapes-9",
        "repo": "acme/shapes",
        "base_commit": base,
        "problem_statement": "rect(w, h) returns the wrong area",
        "patch": _git(repo, "diff", base, fix, "--", "shapes"),
        "test_patch": _git(repo, "diff", base, fix, "--", "tests"),
        "FAIL_TO_PASS": ["tests/test_rect.py::test_rect"],
        "PASS_TO_PASS": ["tests/test_area.py::test_square"],
    }
    (root / "i.json").write_text(json.dumps([inst]))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REPO_AGENT_CACHE", str(root / "cache"))
        suite_from_swebench(root / "i.json", root / "suite", repos=root / "repos")
    return root


HIDDEN_RECT = "from shapes.area import rect\n\n\ndef test_rect():\n    assert rect(2, 5) == 10\n"


@pytest.mark.parametrize(
    "fixed,own_test,passes",
    [
        (False, "def test_rect():\n    pass\n", False),  # its own passing test_rect does not stand in
        (True, "def test_rect():\n    assert False\n", True),  # the fix is judged on the hidden test
    ],
)
def test_a_file_the_hidden_patch_creates_is_judged_in_its_hidden_version(
    adds_a_test_file, tmp_path, monkeypatch, fixed, own_test, passes
):
    """A rollout that writes its own tests/test_rect.py (it never saw the hidden one) is not
    TAMPERED: that file is not the task's. The final run replaces it with the hidden version,
    says so, and puts the rollout's file back after."""
    from agent.final_verdict import final_test_run
    from agent.workspace import Workspace

    root = adds_a_test_file
    monkeypatch.setenv("REPO_AGENT_CACHE", str(root / "cache"))
    suite = load_suite(root / "suite")
    [task] = suite.tasks
    assert task.protected == ["tests/test_area.py"]  # only what the base commit has
    ws = Workspace.create(suite, task, tmp_path / "ws")
    try:
        assert not (ws.path / "tests" / "test_rect.py").exists()
        (ws.path / "tests" / "test_rect.py").write_text(own_test)
        if fixed:
            (ws.path / "shapes" / "area.py").write_text(AREA_FIXED)
        result, tampered = final_test_run(ws)
        assert tampered == [] and result.passed is passes, result.summary
        assert "FAIL_TO_PASS" in result.summary
        assert "the hidden test patch replaced the rollout's own tests/test_rect.py" in result.summary
        assert (ws.path / "tests" / "test_rect.py").read_text() == own_test  # back as the rollout left it
    finally:
        ws.cleanup()


def test_the_rollouts_file_is_set_aside_and_put_back_never_through_a_link(tmp_path):
    from agent.suites.hidden_tests import _set_aside, _take_out

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "test_new.py").write_text("host file")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "newdir").symlink_to(outside)  # planted where the hidden patch creates newdir/test_new.py
    (ws / "tests").mkdir()
    (ws / "tests" / "test_rect.py").write_text("mine")
    rels = ["newdir/test_new.py", "tests/test_rect.py", "tests/sub/test_x.py"]
    kept = _set_aside(ws, rels)
    assert kept == {"tests/test_rect.py": b"mine"}
    assert (outside / "test_new.py").read_text() == "host file" and (ws / "newdir").is_dir()
    for rel in rels:  # what the hidden patch would create
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("hidden")
    _take_out(ws, rels, kept)
    assert (ws / "tests" / "test_rect.py").read_text() == "mine"
    assert not (ws / "tests" / "sub").exists() and not (ws / "newdir" / "test_new.py").exists()
    assert (outside / "test_new.py").read_text() == "host file"


def test_a_hostile_instances_file_is_one_clear_error(tmp_path):
    """Nesting past the bound or a number past 64 bits in a user's instances file: one
    SuiteError line, not a RecursionError or OverflowError traceback."""
    from agent.suites.models import SuiteError
    from agent.suites.swebench import read_instances

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    big = tmp_path / "big.jsonl"
    big.write_text('{"instance_id": ' + "9" * 400 + "}\n")
    for path in (deep, big):
        with pytest.raises(SuiteError, match=str(path.name)):
            read_instances(path)


def test_a_jsonl_line_holding_a_line_separator_is_one_instance(tmp_path):
    """JSON may hold U+2028 and U+0085 unescaped (a dataset exported without ensure_ascii):
    str.splitlines cut such a line in two, and the file was "not JSON or JSONL"."""
    from agent.suites.swebench import read_instances

    base = {"repo": "acme/shapes", "base_commit": "0" * 40, "patch": "", "test_patch": "", "FAIL_TO_PASS": ["t"]}
    rows = [{**base, "instance_id": f"acme__shapes-{i}", "problem_statement": f"a\u2028b\x85c {i}"} for i in (1, 2)]
    path = tmp_path / "instances.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in rows), encoding="utf-8")
    got = read_instances(path)
    assert [(i.instance_id, i.problem_statement) for i in got] == [
        (r["instance_id"], r["problem_statement"]) for r in rows
    ]
