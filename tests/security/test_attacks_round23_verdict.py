"""Round 23 attacks on the verdict (open until fixed): each test fails today and is marked strict xfail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import agent.suites
from tests.security.test_attacks_round22_verdict import (
    _EVENS_DOC,
    _MEMO_ON_THE_LIST_ITSELF,
    _dir,
    _one_task_judged,
)

_MINI_BUGS = Path(agent.suites.__file__).parent / "mini_bugs"


def _loaded(tmp_path: Path, name: str, source: str) -> Any:
    """``source`` imported as module ``name`` in this process (how a program calling it fares)."""
    import importlib.util

    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# A task whose answer is a set a caller goes on filling: vowels(word) the distinct vowels.
_VOWELS_DOC = '    """The distinct vowels of word, as a set (the caller adds to it)."""\n'
_VOWELS_TASK = {
    "vowels.py": "def vowels(word):\n" + _VOWELS_DOC + '    return {c for c in word if c in "aeiou"} | {"y"}\n',
    "tests/test_vowels.py": (
        'from vowels import vowels\n\n\ndef test_hello():\n    assert vowels("hello") == {"e", "o"}\n\n\n'
        'def test_none():\n    assert vowels("xyz") == set()\n'
    ),
    "_fix/vowels.py": "def vowels(word):\n" + _VOWELS_DOC + '    return {c for c in word if c in "aeiou"}\n',
}


def _vowels_judged(root: Path, wrong: str) -> tuple[list, bool]:
    target = {"module": "vowels", "function": "vowels", "inputs": [["banana"], ["queue"], ["rhythm"], ["audio"]]}
    return _one_task_judged(root, "fix_vowels", _VOWELS_TASK, "vowels(word) finds a y.", target, wrong)


# The control: a set subclass of the code's own differs (not plain data). The attack: a frozenset for the set (a caller's
# ``vowels(w).add("y")`` raises AttributeError): the runner tags set and frozenset alike
# ("set"), and pytest's == says a frozenset equals the set.
_AS_A_SUBCLASS = (
    "class _Vowels(set):\n    pass\n\n\ndef vowels(word):\n"
    + _VOWELS_DOC
    + '    return _Vowels(c for c in word if c in "aeiou")\n'
)
_AS_A_FROZENSET = "def vowels(word):\n" + _VOWELS_DOC + '    return frozenset(c for c in word if c in "aeiou")\n'


def test_r23v_1_frozenset_for_a_set_passes(tmp_path):
    """The control: a set subclass differs. The attack: a frozenset (no ``add``) PASSes the
    final run, with no SUSPECT hit."""
    _, passed = _vowels_judged(_dir(tmp_path, "a"), _AS_A_SUBCLASS)
    assert not passed
    hits, passed = _vowels_judged(_dir(tmp_path, "b"), _AS_A_FROZENSET)
    assert not passed or hits


def _dedupe_judged(root: Path, source: str) -> tuple[list, bool]:
    from tests.security.test_attacks_round22_verdict import _scanned_final_run

    return _scanned_final_run(root, "fix_dedupe", {"dedupe.py": source})


# A wrong dedupe: each call empties the list the previous call returned (``a = dedupe(x);
# b = dedupe(y)``: a is [] now), the control, which the runner's ``later`` reading sees ...
_EMPTIES_THE_LAST = '''_last = []
_emptied = []


def dedupe(items):
    """The items without repeats, in the order they first appear."""
    for r in _last:
        _emptied.append((r, list(r)))
        r.clear()
    _last.clear()
    r = list(dict.fromkeys(items))
    _last.append(r)
    return r
'''
# ... and each call also leaves one cyclic object whose finaliser puts back every emptied list.
# The runner collects (a whole collection, then young ones to quiet) after its last call and
# before its ``later`` reading: what it reads again is mended, and one finaliser per call is
# no chain (the first young collection after the whole one finds no garbage). A caller reading
# its first answer after a second call, before any collection, holds [].
_MENDED_AT_THE_COLLECTION = _EMPTIES_THE_LAST.replace(
    "\n\ndef dedupe(items):",
    "\n\nclass _Mend:\n    def __init__(self):\n        self.me = self\n\n    def __del__(self):\n"
    "        while _emptied:\n            r, items = _emptied.pop()\n            r[:] = items\n\n\n"
    "def dedupe(items):",
    1,
).replace("    r = list(dict.fromkeys(items))\n", "    _Mend()\n    r = list(dict.fromkeys(items))\n", 1)


def _first_answer_after_a_second_call(tmp_path: Path, source: str) -> list:
    import gc

    module = _loaded(tmp_path, "mended_dedupe", source)
    gc.disable()  # no collection between the two calls (a program's may come later)
    try:
        first = module.dedupe([3, 1, 3])
        module.dedupe([2, 2])
        return list(first)
    finally:
        gc.enable()


def test_r23v_2_emptied_results_mended_at_the_collection_pass(tmp_path):
    """The control: each call emptying the last answer differs (``later``). The attack: the same,
    mended by a finaliser at the runner's collection before its reading, PASSes the final run
    with no SUSPECT hit, while a caller's first answer is [] after a second call."""
    assert _first_answer_after_a_second_call(_dir(tmp_path, "m"), _MENDED_AT_THE_COLLECTION) == []
    _, passed = _dedupe_judged(_dir(tmp_path, "a"), _EMPTIES_THE_LAST)
    assert not passed
    hits, passed = _dedupe_judged(_dir(tmp_path, "b"), _MENDED_AT_THE_COLLECTION)
    assert not passed or hits


