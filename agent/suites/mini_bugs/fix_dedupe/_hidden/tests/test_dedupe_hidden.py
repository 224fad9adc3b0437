"""Held-out cases (never in a workspace): dedupe's contract, written from its docstring."""

from dedupe import dedupe


def test_first_appearance_order_of_numbers():
    assert dedupe([10, 3, 10, 7, 3, 1]) == [10, 3, 7, 1]
    assert dedupe([5, 4, 3, 2, 1, 5]) == [5, 4, 3, 2, 1]


def test_empty_and_all_the_same():
    assert dedupe([]) == []
    assert dedupe([8, 8, 8]) == [8]
