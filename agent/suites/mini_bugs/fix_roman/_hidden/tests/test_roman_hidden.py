"""Held-out cases (never in a workspace): roman_to_int's contract."""

from roman import roman_to_int


def test_every_subtractive_pair():
    assert [roman_to_int(s) for s in ("IX", "XL", "XC", "CD", "CM")] == [9, 40, 90, 400, 900]


def test_longer_numerals():
    assert roman_to_int("MMXXIV") == 2024
    assert roman_to_int("LVIII") == 58
    assert roman_to_int("CDXLIV") == 444
