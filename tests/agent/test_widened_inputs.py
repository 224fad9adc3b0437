"""Widened held-out inputs (agent/widened_inputs.py): each kind, made from a mini-bugs pool, holds
an input where a wrong fix of its class answers otherwise than the reference, and none where an
honest fix written another way does; deterministic, bounded, and asked for per task."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import string
import subprocess
import sys
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import pytest

from agent import differential
from agent.suites.loading import load_suite
from agent.suites.models import Suite
from agent.widened_inputs import (
    DEEP_BITS,
    DEEP_INTS,
    MAX_WIDENED,
    PER_KIND,
    aliased_inputs,
    deep_inputs,
    widened_inputs,
)
from tests.security import test_attacks_round23_verdict as r23
from tests.security import test_attacks_round24_verdict as r24
from tests.security import test_attacks_round25_verdict as r25
from tests.security import test_attacks_round26_verdict as r26
from tests.security import test_attacks_round27_verdict as r27
from tests.security import test_attacks_round31_verdict as r31
from tests.security.test_attacks_round11 import _FIRST_WINS as _R11_FIRST_WINS

_MINI_BUGS = Path(__file__).resolve().parents[2] / "agent/suites/mini_bugs"


def _wrong(source: str, name: str) -> Any:
    """``name`` of an attack's wrong fix (tests/security/test_attacks_round2*_verdict.py)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<wrong {name}>", "exec"), namespace)
    return namespace[name]


_letter_runs = _wrong(r25._LETTER_RUNS, "word_counts")
_NoneIsMissing = _wrong(r25._NONE_IS_MISSING, "LRUCache")
_EvictFirst = _wrong(r25._EVICT_FIRST, "LRUCache")
_unstable = _wrong(r25._UNSTABLE_MERGE, "mergesort")
_keyed_on_str = _wrong(r24._KEYED_ON_STR, "dedupe")
_running_total = _wrong(r25._RUNNING_TOTAL, "moving_average")
_recursive_merge_sort = _wrong(r25._RECURSIVE_MERGE, "mergesort")
_set_past_a_size = _wrong(r23._WRONG_PAST_A_SIZE, "dedupe")
_first_window_always = _wrong(r26._FIRST_WINDOW_ALWAYS, "moving_average")
_words_by_regex = _wrong(r26._WORDS_BY_REGEX, "word_counts")
_one_merge_pass_past_4096 = _wrong(r26._MERGES_ONE_PASS_PAST_4096, "mergesort")


@pytest.fixture(scope="module")
def mini() -> Suite:
    return load_suite("mini-bugs")


def _reference(tmp_path: Path, task: str, module: str) -> Any:
    path = tmp_path / f"ref_{task}_{module}.py"
    path.write_text((_MINI_BUGS / task / "_fix" / f"{module}.py").read_text())
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _pool(mini: Suite, task: str) -> tuple[list[list], bool]:
    (t,) = differential.targets(mini, mini.task(task))
    return t.inputs, t.script


SEEDS = range(20)


def _widened(mini: Suite, task: str, kinds: list, seed: int = 7) -> list[list]:
    inputs, script = _pool(mini, task)
    return widened_inputs(inputs, kinds, random.Random(seed), script=script)


def _only_widened_shows(mini: Suite, task: str, kinds: list, ref: Any, wrong: Any, script: bool = False) -> bool:
    """The pool never shows ``wrong``; the widened inputs of every draw do."""
    pool_shows = _differ(ref, wrong, _pool(mini, task)[0], script)
    return not pool_shows and _every_draw_shows(mini, task, kinds, ref, wrong, script)


def _every_draw_shows(mini: Suite, task: str, kinds: list, ref: Any, wrong: Any, script: bool = False) -> bool:
    """Whatever the sample's seed draws, the widened inputs show ``wrong``."""
    return all(_differ(ref, wrong, _widened(mini, task, kinds, seed), script) for seed in SEEDS)


