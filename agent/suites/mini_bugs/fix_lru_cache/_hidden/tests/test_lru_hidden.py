"""Held-out cases (never in a workspace): the cache's contract, written from its docstring."""

from lru import LRUCache


def test_reads_keep_keys_alive():
    c = LRUCache(3)
    for k, v in (("a", 1), ("b", 2), ("c", 3)):
        c.put(k, v)
    assert c.get("a") == 1
    assert c.get("b") == 2
    c.put("d", 4)
    assert c.get("c") is None
    assert (c.get("a"), c.get("b"), c.get("d")) == (1, 2, 4)


def test_capacity_one_and_updates():
    c = LRUCache(1)
    c.put("x", 1)
    c.put("y", 2)
    assert c.get("x", "gone") == "gone"
    c.put("y", 20)
    assert c.get("y") == 20
