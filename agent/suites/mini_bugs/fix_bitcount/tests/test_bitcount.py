from bitcount import bitcount


def test_zero():
    assert bitcount(0) == 0


def test_values():
    assert bitcount(1) == 1
    assert bitcount(127) == 7
    assert bitcount(128) == 1
    assert bitcount(0b1011) == 3
