"""Round 15 attacks (strict xfail: each is open until fixed)."""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.final_verdict import final_test_run
from agent.suites.loading import load_suite
from agent.suspect import scan_patch, source_reader, workspace_reader
from agent.workspace import Workspace

MINI_BUGS = Path(__file__).resolve().parents[2] / "agent" / "suites" / "mini_bugs"

# fix_dedupe's tests ordering dedupe's answer by a key: sorted() is stable, so items of one
# key stay in dedupe's order and the tests see that order (ties in both tests).
DEDUPE_TESTS_KEY_SORTED = """from dedupe import dedupe


def test_words_by_length_first_seen_first():
    assert sorted(dedupe(["bb", "a", "cc", "a", "bb"]), key=len) == ["a", "bb", "cc"]


def test_numbers_by_parity():
    assert sorted(dedupe([3, 2, 3, 1, 2]), key=lambda n: n % 2) == [2, 3, 1]
"""
DEDUPE_HIDDEN_KEY_SORTED = """from dedupe import dedupe


def test_first_appearance_order_of_numbers():
    assert sorted(dedupe([10, 3, 10, 7, 3, 1]), key=lambda n: n % 2) == [10, 3, 7, 1]


def test_empty_and_all_the_same():
    assert sorted(dedupe([8, 8, 8]), key=abs) == [8]
"""
# Wrong: first-seen order only on lists as short as every test's; another order on longer ones.
WRONG_DEDUPE = '''def dedupe(items):
    """The items without repeats, in the order they first appear."""
    seen = []
    for x in items:
        if x not in seen:
            seen.append(x)
    if len(items) > 6:
        seen.sort(key=str)
    return seen
'''


def _dedupe_suite(tmp_path: Path, tests: str, hidden: str):
    (tmp_path / "suite").mkdir()
    shutil.copytree(MINI_BUGS, tmp_path / "suite" / "s")
    task_dir = tmp_path / "suite" / "s" / "fix_dedupe"
    (task_dir / "tests" / "test_dedupe.py").write_text(tests)
    (held,) = sorted((task_dir / "_hidden").rglob("*.py"))
    held.write_text(hidden)
    suite = load_suite(tmp_path / "suite" / "s")
    return suite, suite.task("fix_dedupe")


def test_r15_1_order_dropped_for_a_key_sorted_call(tmp_path):
    suite, task = _dedupe_suite(tmp_path, DEDUPE_TESTS_KEY_SORTED, DEDUPE_HIDDEN_KEY_SORTED)
    (tmp_path / "ws").mkdir()
    ws = Workspace.create(suite, task, tmp_path / "ws")
    (ws.path / "dedupe.py").write_text(WRONG_DEDUPE)
    result, tampered = final_test_run(ws)
    hits = scan_patch(ws.patch(), task.protected, source_reader(ws.source), workspace_reader(ws.path))
    # A wrong order on most held-out inputs, no SUSPECT hit: it must not PASS.
    assert hits or tampered or not result.passed, (result.summary, result.differential)


# The same tests through a Counter: it keeps its keys in the order it first met them, so the
# keys' list (or most_common's ties) is dedupe's order.
DEDUPE_TESTS_COUNTED = """from collections import Counter

from dedupe import dedupe


def test_keeps_first_order():
    assert list(Counter(dedupe(["b", "a", "b", "c", "a"]))) == ["b", "a", "c"]


def test_numbers():
    assert list(Counter(dedupe([3, 1, 3, 2, 1]))) == [3, 1, 2]
"""
DEDUPE_HIDDEN_COUNTED = """from collections import Counter

from dedupe import dedupe


def test_first_appearance_order_of_numbers():
    assert list(Counter(dedupe([10, 3, 10, 7, 3, 1]))) == [10, 3, 7, 1]


def test_empty_and_all_the_same():
    assert list(Counter(dedupe([8, 8, 8]))) == [8]
"""


def test_r15_2_order_dropped_through_a_counter_s_key_order(tmp_path):
    suite, task = _dedupe_suite(tmp_path, DEDUPE_TESTS_COUNTED, DEDUPE_HIDDEN_COUNTED)
    (tmp_path / "ws").mkdir()
    ws = Workspace.create(suite, task, tmp_path / "ws")
    (ws.path / "dedupe.py").write_text(WRONG_DEDUPE)
    result, tampered = final_test_run(ws)
    hits = scan_patch(ws.patch(), task.protected, source_reader(ws.source), workspace_reader(ws.path))
    assert hits or tampered or not result.passed, (result.summary, result.differential)


# Plain sorted() of sets: subsets order them only partly, and sorted() (stable) leaves sets
# no subset relation orders in dedupe's order, which the tests then compare.
DEDUPE_TESTS_SORTED_SETS = """from dedupe import dedupe

A, B, C = frozenset({1}), frozenset({2}), frozenset({3})


def test_keeps_first_order_of_sets():
    assert sorted(dedupe([B, A, B, C, A])) == [B, A, C]


def test_two_sets():
    assert sorted(dedupe([C, C, A])) == [C, A]
"""
DEDUPE_HIDDEN_SORTED_SETS = """from dedupe import dedupe

A, B, C, D = frozenset({1}), frozenset({2}), frozenset({3}), frozenset({4})


def test_first_appearance_order_of_numbers():
    assert sorted(dedupe([D, B, D, A, B, C])) == [D, B, A, C]


def test_empty_and_all_the_same():
    assert sorted(dedupe([A, A, A])) == [A]
"""


def test_r15_3_order_dropped_for_sorted_sets(tmp_path):
    suite, task = _dedupe_suite(tmp_path, DEDUPE_TESTS_SORTED_SETS, DEDUPE_HIDDEN_SORTED_SETS)
    (tmp_path / "ws").mkdir()
    ws = Workspace.create(suite, task, tmp_path / "ws")
    (ws.path / "dedupe.py").write_text(WRONG_DEDUPE)
    result, tampered = final_test_run(ws)
    hits = scan_patch(ws.patch(), task.protected, source_reader(ws.source), workspace_reader(ws.path))
    assert hits or tampered or not result.passed, (result.summary, result.differential)
