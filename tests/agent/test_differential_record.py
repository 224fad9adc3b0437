"""Recorded inputs (agent/differential_record.py): a task whose suite names no held-out pool
is judged on the calls its own tests make, outside pytest's process."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from agent import differential_record
from agent.differential import calls_for
from agent.differential_record import recorded_targets
from agent.differential_variants import with_variants
from agent.suites.loading import load_suite
from tests.agent.conftest import write_suite

STATS = {
    "stats.py": (
        "def _total(xs):\n    return sum(xs)\n\n\n"
        "def mean(xs):\n    return _total(xs) / (len(xs) - 1)\n\n\n"
        "def spread(pair):\n    return max(pair) - min(pair)\n\n\n"
        "def scaled(xs, *, by=1):\n    return [x * by for x in xs]\n"
    ),
    "_fix/stats.py": (
        "def _total(xs):\n    return sum(xs)\n\n\n"
        "def mean(xs):\n    return _total(xs) / len(xs)\n\n\n"
        "def spread(pair):\n    return max(pair) - min(pair)\n\n\n"
        "def scaled(xs, *, by=1):\n    return [x * by for x in xs]\n"
    ),
    "tests/test_stats.py": (
        "import pytest\n\nfrom stats import mean, scaled, spread\n\n\n"
        "@pytest.mark.parametrize('xs', [[1, 2, 3], [4.5], [2, 2, 2, 10]])\n"
        "def test_mean(xs):\n    assert mean(xs) == sum(xs) / len(xs)\n\n\n"
        "def test_mean_again():\n    assert mean([1, 2, 3]) == 2\n\n\n"
        "def test_spread():\n    assert spread((3, 9)) == 6\n\n\n"
        "def test_scaled():\n    assert scaled([1], by=2) == [2]\n"
    ),
}


def test_the_tests_own_calls_are_recorded_once_each(tmp_path):
    """Only the tests' calls of module-level functions the fix changes, with JSON arguments:
    not the module's own call of its helper, not a tuple argument, not a keyword-only one;
    each argument list once. The rollout's code is then judged on them."""
    suite = load_suite(write_suite(tmp_path / "suite", {"fix_mean": STATS}))
    task = suite.task("fix_mean")
    (target,) = recorded_targets(suite, task, sandbox="auto")
    assert (target.module, target.function) == ("stats", "mean")
    assert target.inputs == [[[1, 2, 3]], [[4.5]], [[2, 2, 2, 10]]]
    # Cached: recorded once per task (its inputs with a list asked again as generators too).
    assert calls_for(suite, task, sandbox="auto") == with_variants([target], [])  # its task asks none


def test_the_recording_keeps_the_reference_fix_private_while_it_runs(tmp_path, monkeypatch):
    # The reference fix's workspace is made in the recording's directory: only the recorder's
    # box is the sandbox's to read (round 25 r25s-4: the directory made 0755 showed it to all).
    suite = load_suite(write_suite(tmp_path / "suite", {"fix_mean": STATS}))
    modes: list[tuple[int, int]] = []
    real = differential_record.run_command_full

    def run(argv, cwd, **kwargs):
        box = Path(argv[-1]).parent
        modes.append((stat.S_IMODE(os.stat(box.parent).st_mode), stat.S_IMODE(os.stat(box).st_mode)))
        return real(argv, cwd, **kwargs)

    monkeypatch.setattr(differential_record, "run_command_full", run)
    assert recorded_targets(suite, suite.task("fix_mean"), sandbox="auto")  # the recording went through
    assert modes == [(0o700, 0o755)], [(f"{a:o}", f"{b:o}") for a, b in modes]


def test_nothing_is_recorded_when_the_reference_fix_fails_its_tests(tmp_path):
    broken = {**STATS, "_fix/stats.py": STATS["stats.py"]}
    suite = load_suite(write_suite(tmp_path / "suite", {"fix_mean": broken}))
    assert recorded_targets(suite, suite.task("fix_mean"), sandbox="auto") == []


def test_verdict_kind_says_what_a_task_rests_on(tmp_path):
    from agent.verdict_kind import verdict_kind
    from tests.agent.test_suites import QUIX_FILES

    mini = load_suite("mini-bugs")
    assert {verdict_kind(mini, t) for t in mini.tasks} == {"differential+hidden"}  # pools and held-out test files
    root = tmp_path / "QuixBugs"
    for rel, text in QUIX_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    quix = load_suite(root)
    assert verdict_kind(quix, quix.task("add")) == "differential+hidden"
    assert verdict_kind(quix, quix.task("reach")) == "tests"  # Node arguments: no plain data
    generated = load_suite(write_suite(tmp_path / "suite", {"fix_mean": STATS}))
    assert verdict_kind(generated, generated.task("fix_mean")) == "tests"  # recorded calls are not held out


