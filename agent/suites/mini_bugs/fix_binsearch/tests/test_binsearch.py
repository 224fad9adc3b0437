from binsearch import find


def test_found_everywhere():
    xs = [1, 3, 5, 7, 9, 11]
    for i, x in enumerate(xs):
        assert find(xs, x) == i


def test_single_element():
    assert find([4], 4) == 0


def test_absent():
    assert find([1, 3, 5], 4) == -1
    assert find([], 1) == -1
