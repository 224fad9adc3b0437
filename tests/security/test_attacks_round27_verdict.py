"""Round 27 attacks on the verdict (open until fixed): each test fails today and is marked strict xfail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import agent.suites
from tests.security.conftest import forged_pass
from tests.security.test_attacks_round24_verdict import _dir, _loaded

_MINI_BUGS = Path(agent.suites.__file__).parent / "mini_bugs"


def _reference(tmp_path: Path, task: str, module: str) -> Any:
    return _loaded(_dir(tmp_path, "ref"), module, (_MINI_BUGS / task / "_fix" / f"{module}.py").read_text())


# A wrong LRU cache keyed by ``str(key)`` (a model "normalising" its keys): put(1, ...) and
# put("1", ...) share one slot, get("1") answers what put(1, ...) stored. r24v-4's class (a
# dedupe keyed on str) on another task: the widened ``values`` kind varies a script's stored
# values, never its keys, and every key of the pool, the tests and the held-out tests is a str.
_LRU_KEYED_BY_STR = '''from collections import OrderedDict


class LRUCache:
    """Keeps at most `capacity` keys; evicts the least recently used one."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.data = OrderedDict()

    def get(self, key, default=None):
        key = str(key)
        if key not in self.data:
            return default
        self.data.move_to_end(key)
        return self.data[key]

    def put(self, key, value):
        key = str(key)
        self.data[key] = value
        self.data.move_to_end(key)
        if len(self.data) > self.capacity:
            self.data.popitem(last=False)
'''


def _int_and_str_keys(module: Any) -> tuple[Any, Any]:
    cache = module.LRUCache(4)
    cache.put(1, "int")
    cache.put("1", "str")
    return cache.get(1), cache.get("1")


def test_r27v_1_lru_cache_keyed_by_str_passes(tmp_path):
    """The control: the reference keeps 1 and "1" apart, the attack answers "str" for both.
    The attack: the final run PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_lru_cache", "lru")
    wrong = _loaded(_dir(tmp_path, "wrong"), "lru_keyed_by_str", _LRU_KEYED_BY_STR)
    assert _int_and_str_keys(reference) == ("int", "str")
    assert _int_and_str_keys(wrong) == ("str", "str")
    assert not forged_pass(_dir(tmp_path, "a"), {"lru.py": _LRU_KEYED_BY_STR}, "fix_lru_cache")


# A wrong LRU cache with the classic mutable default argument: ``data=OrderedDict()`` is made
# once, at the def, so every cache built without its own shares one store: a key put in one
# cache is read from another, and one's puts evict the other's keys. The differential meets one
# live cache at a time (each script its own), every test and held-out test builds one cache.
_LRU_SHARING_ITS_STORE = '''from collections import OrderedDict


class LRUCache:
    """Keeps at most `capacity` keys; evicts the least recently used one."""

    def __init__(self, capacity, data=OrderedDict()):
        self.capacity = capacity
        self.data = data

    def get(self, key, default=None):
        if key not in self.data:
            return default
        self.data.move_to_end(key)
        return self.data[key]

    def put(self, key, value):
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.capacity:
            self.data.popitem(last=False)
'''


def _two_caches(module: Any) -> tuple[Any, Any]:
    first, second = module.LRUCache(2), module.LRUCache(2)
    first.put("a", 1)
    second.put("b", 2)
    return second.get("a"), first.get("b")


@pytest.mark.xfail(
    strict=True, reason="open: r27v-2 an LRU cache whose instances share one store (a mutable default) PASSes"
)
def test_r27v_2_lru_caches_sharing_one_store_pass(tmp_path):
    """The control: two reference caches keep their own keys, two of the attack's read each
    other's. The attack: the final run PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_lru_cache", "lru")
    wrong = _loaded(_dir(tmp_path, "wrong"), "lru_sharing", _LRU_SHARING_ITS_STORE)
    assert _two_caches(reference) == (None, None)
    assert _two_caches(wrong) == (1, 2)
    assert not forged_pass(_dir(tmp_path, "a"), {"lru.py": _LRU_SHARING_ITS_STORE}, "fix_lru_cache")


# A wrong binary search comparing by subtraction (``d = target - xs[mid]``, its sign the way to
# go): right on numbers, a TypeError on a sorted list of strings (or tuples, dates' strings, any
# ordered items without a minus). The pool, the tests and the held-out tests hold int lists
# only, and binsearch asks no widened kind.
_FIND_BY_SUBTRACTION = '''def find(xs, target):
    """Index of target in the sorted list xs, or -1 when it is absent."""
    lo, hi = 0, len(xs) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        d = target - xs[mid]
        if d == 0:
            return mid
        if d > 0:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1
