"""Held-out cases (never in a workspace): find's contract, written from its docstring."""

from binsearch import find


def test_two_elements_both_ends():
    assert find([1, 2], 1) == 0
    assert find([1, 2], 2) == 1


def test_last_of_a_longer_list():
    xs = [2, 4, 6, 8, 10, 12, 14]
    assert find(xs, 14) == 6
    assert find(xs, 2) == 0


def test_every_element_of_a_large_list():
    xs = list(range(0, 3000, 3))
    assert [find(xs, x) for x in xs] == list(range(len(xs)))


def test_absent_between_and_outside():
    xs = [2, 4, 6, 8]
    assert find(xs, 5) == -1
    assert find(xs, 1) == -1
    assert find(xs, 9) == -1
