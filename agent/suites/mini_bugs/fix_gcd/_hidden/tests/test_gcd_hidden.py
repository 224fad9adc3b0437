"""Held-out cases (never in a workspace): gcd's contract, written from its docstring."""

from gcd import gcd


def test_zero_on_either_side():
    assert gcd(0, 5) == 5
    assert gcd(9, 0) == 9
    assert gcd(0, 0) == 0


def test_equal_and_multiples():
    assert gcd(13, 13) == 13
    assert gcd(21, 14) == 7
    assert gcd(2**40, 2**20) == 2**20
    assert gcd(1, 999) == 1
