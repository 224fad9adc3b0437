"""The final run's canaries, config scan and differential check (agent/final_verdict.py)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from agent.final_verdict import config_tamper, final_test_run, judge_canaries, plant
from agent.workspace import Workspace, apply_reference_fix
from tests.agent.conftest import ADD_TASK


@pytest.fixture
def ws(add_suite, tmp_path):
    w = Workspace.create(add_suite, add_suite.tasks[0], tmp_path / "runs")
    yield w
    w.cleanup()


def test_canaries_look_like_the_tasks_tests_and_behave(ws):
    canaries = plant(ws, random.Random(1))
    assert len(canaries) == 6 and sum(c.must_pass for c in canaries) == 4
    mirrors = [c for c in canaries if c.mirror_of]
    assert len(mirrors) == 2 and all(c.must_pass for c in mirrors)
    text = (ws.path / "tests/test_add.py").read_text()
    for c in canaries:
        assert c.file == "tests/test_add.py" and c.name.startswith(("test_small_", "test_zero_", "test_negative_"))
        assert f"def {c.name}():" in text
    for c in mirrors:  # a copy of the real test: it calls add as the real one does
        assert c.name.startswith(f"{c.mirror_of}_") and "add(" in c.source
    apply_reference_fix(ws.suite, ws.task, ws)
    raw = ws.run_tests()
    assert raw.exit_code == 1 and raw.counts.failed == 2  # the two must-fail canaries
    judged = judge_canaries(raw, canaries)
    assert judged.passed and judged.tamper == []
    assert (judged.counts.passed, judged.counts.failed, judged.counts.collected) == (3, 0, 3)
    assert set(judged.outcomes) == {f"tests/test_add.py::test_{n}" for n in ("small", "zero", "negative")}


def test_final_run_passes_an_honest_fix_and_removes_its_canaries(ws):
    apply_reference_fix(ws.suite, ws.task, ws)
    result, tampered = final_test_run(ws)
    assert result.passed and tampered == [] and result.tamper == [] and result.error is None
    assert result.counts.collected == 3
    assert (ws.path / "tests/test_add.py").read_text() == ADD_TASK["tests/test_add.py"]


def test_a_canary_that_passes_is_tampering(ws):
    canaries = plant(ws, random.Random(2))
    raw = ws.run_tests()
    flipped = dict(raw.outcomes)
    for c in canaries:
        flipped[c.nodeid] = "passed"
    judged = judge_canaries(type(raw)(**{**raw.__dict__, "outcomes": flipped}), canaries)
    assert not judged.passed
    assert sum("must have failed" in t for t in judged.tamper) == 2


def test_missing_canary_is_tampering_only_in_a_finished_session(ws):
    canaries = plant(ws, random.Random(3))
    raw = ws.run_tests()
    gone = {k: v for k, v in raw.outcomes.items() if k != canaries[0].nodeid}
    judged = judge_canaries(type(raw)(**{**raw.__dict__, "outcomes": gone}), canaries)
    assert any("is missing from the results" in t for t in judged.tamper)
    timed_out = type(raw)(**{**raw.__dict__, "outcomes": gone, "timed_out": True, "exit_code": None})
    assert not any("missing" in t for t in judge_canaries(timed_out, canaries).tamper)


def test_no_canaries_where_the_command_selects_or_stops_early(add_suite, tmp_path):
    for cmd in (["python", "-m", "pytest", "-x", "tests"], ["python", "-m", "pytest", "-k", "small"], ["make"]):
        task = add_suite.tasks[0].model_copy(update={"test_command": cmd})
        with Workspace.create(add_suite, task, tmp_path / "runs") as w:
            assert plant(w) == [], cmd


def test_short_flag_clusters_are_read_as_pytest_reads_them(add_suite, tmp_path):
    """r10-12: "-xq" stops at the first failure like "-x"; "-rfx" only shows f and x."""
    stops = [["-xq"], ["-qx", "tests"], ["-vvx"], ["-qkadd"], ["-mslow"], ["-o", "addopts=-x"], ["t.py::x"]]
    plants = [["-q"], ["-rfx"], ["-qrx", "tests"], ["-W", "error::DeprecationWarning"], ["-pno:cacheprovider", "-q"]]
    for args, planted in [(a, False) for a in stops] + [(a, True) for a in plants]:
        task = add_suite.tasks[0].model_copy(update={"test_command": ["python", "-m", "pytest", *args]})
        with Workspace.create(add_suite, task, tmp_path / "runs") as w:
            assert bool(plant(w, random.Random(1))) == planted, args


def test_canary_names_are_new_to_every_module(tmp_path):
    """r10-13: a module outside the protected files naming every plain draw (word, word and
    two digits) of each real test leaves the canaries other names; nothing loops."""
    from agent.final_verdict import _WORDS
    from agent.suites.loading import load_suite
    from tests.agent.conftest import write_suite

    used = {f"test_{b}_{w}{d}" for b in ("small", "zero", "negative") for w in _WORDS for d in ["", *range(2, 100)]}
    other = "".join(f"{n} = None\n" for n in sorted(used))  # assigned, not defined: a name all the same
    suite = load_suite(write_suite(tmp_path / "suite", {"t": {**ADD_TASK, "lib/other_checks.py": other}}))
    with Workspace.create(suite, suite.tasks[0], tmp_path / "runs") as w:
        canaries = plant(w, random.Random(4))
    assert len(canaries) == 6 and not {c.name for c in canaries} & used


def test_the_workspace_scan_keeps_only_names_a_canary_could_take(tmp_path, monkeypatch):
    """The scan for taken names keeps the words a canary drawn from the tests' names could be
    (a base, one of the words, a number), at most TAKEN_NAMES_MAX: a rollout's file of
    millions of ``test<n>`` words held the host's memory (round 12: 56 MB cost 800 MB)."""
    from agent import final_verdict
    from agent.suites.loading import load_suite
    from tests.agent.conftest import write_suite

    noise = " ".join(f"test{i} test_small_{i}x" for i in range(2000))
    shaped = "test_small_edge test_small_twice7 test_zero_empty_case42 test_other_edge test_smalledge"
    suite = load_suite(write_suite(tmp_path / "suite", {"t": {**ADD_TASK, "lib/words.py": f"{noise}\n{shaped}\n"}}))
    with Workspace.create(suite, suite.tasks[0], tmp_path / "runs") as w:
        bases = {"test_small", "test_zero"}
        assert final_verdict._test_names(w, bases) == {"test_small_edge", "test_small_twice7", "test_zero_empty_case42"}
        monkeypatch.setattr(final_verdict, "TAKEN_NAMES_MAX", 2)
        assert len(final_verdict._test_names(w, bases)) == 2