def test_keyword_arguments_are_recorded_apart_and_old_records_still_read():
    """A record's "kwargs" become the target's ``keywords`` beside its positional inputs (round
    10 r10-11: replayed by position, a keyword-only option raised TypeError); a record with no
    "kwargs" (written before them) is the positional call it always was."""
    from agent.differential_record import _targets

    lines = [
        {"k": "call", "module": "items", "function": "sort_items", "args": [[3, 1]]},
        {"k": "call", "module": "items", "function": "sort_items", "args": [[3, 1]], "kwargs": {"reverse": True}},
        {"k": "call", "module": "items", "function": "sort_items", "args": [[2, 5]]},
        {"k": "finish", "exitstatus": 0},
    ]
    (target,) = _targets("\n".join(json.dumps(r) for r in lines).encode())
    assert target.inputs == [[[3, 1]], [[3, 1]], [[2, 5]]]
    assert [target.keywords_of(i) for i in range(3)] == [{}, {"reverse": True}, {}]
    assert target.picked([1, 0]).keywords == [{"reverse": True}]  # the keywords travel with their input
    assert target.picked([2, 0]).keywords == []


def _keyword_calls(f, g, xs, kw):
    f(xs, reverse=True)
    f(xs)
    sorted(xs, key=g)
    f(*xs, **kw)


def test_the_recorder_reads_which_arguments_a_call_passed_by_keyword():
    """The names each call instruction passes by keyword, read from the bytecode: f(**kw) and
    plain calls say none (recorded by position, as before)."""
    from agent.differential_recorder import _keyword_call_sites

    offsets, names = _keyword_call_sites(_keyword_calls.__code__)
    assert [n for n in names if n] == [("reverse",), ("key",)]
    assert len(offsets) == len(names) and offsets == sorted(offsets)


HELD_OUT_STATS = {
    **STATS,
    "tests/test_stats.py": "from stats import mean\n\n\ndef test_mean():\n    assert mean([1, 2, 3]) == 2\n",
    "_hidden/tests/test_stats_hidden.py": (
        "from stats import mean\n\n\ndef test_mean_unseen():\n    assert mean([5, 7]) == 6\n\n\n"
        "def test_mean_seen_too():\n    assert mean([1, 2, 3]) == 2\n"
    ),
}


def test_the_held_out_tests_calls_are_recorded_first(tmp_path):
    """A task with held-out test files is recorded with them in: their calls (inputs the
    rollout never saw) come first, so the differential judges them outside pytest before the
    held-out tests run (round 9 vrd9-2/vrd9-18: a table of the visible inputs passed)."""
    ids = ["tests/test_stats_hidden.py::test_mean_unseen", "tests/test_stats_hidden.py::test_mean_seen_too"]
    root = write_suite(
        tmp_path / "suite",
        {"fix_mean": HELD_OUT_STATS},
        hidden=["_fix", "_hidden"],
        held_out_tests={"dir": "_hidden", "ids": ids},
    )
    suite = load_suite(root)
    (target,) = recorded_targets(suite, suite.task("fix_mean"), sandbox="auto")
    assert target.inputs == [[[5, 7]], [[1, 2, 3]]]


def test_held_out_calls_keep_their_place_past_the_visible_ones():
    """The visible tests' calls up to ``MAX_INPUTS`` never crowd out the held-out ones."""
    from agent.differential_record import MAX_INPUTS, _targets

    visible = [{"k": "call", "module": "m", "function": "f", "args": [n]} for n in range(MAX_INPUTS + 5)]
    held = [{"k": "call", "module": "m", "function": "f", "args": [n], "held": True} for n in (3, 999)]
    lines = [*visible, *held, {"k": "finish", "exitstatus": 0}]
    (target,) = _targets("\n".join(json.dumps(r) for r in lines).encode())
    assert target.inputs[:2] == [[3], [999]]
    assert len(target.inputs) == 2 + MAX_INPUTS - 1  # the visible [3] once, behind the held-out one


def test_a_recording_the_held_out_tests_break_falls_back_to_the_visible_ones(tmp_path):
    broken = {**HELD_OUT_STATS, "_hidden/tests/test_stats_hidden.py": "def test_no():\n    assert False\n"}
    root = write_suite(
        tmp_path / "suite",
        {"fix_mean": broken},
        hidden=["_fix", "_hidden"],
        held_out_tests={"dir": "_hidden", "ids": ["tests/test_stats_hidden.py::test_no"]},
    )
    suite = load_suite(root)
    (target,) = recorded_targets(suite, suite.task("fix_mean"), sandbox="auto")
    assert target.inputs == [[[1, 2, 3]]]