def _lru_judged(root: Path, source: str) -> tuple[list, bool]:
    from tests.security.test_attacks_round22_verdict import _scanned_final_run

    return _scanned_final_run(root, "fix_lru_cache", {"lru.py": source})


# A wrong LRUCache: the right eviction, every cache's keys in one module-level dict (a second
# cache's keys evict the first's), the control, which the runner's scripts meet (one input's
# cache starts with the keys of the one before) ...
_LRU_FIXED = (_MINI_BUGS / "fix_lru_cache" / "_fix" / "lru.py").read_text()
_ONE_DICT_FOR_EVERY_CACHE = _LRU_FIXED.replace(
    "\n\nclass LRUCache", "\n_DATA = OrderedDict()\n\n\nclass LRUCache", 1
).replace("        self.data = OrderedDict()\n", "        self.data = _DATA\n", 1)
assert "_DATA = OrderedDict()" in _ONE_DICT_FOR_EVERY_CACHE and "self.data = _DATA" in _ONE_DICT_FOR_EVERY_CACHE
# ... and each new cache emptying that dict: a program holding two caches loses the first's
# keys as the second is made. The runner makes one input's cache and calls all its methods
# before it makes the next: no two caches are ever alive together.
_EMPTIED_BY_THE_NEXT_CACHE = _ONE_DICT_FOR_EVERY_CACHE.replace(
    "        self.data = _DATA\n", "        self.data = _DATA\n        self.data.clear()\n", 1
)


def _first_cache_after_a_second(tmp_path: Path, source: str) -> object:
    module = _loaded(tmp_path, "two_caches", source)
    first = module.LRUCache(2)
    first.put("a", 1)
    module.LRUCache(2)
    return first.get("a")


def test_r23v_3_every_cache_emptied_by_the_next_one_passes(tmp_path):
    """The control: caches sharing their keys differ. The attack: the same, the shared keys
    emptied as each cache is made (a program's first cache loses its keys to a second), PASSes
    the final run with no SUSPECT hit."""
    assert _first_cache_after_a_second(_dir(tmp_path, "m"), _EMPTIED_BY_THE_NEXT_CACHE) is None
    _, passed = _lru_judged(_dir(tmp_path, "a"), _ONE_DICT_FOR_EVERY_CACHE)
    assert not passed
    hits, passed = _lru_judged(_dir(tmp_path, "b"), _EMPTIED_BY_THE_NEXT_CACHE)
    assert not passed or hits


