"""Held-out cases (never in a workspace): the conversions' contract."""

import pytest

from convert import celsius_to_fahrenheit, fahrenheit_to_celsius


def test_where_the_scales_meet():
    assert fahrenheit_to_celsius(-40) == pytest.approx(-40)
    assert celsius_to_fahrenheit(-40) == pytest.approx(-40)


def test_body_and_zero_fahrenheit():
    assert fahrenheit_to_celsius(98.6) == pytest.approx(37)
    assert fahrenheit_to_celsius(0) == pytest.approx(-160 / 9)
    assert fahrenheit_to_celsius(50) == pytest.approx(10)
