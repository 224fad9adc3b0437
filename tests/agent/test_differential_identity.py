"""What the differential's runner reads of a result beyond its values (agent/differential_runner.py):
an exception's class by identity, not its names (round 22 r22v-4); a plain-data object's own
attributes (r22v-5); one list, set or dict at two places inside one result (r22v-6); and how the
parent compares what it says (agent/differential.py)."""

from __future__ import annotations

import json
from collections import Counter, OrderedDict, namedtuple

from agent import differential
from agent import differential_runner as runner
from agent.differential import CallRun, compare, same_result
from agent.suites.models import DifferentialTarget


def test_an_exception_is_named_as_a_builtin_only_when_it_is_that_class() -> None:
    class Forged(Exception):
        __module__ = "builtins"
        __qualname__ = "ValueError"

    assert runner._type_name_of(ValueError) == "ValueError"
    assert runner._type_name_of(Forged) == "ValueError (a class of its own by that name)"
    # A library's class is named where its module holds it; a copy of its names elsewhere is marked.
    assert runner._type_name_of(json.JSONDecodeError) == "json.decoder.JSONDecodeError"
    copy = type("JSONDecodeError", (ValueError,), {"__module__": "json.decoder"})
    assert runner._type_name_of(copy) == "json.decoder.JSONDecodeError (a class of its own by that name)"
    # Its bases too: pytest.raises(ValueError) reads them.
    assert [runner._type_name_of(k) for k in Forged.__mro__[1:-1]] == ["Exception", "BaseException"]


def test_an_exception_of_the_same_name_on_other_bases_differs() -> None:
    ref = {"raise": "m.AgeError", "bases": ["ValueError", "Exception", "BaseException"]}
    assert same_result(ref, dict(ref), 0.0)
    assert not same_result(ref, {"raise": "m.AgeError", "bases": ["Exception", "BaseException"]}, 0.0)
    sub = {"raise": "m.Young", "bases": ["m.AgeError", "ValueError", "Exception", "BaseException"]}
    assert same_result(ref, sub, 0.0)  # a subclass: caught where the reference's is
    own = "ValueError (a class of its own by that name)"
    assert differential._shown_name(own) == "an exception of the code's own"
    assert differential._shown_name("ratio.ValueError") == "an exception of the code's own named ValueError"
    assert differential._shown_name("ValueError") == "ValueError"


def _not_plain(x: object) -> str | None:
    return runner._encode_or_mark(x).get("notplain") if type(runner._encode_or_mark(x)) is dict else None


def test_a_plain_data_object_with_attributes_of_its_own_is_not_plain() -> None:
    counts = Counter("abca")
    assert runner._encode(counts) == {"dict": [["a", 2], ["b", 1], ["c", 1]]}
    counts.get = lambda word, default=None: default  # type: ignore[method-assign]  # r22v-5
    assert _not_plain(counts) == "not plain data: Counter with a method of its own"
    ordered = OrderedDict(a=1)
    ordered.keys = lambda: []  # type: ignore[method-assign]
    assert _not_plain(ordered) == "not plain data: OrderedDict with a method of its own"

    point = namedtuple("Point", "x y")

    class Named(point):  # a common subclass without __slots__: its instances have a dict
        def norm(self) -> int:
            return abs(self.x) + abs(self.y)

    p = Named(1, 2)
    assert runner._encode(p) == {"tuple": [1, 2]}
    p.note = "seen"  # type: ignore[attr-defined]  # in front of nothing of its classes'
    assert runner._encode(p) == {"tuple": [1, 2]}
    p.count = lambda v: 0  # type: ignore[method-assign, assignment]
    assert _not_plain(p) == "not plain data: Named with a method of its own"
    shown = differential._shown_bad("not plain data: Counter with a method of its own")
    assert shown == "not plain data: Counter with a method of its own"


def _aliases(x: object) -> list[str] | None:
    return runner._aliases(x, runner._Shared().containers(x, [runner._MAX_NODES]))


def test_one_container_at_two_places_in_a_result_is_described() -> None:
    rows = 3
    assert _aliases([[0] * 2 for _ in range(rows)]) is None
    assert _aliases(([1], [1], (2,), "x")) is None
    repeated = _aliases([[0] * 2] * rows)
    assert repeated is not None
    assert _aliases([[0] * 5] * rows) == repeated  # the same places, whatever the values
    assert _aliases([[0] * 2] * (rows + 1)) != repeated
    row = [0]
    assert _aliases([row, [0], row])[0] != _aliases([row, row, [0]])[0]  # type: ignore[index]
    assert _aliases([row, [0], row])[1] == _aliases([row, row, [0]])[1]  # type: ignore[index]
    # Dict order is no place: {a: r, b: r} and {b: r, a: r} are alike.
    assert _aliases({"a": row, "b": row}) == _aliases({"b": row, "a": row}) is not None
    assert _aliases({"k": {1, 2}, "j": (row, row)}) is not None  # inside a tuple too


def test_a_result_aliased_unlike_the_references_differs() -> None:
    target = DifferentialTarget(module="grid", function="grid", inputs=[[2, 2]])
    value = {"v": {"list": [{"list": [0, 0]}, {"list": [0, 0]}]}}
    way = _aliases([[0, 0]] * 2)

    def why(ref: dict, got: dict) -> list[str]:
        return compare([target], {(0, 0): ref}, CallRun(hello=True, finished=True, results={(0, 0): got}), 0)

    assert why(value, value) == []
    assert why(value, {**value, "alias": way}) == [
        "grid#0: returned one list, set or dict at two places in its result (not as the reference's result)"
    ]
    merged = differential._with_aliasing({**value, "alias": way}, [{**value, "alias": way}, {}])
    assert merged["alias"] == [way, way]
    assert why(merged, {**value, "alias": way}) == []  # aliased as the reference is
    assert why(merged, value) == []  # a copy where the reference shares
    assert why(merged, {**value, "alias": ["0", way[1]]}) != []  # type: ignore[index]