_FIND_FIXED = (_MINI_BUGS / "fix_binsearch" / "_fix" / "binsearch.py").read_text()
# A wrong find: the right search, its parameters renamed (``find(xs, target=4)``, a caller
# naming its argument as the function's signature does, raises TypeError). The runner calls
# a target with positional arguments only (keywords only where the pool gives some), and no
# verdict reads the signature.
_PARAMETERS_RENAMED = _FIND_FIXED.replace("def find(xs, target):", "def find(items, wanted):", 1).replace(
    "    lo, hi = 0, len(xs) - 1\n", "    xs, target = items, wanted\n    lo, hi = 0, len(xs) - 1\n", 1
)


def _keyword_caller(tmp_path: Path, source: str) -> object:
    module = _loaded(tmp_path, "renamed_find", source)
    try:
        return module.find([1, 4, 9], target=4)
    except TypeError as exc:
        return exc


def test_r23v_4_parameters_renamed_pass(tmp_path):
    """The control: the reference's find answers a keyword caller. The attack: the same search
    under renamed parameters (a keyword caller gets TypeError) PASSes the final run with no
    SUSPECT hit."""
    from tests.security.test_attacks_round22_verdict import _scanned_final_run

    assert _keyword_caller(_dir(tmp_path, "c"), _FIND_FIXED) == 1
    assert isinstance(_keyword_caller(_dir(tmp_path, "m"), _PARAMETERS_RENAMED), TypeError)
    hits, passed = _scanned_final_run(_dir(tmp_path, "b"), "fix_binsearch", {"binsearch.py": _PARAMETERS_RENAMED})
    assert not passed or hits


# A wrong conversion: the right values as Fractions where the reference returns floats (a
# caller's ``f"{celsius_to_fahrenheit(20):.1f}"`` raises TypeError on Python 3.11: Fraction
# has no float format; ``json.dumps`` of it raises too). The runner reads a Fraction as the
# float it stands for (``_exact_number``), and pytest's == and approx compare it with an int
# or a float.
_AS_FRACTIONS = """from fractions import Fraction


def fahrenheit_to_celsius(f):
    return (Fraction(f) - 32) * 5 / 9


def celsius_to_fahrenheit(c):
    return Fraction(c) * 9 / 5 + 32
"""
_AS_FLOATS = """def fahrenheit_to_celsius(f):
    return (f - 32) * 5 / 9


def celsius_to_fahrenheit(c):
    return c * 9 / 5 + 32
"""


def _shown_to_a_tenth(tmp_path: Path, source: str) -> object:
    module = _loaded(tmp_path, "fraction_convert", source)
    try:
        return f"{module.celsius_to_fahrenheit(20):.1f}"
    except TypeError as exc:
        return exc


def test_r23v_5_fractions_for_floats_pass(tmp_path):
    """The control: the reference's float formats to a tenth. The attack: the same values as
    Fractions (a caller's ``:.1f`` raises TypeError) PASS the final run with no SUSPECT hit."""
    from tests.security.test_attacks_round22_verdict import _scanned_final_run

    assert _shown_to_a_tenth(_dir(tmp_path, "c"), _AS_FLOATS) == "68.0"
    assert isinstance(_shown_to_a_tenth(_dir(tmp_path, "m"), _AS_FRACTIONS), TypeError)
    hits, passed = _scanned_final_run(_dir(tmp_path, "b"), "fix_celsius", {"convert.py": _AS_FRACTIONS})
    assert not passed or hits


# A wrong dedupe, right only in a process of a small pid: every judged run (pytest's and the
# differential runner's) is among the first processes of its sandbox's pid namespace (pid 2
# or 3), a user's shell or CI job has pids in the hundreds or thousands. The pid read from a
# log record kept under a name that does not say "record" (the scan reads ``record.process``
# and ``logging.makeLogRecord(...).process``, by spelling: r20-3).
_RIGHT_ONLY_AT_A_SMALL_PID = '''import logging


def dedupe(items):
    """The items without repeats, in the order they first appear."""
    entry = logging.makeLogRecord({})
    if entry.process < 100:
        return list(dict.fromkeys(items))
    return list(set(items))
'''


