from mergesort import mergesort


def test_empty():
    assert mergesort([]) == []


def test_sorts():
    assert mergesort([3, 1, 2]) == [1, 2, 3]
    assert mergesort([5, -1, 5, 0]) == [-1, 0, 5, 5]


def test_does_not_modify_input():
    xs = [2, 1]
    mergesort(xs)
    assert xs == [2, 1]