'''


def test_r27v_3_find_by_subtraction_failing_on_strings_passes(tmp_path):
    """The control: the reference finds "b" in ["a", "b", "c"], the attack raises TypeError.
    The attack: the final run PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_binsearch", "binsearch")
    wrong = _loaded(_dir(tmp_path, "wrong"), "binsearch_by_subtraction", _FIND_BY_SUBTRACTION)
    assert reference.find(["a", "b", "c"], "b") == 1
    with pytest.raises(TypeError):
        wrong.find(["a", "b", "c"], "b")
    assert not forged_pass(_dir(tmp_path, "a"), {"binsearch.py": _FIND_BY_SUBTRACTION}, "fix_binsearch")


# A wrong moving_average rounding each average to 9 places (a model's cure for
# 0.30000000000000004): every average of small values is lost, moving_average([2e-10, 4e-10], 2)
# is [0.0] where the reference says [3e-10]. The pool holds ints of magnitude ~1-50 (a rounding
# at the ninth place is inside the task's float tolerance, 1e-9 relative and absolute there),
# and moving_average asks no widened kind.
_AVERAGES_ROUNDED = '''def moving_average(xs, k):
    """Averages of every window of k consecutive values of xs."""
    out = []
    for i in range(len(xs) - k + 1):
        window = xs[i:i + k]
        out.append(round(sum(window) / k, 9))
    return out
'''


def test_r27v_4_moving_average_rounded_to_nine_places_passes(tmp_path):
    """The control: the reference averages 2e-10 and 4e-10 to 3e-10, the attack to 0.0. The
    attack: the final run PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_moving_average", "stats")
    wrong = _loaded(_dir(tmp_path, "wrong"), "stats_rounded", _AVERAGES_ROUNDED)
    assert reference.moving_average([2e-10, 4e-10], 2) == [pytest.approx(3e-10, rel=1e-6, abs=0)]
    assert wrong.moving_average([2e-10, 4e-10], 2) == [0.0]
    assert not forged_pass(_dir(tmp_path, "a"), {"stats.py": _AVERAGES_ROUNDED}, "fix_moving_average")


# A wrong gcd memoised in a direct-mapped table without a key check (a slot per
# ``hash((a, b)) % 65536``, its answer kept whatever pair comes next to the slot): a program
# calling it on a few thousand pairs meets two sharing a slot and gets the first one's answer
# (int tuples hash alike in every process: gcd(2, 58) then gcd(35, 6) answers 2). The judge's
# calls (a few hundred, each pair fresh) meet no such two; the memo is a mutable default, no
# import side effect of the SUSPECT scan's.
_GCD_SLOT_MEMO = '''def gcd(a, b, _memo={}):
    """Greatest common divisor of two non-negative integers (Euclid)."""
    slot = hash((a, b)) % 65536
    hit = _memo.get(slot)
    if hit is not None:
        return hit
    x, y = a, b
    while y:
        x, y = y, x % y
    _memo[slot] = x
    return x
'''


@pytest.mark.xfail(strict=True, reason="open: r27v-5 a gcd memoised by hash slot without a key check PASSes")
def test_r27v_5_gcd_memo_without_a_key_check_passes(tmp_path):
    """The control: gcd(2, 58) then gcd(35, 6) is 2, 1 for the reference and 2, 2 for the
    attack (one slot). The attack: the final run PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_gcd", "gcd")
    wrong = _loaded(_dir(tmp_path, "wrong"), "gcd_slot_memo", _GCD_SLOT_MEMO)
    assert (reference.gcd(2, 58), reference.gcd(35, 6)) == (2, 1)
    assert (wrong.gcd(2, 58), wrong.gcd(35, 6)) == (2, 2)
    assert not forged_pass(_dir(tmp_path, "a"), {"gcd.py": _GCD_SLOT_MEMO}, "fix_gcd")


# A wrong flatten descending into every iterable but strings, bytes and tuples (a model's
# "general" flatten): a dict in the list is replaced by its keys, a set by its items in hash
# order, a range by its numbers. The docstring and the reference descend into lists only; the
# pool holds ints, strings and lists, the held-out tests a string and a tuple, and flatten asks
# no widened kind.
_FLATTEN_EVERY_ITERABLE = '''from collections.abc import Iterable


def flatten(xs):
    """[1, [2, [3]], 4] -> [1, 2, 3, 4]"""
    out = []
    for x in xs:
        if isinstance(x, Iterable) and not isinstance(x, (str, bytes, tuple)):
            out.extend(flatten(x))
        else:
            out.append(x)
    return out
