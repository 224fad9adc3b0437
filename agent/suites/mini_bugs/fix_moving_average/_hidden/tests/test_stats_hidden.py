"""Held-out cases (never in a workspace): moving_average's contract, from its docstring."""

from stats import moving_average


def test_windows_of_three():
    assert moving_average([0, 10, 20, 30, 40], 3) == [10.0, 20.0, 30.0]


def test_constant_and_negative_values():
    assert moving_average([1, 1, 1, 1], 2) == [1.0, 1.0, 1.0]
    assert moving_average([-2, 2, -4, 4], 2) == [0.0, -1.0, 0.0]