def _typed(x: Any) -> Any:
    """A value with the type of each part in it: 1 and 1.0 and True are three answers."""
    if isinstance(x, dict):
        return ("dict", sorted((repr(k), _typed(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_typed(v) for v in x])
    return (type(x).__name__, x)


def _answer(fn: Any, args: list) -> Any:
    try:
        return _typed(fn(*args))
    except Exception as exc:  # compared as the judge does: by type
        return ("raise", type(exc).__name__)


def _script(cls: Any, case: list) -> list:
    made, calls = case
    try:
        obj = cls(*made)
    except Exception as exc:
        return [("raise", type(exc).__name__)]
    return [_answer(getattr(obj, name), args) for name, args in calls]


def _differ(ref: Any, other: Any, cases: list[list], script: bool = False) -> list[list]:
    if script:
        return [c for c in cases if _script(ref, c) != _script(other, c)]
    return [c for c in cases if _answer(ref, c) != _answer(other, c)]


# --------------------------------------------------------------------------- wrong fixes shown


def test_text_never_repeats_a_key_with_another_value(mini, tmp_path):
    """Which value a repeated key keeps is what no task says (round 11 r11-5): an honest
    parse_query keeping the first agrees with the reference on every widened text."""
    ref = _reference(tmp_path, "fix_parse_query", "query").parse_query
    first = _wrong(_R11_FIRST_WINS, "parse_query")
    for seed in SEEDS:
        for (qs,) in _widened(mini, "fix_parse_query", ["text"], seed):
            assert first(qs) == ref(qs), (seed, qs)


def test_text_holds_contractions_digits_and_letters_past_ascii(mini, tmp_path, monkeypatch):
    """r25v-2's class: words of ASCII letter runs differ on a widened text (don't, 42, café)."""
    monkeypatch.setitem(sys.modules, "helpers", _reference(tmp_path, "fix_word_count", "helpers"))
    ref = _reference(tmp_path, "fix_word_count", "textstats").word_counts
    assert _only_widened_shows(mini, "fix_word_count", ["text"], ref, _letter_runs)
    for seed in SEEDS:
        words = {w for (text,) in _widened(mini, "fix_word_count", ["text"], seed) for w in text.split()}
        assert any("'" in w[1:-1] for w in words) and any(w.isdigit() for w in words), seed
        assert any(not w.isascii() for w in words), seed


def test_text_quotes_and_hyphenates_a_word(mini, tmp_path, monkeypatch):
    """r26v-8's class: words as runs of word characters and apostrophes keep a quoted word's
    quotes and split a hyphenated one; each widened text shows it."""
    monkeypatch.setitem(sys.modules, "helpers", _reference(tmp_path, "fix_word_count", "helpers"))
    ref = _reference(tmp_path, "fix_word_count", "textstats").word_counts
    assert _only_widened_shows(mini, "fix_word_count", ["text"], ref, _words_by_regex)
    for seed in SEEDS:
        words = {w for (text,) in _widened(mini, "fix_word_count", ["text"], seed) for w in text.split()}
        assert any(w[0] in "'\"" and w[-1] == w[0] for w in words), seed  # quoted
        assert any("-" in w.strip("-") for w in words) and any(w.endswith("'") for w in words), seed


def test_edges_ask_a_count_past_the_list_and_the_empty_list(mini, tmp_path):
    """r26v-1's class: a moving average answering ``[sum(xs) / k]`` where no window of k fits
    (and ``[0.0]`` for ``[]``) differs on a widened ``edges`` input, never on the pool; the
    honest ones written another way (the exact one in Fractions, r6-7; a running total that
    has no window to start from past the list; one by slices) agree."""
    from fractions import Fraction

    ref = _reference(tmp_path, "fix_moving_average", "stats").moving_average
    assert _only_widened_shows(mini, "fix_moving_average", ["edges"], ref, _first_window_always)

    def exact(xs: list, k: int) -> list:
        return [Fraction(sum(xs[i : i + k]), k) for i in range(len(xs) - k + 1)]

    def running(xs: list, k: int) -> list:
        if k > len(xs):
            return []
        s = sum(xs[:k])
        out = [s / k]
        for i in range(k, len(xs)):
            s += xs[i] - xs[i - k]
            out.append(s / k)
        return out

    def sliced(xs: list, k: int) -> list:
        return [sum(w) / k for w in (xs[i : i + k] for i in range(len(xs))) if len(w) == k]

    for seed in SEEDS:
        widened = _widened(mini, "fix_moving_average", ["edges"], seed)
        counts = [(xs, k) for xs, k in widened if xs]
        assert [] in [xs for xs, _ in widened] and counts and all(k == len(xs) + 1 for xs, k in counts), seed
        for honest in (running, sliced):
            assert not _differ(ref, honest, widened), (seed, honest)
        assert all(ref(*c) == exact(*c) for c in widened), seed


def test_edges_count_only_what_the_pool_keeps_within_a_lists_length():
    """An int argument the pool holds past its list's length (a binary search's target) is no
    count of its items: never asked one past it; the list still asked empty."""
    pool = [[[1, 3, 5], 5], [[2, 4], 1], [[7], 7]]
    made = widened_inputs(pool, ["edges"], random.Random(0), script=False)
    assert [] in [xs for xs, _ in made] and all(xs == [] for xs, _ in made)
    counted = widened_inputs([[[1, 3, 5], 2], [[2, 4], 1]], ["edges"], random.Random(0), script=False)
    assert sorted(map(json.dumps, counted)) == sorted(map(json.dumps, [[[], 2], [[1, 3, 5], 4], [[], 1], [[2, 4], 3]]))


def test_values_store_falsy_values_and_edges_reach_capacity_zero(mini, tmp_path):
    """r25v-3's class (a stored None taken for missing) differs on a widened ``values`` script,
    r25v-5's (an LRU evicting before it inserts: KeyError at capacity 0) on an ``edges`` one."""
    ref = _reference(tmp_path, "fix_lru_cache", "lru").LRUCache
    assert _only_widened_shows(mini, "fix_lru_cache", ["values"], ref, _NoneIsMissing, script=True)
    assert _only_widened_shows(mini, "fix_lru_cache", ["edges"], ref, _EvictFirst, script=True)


def test_ties_show_an_unstable_sort_and_values_a_dedupe_keyed_on_str(mini, tmp_path):
    """r25v-4's class: an unstable merge differs on a list holding an int and its equal float;
    r24v-4's: a dedupe keyed on ``str(item)`` on a list holding 1 and "1"."""
    ref_sort = _reference(tmp_path, "fix_mergesort", "mergesort").mergesort
    ref_dedupe = _reference(tmp_path, "fix_dedupe", "dedupe").dedupe
    assert _only_widened_shows(mini, "fix_mergesort", ["ties"], ref_sort, _unstable)
    assert _only_widened_shows(mini, "fix_dedupe", ["values"], ref_dedupe, _keyed_on_str)


def test_floats_show_a_running_total(mini, tmp_path):
    """r25v-6's class: a running float total keeps the rounding of a large value past its
    window; exact on the pool's ints. (mini-bugs does not ask ``floats`` of fix_moving_average:
    its honest variants include a running total, docs/sandbox-and-verdicts.md.)"""
    ref = _reference(tmp_path, "fix_moving_average", "stats").moving_average

    def far(a: Any, b: Any) -> bool:
        if a[0] == "list" and b[0] == "list" and len(a[1]) == len(b[1]):
            return any(abs(x[1] - y[1]) > 1e-9 * max(1.0, abs(x[1])) for x, y in zip(a[1], b[1], strict=True))
        return a != b

    pool, _ = _pool(mini, "fix_moving_average")
    assert not [c for c in pool if far(_answer(ref, c), _answer(_running_total, c))]
    for seed in SEEDS:
        widened = _widened(mini, "fix_moving_average", ["floats"], seed)
        assert [c for c in widened if far(_answer(ref, c), _answer(_running_total, c))], seed


def test_small_loses_an_average_rounded_to_fixed_places(mini, tmp_path):
    """r27v-4's class: an average rounded to 9 places answers 0.0 on the pool's lists scaled
    down by 1e12, past the tolerance the comparison gives such a call; the honest O(n) running
    total stays within it (its error scales with the floats)."""
    from agent.differential import DifferentialTarget, call_tolerance, same_value

    ref = _reference(tmp_path, "fix_moving_average", "stats").moving_average
    rounded = _wrong(r27._AVERAGES_ROUNDED, "moving_average")
    running = _wrong(_HONEST_RUNNING, "moving_average")
    target = DifferentialTarget(module="stats", function="moving_average", inputs=[])

    def agree(fn: Any, case: list) -> bool:
        want, got = ref(*case), fn(*case)
        tol = call_tolerance(target, case, 1e-9)
        return len(want) == len(got) and all(same_value(a, b, tol) for a, b in zip(want, got, strict=True))

    for seed in SEEDS:
        widened = _widened(mini, "fix_moving_average", ["small"], seed)
        assert widened and any(max(abs(v) for v in xs) < 1e-9 for xs, _ in widened), seed
        assert [c for c in widened if not agree(rounded, c)], seed
        assert all(agree(running, c) for c in widened), seed


_HONEST_RUNNING = (
    "def moving_average(xs, k):\n    if k > len(xs):\n        return []\n    out, s = [], sum(xs[:k])\n"
    "    out.append(s / k)\n    for i in range(k, len(xs)):\n        s += xs[i] - xs[i - k]\n"
    "        out.append(s / k)\n    return out\n"
)


# --------------------------------------------------------------------------- honest fixes kept


def _partitioned(qs: str) -> dict:
    return {k: v for k, _, v in (p.partition("=") for p in qs.split("&") if p)}


_HONEST: dict[str, tuple[str, str, list, Any]] = {
    "fix_parse_query": ("query", "parse_query", ["text"], _partitioned),
    "fix_mergesort": ("mergesort", "mergesort", ["ties"], sorted),
    "fix_dedupe": ("dedupe", "dedupe", ["ties", "values"], lambda items: list(OrderedDict.fromkeys(items))),
}


@pytest.mark.parametrize("task", sorted(_HONEST))
def test_honest_fixes_written_another_way_agree_on_every_widened_input(mini, tmp_path, task):
    module, function, kinds, honest = _HONEST[task]
    ref = getattr(_reference(tmp_path, task, module), function)
    for seed in SEEDS:
        widened = _widened(mini, task, kinds, seed)
        assert widened and not _differ(ref, honest, widened), seed


def _counter(text: str) -> dict:
    """An honest word_counts through Counter."""
    return dict(Counter(w for w in (w.strip(string.punctuation).lower() for w in text.split()) if w))


class _DictLRU:
    """An honest LRU cache on a plain dict (pop and reinsert)."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.d = capacity, {}  # type: ignore[var-annotated]

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self.d:
            return default
        self.d[key] = self.d.pop(key)
        return self.d[key]

    def put(self, key: Any, value: Any) -> None:
        self.d.pop(key, None)
        self.d[key] = value
        if len(self.d) > self.capacity:
            del self.d[next(iter(self.d))]


def test_an_honest_word_count_and_lru_agree_on_every_widened_input(mini, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "helpers", _reference(tmp_path, "fix_word_count", "helpers"))
    words = _reference(tmp_path, "fix_word_count", "textstats").word_counts

    assert not any(_differ(words, _counter, _widened(mini, "fix_word_count", ["text"], seed)) for seed in SEEDS)

    lru = _reference(tmp_path, "fix_lru_cache", "lru").LRUCache
    for seed in SEEDS:
        assert not _differ(lru, _DictLRU, _widened(mini, "fix_lru_cache", ["values", "edges"], seed), script=True)


# --------------------------------------------------------------------------- bounds


def test_widened_inputs_are_new_bounded_and_deterministic(mini):
    kinds = ["ties", "floats", "text", "values", "edges"]
    for task in mini.tasks:
        for t in differential.targets(mini, task):
            once = widened_inputs(t.inputs, kinds, random.Random(3), script=t.script)  # type: ignore[arg-type]
            assert once == widened_inputs(t.inputs, kinds, random.Random(3), script=t.script)  # type: ignore[arg-type]
            assert len(once) <= MAX_WIDENED
            pool = {json.dumps(i) for i in t.inputs}
            keys = [json.dumps(i) for i in once]
            assert len(set(keys)) == len(keys) and not pool & set(keys), task.id  # 1.0 is no 1 here
            assert widened_inputs(t.inputs, [], random.Random(3), script=t.script) == []
    assert PER_KIND * 5 >= MAX_WIDENED
    # A variant equal to a pool input (by type too: 3.0 is no 3) is no new input.
    assert widened_inputs([[[3, 3]], [[3, 3.0]], [[3.0, 3]]], ["ties"], random.Random(0), script=False) == []
    assert widened_inputs([[[3, 3]]], ["ties"], random.Random(0), script=False) == [[[3, 3.0]], [[3.0, 3]]]


def test_the_sample_holds_them_only_where_the_task_asks(mini):
    """Asked: the sample's draw from the pool is the same, the widened inputs after it."""
    task = mini.task("fix_parse_query")
    asked = differential.sample(mini, task)[0].inputs
    task = task.model_copy(update={"differential": task.differential.model_copy(update={"widen": []})})
    plain = differential.sample(mini, task)[0].inputs
    assert asked[: len(plain)] == plain and len(asked) > len(plain)
    assert any("&" in i[0] and i not in plain for i in asked[len(plain) :])


_SET_SHOWN_UNDER_SEED_0 = """
import tempfile
from pathlib import Path
from agent.suites.loading import load_suite
from tests.agent import test_widened_inputs as t
ref = t._reference(Path(tempfile.mkdtemp()), "fix_dedupe", "dedupe").dedupe
print(t._only_widened_shows(load_suite("mini-bugs"), "fix_dedupe", ["sizes"], ref, t._set_past_a_size))
"""


def test_sizes_reach_past_every_size_the_pool_holds(mini, tmp_path):
    """r25v-12's class (a recursion per item) and r23v-10's (another path past a size) differ
    on a list of the pool's items past its sizes; a sort or dedupe written another way does not."""
    ref_sort = _reference(tmp_path, "fix_mergesort", "mergesort").mergesort
    ref_dedupe = _reference(tmp_path, "fix_dedupe", "dedupe").dedupe
    assert _only_widened_shows(mini, "fix_mergesort", ["sizes"], ref_sort, _recursive_merge_sort)
    # A set of three strings keeps their insertion order where their hashes collide in its table:
    # under some string hash seeds (4 and 7 of this process's: the test failed there) the set of
    # pear/Pear/PEAR agrees with both orders. The judge draws its seed per run (such a fix passes
    # a share of runs: noted open); the class is asserted here under one seed, in a process of its own.
    shown = subprocess.run(
        [sys.executable, "-c", _SET_SHOWN_UNDER_SEED_0],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert shown.stdout.strip() == "True", shown.stdout + shown.stderr
    for seed in SEEDS:
        widened = _widened(mini, "fix_dedupe", ["sizes"], seed)
        firsts = [list(dict.fromkeys(json.dumps(v) for v in items)) for (items,) in widened]
        assert firsts[0] == firsts[1][::-1] and len(firsts[0]) >= 2, seed  # a set's order is one at most
        assert len(widened) == 2 and not _differ(ref_dedupe, lambda items: list(OrderedDict.fromkeys(items)), widened)
        assert not _differ(ref_sort, sorted, _widened(mini, "fix_mergesort", ["sizes"], seed))


def test_sizes_reach_past_a_power_of_two(mini, tmp_path):
    """r26v-9's class: a sort taking another path past 4,096 items (runs merged in one pass) is
    right up to 8,192 items and on every 3,000-item list; a list just past 2**14 shows it."""
    ref_sort = _reference(tmp_path, "fix_mergesort", "mergesort").mergesort
    assert _only_widened_shows(mini, "fix_mergesort", ["sizes"], ref_sort, _one_merge_pass_past_4096)
    for seed in SEEDS:
        sizes = [len(items) for (items,) in _widened(mini, "fix_mergesort", ["sizes"], seed)]
        assert sizes == [3000, 2**14 + 1], seed


def test_values_hold_keys_alike_as_text_or_as_a_hash(mini, tmp_path):
    """r27v-1's class (an LRU keyed by str(key)) and r27v-14's (a dedupe keyed on hash(item)):
    right on every pool input, wrong on the widened values of every draw; a store keyed by
    the key itself (a dict) agrees."""
    lru = _reference(tmp_path, "fix_lru_cache", "lru").LRUCache
    ref_dedupe = _reference(tmp_path, "fix_dedupe", "dedupe").dedupe
    keyed_by_str = _wrong(r27._LRU_KEYED_BY_STR, "LRUCache")
    assert _only_widened_shows(mini, "fix_lru_cache", ["values"], lru, keyed_by_str, script=True)
    assert _only_widened_shows(mini, "fix_dedupe", ["values"], ref_dedupe, _wrong(r27._DEDUPE_BY_HASH, "dedupe"))
    assert _every_draw_shows(mini, "fix_dedupe", ["values"], ref_dedupe, _keyed_on_str)  # r24v-4 still
    assert _every_draw_shows(mini, "fix_lru_cache", ["values"], lru, _NoneIsMissing, script=True)  # falsy stores still
    for seed in SEEDS:
        widened = _widened(mini, "fix_dedupe", ["values"], seed)
        assert not _differ(ref_dedupe, lambda items: list(OrderedDict.fromkeys(items)), widened)


def test_ordered_asks_a_sorted_list_of_strings(mini, tmp_path):
    """r27v-3's class (a binary search comparing by subtraction): right on every pool input,
    a TypeError on the ordered inputs of every draw; a search by bisect agrees."""
    import bisect

    def by_bisect(xs: list, target: Any) -> int:
        i = bisect.bisect_left(xs, target)
        return i if i < len(xs) and xs[i] == target else -1

    ref_find = _reference(tmp_path, "fix_binsearch", "binsearch").find
    wrong = _wrong(r27._FIND_BY_SUBTRACTION, "find")
    assert _only_widened_shows(mini, "fix_binsearch", ["ordered"], ref_find, wrong)
    for seed in SEEDS:
        ordered = _widened(mini, "fix_binsearch", ["ordered"], seed)
        assert len(ordered) == 3 and all(xs == sorted(xs) and type(t) is str for xs, t in ordered), seed
        assert not _differ(ref_find, by_bisect, ordered)


def test_aliases_repeat_a_row_marked_shared(mini):
    """r27v-13's class: the sample of a task asking ``aliases`` ends with inputs holding one of
    their rows twice more, marked ``shared`` (the runner makes them one list:
    tests/agent/test_differential_variants.py); none where the task does not ask."""
    task = mini.task("fix_flatten")
    (drawn,) = differential.sample(mini, task)
    inputs, _ = _pool(mini, "fix_flatten")
    aliased = aliased_inputs(inputs, ["aliases"], script=False)
    assert len(aliased) == 2 and all(xs[-1] == xs[-2] and type(xs[-1]) is list and xs[-1] for (xs,) in aliased)
    at = [i for i in range(len(drawn.inputs)) if drawn.shared_at(i)]
    assert [drawn.inputs[i] for i in at] == aliased and not any(drawn.asked_at(i) for i in at)
    assert aliased_inputs(inputs, ["depth"], script=False) == []


def _deep(mini: Suite, task: str) -> list[list]:
    inputs, script = _pool(mini, task)
    return deep_inputs(inputs, ["depth"], script=script)


def _flatten_by_a_stack(xs: list) -> list:
    """An honest flatten with no recursion at all."""
    out: list = []
    stack = [iter(xs)]
    while stack:
        for x in stack[-1]:
            if isinstance(x, list):
                stack.append(iter(x))
                break
            out.append(x)
        else:
            stack.pop()
    return out


def test_depth_takes_a_recursion_per_element_past_the_limit(mini, tmp_path):
    """r27v-7, r27v-10, r27v-11's class (a recursion once a bit, once a Euclid step, once an
    item): right on every pool input, a RecursionError on a deep input the reference's loop
    answers; an honest fix written another way (or recursing per level, as the reference
    flatten does) agrees on each."""
    import math

    ref_gcd = _reference(tmp_path, "fix_gcd", "gcd").gcd
    ref_bitcount = _reference(tmp_path, "fix_bitcount", "bitcount").bitcount
    ref_flatten = _reference(tmp_path, "fix_flatten", "flatten").flatten
    cases = [
        ("fix_gcd", ref_gcd, _wrong(r27._GCD_RECURSIVE, "gcd"), [math.gcd]),
        (
            "fix_bitcount",
            ref_bitcount,
            _wrong(r27._BITCOUNT_RECURSING_A_BIT, "bitcount"),
            [lambda n: bin(n).count("1")],
        ),
        ("fix_flatten", ref_flatten, _wrong(r27._FLATTEN_HEAD_TAIL, "flatten"), [_flatten_by_a_stack]),
    ]
    for task, ref, wrong, honest in cases:
        pool, deep = _pool(mini, task)[0], _deep(mini, task)
        assert not _differ(ref, wrong, pool), task
        assert [_answer(wrong, c) for c in _differ(ref, wrong, deep)] != [], task
        assert all(_answer(wrong, c) == ("raise", "RecursionError") for c in _differ(ref, wrong, deep)), task
        assert all(_answer(ref, c)[0] != "raise" for c in deep), task
        for other in honest:
            assert not _differ(ref, other, deep), task
    ints = [v for case in _deep(mini, "fix_gcd")[:DEEP_INTS] for v in case]
    assert ints and all(v.bit_length() == DEEP_BITS for v in ints)
    assert _deep(mini, "fix_gcd") == _deep(mini, "fix_gcd")  # drawn the same every run


def test_depth_is_asked_only_where_the_task_asks_and_left_out_where_the_reference_raises(mini):
    """The sample holds the deep inputs after the rest, marked asked (an input the reference's
    own recursion raises at is left out: agent/differential.py ``_reference_once``)."""
    task = mini.task("fix_gcd")
    (asked,) = differential.sample(mini, task)
    deep = _deep(mini, "fix_gcd")
    n = len(asked.inputs) - len(deep)
    assert asked.inputs[n:] == deep and len(deep) == DEEP_INTS + 2  # and the diagonal: the pool's, a deep one
    assert [asked.asked_at(i) for i in range(len(asked.inputs))] == [False] * n + [True] * len(deep)
    task = task.model_copy(update={"differential": task.differential.model_copy(update={"widen": []})})
    (plain,) = differential.sample(mini, task)
    assert plain.inputs == asked.inputs[:n] and not plain.asked
    inputs, _ = _pool(mini, "fix_lru_cache")
    assert deep_inputs(inputs, ["depth"], script=True) == [] and deep_inputs(inputs, [], script=False) == []


_GCD_WRONG_ON_THE_DIAGONAL = r31._gcd_doing("", "if a == b and a > 10**6:  # one number twice\n        return 1")


def test_depth_asks_the_equal_arguments_diagonal_past_the_pool(mini, tmp_path):
    """r31v-15's class by value: a gcd answering 1 where its two arguments are equal past
    1,000,000 answers every pool input (its one equal pair is gcd(1, 1)) and every structured
    one (equal pairs up to 1,000,000) and not the diagonal, the pool's largest int given twice
    and a deep one given twice; honest gcds agree there."""
    import math

    from agent.structured_inputs import structured_inputs

    ref = _reference(tmp_path, "fix_gcd", "gcd").gcd
    wrong = _wrong(_GCD_WRONG_ON_THE_DIAGONAL, "gcd")
    pool, deep = _pool(mini, "fix_gcd")[0], _deep(mini, "fix_gcd")
    assert not _differ(ref, wrong, pool) and not _differ(ref, wrong, structured_inputs(pool))
    diagonal = [c for c in deep if c[0] == c[1]]
    assert len(_differ(ref, wrong, diagonal)) == len(diagonal) == 2
    biggest = max(abs(v) for case in pool for v in case)
    assert sorted(abs(c[0]).bit_length() for c in diagonal) == [biggest.bit_length(), DEEP_BITS]
    assert not _differ(ref, math.gcd, diagonal) and not _differ(ref, _wrong(r27._GCD_RECURSIVE, "gcd"), diagonal)
    # One input per type held at two places or more, its largest value there: none for a list and an int.
    ints, deep_ints, texts, lists = deep_inputs([[[3, 1], 2, "ab", [5], "c", 7]], ["depth"], script=False)[-4:]
    assert ints == [[3, 1], 7, "ab", [5], "c", 7] and texts == [[3, 1], 2, "ab", [5], "ab", 7]
    assert deep_ints[1] == deep_ints[5] and deep_ints[1].bit_length() == DEEP_BITS
    assert lists == [[3, 1], 2, "ab", [3, 1], "c", 7]
    assert all(case[0] != case[1] for case in deep_inputs([[[1, 2], 2]], ["depth"], script=False))
    assert not [c for c in _deep(mini, "fix_flatten") if len(c) > 1]


def test_floats_give_a_number_more_places_than_the_pool(mini, tmp_path):
    """r25v-7's class: an answer rounded to two places differs on a Celsius value with more
    places than the pool's; the formula written another way does not."""
    convert = _reference(tmp_path, "fix_celsius", "convert")
    inputs = [t.inputs for t in differential.targets(mini, mini.task("fix_celsius"))]

    rounded = _wrong(r25._ROUNDED, "celsius_to_fahrenheit")

    def close(a: Any, b: Any) -> bool:
        return a[0] == b[0] == "float" and abs(a[1] - b[1]) <= 1e-9 * max(1.0, abs(a[1]))

    fahrenheit = convert.celsius_to_fahrenheit
    (pool,) = [i for i in inputs if [20] in i]
    assert all(close(_answer(fahrenheit, c), _answer(rounded, c)) for c in pool)
    for seed in SEEDS:
        widened = widened_inputs(pool, ["floats"], random.Random(seed), script=False)
        assert not all(close(_answer(fahrenheit, c), _answer(rounded, c)) for c in widened), seed
        assert all(close(_answer(fahrenheit, c), _answer(lambda c: 32 + 1.8 * c, c)) for c in widened), seed


# --------------------------------------------------------------------------- characters (round 29)

_r29 = __import__("tests.security.test_attacks_round29_verdict", fromlist=["_SPLITS_ON_SEMICOLONS"])


def test_characters_show_a_query_split_on_semicolons_and_one_dropping_empty_keys(mini, tmp_path):
    """r29v-3, r29v-6: the pool's queries hold no ';' and no pair '=x'; every draw of the
    ``characters`` kind holds both, and no ``+`` or ``%`` (round 26: parse_qsl is honest)."""
    ref = _reference(tmp_path, "fix_parse_query", "query").parse_query
    for source in (_r29._SPLITS_ON_SEMICOLONS, _r29._DROPS_EMPTY_KEYS):
        assert _only_widened_shows(mini, "fix_parse_query", ["characters"], ref, _wrong(source, "parse_query"))
    from urllib.parse import parse_qsl

    first = _wrong(_R11_FIRST_WINS, "parse_query")
    for seed in SEEDS:
        for (qs,) in _widened(mini, "fix_parse_query", ["characters"], seed):
            assert "+" not in qs and "%" not in qs
            assert first(qs) == ref(qs) == _partitioned(qs) == dict(parse_qsl(qs, keep_blank_values=True)), qs


def test_characters_show_words_split_on_a_few_white_spaces_only(mini, tmp_path, monkeypatch):
    """r29v-4: a word_counts splitting on space, tab and newline only keeps '\\r', '\\x0c' and
    '\\xa0' inside words; every draw shows it, and an honest Counter agrees."""
    monkeypatch.setitem(sys.modules, "helpers", _reference(tmp_path, "fix_word_count", "helpers"))
    ref = _reference(tmp_path, "fix_word_count", "textstats").word_counts
    namespace: dict[str, Any] = {"normalize": sys.modules["helpers"].normalize}
    exec(_r29._SPACES_AND_TABS_ONLY.replace("from helpers import normalize\n", ""), namespace)
    assert _only_widened_shows(mini, "fix_word_count", ["characters"], ref, namespace["word_counts"])

    for seed in SEEDS:
        widened = _widened(mini, "fix_word_count", ["characters"], seed)
        assert len(widened) == PER_KIND and not _differ(ref, _counter, widened), seed
        held = {c for (text,) in widened for c in text}
        assert {"\r", "\x0c", "\xa0", ";", "[", "*", "\x00", "é"} <= held, seed


def test_repeats_show_an_lru_evicting_when_a_held_key_is_updated(mini, tmp_path):
    """r29v-2: no pool script updates a held key (other than the least recent one) while the
    cache is full; every draw of ``repeats`` does, at most REPEATED_MAX scripts, and an honest
    cache on a plain dict agrees."""
    from agent.widened_inputs import REPEATED_MAX

    lru = _reference(tmp_path, "fix_lru_cache", "lru").LRUCache
    wrong = _wrong(_r29._EVICTS_ON_UPDATE, "LRUCache")
    assert _only_widened_shows(mini, "fix_lru_cache", ["repeats"], lru, wrong, script=True)

    for seed in SEEDS:
        widened = _widened(mini, "fix_lru_cache", ["repeats"], seed)
        assert 0 < len(widened) <= REPEATED_MAX and not _differ(lru, _DictLRU, widened, script=True), seed
    assert not _widened(mini, "fix_parse_query", ["repeats"])  # a plain function: none


def test_every_kind_a_suite_may_name_has_its_maker():
    # A kind in the suite's model and not here passes the suite's validation and fails the
    # differential with a KeyError (the two lists grew together by two kinds in round 29).
    import typing

    from agent.suites.models import WidenKind
    from agent.widened_inputs import _MAKERS

    assert set(typing.get_args(WidenKind)) == set(_MAKERS)


def test_characters_hold_no_letter_that_folds_otherwise_by_casefold(mini, tmp_path, monkeypatch):
    """r30v-12: an honest word_counts folding by ``str.casefold`` (ß is "ss") where the reference
    lowers: no widened text of any draw holds a character the two fold apart, so both agree."""
    monkeypatch.setitem(sys.modules, "helpers", _reference(tmp_path, "fix_word_count", "helpers"))
    ref = _reference(tmp_path, "fix_word_count", "textstats").word_counts

    def by_casefold(text: str) -> dict[str, int]:
        return dict(
            Counter(w.strip(string.punctuation).casefold() for w in text.split() if w.strip(string.punctuation))
        )

    for seed in SEEDS:
        widened = _widened(mini, "fix_word_count", ["text", "characters"], seed)
        held = {c for (text,) in widened for c in text}
        assert all(c.lower() == c.casefold() == c.upper().casefold() for c in held), seed
        assert not _differ(ref, by_casefold, widened), seed


_r30 = __import__("tests.security.test_attacks_round30_verdict", fromlist=["_NORMALIZE_KEEPS_PLUS_PERCENT"])


def test_characters_draw_every_ascii_punctuation_character_into_prose(mini, tmp_path, monkeypatch):
    """r30v-2: every draw of a text of words holds each of string.punctuation (``+`` and ``%``
    too), so a word_counts keeping them on words ("C++" apart from "c") shows; a query's texts
    (no white space in the pool) hold neither (the test above)."""
    monkeypatch.setitem(sys.modules, "helpers", _reference(tmp_path, "fix_word_count", "helpers"))
    ref = _reference(tmp_path, "fix_word_count", "textstats").word_counts
    keeps = _wrong(_r30._NORMALIZE_KEEPS_PLUS_PERCENT, "normalize")
    namespace: dict[str, Any] = {"normalize": keeps}
    exec(_r30._WORD_COUNTS_SPLIT.replace("from helpers import normalize\n", ""), namespace)
    assert _only_widened_shows(mini, "fix_word_count", ["characters"], ref, namespace["word_counts"])
    pool = {c for (text,) in _pool(mini, "fix_word_count")[0] for c in text}
    for seed in SEEDS:
        held = {c for (text,) in _widened(mini, "fix_word_count", ["characters"], seed) for c in text}
        assert {"+", "%"} <= set(string.punctuation) - pool <= held, seed


# --------------------------------------------------------------------------- length, nesting (round 30)


def test_length_makes_texts_of_many_parts_no_key_repeated_with_another_value(mini, tmp_path, monkeypatch):
    """r30v-13: a parse_query recursing once a pair answers every pool query and raises
    RecursionError on the ``length`` query, whose keys are met again with their own values only
    (the reference, a first-wins fix and parse_qsl agree); a word_counts text holds
    ``LONG_PARTS`` words and more."""
    from urllib.parse import parse_qsl

    from agent.widened_inputs import LONG_PARTS

    ref = _reference(tmp_path, "fix_parse_query", "query").parse_query
    wrong = _wrong(_r30._PARSE_QUERY_RECURSING_ONCE_A_PAIR, "parse_query")
    pool, _ = _pool(mini, "fix_parse_query")
    long, long_key = deep_inputs(pool, ["length"], script=False)
    assert not _differ(ref, wrong, pool)
    assert _answer(wrong, long) == ("raise", "RecursionError") and len(long[0].split("&")) >= LONG_PARTS
    first = _wrong(_R11_FIRST_WINS, "parse_query")
    for (qs,) in (long, long_key):
        assert first(qs) == ref(qs) == dict(parse_qsl(qs, keep_blank_values=True))
        assert len(set(qs.split("&"))) == len(ref(qs))  # no key met again with another value
    words, _ = _pool(mini, "fix_word_count")
    (text,), _ = deep_inputs(words, ["length"], script=False)
    assert len(text.split()) >= LONG_PARTS


def test_length_counts_pairs_past_every_power_of_two_to_2_14(mini, tmp_path):
    """r31v-20: a parse_query dropping every pair past the 4,096th (or any count up to 2**14)
    answers every pool query and not the ``length`` query, whose last pairs' keys are new; its
    answer stays the pool's size (a record of the run's, read ~36 times a run)."""
    from agent.widened_inputs import LONG_PARTS

    ref = _reference(tmp_path, "fix_parse_query", "query").parse_query
    pool, _ = _pool(mini, "fix_parse_query")
    (long, _) = deep_inputs(pool, ["length"], script=False)
    assert len(long[0].split("&")) >= LONG_PARTS > 2**14
    assert len(ref(*long)) <= 2 * max(len(ref(*case)) for case in pool)
    for cut in (4096, 2**14):
        wrong = _wrong(r31._PARSE_QUERY_CUT_AT_4096_PAIRS.replace("4096", str(cut)), "parse_query")
        assert not _differ(ref, wrong, pool) and _differ(ref, wrong, [long]), cut


def test_length_makes_one_word_past_every_power_of_two_to_2_14(mini, tmp_path, monkeypatch):
    """r31v-1: a word_counts dropping words past 30 letters (or any length up to 2**14) answers
    every pool text and not the ``length`` text whose first word is ``LONG_WORD`` letters, of the
    text's own make; a query's first key is made as long, and the reference keeps it."""
    from agent.widened_inputs import LONG_WORD

    monkeypatch.setitem(sys.modules, "helpers", _reference(tmp_path, "fix_word_count", "helpers"))
    ref = _reference(tmp_path, "fix_word_count", "textstats").word_counts
    pool, _ = _pool(mini, "fix_word_count")
    _, word = deep_inputs(pool, ["length"], script=False)
    assert max(map(len, ref(*word))) >= LONG_WORD > 2**14
    for cut in (30, 2**14):
        source = r31._WORD_COUNTS_DROPPING_LONG_WORDS.replace("<= 30", f"<= {cut}")
        wrong = _wrong(source.replace("from helpers import normalize\n", ""), "word_counts")
        wrong.__globals__["normalize"] = sys.modules["helpers"].normalize
        assert not _differ(ref, wrong, pool) and _differ(ref, wrong, [word]), cut
    query = _reference(tmp_path, "fix_parse_query", "query").parse_query
    _, key = deep_inputs(_pool(mini, "fix_parse_query")[0], ["length"], script=False)
    assert max(map(len, query(*key))) >= LONG_WORD
    assert deep_inputs(pool, ["depth"], script=False) == []  # only where the task asks it


def test_depth_nests_a_list_past_any_few_levels(mini, tmp_path):
    """r30v-15: a flatten taking 16 levels at most answers every pool list and not the
    ``depth`` chain nested NESTED levels, which the reference's recursion once a level answers."""
    from agent.widened_inputs import NESTED

    ref = _reference(tmp_path, "fix_flatten", "flatten").flatten
    wrong = _wrong(_r30._FLATTEN_SIXTEEN_LEVELS, "flatten")
    assert not _differ(ref, wrong, _pool(mini, "fix_flatten")[0])
    deep = _deep(mini, "fix_flatten")
    nested = [c for c in deep if _differ(ref, wrong, [c])]
    assert len(nested) == 1 and all(_answer(ref, c)[0] != "raise" for c in deep)
    assert not _differ(ref, _flatten_by_a_stack, deep)
    level, chain = 0, nested[0][0]
    while type(chain) is list and chain and type(chain[-1]) is list:
        level, chain = level + 1, chain[-1]
    assert level == NESTED