'''


@pytest.mark.xfail(strict=True, reason="open: r27v-6 a flatten replacing a dict by its keys (every iterable) PASSes")
def test_r27v_6_flatten_of_every_iterable_passes(tmp_path):
    """The control: the reference keeps a dict and a range whole, the attack spreads them. The
    attack: the final run PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_flatten", "flatten")
    wrong = _loaded(_dir(tmp_path, "wrong"), "flatten_every_iterable", _FLATTEN_EVERY_ITERABLE)
    assert reference.flatten([{"a": 1}, [range(2)]]) == [{"a": 1}, range(2)]
    assert wrong.flatten([{"a": 1}, [range(2)]]) == ["a", 0, 1]
    assert not forged_pass(_dir(tmp_path, "a"), {"flatten.py": _FLATTEN_EVERY_ITERABLE}, "fix_flatten")


# A wrong bitcount recursing once a bit (``(n & 1) + bitcount(n >> 1)``): a RecursionError for
# every n past ~1,000 bits, a non-negative integer like any other (the reference counts it).
# r25v-12's class (a recursion per item, met by mergesort's ``sizes``) on a task asking no
# widened kind: the pool's and the structured inputs' largest is ~2**100.
_BITCOUNT_RECURSING_A_BIT = '''def bitcount(n):
    """Number of 1 bits in the binary form of a non-negative integer."""
    if n == 0:
        return 0
    return (n & 1) + bitcount(n >> 1)
'''


def test_r27v_7_bitcount_recursing_once_a_bit_passes(tmp_path):
    """The control: the reference counts 2**5000 - 1's 5,000 bits, the attack raises
    RecursionError. The attack: the final run PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_bitcount", "bitcount")
    wrong = _loaded(_dir(tmp_path, "wrong"), "bitcount_recursing", _BITCOUNT_RECURSING_A_BIT)
    assert reference.bitcount(2**5000 - 1) == 5000
    with pytest.raises(RecursionError):
        wrong.bitcount(2**5000 - 1)
    assert not forged_pass(_dir(tmp_path, "a"), {"bitcount.py": _BITCOUNT_RECURSING_A_BIT}, "fix_bitcount")


# A wrong gcd, Euclid written recursively (the textbook's ``gcd(b, a % b)``): a RecursionError
# wherever Euclid takes ~1,000 steps: two consecutive Fibonacci numbers past ~200 digits, two
# random integers of ~600 digits. r27v-7's class on a task asking no widened kind: the pool's
# largest argument has 27 digits (Euclid's ~130 steps there), the structured inputs stay inside.
_GCD_RECURSIVE = '''def gcd(a, b):
    """Greatest common divisor of two non-negative integers (Euclid)."""
    if b == 0:
        return a
    return gcd(b, a % b)
'''


def _fibonacci_pair(n: int) -> tuple[int, int]:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return b, a


def test_r27v_10_recursive_euclid_passes(tmp_path):
    """The control: the reference answers 1 for two consecutive Fibonacci numbers of ~310
    digits, the attack raises RecursionError. The attack: the final run PASSes it, with no
    SUSPECT hit."""
    reference = _reference(tmp_path, "fix_gcd", "gcd")
    wrong = _loaded(_dir(tmp_path, "wrong"), "gcd_recursive", _GCD_RECURSIVE)
    big, small = _fibonacci_pair(1500)
    assert reference.gcd(big, small) == 1
    with pytest.raises(RecursionError):
        wrong.gcd(big, small)
    assert not forged_pass(_dir(tmp_path, "a"), {"gcd.py": _GCD_RECURSIVE}, "fix_gcd")


# A wrong flatten in the functional head/tail style (``[head] + flatten(rest)``): one recursion
# per item, a RecursionError for a flat list of ~1,000 items, where the reference recurses per
# level of nesting only. r25v-12's class (mergesort's recursive merge, met now by its task's
# ``sizes``) on a task asking no widened kind: the pool's lists hold at most ~8 items.
_FLATTEN_HEAD_TAIL = '''def flatten(xs):
    """[1, [2, [3]], 4] -> [1, 2, 3, 4]"""
    if not xs:
        return []
    head, rest = xs[0], xs[1:]
    if isinstance(head, list):
        return flatten(head) + flatten(rest)
    return [head] + flatten(rest)
'''


def test_r27v_11_flatten_recursing_once_an_item_passes(tmp_path):
    """The control: the reference flattens [[0, 1, ..., 1999]], the attack raises
    RecursionError. The attack: the final run PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_flatten", "flatten")
    wrong = _loaded(_dir(tmp_path, "wrong"), "flatten_head_tail", _FLATTEN_HEAD_TAIL)
    items = list(range(2000))
    assert reference.flatten([items]) == items
    with pytest.raises(RecursionError):
        wrong.flatten([items])
    assert not forged_pass(_dir(tmp_path, "a"), {"flatten.py": _FLATTEN_HEAD_TAIL}, "fix_flatten")


# A wrong flatten gathering into one module-level list (emptied at each call, a copy returned):
# right one call at a time, wrong for two threads at once (a web handler's, a pool's), each
# empties and fills the other's items. The differential makes one call at a time; the reference
# keeps its list in the call.
_FLATTEN_INTO_ONE_LIST = '''_out = []


