"""Dict insertion order compared where the reference's is stable over its passes
(agent/differential_dict_order.py; round 24 r24v-1)."""

from __future__ import annotations

from agent import differential
from agent.differential_dict_order import ORDERED, holds_a_dict, same_dict_order, stable_order
from agent.suites.loading import load_suite
from agent.suites.models import DifferentialTarget


def _d(*pairs: tuple[object, object]) -> dict:
    return {"dict": [[k, v] for k, v in pairs]}


AB = _d(("a", "1"), ("b", "2"))
BA = _d(("b", "2"), ("a", "1"))


def test_an_order_the_reference_keeps_in_every_pass_is_marked() -> None:
    assert stable_order({"v": AB}, [{"v": AB}, {"v": AB}, {}])
    assert not stable_order({"v": AB}, [{"v": AB}, {"v": BA}])  # its order rests on a pass: not compared
    assert not stable_order({"v": AB}, [{}, {}])  # no other pass returned
    assert not stable_order({"v": _d(("a", "1"))}, [{"v": _d(("a", "1"))}])  # one key: no order to show
    assert not stable_order({"raise": "KeyError"}, [{"raise": "KeyError"}])
    assert holds_a_dict({"list": [_d(("x", _d(("a", 1), ("b", 2))))]})
    assert not holds_a_dict({"set": [1, 2]})


def test_keys_in_another_order_differ_at_any_depth() -> None:
    assert same_dict_order(AB, AB)
    assert not same_dict_order(AB, BA)
    assert not same_dict_order({"list": [1, AB]}, {"list": [1, BA]})
    assert not same_dict_order(_d(("x", AB)), _d(("x", BA)))
    assert same_dict_order({"set": [1, 2]}, {"set": [2, 1]})  # a set's order is no caller's contract


def test_the_verdict_names_a_dict_in_another_order() -> None:
    """A reference record marked ``ordered``: a result equal without order, its keys reversed,
    differs; unmarked (the reference's order not stable), it agrees."""
    target = DifferentialTarget(module="query", function="parse_query", inputs=[["a=1&b=2"]])
    got = differential.CallRun(results={(0, 0): {"v": BA}})
    how = differential._HowRead(0.0, None, False, frozenset())
    why = differential._why(target, 0, {"v": AB, ORDERED: 1}, got, (0, 0), how)
    assert why == "returned a dict with its keys in another order than the reference's"
    assert differential._why(target, 0, {"v": AB}, got, (0, 0), how) is None
    same = differential.CallRun(results={(0, 0): {"v": AB}})
    assert differential._why(target, 0, {"v": AB, ORDERED: 1}, same, (0, 0), how) is None


def test_a_task_whose_contract_leaves_dict_order_free_is_not_judged_on_it() -> None:
    """``Differential.dict_order`` false (a table of counts, round 30 r30v-18): the same keys
    and values in another order agree; another value still differs."""
    target = DifferentialTarget(module="textstats", function="word_counts", inputs=[["a b b"]])
    got = differential.CallRun(results={(0, 0): {"v": BA}})
    free = differential._HowRead(0.0, None, False, frozenset(), dict_order=False)
    assert differential._why(target, 0, {"v": AB, ORDERED: 1}, got, (0, 0), free) is None
    other = differential.CallRun(results={(0, 0): {"v": _d(("b", "2"), ("a", "3"))}})
    assert differential._why(target, 0, {"v": AB, ORDERED: 1}, other, (0, 0), free) == "returned a different value"
    fixed = differential._HowRead(0.0, None, False, frozenset())
    assert differential._why(target, 0, {"v": AB, ORDERED: 1}, got, (0, 0), fixed) is not None


def test_only_the_counting_task_of_the_shipped_suite_leaves_dict_order_free() -> None:
    """The contract is the task's: a parsed query keeps its pairs' order (r24v-1), word counts
    do not (r30v-18)."""
    free = {t.id for t in load_suite("mini-bugs").tasks if t.differential is not None and not t.differential.dict_order}
    assert free == {"fix_word_count"}
