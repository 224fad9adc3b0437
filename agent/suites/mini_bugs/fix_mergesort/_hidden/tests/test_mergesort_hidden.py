"""Held-out cases (never in a workspace): mergesort's contract, written from its docstring."""

from mergesort import mergesort


def test_one_element_is_a_copy():
    xs = [7]
    out = mergesort(xs)
    assert out == [7] and out is not xs


def test_reversed_and_repeated():
    assert mergesort(list(range(20, 0, -1))) == list(range(1, 21))
    assert mergesort([4, 4, 1, 4]) == [1, 4, 4, 4]
    assert mergesort(["pear", "apple", "fig"]) == ["apple", "fig", "pear"]
