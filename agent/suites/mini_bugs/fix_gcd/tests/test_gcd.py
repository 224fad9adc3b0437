from gcd import gcd


def test_coprime():
    assert gcd(17, 5) == 1


def test_common_factor():
    assert gcd(12, 18) == 6
    assert gcd(100, 75) == 25


def test_zero():
    assert gcd(7, 0) == 7