MUL_DEFS = "from calc_mul import mul\n\n\ndef test_two():\n    assert mul(2, 3) == 6\n"
MUL_CLASS = "from calc_mul import mul\n\n\nclass TestMul:\n    def test_two(self):\n        assert mul(2, 3) == 6\n"
ADD_DEFS = "from calc import add\n\n\ndef test_small():\n    assert add(1, 2) == 3\n"
ADD_CLASS = "from calc import add\n\n\nclass TestAdd:\n    def test_small(self):\n        assert add(1, 2) == 3\n"
SKIP_AT_IMPORT = "import pytest\n\nraise pytest.skip.Exception('no backend', allow_module_level=True)\n"


@pytest.mark.parametrize(
    ("add_tests", "mul_tests", "verdict"),
    [(ADD_CLASS, MUL_DEFS, "tampered"), (ADD_DEFS, MUL_CLASS, "fail")],
    ids=["canaries-there", "no-canary-there"],
)
def test_a_module_the_code_under_test_skips_at_collection_is_not_excused(tmp_path, add_tests, mul_tests, verdict):
    """r10-8's excuse needs the untouched source to skip the module too: here the rollout's
    calc_mul.py raises a module-level skip at import (no reference fix)."""
    from agent.suites.loading import load_suite
    from tests.agent.conftest import write_suite

    files = {"calc.py": "def add(a, b):\n    return a - b\n", "calc_mul.py": "def mul(a, b):\n    return a + b\n"}
    files |= {"tests/test_add.py": add_tests, "tests/test_mul.py": mul_tests}
    suite = load_suite(write_suite(tmp_path / "suite", {"t": files}))
    with Workspace.create(suite, suite.tasks[0], tmp_path / "runs") as w:
        (w.path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
        (w.path / "calc_mul.py").write_text(SKIP_AT_IMPORT)
        result, tampered = final_test_run(w)
    assert not tampered and not result.passed
    if verdict == "tampered":  # every canary is in the skipped module
        assert any("is missing from the results" in t for t in result.tamper), result.tamper
    else:
        assert not result.tamper, result.tamper
        assert result.fail_detail == "tests the untouched source runs were skipped: tests/test_mul.py"


def test_canaries_of_a_module_skipped_on_a_trusted_run_too_are_not_judged(ws):
    canaries = [c for c in plant(ws, random.Random(5)) if c.mirror_of is None]
    raw = ws.run_tests()
    gone = {k: v for k, v in raw.outcomes.items() if not k.startswith("tests/test_add.py::")}
    skipped = dataclasses.replace(raw, outcomes=gone, skipped_at_collection=["tests/test_add.py"])
    assert any("missing" in t for t in judge_canaries(skipped, canaries, None, ["tests/other.py"]).tamper)
    judged = judge_canaries(skipped, canaries, None, ["tests/test_add.py"])
    assert judged.tamper == [] and "canaries not judged in tests/test_add.py: skipped at collection" in judged.summary


@pytest.mark.parametrize("name", ["pyproject.toml", "pytest.toml"])
def test_no_canaries_where_the_tasks_own_config_stops_early(tmp_path, name):
    """pytest 9's pytest.toml says addopts in a [pytest] table (round 8 #21)."""
    from agent.suites.loading import load_suite
    from tests.agent.conftest import write_suite

    table = "[tool.pytest.ini_options]" if name == "pyproject.toml" else "[pytest]"
    files = {**ADD_TASK, name: f'{table}\naddopts = ["-x"]\n'}
    suite = load_suite(write_suite(tmp_path / "suite", {"t": files}))
    with Workspace.create(suite, suite.tasks[0], tmp_path / "runs") as w:
        assert plant(w) == []


def test_config_files_and_shadow_modules_are_reported(ws):
    (ws.path / "pytest.ini").write_text("[pytest]\n")
    (ws.path / "sub").mkdir()
    (ws.path / "sub" / "conftest.py").write_text("")
    (ws.path / "_pytest").mkdir()
    (ws.path / "x.pth").write_text("import os\n")
    (ws.path / "pytest.toml").write_text("[pytest]\n")  # pytest 9's
    assert config_tamper(ws) == ["_pytest", "pytest.ini", "pytest.toml", "sub/conftest.py", "x.pth"]
    (ws.path / "conftest.py").write_text("# changed\n")  # the task has no root conftest: new
    assert "conftest.py" in config_tamper(ws)


def test_the_sources_own_config_lost_is_reported(tmp_path):
    """Deleting the task's pytest configuration (its filterwarnings = error) is tampering, as
    changing it is; a directory in its place too (round 8, vrd8-3)."""
    from agent.suites.loading import load_suite
    from tests.agent.conftest import write_suite

    files = {**ADD_TASK, "pyproject.toml": "[tool.pytest.ini_options]\n", "sub/setup.cfg": "", "sub/x.py": ""}
    suite = load_suite(write_suite(tmp_path / "suite", {"t": files}))
    with Workspace.create(suite, suite.tasks[0], tmp_path / "runs") as w:
        assert config_tamper(w) == []
        (w.path / "pyproject.toml").unlink()
        (w.path / "sub/setup.cfg").unlink()
        (w.path / "sub/setup.cfg").mkdir()
        assert config_tamper(w) == ["pyproject.toml", "sub/setup.cfg"]


def test_differential_check_catches_tests_the_rollout_never_ran(ws):
    """A rollout whose run lost a test the reference fix runs is tampered."""
    import dataclasses

    from agent.final_verdict import differential

    apply_reference_fix(ws.suite, ws.task, ws)
    canaries = plant(ws, random.Random(4))
    mine = judge_canaries(ws.run_tests(), canaries)
    assert mine.passed
    lost = dataclasses.replace(mine, outcomes={k: v for k, v in mine.outcomes.items() if not k.endswith("::test_zero")})
    backed = differential(ws, lost, canaries)
    assert not backed.passed and any("test_zero" in t for t in backed.tamper)
    assert differential(ws, mine, canaries).passed


def test_a_mirror_that_ends_otherwise_than_its_original_is_tampering(ws):
    """The bug fails test_small; a mirror of it fails too (no tampering). Had something made
    the real test pass (a plugin emptying it), the mirror would still fail: tampering."""
    canaries = [c for c in plant(ws, random.Random(5)) if c.mirror_of]
    raw = ws.run_tests()
    assert judge_canaries(raw, canaries).tamper == []
    forged = {
        k: ("passed" if "::test_" in k and not any(c.name in k for c in canaries) else v)
        for k, v in raw.outcomes.items()
    }
    bad = judge_canaries(dataclasses.replace(raw, outcomes=forged), canaries)
    assert any("but the test it copies passed" in t for t in bad.tamper), bad.tamper


def test_the_tasks_own_addopts_are_read_for_options_that_stop_or_select(tmp_path):
    """R6-11: ``addopts = -x`` in the task's config stops the session at the first must-fail
    canary, as the command's own -x would: no canaries there."""
    from agent.final_verdict import config_addopts

    assert config_addopts(tmp_path) == []
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -x --tb=short\n")
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = ["-k", "not slow"]\n')
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\naddopts = 'unclosed\n")  # unreadable: nothing
    assert config_addopts(tmp_path) == ["-x", "--tb=short", "-k", "not slow"]
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = 3\n")
    assert config_addopts(tmp_path) == ["-x", "--tb=short"]


def test_the_reference_run_goes_beside_the_rollouts_run(ws, monkeypatch):
    """The reference fix's run of the same planted tests needs only the canaries: it starts
    while the rollout's run is still going (after it, it was a third of the final run's time),
    and a pass is still judged against it."""
    import threading

    import agent.final_verdict as fv

    started = threading.Event()
    real_reference = fv.reference_run

    def reference(w, canaries):
        started.set()
        return real_reference(w, canaries)

    monkeypatch.setattr(fv, "reference_run", reference)
    real_run = ws.run_tests
    seen: list[bool] = []

    def rollouts_run():
        seen.append(started.wait(60))  # sequential, the reference would never have started
        return real_run()

    monkeypatch.setattr(ws, "run_tests", rollouts_run)
    apply_reference_fix(ws.suite, ws.task, ws)
    result, tampered = final_test_run(ws)
    assert seen == [True] and result.passed and tampered == []


def test_records_past_the_bound_are_tampered_unless_the_held_out_inputs_failed_the_code():
    """Round 12 r12-1: a run whose records flooded the verdict channel is the rollout's doing:
    TAMPERED naming the flood, or the FAIL the held-out differential already said."""
    from agent.differential import Verdict
    from agent.final_verdict import held_out_verdict, verdict_state
    from agent.scoring import TestResult
    from agent.trace import TestCounts, judged

    flood = "the tests wrote 70,018,087 bytes of verdict records, past the 64,000,000 this machine reads"
    run = TestResult(False, TestCounts(), "verdict error", 1.0, False, "", 0, error="no finish")
    run = dataclasses.replace(run, tamper=[flood], records_flood=flood)
    differ = Verdict(checked=9, differ=("gcd#3: returned a different value",))
    failed = held_out_verdict(run, differ)
    assert not failed.passed and failed.tamper == [] and failed.fail_detail == differ.detail
    assert verdict_state(judged("fail"), failed) == judged("fail", differ.detail)
    agreed = held_out_verdict(run, Verdict(checked=9, differ=()))
    assert not agreed.passed and agreed.tamper == [flood]
    assert verdict_state(judged("tampered"), agreed) == judged("tampered", flood)
    other = dataclasses.replace(run, tamper=[flood, "canary test t::c passed but must have failed"])
    assert held_out_verdict(other, differ).tamper == ["canary test t::c passed but must have failed"]
    assert verdict_state(judged("tampered", "conftest.py"), agreed).detail == "conftest.py"


def test_put_back_restores_the_sources_files_past_the_snapshot_but_never_a_changed_one(tmp_path, monkeypatch):
    """r13-4: files as the rollout was given them are put back from the source, whatever the
    workspace's size; the rollout's own changes only from the bytes kept of them."""
    from agent import final_verdict
    from agent.final_verdict import code_digest, code_state, put_back, rewritten_code
    from agent.suites.loading import load_suite
    from tests.agent.conftest import write_suite

    files = {**ADD_TASK, "data/state.json": '{"last": null}', "data/assets.bin": "x" * 4096}
    suite = load_suite(write_suite(tmp_path / "suite", {"t": files}))
    with Workspace.create(suite, suite.tasks[0], tmp_path / "runs") as w:
        (w.path / "add.py").write_text(ADD_TASK["_fix/add.py"])  # the rollout's change: 32 bytes
        monkeypatch.setattr(final_verdict, "SNAPSHOT_MAX_BYTES", 40)  # the change fits, the assets do not
        before, kept = code_state(w)
        assert set(kept) == {"add.py"}  # nothing of the source's is held in memory
        (w.path / "data/state.json").write_text('{"last": 4}')  # a test's doing
        (w.path / "data/assets.bin").unlink()
        (w.path / "add.py").write_text("def add(a, b):\n    return 3\n")
        rewritten = rewritten_code(before, code_digest(w))
        assert put_back(w, kept, rewritten, before)
        assert (w.path / "data/state.json").read_text() == '{"last": null}'
        assert (w.path / "add.py").read_text() == ADD_TASK["_fix/add.py"]
        assert not rewritten_code(before, code_digest(w))
        monkeypatch.setattr(final_verdict, "SNAPSHOT_MAX_BYTES", 0)  # the change is not kept now
        before, kept = code_state(w)
        assert kept == {}
        (w.path / "add.py").write_text("def add(a, b):\n    return 3\n")
        # The source's add.py is no stand-in for the rollout's: not restorable, so not judged as restored.
        assert not put_back(w, kept, rewritten_code(before, code_digest(w)), before)


def test_ini_and_toml_config_is_compared_by_meaning_and_code_by_bytes(tmp_path):
    """r13-11: blank lines, comment lines and whitespace around ``=`` are no change to an ini
    or TOML file; a key's case, a value, a blank line inside a value, a TOML type are."""
    from agent.suites.loading import load_suite
    from tests.agent.conftest import write_suite

    cfg = "[tool:pytest]\naddopts = -W error\nmarkers =\n  slow\n  fast\n\n[metadata]\nversion = 1.0\n"
    toml = '[tool.pytest.ini_options]\nxfail_strict = true\naddopts = "-W error"\n'
    files = {**ADD_TASK, "setup.cfg": cfg, "pyproject.toml": toml, "conftest.py": "\n\nX = 1\n"}
    suite = load_suite(write_suite(tmp_path / "suite", {"t": files}))
    same = {
        "setup.cfg": "# ours\n[tool:pytest]\naddopts=-W error   \nmarkers =\n    slow\n\t# why\n  fast\n[metadata]\n\n  ; c\nversion= 1.0",
        "pyproject.toml": '[tool.pytest.ini_options]  # c\naddopts="-W error"\n\nxfail_strict=true\n',
    }
    changed = {
        "setup.cfg": [
            cfg.replace("addopts", "ADDOPTS"),  # pytest reads addopts only (configparser lowercases it)
            cfg.replace("-W error", "-W  error"),
            cfg.replace("  slow\n", "  slow\n\n"),  # an empty line in the value, to configparser
            cfg.replace("addopts = -W error", "addopts = -W error # c"),  # iniconfig may strip it; configparser not
            cfg.replace("\n[metadata]", "\x0c[metadata]"),  # a line break to iniconfig, an indent to configparser
        ],
        "pyproject.toml": [
            toml.replace("true", "1"),
            toml.replace('"-W error"', '"-W error "'),
            "[tool.pytest",
            "a = " + "[" * 10**5,
        ],
        "conftest.py": ["X = 1\n"],  # code: byte for byte
    }
    with Workspace.create(suite, suite.tasks[0], tmp_path / "runs") as w:
        for rel, text in same.items():
            (w.path / rel).write_text(text)
        assert config_tamper(w) == []
        for rel, texts in changed.items():
            for text in texts:
                (w.path / rel).write_text(text)
                assert config_tamper(w) == [rel], text
                (w.path / rel).write_text(same.get(rel, files[rel]))


@pytest.fixture
def gcd_ws(tmp_path):
    from agent.suites.loading import load_suite

    suite = load_suite("mini-bugs")
    w = Workspace.create(suite, suite.task("fix_gcd"), tmp_path / "runs")
    yield w
    w.cleanup()


def test_canaries_drawn_before_the_reveal_are_those_of_the_revealed_workspace(gcd_ws):
    """The canaries the reference fix's run takes before the differential's calls (issue 26's
    cost) are drawn as ``plant`` draws them in the revealed workspace, held-out test files
    among their homes, and nothing is written meanwhile: the calls' process sees no held-out test."""
    from agent.final_verdict import draw

    hidden = "tests/test_gcd_hidden.py"
    assert hidden in gcd_ws.held_out_files() and not (gcd_ws.path / hidden).exists()
    early = [draw(gcd_ws, random.Random(seed), revealed=gcd_ws.held_out_files()) for seed in range(12)]
    assert not (gcd_ws.path / hidden).exists()
    gcd_ws.reveal_held_out()
    late = [draw(gcd_ws, random.Random(seed)) for seed in range(12)]
    assert early == late
    assert any(c.file == hidden for drawn in late for c in drawn)  # the held-out file is a home too


def test_the_reference_run_goes_beside_the_differentials_calls(gcd_ws, monkeypatch):
    """Where the task holds tests back, the reference fix's run of the planted tests starts
    before the held-out calls (after them it was the final run's tail), while the workspace
    holds neither a held-out test nor a canary; a pass is still judged against it."""
    import threading

    import agent.final_verdict as fv

    started = threading.Event()
    real_reference, real_judge = fv.reference_run, fv.held_out.judge

    def reference(w, canaries):
        started.set()
        return real_reference(w, canaries)

    original = (gcd_ws.source / "tests/test_gcd.py").read_text()
    seen: list[tuple[bool, bool, bool]] = []

    def judge(w):
        planted = (w.path / "tests/test_gcd.py").read_text() != original
        seen.append((started.wait(30), (w.path / "tests/test_gcd_hidden.py").exists(), planted))
        return real_judge(w)

    monkeypatch.setattr(fv, "reference_run", reference)
    monkeypatch.setattr(fv.held_out, "judge", judge)
    apply_reference_fix(gcd_ws.suite, gcd_ws.task, gcd_ws)
    result, tampered = final_test_run(gcd_ws)
    assert seen == [(True, False, False)] and result.passed and tampered == []


def test_the_draw_reads_a_python_file_a_piece_at_a_time(tmp_path, monkeypatch):
    """Round 23 r23s-6: a .py file as big as the tests may write is read in pieces for its
    ``test...`` words, never whole; a word cut by a piece's end is found whole, one past
    ``_WORD_MAX`` (no drawn name is that long) is skipped."""
    import re
    import tracemalloc

    from agent import final_verdict as fv

    monkeypatch.setattr(fv, "_PIECE_BYTES", 7)  # every word cut somewhere
    text = b"def test_a_one():\n  test_b2 = testing(test_c)\nx = 'test_" + b"z" * 5000 + b"'\ntest_end"
    want = [m.group() for m in re.finditer(rb"\btest\w*", text) if len(m.group()) <= fv._WORD_MAX]
    (tmp_path / "m.py").write_bytes(text)
    assert (
        list(fv._file_test_words(tmp_path / "m.py"))
        == want
        == [
            b"test_a_one",
            b"test_b2",
            b"testing",
            b"test_c",
            b"test_end",
        ]
    )
    monkeypatch.setattr(fv, "_PIECE_BYTES", 1 << 20)
    (tmp_path / "big.py").write_bytes(b"x = 1\n" * (3 << 20) + b"test_last\n")  # 18 MB
    tracemalloc.start()
    try:
        words = list(fv._file_test_words(tmp_path / "big.py"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert words == [b"test_last"] and peak < 4 * 2**20, peak