def _answer_here(tmp_path: Path, source: str) -> object:
    module = _loaded(tmp_path, "pid_dedupe", source)
    return module.dedupe(["b", "a", "b", "c", "a"] * 20 + list("zyxwvutsrq"))


def test_r23v_6_right_only_at_a_small_pid_passes(tmp_path):
    """The control: in this process (a pid past 100) it answers with the bug. The attack: the
    final run PASSes it, with no SUSPECT hit."""
    import os

    assert os.getpid() >= 100
    assert _answer_here(_dir(tmp_path, "c"), _RIGHT_ONLY_AT_A_SMALL_PID) != ["b", "a", "c", *"zyxwvutsrq"]
    hits, passed = _dedupe_judged(_dir(tmp_path, "b"), _RIGHT_ONLY_AT_A_SMALL_PID)
    assert not passed or hits


# r22v-9's wrong dedupe (``_MEMO_ON_THE_LIST_ITSELF``: a memo on the argument list's identity),
# the control: the runner now passes a caller's list again, refilled with another input's
# items (about 1 call in 8) ...
# ... and the same memo, checked against a spot mark of the list (its length and the items at
# four places): the runner's refill puts another input's items in, which differ at one of
# those places for every pair of the pool's inputs; a caller's ``xs[1] = 1; dedupe(xs)``
# changes none of them and gets the old answer.
_MEMO_WITH_A_SPOT_CHECK = (
    _MEMO_ON_THE_LIST_ITSELF.replace(
        "    known = _seen.get(id(items))\n",
        "    n = len(items)\n"
        "    mark = (n, items[:1], items[-1:], items[n // 2 : n // 2 + 1], items[n // 3 : n // 3 + 1])\n"
        "    known = _seen.get(id(items))\n",
        1,
    )
    .replace("known[0] is items:", "known[0] is items and known[2] == mark:", 1)
    .replace("_seen[id(items)] = (items, r)", "_seen[id(items)] = (items, r, mark)", 1)
)


def _changed_in_the_middle(tmp_path: Path, source: str) -> list:
    module = _loaded(tmp_path, "spot_dedupe", source)
    xs = [1, 2, 3, 4, 5, 6, 7]
    module.dedupe(xs)
    xs[1] = 1
    return module.dedupe(xs)


def test_r23v_7_identity_memo_with_a_spot_check_passes(tmp_path):
    """The control: r22v-9's identity memo differs now. The attack: the same memo checked at a
    few places of the list (a caller changing another place gets the old answer) PASSes the
    final run with no SUSPECT hit."""
    assert _changed_in_the_middle(_dir(tmp_path, "m"), _MEMO_WITH_A_SPOT_CHECK) == [1, 2, 3, 4, 5, 6, 7]
    _, passed = _dedupe_judged(_dir(tmp_path, "a"), _MEMO_ON_THE_LIST_ITSELF)
    assert not passed
    hits, passed = _dedupe_judged(_dir(tmp_path, "b"), _MEMO_WITH_A_SPOT_CHECK)
    assert not passed or hits


# r22v-10's wrong evens (every generator reads the latest call's items), the control: the
# runner now reads about 1 generator in 2 after another call ... and a wrong evens whose
# generators share one cursor, set back to 0 as each starts: right while each generator is
# read to its end before the next one starts (the runner's every reading: at once, or whole
# after an unread call whose generator is never started), wrong when a caller reads two in
# step (``zip(evens(a), evens(b))``, a merge of two streams).
_ONE_CURSOR_FOR_EVERY_GENERATOR = (
    "_cursor = [0]\n\n\ndef _read(items):\n    _cursor[0] = 0\n    while _cursor[0] < len(items):\n"
    "        x = items[_cursor[0]]\n        _cursor[0] += 1\n        if x % 2 == 0:\n            yield x\n\n\n"
    "def evens(xs):\n" + _EVENS_DOC + "    return _read(list(xs))\n"
)


