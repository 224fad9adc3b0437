"""Held-out cases (never in a workspace): flatten's contract, written from its docstring."""

from flatten import flatten


def test_deep_and_empty_nesting():
    assert flatten([[1], [2, [3, [4]]]]) == [1, 2, 3, 4]
    assert flatten([[[]]]) == []
    assert flatten([]) == []


def test_other_values_stay_whole():
    assert flatten(["ab", ["c"]]) == ["ab", "c"]
    assert flatten([(1, 2), [3]]) == [(1, 2), 3]
