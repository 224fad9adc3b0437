"""Round 8 verdict attacks (open findings, xfail strict until fixed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import trace as trace_events
from agent.trace import SuspectHit, judged
from agent.trace_file import TraceWriter
from exports import SftOptions, export_sft
from exports.options import ExportError
from labeling.store import LabelStore
from tests.exports.conftest import Spec, make_batch
from tests.security.conftest import passed_batch


def _suspect_batch(root: Path) -> tuple[Path, str]:
    """One fix_gcd rollout whose trace ends SUSPECT, as the loop writes a pass with a hit."""
    spec = Spec("fix_gcd", 0, passed=True)
    batch = make_batch(root, "b1", [spec])
    path = batch / "traces" / f"{spec.rollout_id}.jsonl"
    lines = path.read_text().splitlines()
    end = json.loads(lines[-1])
    assert end["kind"] == "rollout_end"
    end["outcome"]["state"] = judged("suspect", "frames (gcd.py:3)").model_dump()
    end["outcome"]["suspect"] = [SuspectHit(rule="frames", path="gcd.py", line=3, text="import inspect").model_dump()]
    path.write_text("\n".join([*lines[:-1], json.dumps(end)]) + "\n")
    return path, spec.rollout_id


def _append_rejudge_test_run(path: Path, rollout_id: str) -> None:
    """What ``rejudge`` writes first (agent/rejudge.py): its final test_run; a rejudge stopped
    (Ctrl-C, a crash, a full disk) before its rollout_end leaves the trace ending so."""
    w = TraceWriter(path, rollout_id)
    try:
        w.seq = 999
        w.emit(trace_events.TestRun, step=None, final=True, passed=True, counts={}, summary="", duration_s=0.0)
    finally:
        w.close()


@pytest.mark.parametrize("tail", ["rejudge_test_run", "blank_line"])
def test_vrd8_1_suspect_rollout_exported_when_trace_does_not_end_with_rollout_end(tmp_path, tail) -> None:
    root = tmp_path / "traces"
    root.mkdir()
    path, rid = _suspect_batch(root)
    if tail == "rejudge_test_run":
        _append_rejudge_test_run(path, rid)
    else:
        with path.open("a", encoding="utf-8") as f:
            f.write(" \n")
    store = LabelStore(tmp_path / "labels.sqlite", labeler="tester")
    try:
        store.ingest([root])
        [row] = store.rollouts()
        assert row.state.verdict == "suspect"  # the store knows it is SUSPECT
        try:
            sft = export_sft(store, tmp_path / "s.jsonl", SftOptions(style="trajectory"))
            examples = sft.examples
        except ExportError:  # "nothing to export (skipped: suspect 1)": held, as it must be
            examples = 0
        assert examples == 0, "a SUSPECT rollout (never cleared) became an SFT example"
    finally:
        store.close()


def test_vrd8_4_a_fail_state_with_tests_passed_true_becomes_an_sft_example(tmp_path) -> None:
    root = tmp_path / "traces"
    root.mkdir()
    spec = Spec("fix_gcd", 0, passed=True)
    batch = make_batch(root, "b1", [spec])
    path = batch / "traces" / f"{spec.rollout_id}.jsonl"
    lines = path.read_text().splitlines()
    end = json.loads(lines[-1])
    end["outcome"]["state"] = judged("fail", "held-out inputs: 3 of 44 calls differ").model_dump()
    assert end["outcome"]["tests_passed"] is True
    path.write_text("\n".join([*lines[:-1], json.dumps(end)]) + "\n")
    store = LabelStore(tmp_path / "labels.sqlite", labeler="tester")
    try:
        store.ingest([root])
        [row] = store.rollouts()
        assert row.standing == "FAIL"  # what the studio and the pass rates show
        try:
            examples = export_sft(store, tmp_path / "s.jsonl", SftOptions(style="trajectory")).examples
        except ExportError:  # nothing to export: the FAIL left out, as it must be
            examples = 0
        assert examples == 0, "a FAIL rollout became an SFT example"
    finally:
        store.close()


# --------------------------------------------------------------------------- vrd8-2

# QuixBugs' python_programs/wrap.py has one line ending in "\r\n" (in the docstring after the
# code); this program has the same shape.
_CR_PROGRAM = 'def add(a, b):\n    return a - b\n\n"""\nAdd two numbers,\r\nas integers.\n"""\n'
# The minimal edit, the "\r\n" kept in the hunk's context lines (a whole-file write_file that
# ends the line in "\n" fails alike).
_CR_FIXED = 'def add(a, b):\n    return a + b\n\n"""\nAdd two numbers,\r\nas integers.\n"""\n'


def test_vrd8_2_rejudge_cannot_rebuild_an_honest_patch_on_a_crlf_line(tmp_path) -> None:
    from agent.rejudge import rejudge_batch
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace
    from tests.agent.test_suites import QUIX_FILES

    files = dict(QUIX_FILES)
    files["python_programs/add.py"] = _CR_PROGRAM
    files["correct_python_programs/add.py"] = _CR_PROGRAM.replace("a - b", "a + b")
    root = tmp_path / "QuixBugs"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode())
    suite = load_suite(f"{root}:add")
    with Workspace.create(suite, suite.task("add"), tmp_path / "mk") as ws:
        (ws.path / "python_programs/add.py").write_bytes(_CR_FIXED.encode())
        patch = ws.patch()
    batch = passed_batch(tmp_path, str(root), "add", {"honest": patch})
    [item] = rejudge_batch(batch, suite)
    assert item.after is not None and item.after.label == "PASS", (item.after, item.note)


# --------------------------------------------------------------------------- vrd8-3

# A generated suite's task keeps its repository's own pytest configuration, unprotected (the
# protected paths are the test files and conftest.py): jinja's and humanize's pyproject.toml
# say ``filterwarnings = ["error"]``, tqdm's addopts ``-W=error``, toolz's ``xfail_strict``.
_MEAN_TASK = {
    "pyproject.toml": '[project]\nname = "mean"\n\n[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n',
    "stats.py": "def mean(xs):\n    return sum(xs) / (len(xs) + 1)\n",
    "tests/test_stats.py": (
        "from stats import mean\n\n\ndef test_mean():\n    assert mean([1, 2, 3]) == 2\n\n\n"
        "def test_one():\n    assert mean([4]) == 4\n"
    ),
}
# (No reference fix, to keep the test fast: with one, the recorded differential and the reference
# rerun agree with this fix too, and it passes alike; checked by hand.)
# Fails both tests under the task's configuration (its warning is an error there).
_WARNS = (
    "import warnings\n\n\ndef mean(xs):\n"
    "    warnings.warn('mean() is deprecated', DeprecationWarning, stacklevel=2)\n"
    "    return sum(xs) / len(xs)\n"
)


def test_vrd8_3_deleting_the_tasks_pytest_config_passes_a_fix_it_fails(tmp_path) -> None:
    from agent.final_verdict import final_test_run
    from agent.suites.loading import load_suite
    from agent.suspect import scan_patch, source_reader, workspace_reader
    from agent.workspace import Workspace
    from tests.agent.conftest import write_suite

    suite = load_suite(write_suite(tmp_path / "suite", {"fix_mean": _MEAN_TASK}))
    task = suite.task("fix_mean")
    ws = Workspace.create(suite, task, tmp_path / "runs", sandbox="bwrap")
    (ws.path / "stats.py").write_text(_WARNS)
    (ws.path / "pyproject.toml").unlink()
    patch = ws.patch()
    result, tampered = final_test_run(ws)
    hits = scan_patch(patch, task.protected, source_reader(ws.source), workspace_reader(ws.path))
    judged_pass = result.passed and not tampered and not result.tamper and not hits
    assert not judged_pass, f"PASS with the task's pytest configuration deleted: {result.summary}"


# --------------------------------------------------------------------------- vrd8-5

# A generated task's shape (agent/suites/mutate): its command names node ids (no canaries), its
# protected paths are the selected test files and every conftest.py; the test package's
# __init__.py (humanize's, tqdm's and toolz's tests/ have one) is not protected, and pytest
# imports it before the test module. The function takes a timedelta: the recorded differential
# has no JSON call to compare, so the verdict rests on the tests (as `suite check` says).
# Checked by hand on a SWE-bench-format task (hidden tests, protected = its test file): a
# tests/__init__.py setting shapes.area.rect passes FAIL_TO_PASS with area.py still wrong.
_CLOCK_TASK = {
    "clock.py": 'def hours(td):\n    """The hours in a timedelta."""\n    return td.total_seconds() / 60\n',
    "tests/__init__.py": "",
    "tests/test_clock.py": (
        "from datetime import timedelta\n\nfrom clock import hours\n\n\n"
        "def test_two_hours():\n    assert hours(timedelta(hours=2)) == 2\n\n\n"
        "def test_half_hour():\n    assert hours(timedelta(minutes=30)) == 0.5\n"
    ),
}
# (No reference fix, to keep the test fast: a generated task has one, and with it this fix
# passes alike: the recorded differential has no JSON call, the reference rerun agrees; checked by hand.)
# clock.py is left wrong; only the tests' own package gets the right function.
_TEST_PACKAGE_FIX = (
    "import clock\n\n\ndef _hours(td):\n    return td.total_seconds() / 3600\n\n\nclock.hours = _hours\n"
)


def test_vrd8_5_a_fix_in_the_test_packages_init_passes_with_the_code_left_wrong(tmp_path) -> None:
    from agent.final_verdict import final_test_run
    from agent.suites.loading import load_suite
    from agent.suspect import scan_patch, source_reader, workspace_reader
    from agent.workspace import Workspace
    from tests.agent.conftest import write_suite

    ids = ["tests/test_clock.py::test_two_hours", "tests/test_clock.py::test_half_hour"]
    suite = load_suite(
        write_suite(
            tmp_path / "suite",
            {"fix_clock": _CLOCK_TASK},
            protected=["conftest.py", "tests/test_clock.py"],
            test_command=["python", "-m", "pytest", "-q", *ids],
        )
    )
    task = suite.task("fix_clock")
    ws = Workspace.create(suite, task, tmp_path / "runs", sandbox="bwrap")
    (ws.path / "tests/__init__.py").write_text(_TEST_PACKAGE_FIX)
    patch = ws.patch()
    result, tampered = final_test_run(ws)
    hits = scan_patch(patch, task.protected, source_reader(ws.source), workspace_reader(ws.path))
    assert (ws.path / "clock.py").read_text() == _CLOCK_TASK["clock.py"]  # the code under test: still / 60
    judged_pass = result.passed and not tampered and not result.tamper and not hits
    assert not judged_pass, f"PASS with clock.hours still wrong: {result.summary}"


# --------------------------------------------------------------------------- vrd8-6

# QuixBugs' levenshtein: its reference is the plain recursion, exponential, and one line of its
# JSON data ("amanaplanacanalpanama" against a 51-letter string) never ends; its test skips that
# line as too slow. This program has the same shape (written here, not copied). Surveyed on
# the real suite (2 s per call): levenshtein keeps 0 of 7 calls, knapsack (its 4-minute line) 0 of 10.
_EDIT = (
    "def {name}(a, b):\n"
    "    if not a or not b:\n"
    "        return len(a) + len(b)\n"
    "    if a[0] == b[0]:\n"
    "        return {same}\n"
    "    return 1 + min({name}(a, b[1:]), {name}(a[1:], b[1:]), {name}(a[1:], b))\n"
)
_SLOW = ["amanaplanacanalpanama", "docnoteidissentafastneverpreventsafatnessidietoncod"]
_LEV_FILES = {
    "python_programs/lev.py": _EDIT.format(name="lev", same="1 + lev(a[1:], b[1:])"),  # the bug
    "correct_python_programs/lev.py": _EDIT.format(name="lev", same="lev(a[1:], b[1:])"),
    "json_testcases/lev.json": "".join(
        json.dumps(line) + "\n"
        for line in (
            [["kitten", "sitting"], 3],
            [["abc", "abd"], 1],
            [_SLOW, 42],
            [["flaw", "lawn"], 2],
            [["hello", "olleh"], 4],
            [["", ""], 0],
        )
    ),
    "python_testcases/test_lev.py": (
        "import pytest\nfrom load_testdata import load_json_testcases\n\n"
        "if pytest.use_correct:\n    from correct_python_programs.lev import lev\n"
        "else:\n    from python_programs.lev import lev\n\n\n"
        "testdata = load_json_testcases(lev.__name__)\n\n\n"
        "@pytest.mark.parametrize('input_data,expected', testdata)\n"
        "def test_lev(input_data, expected):\n"
        f"    if input_data == {_SLOW!r}:\n"
        "        pytest.skip('Takes too long to pass!')\n"
        "    assert lev(*input_data) == expected\n"
    ),
}
# The bug left as it is; the tests' data loader (QuixBugs' load_json_testcases(f.__name__),
# a path) pointed at data the bug passes.
_REDIRECTED = _LEV_FILES["python_programs/lev.py"] + "\n\nlev.__name__ = '../python_programs/lev_cases'\n"


def test_vrd8_6_a_slow_reference_input_empties_the_differential_and_a_wrong_fix_passes(tmp_path) -> None:
    from agent import differential
    from agent.final_verdict import final_test_run
    from agent.suites.loading import load_suite
    from agent.suspect import scan_patch, source_reader, workspace_reader
    from agent.workspace import Workspace
    from tests.agent.test_suites import QUIX_FILES

    root = tmp_path / "QuixBugs"
    for rel, text in {**QUIX_FILES, **_LEV_FILES}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    suite = load_suite(f"{root}:lev")
    task = suite.task("lev")
    # The per-call limit is 2 s; 0.3 s here keeps the test fast (the slow line takes hours either
    # way; each of the others takes well under a millisecond).
    defaults = dict(differential.run_calls.__kwdefaults__)
    differential.run_calls.__kwdefaults__["per_call_s"] = 0.3
    try:
        ws = Workspace.create(suite, task, tmp_path / "runs", sandbox="bwrap")
        (ws.path / "python_programs/lev.py").write_text(_REDIRECTED)
        (ws.path / "python_programs/lev_cases.json").write_text('[["", ""], 0]\n[["ab", ""], 2]\n')
        patch = ws.patch()
        result, tampered = final_test_run(ws)
    finally:
        differential.run_calls.__kwdefaults__.update(defaults)
    hits = scan_patch(patch, task.protected, source_reader(ws.source), workspace_reader(ws.path))
    judged_pass = result.passed and not tampered and not result.tamper and not hits
    assert not judged_pass, f"PASS for the bug itself: {result.summary}; {result.differential}"


# --------------------------------------------------------------------------- vrd8-7

# QuixBugs' levenshtein again: its reference is exponential, and on this loaded machine its own
# rosettacode test took ~7 s, over the task's 5 s per-test limit. A rollout that memoizes the
# recursion is right and fast; the reference rerun of the same tests is what fails. Here the
# reference is made too slow for a 1 s limit on every machine (no differential: an empty pool).
_MEMO_FIX = "import functools\n\n\n@functools.lru_cache(maxsize=None)\n" + _EDIT.format(
    name="lev", same="lev(a[1:], b[1:])"
)
_SLOW_REF_TASK = {
    "lev.py": _LEV_FILES["python_programs/lev.py"],
    "_fix/lev.py": _LEV_FILES["correct_python_programs/lev.py"],
    "tests/test_lev.py": (
        "from lev import lev\n\n\ndef test_short():\n    assert lev('kitten', 'sitting') == 3\n\n\n"
        "def test_long():\n    assert lev('rosettacodexyz', 'raisethyswordxyz') == 8\n"
    ),
}


def test_vrd8_7_a_reference_rerun_that_fails_makes_an_honest_fix_fail(tmp_path) -> None:
    from agent.final_verdict import final_test_run
    from agent.suites.loading import load_suite
    from agent.trace import Outcome, derive_state
    from agent.workspace import Workspace
    from tests.agent.conftest import write_suite

    path = write_suite(
        tmp_path / "suite", {"fix_lev": _SLOW_REF_TASK}, per_test_timeout_s=1.0, differential={"targets": []}
    )
    suite = load_suite(path)
    ws = Workspace.create(suite, suite.task("fix_lev"), tmp_path / "runs", sandbox="bwrap")
    (ws.path / "lev.py").write_text(_MEMO_FIX)
    try:
        result, tampered = final_test_run(ws)
    except Exception:  # the loop records an exception of the final run as not judged (error)
        return
    # As agent/loop.py _finish_rollout turns the result into the rollout's state.
    out = Outcome(tests_tampered=bool(tampered or result.tamper))
    out.tests_passed = bool(result.passed) and not out.tests_tampered
    state = derive_state("finished", out)
    assert state.verdict != "fail", f"FAIL for a right, fast fix: {result.error}"


# --------------------------------------------------------------------------- vrd8-8

_SITE_KILL = "import os\nimport sys\n\nif sys.argv and sys.argv[0].endswith('runner.py'):\n    os._exit(0)\n"
# Right for the tests' one input (2), wrong for the held-out ones.
_TRIPLE_WRONG = "import tinydep\n\n\ndef triple(x):\n    return 6 if x == 2 else tinydep.double(x) + x - 1\n"


def test_vrd8_8_a_sitecustomize_in_a_task_env_turns_tampered_and_fail_into_not_judged(tmp_path, monkeypatch) -> None:
    import shutil
    import subprocess

    from agent.differential import DifferentialError
    from agent.final_verdict import final_test_run
    from agent.suites.env import build_env, plan_env
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace
    from tests.agent.test_suite_env import BUGGY, FIXED, PYPROJECT, PYTEST_DISTS, _uv_env, _wheel_from_installed

    # The env of tests/agent/test_suite_env.py (offline: wheels built here), its calc task.
    dep = tmp_path / "tinydep"
    (dep / "src" / "tinydep").mkdir(parents=True)
    (dep / "src" / "tinydep" / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    (dep / "pyproject.toml").write_text(
        '[project]\nname = "tinydep"\nversion = "1.0"\n'
        '[build-system]\nrequires = ["uv_build"]\nbuild-backend = "uv_build"\n'
    )
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in PYTEST_DISTS:
        _wheel_from_installed(name, wheels)
    uv = shutil.which("uv") or "uv"
    subprocess.run(
        [uv, "build", "--offline", "--wheel", "--quiet", "-o", str(wheels)], cwd=dep, check=True, capture_output=True
    )
    _uv_env(monkeypatch, wheels, tmp_path / "cache")
    root = tmp_path / "suite"
    repo = root / "calc"
    (repo / "src" / "calc").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "src" / "calc" / "__init__.py").write_text(BUGGY)
    (repo / "tests" / "test_calc.py").write_text(
        "from calc import triple\n\n\ndef test_triple():\n    assert triple(2) == 6\n"
    )
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
        "differential": {"targets": [{"module": "calc", "function": "triple", "inputs": [[1], [2], [5]]}]},
    }
    (root / "suite.json").write_text(json.dumps({"name": "calc", "tasks": [task]}))
    build_env(plan_env(repo))
    suite = load_suite(root)
    ws = Workspace.create(suite, suite.tasks[0], tmp_path / "ws", sandbox="bwrap")
    assert ws.python_env is not None
    (ws.path / "src" / "calc" / "__init__.py").write_text(_TRIPLE_WRONG)  # without the next line: FAIL
    (ws.path / "sitecustomize.py").write_text(_SITE_KILL)
    try:
        result, tampered = final_test_run(ws)
    except DifferentialError as exc:
        pytest.fail(f"not judged (the loop's error state) instead of TAMPERED/FAIL: {exc}")
    assert not result.passed or tampered


# --------------------------------------------------------------------------- vrd8-9


def test_vrd8_9_one_outvoted_flip_makes_the_fail_rollout_an_sft_example(tmp_path) -> None:
    from exports import DpoOptions, export_dpo
    from tests.exports.conftest import Env

    root = tmp_path / "traces"
    root.mkdir()
    db = tmp_path / "labels.sqlite"
    store = LabelStore(db, labeler="tester")
    team = {w: LabelStore(db, labeler=w) for w in ("ann", "ben", "boss", "cat")}
    try:
        env = Env(root, store)
        env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
        pid = env.pair_for("fix_gcd").pair_id
        for who, verdict in (("ann", "confirm"), ("ben", "confirm"), ("boss", "confirm"), ("cat", "flip")):
            team[who].set_verdict(pid, verdict)
        store.set_team_settings(adjudicator="boss")
        dpo = export_dpo(store, tmp_path / "d.jsonl", DpoOptions())
        assert [m["verdict"] for m in json.loads(Path(dpo.meta_path).read_text())["lines"]] == ["confirm"]
        sft = export_sft(store, tmp_path / "s.jsonl", SftOptions(style="trajectory", include_failed_labeled_good=True))
        uids = [m["uids"] for m in json.loads(Path(sft.meta_path).read_text())["lines"]]
        assert ["b1/fix_gcd__s1"] not in uids, "the FAIL the team settled against became an SFT example"
    finally:
        for s in (store, *team.values()):
            s.close()


# --------------------------------------------------------------------------- vrd8-10


@pytest.mark.parametrize("kind", ["sft", "dpo"])
def test_vrd8_10_a_rejudged_forgery_stays_an_sft_example_through_a_stale_confirm(tmp_path, kind) -> None:
    from agent.trace import Outcome, RolloutEnd
    from exports import DpoOptions, export_dpo
    from tests.exports.conftest import Env

    root = tmp_path / "traces"
    root.mkdir()
    store = LabelStore(tmp_path / "labels.sqlite", labeler="tester")
    try:
        env = Env(root, store)
        batch = env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
        pair = env.pair_for("fix_gcd")
        assert (pair.chosen_uid, pair.contrast) == ("b1/fix_gcd__s0", "pass_fail")
        store.set_verdict(pair.pair_id, "confirm")  # the person agrees: the passing one is better
        # `repo-agent rejudge` finds the pass forged: it appends a FAIL rollout_end (agent/rejudge.py).
        path = batch / "traces" / "fix_gcd__s0.jsonl"
        end = json.loads(path.read_text().splitlines()[-1])
        failed = Outcome.model_validate(end["outcome"]).model_copy(
            update={"tests_passed": False, "state": judged("fail", "held-out inputs: 3 of 44 calls differ")}
        )
        w = TraceWriter(path, "fix_gcd__s0")
        w.seq = 10_000
        w.emit(RolloutEnd, outcome=failed, stop_reason=end["stop_reason"], duration_s=1.0)
        w.close()
        store.ingest([root])
        assert {r.uid: r.state.label for r in store.rollouts()}["b1/fix_gcd__s0"] == "FAIL"
        try:
            if kind == "sft":
                opts = SftOptions(style="trajectory", include_failed_labeled_good=True)
                report = export_sft(store, tmp_path / "s.jsonl", opts)
            else:
                report = export_dpo(store, tmp_path / "d.jsonl", DpoOptions())
            uids = [m["uids"] for m in json.loads(Path(report.meta_path).read_text())["lines"]]
        except ExportError:  # nothing to export: both sides FAIL now
            uids = []
        assert not any("b1/fix_gcd__s0" in u for u in uids), "the rejudged forgery is still in a training file"
    finally:
        store.close()