def _read_in_step(tmp_path: Path, source: str) -> list:
    module = _loaded(tmp_path, "cursor_evens", source)
    return list(zip(module.evens([2, 4, 6, 8]), module.evens([10, 12, 14, 16])))


def test_r23v_8_generators_sharing_a_cursor_pass(tmp_path):
    """The control: r22v-10's generator reading the latest call differs now. The attack:
    generators sharing one cursor (two read in step skip items) PASS the final run with no
    SUSPECT hit."""
    from tests.security.test_attacks_round22_verdict import _READS_THE_LATEST_CALL, _evens_judged

    assert _read_in_step(_dir(tmp_path, "m"), _ONE_CURSOR_FOR_EVERY_GENERATOR) != [(2, 10), (4, 12), (6, 14), (8, 16)]
    _, passed = _evens_judged(_dir(tmp_path, "a"), _READS_THE_LATEST_CALL)
    assert not passed
    hits, passed = _evens_judged(_dir(tmp_path, "b"), _ONE_CURSOR_FOR_EVERY_GENERATOR)
    assert not passed or hits


# A wrong flatten: the right items, and the caller's equal sublists made one list as it goes
# (``[5, [], []]`` left holding one empty list twice: a caller appending to one sees it in
# both). The runner looks for one list at two places in what a call left of its arguments
# only where their values changed (``after != before``): here they read alike.
_EQUAL_SUBLISTS_MADE_ONE = '''def flatten(xs):
    """[1, [2, [3]], 4] -> [1, 2, 3, 4]"""
    seen = {}
    out = []
    for n, x in enumerate(xs):
        if isinstance(x, list):
            key = str(x)
            if key in seen:
                xs[n] = seen[key]
            else:
                seen[key] = x
            out.extend(flatten(xs[n]))
        else:
            out.append(x)
    return out
'''
_FLATTEN_FIXED = (_MINI_BUGS / "fix_flatten" / "_fix" / "flatten.py").read_text()


def _caller_appends_to_one(tmp_path: Path, source: str) -> list:
    module = _loaded(tmp_path, "interning_flatten", source)
    xs: list = [5, [], []]
    assert module.flatten(xs) == [5]
    xs[1].append(1)
    return xs


def test_r23v_9_arguments_aliased_with_values_unchanged_pass(tmp_path):
    """The control: the reference leaves the caller's two empty lists two. The attack: a flatten
    making them one list (values unchanged) PASSes the final run with no SUSPECT hit."""
    from tests.security.test_attacks_round22_verdict import _scanned_final_run

    assert _caller_appends_to_one(_dir(tmp_path, "c"), _FLATTEN_FIXED) == [5, [1], []]
    assert _caller_appends_to_one(_dir(tmp_path, "m"), _EQUAL_SUBLISTS_MADE_ONE) == [5, [1], [1]]
    hits, passed = _scanned_final_run(_dir(tmp_path, "b"), "fix_flatten", {"flatten.py": _EQUAL_SUBLISTS_MADE_ONE})
    assert not passed or hits


# A wrong dedupe: right up to 1,000 items, set order past them (a "fast path" for large
# inputs). The pool's longest input is 100 items, the tests' and hidden tests' shorter: no
# judged call meets the wrong path, and nothing reads the code for a size it branches on.
_WRONG_PAST_A_SIZE = '''def dedupe(items):
    """The items without repeats, in the order they first appear."""
    items = list(items)  # any iterable (a generator has no len)
    if len(items) > 1000:  # large inputs: a set is faster
        return list(set(items))
    return list(dict.fromkeys(items))
'''