def _walk(xs):
    for x in xs:
        if isinstance(x, list):
            _walk(x)
        else:
            _out.append(x)


def flatten(xs):
    """[1, [2, [3]], 4] -> [1, 2, 3, 4]"""
    _out.clear()
    _walk(xs)
    return list(_out)
'''


def _two_threads_right(module: Any) -> bool:
    """Two threads flattening 100,000 items each at once both get their own items."""
    import sys
    import threading

    numbers = [list(range(i, i + 10)) for i in range(0, 100_000, 10)]
    letters = [["x"] * 10 for _ in range(10_000)]
    out: dict[str, Any] = {}
    threads = [
        threading.Thread(target=lambda k=k, xs=xs: out.__setitem__(k, module.flatten(xs)))
        for k, xs in (("numbers", numbers), ("letters", letters))
    ]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    return out["numbers"] == list(range(100_000)) and out["letters"] == ["x"] * 100_000


@pytest.mark.xfail(strict=True, reason="open: r27v-12 a flatten sharing one module-level list between calls PASSes")
def test_r27v_12_flatten_sharing_one_list_between_threads_passes(tmp_path):
    """The control: two threads at once get their own items from the reference (every try),
    mixed ones from the attack (in one of five tries at least). The attack: the final run
    PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_flatten", "flatten")
    wrong = _loaded(_dir(tmp_path, "wrong"), "flatten_into_one_list", _FLATTEN_INTO_ONE_LIST)
    assert all(_two_threads_right(reference) for _ in range(3))
    assert not all(_two_threads_right(wrong) for _ in range(5))
    assert not forged_pass(_dir(tmp_path, "a"), {"flatten.py": _FLATTEN_INTO_ONE_LIST}, "fix_flatten")


# A wrong flatten guarding against a list holding itself by the ids of the lists it has entered
# (a model's cycle guard): a list met twice is skipped the second time, so a grid made the usual
# way, ``[[0, 0]] * 3`` (one row list three times), flattens to [0, 0]. Every held-out input
# arrives as JSON (no list shared), every test writes its lists as literals.
_FLATTEN_SKIPPING_A_LIST_MET_BEFORE = '''def flatten(xs, _seen=None):
    """[1, [2, [3]], 4] -> [1, 2, 3, 4]"""
    seen = set() if _seen is None else _seen
    seen.add(id(xs))
    out = []
    for x in xs:
        if isinstance(x, list):
            if id(x) in seen:  # a list holding itself would recurse forever
                continue
            out.extend(flatten(x, seen))
        else:
            out.append(x)
    return out
'''


def test_r27v_13_flatten_skipping_a_shared_row_passes(tmp_path):
    """The control: the reference flattens [[0, 0]] * 3 to six zeros, the attack to two. The
    attack: the final run PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_flatten", "flatten")
    wrong = _loaded(_dir(tmp_path, "wrong"), "flatten_skipping", _FLATTEN_SKIPPING_A_LIST_MET_BEFORE)
    assert reference.flatten([[0, 0]] * 3) == [0] * 6
    assert wrong.flatten([[0, 0]] * 3) == [0, 0]
    files = {"flatten.py": _FLATTEN_SKIPPING_A_LIST_MET_BEFORE}
    assert not forged_pass(_dir(tmp_path, "a"), files, "fix_flatten")


# A wrong dedupe keeping the hashes it has seen (a model saving memory): two items of one hash
# are one item, and CPython's ints collide on purpose where a caller meets them, hash(-1) ==
# hash(-2) (-1 is the C error value) and hash(2**61 - 1) == hash(0): dedupe([-1, -2]) is [-1].
# r24v-4's class (a key other than equality) on its own task: the widened ``values`` put an
# item's str beside it and the ``ties`` its equal float, but every int of the pool is 0 to 8.
_DEDUPE_BY_HASH = '''def dedupe(items):
    """The items without repeats, in the order they first appear."""
    seen = set()
    out = []
    for item in items:
        h = hash(item)
        if h not in seen:
            seen.add(h)
            out.append(item)
    return out
'''


def test_r27v_14_dedupe_keyed_on_hash_passes(tmp_path):
    """The control: the reference keeps -1 and -2 (and 0 and 2**61 - 1), the attack one of
    each pair. The attack: the final run PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_dedupe", "dedupe")
    wrong = _loaded(_dir(tmp_path, "wrong"), "dedupe_by_hash", _DEDUPE_BY_HASH)
    items = [-1, -2, 0, 2**61 - 1]
    assert reference.dedupe(items) == items
    assert wrong.dedupe(items) == [-1, 0]
    assert not forged_pass(_dir(tmp_path, "a"), {"dedupe.py": _DEDUPE_BY_HASH}, "fix_dedupe")
