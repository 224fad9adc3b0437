"""Dict insertion order in the differential's results (round 24 r24v-1: a parse_query with its
keys in reverse order PASSed, as dicts were compared without order; a caller iterating the
dict, rebuilding the URL with ``urlencode`` or taking its first key sees the order).

A dict's order is compared where the reference's is stable: every pass of the reference on
the input (forward, reversed, at a terminal, under another hash seed: agent/differential.py
``_reference_once``) returned the very same value, order and all. A reference whose order
rests on a set's or on the hash seed is left alone (its passes differ), and so is a set's
order (no caller's contract). Values are the runner's tagged plain data
(agent/differential_runner.py ``_encode``): a dict is ``{"dict": [[key, value], ...]}`` in
insertion order.
"""

from __future__ import annotations

from typing import Any

ORDERED = "ordered"  # the mark on a reference's record whose dicts' order is compared


def as_dict_where_wanted(want: Any, got: Any) -> Any:
    """``got`` read as the dict it holds where it is a Counter (``{"counter": [{"dict": ...}]}``)
    and ``want`` is a plain dict: a Counter stands for the reference's dict (its callers meet
    nothing a Counter lacks), never a dict for the reference's Counter (no ``most_common``)."""
    if type(want) is dict and "dict" in want and type(got) is dict and len(got) == 1:
        inner = got.get("counter")
        if type(inner) is list and len(inner) == 1 and type(inner[0]) is dict and "dict" in inner[0]:
            return inner[0]
    return got


def holds_a_dict(value: Any, depth: int = 0) -> bool:
    """``value`` (tagged) holds a dict of two keys or more somewhere (one whose order can show)."""
    if type(value) is not dict or len(value) != 1 or depth > 60:
        return False
    ((tag, x),) = value.items()
    if type(x) is not list:
        return False
    if tag == "dict":
        return len(x) > 1 or any(type(p) is list and len(p) == 2 and holds_a_dict(p[1], depth + 1) for p in x)
    if tag in ("list", "tuple", "iter", "counter"):
        return any(holds_a_dict(p, depth + 1) for p in x)
    return False


def stable_order(first: dict[str, Any], others: list[dict[str, Any]]) -> bool:
    """The reference's record ``first`` holds a dict, and each other pass's record of the same
    input that returned holds the very same value, in the same order (two passes at least)."""
    if "v" not in first or not holds_a_dict(first["v"]):
        return False
    returned = [r for r in others if "v" in r]
    return bool(returned) and all(r["v"] == first["v"] for r in returned)


def same_dict_order(want: Any, got: Any, depth: int = 0) -> bool:
    """Every dict in ``got`` has its keys in the order of the dict at its place in ``want``
    (two values already equal without order: keys compared by their tagged form)."""
    if type(want) is not dict or type(got) is not dict or len(want) != 1 or len(got) != 1 or depth > 60:
        return True
    got = as_dict_where_wanted(want, got)
    (tag, x), (other, y) = next(iter(want.items())), next(iter(got.items()))
    if tag != other or type(x) is not list or type(y) is not list or len(x) != len(y):
        return True  # not the same shape: the values' own comparison says so
    if tag == "dict":
        pairs = list(zip(x, y, strict=True))
        if any(type(p) is not list or type(q) is not list or p[:1] != q[:1] for p, q in pairs):
            return False
        return all(len(p) == len(q) == 2 and same_dict_order(p[1], q[1], depth + 1) for p, q in pairs)
    if tag in ("list", "tuple", "iter", "counter"):
        return all(same_dict_order(p, q, depth + 1) for p, q in zip(x, y, strict=True))
    return True
