"""Round 23 attacks on the verdict (open until fixed): each test fails today and is marked strict xfail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.test_attacks_round22_verdict import _dir, _one_task_judged

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


@pytest.mark.xfail(strict=True, reason="open: r23v-1 a frozenset where the reference returns a set PASSes")
def test_r23v_1_frozenset_for_a_set_passes(tmp_path):
    """The control: a set subclass differs. The attack: a frozenset (no ``add``) PASSes the
    final run, with no SUSPECT hit."""
    _, passed = _vowels_judged(_dir(tmp_path, "a"), _AS_A_SUBCLASS)
    assert not passed
    hits, passed = _vowels_judged(_dir(tmp_path, "b"), _AS_A_FROZENSET)
    assert not passed or hits