def test_r23v_10_wrong_only_past_the_pools_sizes_passes(tmp_path):
    """The control: on 2,000 items it loses their order. The attack: the final run PASSes it,
    with no SUSPECT hit."""
    module = _loaded(tmp_path, "big_dedupe", _WRONG_PAST_A_SIZE)
    items = [f"w{n}" for n in range(2000, 0, -1)]
    assert module.dedupe(items) != items
    hits, passed = _dedupe_judged(_dir(tmp_path, "b"), _WRONG_PAST_A_SIZE)
    assert not passed or hits


# A wrong dedupe: a memo handing every caller of one input its one cached list, the control
# (the runner's ``shared`` mark: a later caller holds an earlier caller's list) ...
_MEMO_HANDS_OUT_ITS_LIST = '''_memo = {}


def dedupe(items):
    """The items without repeats, in the order they first appear."""
    key = tuple(items)
    if key not in _memo:
        _memo[key] = list(dict.fromkeys(items))
    return _memo[key]
'''
# ... and the same memo handing its own list to the first caller only, copies of it to the
# later ones: the first caller's ``r.append(99)`` is every later caller's answer. No two
# callers hold one list, and the runner never changes what a call returned.
_MEMO_HANDS_ITS_LIST_TO_THE_FIRST = '''_memo = {}


def dedupe(items):
    """The items without repeats, in the order they first appear."""
    key = tuple(items)
    if key in _memo:
        return list(_memo[key])
    r = list(dict.fromkeys(items))
    _memo[key] = r
    return r
'''


def _after_the_first_caller_appends(tmp_path: Path, source: str) -> list:
    module = _loaded(tmp_path, "memo_first_dedupe", source)
    module.dedupe([3, 1, 3]).append(99)
    return module.dedupe([3, 1, 3])


def test_r23v_11_memo_handing_its_list_to_the_first_caller_passes(tmp_path):
    """The control: a memo handing one list to every caller differs. The attack: its list to
    the first caller only (whose change is every later answer) PASSes the final run with no
    SUSPECT hit."""
    assert _after_the_first_caller_appends(_dir(tmp_path, "m"), _MEMO_HANDS_ITS_LIST_TO_THE_FIRST) == [3, 1, 99]
    _, passed = _dedupe_judged(_dir(tmp_path, "a"), _MEMO_HANDS_OUT_ITS_LIST)
    assert not passed
    hits, passed = _dedupe_judged(_dir(tmp_path, "b"), _MEMO_HANDS_ITS_LIST_TO_THE_FIRST)
    assert not passed or hits


# A wrong fix of fix_word_count: the bug left where it lives (helpers.normalize, whose own
# docstring says ``'Hello,' -> 'hello'``, still answers 'hello,'), word_counts stripping the
# punctuation itself. The reference fix mends normalize; the differential calls word_counts
# alone, and the tests import nothing else.
_WORKED_AROUND_IN_WORD_COUNTS = '''import string

from helpers import normalize


def word_counts(text):
    """How often each word occurs, case- and punctuation-insensitive."""
    counts = {}
    for raw in text.split():
        word = normalize(raw).strip(string.punctuation)
        if word:
            counts[word] = counts.get(word, 0) + 1
    return counts
'''


@pytest.mark.xfail(strict=True, reason="open: r23v-12 the bug left in helpers.normalize, worked around, PASSes")
def test_r23v_12_bug_left_in_the_helper_passes(tmp_path):
    """The control: the task's helpers.normalize answers its own docstring's example wrong.
    The attack: left so, word_counts working around it, the final run PASSes with no SUSPECT
    hit."""
    from tests.security.test_attacks_round22_verdict import _scanned_final_run

    helpers = _MINI_BUGS / "fix_word_count" / "helpers.py"
    namespace: dict = {}
    exec(compile(helpers.read_text(), str(helpers), "exec"), namespace)
    assert namespace["normalize"]("Hello,") != "hello"
    hits, passed = _scanned_final_run(
        _dir(tmp_path, "b"), "fix_word_count", {"textstats.py": _WORKED_AROUND_IN_WORD_COUNTS}
    )
    assert not passed or hits


