from dedupe import dedupe


def test_keeps_first_order():
    assert dedupe(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_numbers():
    assert dedupe([3, 1, 3, 2, 1]) == [3, 1, 2]
