"""Held-out cases (never in a workspace): bitcount's contract, written from its docstring."""

from bitcount import bitcount


def test_powers_and_all_ones():
    assert bitcount(2**100) == 1
    assert bitcount(2**64 - 1) == 64
    assert bitcount(0b101010) == 3
    assert bitcount(0) == 0