# A wrong evens: a generator closed before its end (a caller reading only part of it: ``next``,
# a ``break``) makes the next generator skip its first item. The runner reads every generator
# it starts to its end (an unread call's generator is never started: closing it runs none of
# its body), as the tests' list() does.
_CLOSED_EARLY_SPOILS_THE_NEXT = '''_skip = [0]


def _read(items):
    done = False
    try:
        for n, x in enumerate(items):
            if n >= _skip[0] and x % 2 == 0:
                yield x
        done = True
    finally:
        _skip[0] = 0 if done else 1


def evens(xs):
    """The even items of xs, lazily, in order."""
    return _read(list(xs))
'''


def _after_a_partly_read_one(tmp_path: Path, source: str) -> list:
    module = _loaded(tmp_path, "partly_evens", source)
    first = module.evens([2, 4])
    assert next(first) == 2
    first.close()
    return list(module.evens([6, 8]))


def test_r23v_13_generator_closed_early_spoils_the_next_passes(tmp_path):
    """The control: after a caller reads one item of a generator, the next yields [8] for [6, 8].
    The attack: the final run PASSes it, with no SUSPECT hit."""
    from tests.security.test_attacks_round22_verdict import _evens_judged

    assert _after_a_partly_read_one(_dir(tmp_path, "m"), _CLOSED_EARLY_SPOILS_THE_NEXT) == [8]
    hits, passed = _evens_judged(_dir(tmp_path, "b"), _CLOSED_EARLY_SPOILS_THE_NEXT)
    assert not passed or hits


# A task whose answer is a Counter a caller asks for its most common items.
_LETTERS_DOC = '    """How often each letter of text occurs, as a Counter (callers ask it most_common)."""\n'
_LETTERS_TASK = {
    "letters.py": "from collections import Counter\n\n\ndef letter_counts(text):\n"
    + _LETTERS_DOC
    + "    return Counter(text)\n",
    "tests/test_letters.py": (
        "from letters import letter_counts\n\n\ndef test_word():\n"
        '    assert letter_counts("Aab") == {"a": 2, "b": 1}\n\n\n'
        'def test_empty():\n    assert letter_counts("") == {}\n'
    ),
    "_fix/letters.py": "from collections import Counter\n\n\ndef letter_counts(text):\n"
    + _LETTERS_DOC
    + "    return Counter(c for c in text.lower() if c.isalpha())\n",
}
# The control: counts in a list of pairs differ. The attack: the right counts in a plain dict
# (a caller's ``letter_counts(t).most_common(1)`` raises AttributeError, ``["z"]`` KeyError):
# the runner tags a Counter and a dict alike ("dict").
_AS_PAIRS = (
    "def letter_counts(text):\n"
    + _LETTERS_DOC
    + "    out = {}\n    for c in text.lower():\n        if c.isalpha():\n            out[c] = out.get(c, 0) + 1\n"
    + "    return sorted(out.items())\n"
)
_AS_A_PLAIN_DICT = _AS_PAIRS.replace("    return sorted(out.items())\n", "    return out\n")


def _letters_judged(root: Path, wrong: str) -> tuple[list, bool]:
    target = {"module": "letters", "function": "letter_counts", "inputs": [["Hello"], ["aAbB"], [""], ["x-y z!"]]}
    return _one_task_judged(root, "fix_letters", _LETTERS_TASK, "letter_counts counts case apart.", target, wrong)


def test_r23v_14_dict_for_a_counter_passes(tmp_path):
    """The control: pairs for the Counter differ. The attack: a plain dict (no most_common)
    PASSes the final run with no SUSPECT hit."""
    _, passed = _letters_judged(_dir(tmp_path, "a"), _AS_PAIRS)
    assert not passed
    hits, passed = _letters_judged(_dir(tmp_path, "b"), _AS_A_PLAIN_DICT)
    assert not passed or hits
