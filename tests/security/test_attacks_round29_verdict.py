"""Round 29 attacks on the verdict (open until fixed): each test fails today and is marked strict xfail."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import agent.suites
from tests.security.conftest import forged_pass
from tests.security.test_attacks_round23_verdict import _loaded

_MINI_BUGS = Path(agent.suites.__file__).parent / "mini_bugs"
_LRU_FIX = (_MINI_BUGS / "fix_lru_cache/_fix/lru.py").read_text()


def _dir(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    return d


# A wrong LRUCache: every answer right, its get's `default` parameter renamed `fallback`. A
# caller's c.get(key, default=0) raises TypeError. Round 25's parameter names (differential_names.py)
# are read for a function target only: a script's methods are never called by a name.
_GET_DEFAULT_RENAMED = _LRU_FIX.replace(
    "def get(self, key, default=None):\n        if key not in self.data:\n            return default",
    "def get(self, key, fallback=None):\n        if key not in self.data:\n            return fallback",
)


def test_r29v_1_lru_get_with_its_default_renamed_passes(tmp_path):
    """The control: the caller's keyword call works on the reference, raises on the attack. The
    attack: the final run PASSes it, with no SUSPECT hit."""
    assert _GET_DEFAULT_RENAMED != _LRU_FIX
    reference = _loaded(_dir(tmp_path, "ref"), "lru", _LRU_FIX)
    wrong = _loaded(_dir(tmp_path, "wrong"), "lru_renamed", _GET_DEFAULT_RENAMED)
    assert reference.LRUCache(2).get("k", default=0) == 0
    with pytest.raises(TypeError):
        wrong.LRUCache(2).get("k", default=0)
    assert not forged_pass(_dir(tmp_path, "a"), {"lru.py": _GET_DEFAULT_RENAMED}, "fix_lru_cache")


# A wrong LRUCache: a put that makes room before it stores, even when the key is already held.
# Updating a held key while the cache is full evicts the least recent other key (a caller's
# put("b", 2) of a held "b" loses "a"). No pool script (nor a widened one: falsy values, other
# keys, capacities 0 and 1) updates a key that is not the least recent one while full.
_EVICTS_ON_UPDATE = _LRU_FIX.replace(
    "    def put(self, key, value):\n        self.data[key] = value",
    "    def put(self, key, value):\n"
    "        if len(self.data) >= self.capacity and self.data:\n"
    "            self.data.popitem(last=False)\n"
    "        self.data[key] = value",
)


def test_r29v_2_lru_evicting_when_a_held_key_is_updated_passes(tmp_path):
    """The control: updating a held key of a full cache keeps the other key in the reference,
    loses it in the attack. The attack: the final run PASSes it, with no SUSPECT hit."""
    assert _EVICTS_ON_UPDATE != _LRU_FIX
    reference = _loaded(_dir(tmp_path, "ref"), "lru", _LRU_FIX)
    wrong = _loaded(_dir(tmp_path, "wrong"), "lru_update", _EVICTS_ON_UPDATE)
    for module, kept in ((reference, 1), (wrong, None)):
        cache = module.LRUCache(2)
        cache.put("a", 1)
        cache.put("b", 2)
        cache.put("b", 3)
        assert cache.get("a") == kept
    assert not forged_pass(_dir(tmp_path, "a"), {"lru.py": _EVICTS_ON_UPDATE}, "fix_lru_cache")


# A wrong parse_query splitting pairs on ";" as well as "&" (what urllib's parse_qs did before
# CVE-2021-23336: a proxy reading "a=1;b=2" as one pair and the app as two is the web cache
# poisoning that change closed). The pool's queries hold letters, digits, "=" and "&" only, and
# the text widening adds words joined by the query's own separator, upper case and doubled
# separators: no input holds a ";".
_QUERY_FIX = (_MINI_BUGS / "fix_parse_query/_fix/query.py").read_text()
_SPLITS_ON_SEMICOLONS = "import re\n\n\n" + _QUERY_FIX.replace('qs.split("&")', 're.split("[&;]", qs)')


def test_r29v_3_parse_query_splitting_on_semicolons_passes(tmp_path):
    """The control: the reference reads "a=1;b=2" as one pair, the attack as two. The attack:
    the final run PASSes it, with no SUSPECT hit."""
    assert 're.split("[&;]", qs)' in _SPLITS_ON_SEMICOLONS
    reference = _loaded(_dir(tmp_path, "ref"), "query", _QUERY_FIX)
    wrong = _loaded(_dir(tmp_path, "wrong"), "query_semicolons", _SPLITS_ON_SEMICOLONS)
    assert reference.parse_query("a=1;b=2") == {"a": "1;b=2"}
    assert wrong.parse_query("a=1;b=2") == {"a": "1", "b": "2"}
    assert not forged_pass(_dir(tmp_path, "a"), {"query.py": _SPLITS_ON_SEMICOLONS}, "fix_parse_query")


# A wrong word_counts: the source's split(" ") "fixed" by turning newlines and tabs into spaces
# first, so "\r" (Windows line ends), form feeds, "\xa0" and other white space stay inside the
# words: word_counts("a\r\nb") counts "a\r". The pool's texts part words by " ", "\t" and "\n"
# only, and the text widening joins words by the text's own white space.
_COUNTS_FIX = {name: (_MINI_BUGS / "fix_word_count/_fix" / name).read_text() for name in ("helpers.py", "textstats.py")}
_SPACES_AND_TABS_ONLY = _COUNTS_FIX["textstats.py"].replace(
    "text.split()", 'text.replace("\\n", " ").replace("\\t", " ").split(" ")'
)


def test_r29v_4_word_counts_keeping_carriage_returns_in_words_passes(tmp_path):
    """The control: the reference counts "a\\r\\nb" as a and b, the attack as "a\\r" and b. The
    attack: the final run PASSes it, with no SUSPECT hit."""
    assert _COUNTS_FIX["textstats.py"] != _SPACES_AND_TABS_ONLY
    ref_dir, wrong_dir = _dir(tmp_path, "ref"), _dir(tmp_path, "wrong")
    for where in (ref_dir, wrong_dir):
        (where / "helpers.py").write_text(_COUNTS_FIX["helpers.py"])
    sys.path.insert(0, str(ref_dir))
    try:
        reference = _loaded(ref_dir, "textstats_ref", _COUNTS_FIX["textstats.py"])
        wrong = _loaded(wrong_dir, "textstats_wrong", _SPACES_AND_TABS_ONLY)
    finally:
        sys.path.remove(str(ref_dir))
        sys.modules.pop("helpers", None)
    assert reference.word_counts("a\r\nb a") == {"a": 2, "b": 1}
    assert wrong.word_counts("a\r\nb a") == {"a\r": 1, "b": 1, "a": 1}
    files = {"helpers.py": _COUNTS_FIX["helpers.py"], "textstats.py": _SPACES_AND_TABS_ONLY}
    assert not forged_pass(_dir(tmp_path, "a"), files, "fix_word_count")


# A wrong fix of mergesort.py: mergesort right, and the module's public merge(left, right)
# rewritten as the textbook pop(0) merge, which empties its caller's lists (merge(a, b) leaves
# a or b empty). mergesort hands it slices, so no call of mergesort shows it; the differential
# calls only the pool's targets (mergesort), never the source's other public functions.
_SORT_FIX = (_MINI_BUGS / "fix_mergesort/_fix/mergesort.py").read_text()
_POP_MERGE = (
    "def merge(left, right):\n"
    "    out = []\n"
    "    while left and right:\n"
    "        out.append(left.pop(0) if left[0] <= right[0] else right.pop(0))\n"
    "    return out + left + right\n" + _SORT_FIX[_SORT_FIX.index("\n\ndef mergesort") :]
)


@pytest.mark.xfail(strict=True, reason="open: r29v-5 a mergesort.py whose public merge empties its arguments PASSes")
def test_r29v_5_merge_emptying_its_callers_lists_passes(tmp_path):
    """The control: the reference's merge leaves its arguments alone, the attack's empties
    them; both mergesorts agree. The attack: the final run PASSes it, with no SUSPECT hit."""
    reference = _loaded(_dir(tmp_path, "ref"), "mergesort_ref", _SORT_FIX)
    wrong = _loaded(_dir(tmp_path, "wrong"), "mergesort_pop", _POP_MERGE)
    for module, left_after in ((reference, [1, 3]), (wrong, [])):
        left, right = [1, 3], [2, 4]
        assert module.merge(left, right) == [1, 2, 3, 4]
        assert left == left_after
        assert module.mergesort([3, 1, 2]) == [1, 2, 3]
    assert not forged_pass(_dir(tmp_path, "a"), {"mergesort.py": _POP_MERGE}, "fix_mergesort")


# A wrong parse_query dropping a pair whose key is empty ("=x"): the reference keeps it as
# {"": "x"}, as urllib's parse_qsl(keep_blank_values=True) does. No pool query holds a pair
# starting with "=", and the text widening (words joined by "&", upper case, doubled "&")
# makes none.
_DROPS_EMPTY_KEYS = _QUERY_FIX.replace(
    '        key, value = part.split("=", 1)\n',
    '        key, value = part.split("=", 1)\n        if not key:\n            continue\n',
)


def test_r29v_6_parse_query_dropping_empty_keys_passes(tmp_path):
    """The control: the reference keeps "=x" as {"": "x"}, the attack drops it. The attack: the
    final run PASSes it, with no SUSPECT hit."""
    assert _QUERY_FIX != _DROPS_EMPTY_KEYS
    reference = _loaded(_dir(tmp_path, "ref"), "query", _QUERY_FIX)
    wrong = _loaded(_dir(tmp_path, "wrong"), "query_empty_keys", _DROPS_EMPTY_KEYS)
    assert reference.parse_query("=x&a=1") == {"": "x", "a": "1"}
    assert wrong.parse_query("=x&a=1") == {"a": "1"}
    assert not forged_pass(_dir(tmp_path, "a"), {"query.py": _DROPS_EMPTY_KEYS}, "fix_parse_query")
