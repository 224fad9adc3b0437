"""Held-out inputs asked again as a caller may give them: lists as generators, repeated ints
as equal floats (agent/differential_variants.py; round 24 r24v-9 and r24v-4, round 25 r25v-4)."""

from __future__ import annotations

from pathlib import Path

from agent import differential
from agent.differential_variants import MAX_EACH, equal_floats, with_variants
from agent.suites.models import DifferentialTarget

_BOTH = ("iterables", "ties")  # the kinds a task asks in its differential's ``widen``


def test_inputs_with_a_list_argument_are_asked_again_as_generators() -> None:
    target = DifferentialTarget(
        module="m", function="f", inputs=[[[1, 2]], [3], [[4], 5], ["s"]], keywords=[{}, {"k": 1}]
    )
    script = DifferentialTarget(module="m", function="K", inputs=[[[1], []]], script=True)
    out, same = with_variants([target, script], _BOTH)
    assert same == script  # a script's calls stay as they are
    assert out.inputs == [[[1, 2]], [3], [[4], 5], ["s"], [[1, 2]], [[4], 5]]
    assert [out.iterated_at(i) for i in range(6)] == [False] * 4 + [True, True]
    assert out.keywords_of(1) == {"k": 1} and out.keywords_of(4) == {}
    assert out.picked([5, 0]).iterated == [True]  # the marks go with their inputs
    assert out.asked == [False] * 4 + [True, True]
    many = DifferentialTarget(module="m", function="f", inputs=[[[i]] for i in range(40)])
    (more,) = with_variants([many], _BOTH)
    assert sum(more.iterated) == MAX_EACH
    assert more.inputs[40:] == [[[i]] for i in range(0, 40, 5)]  # spread over the inputs


def test_the_runner_passes_an_iterated_inputs_lists_as_generators(tmp_path: Path) -> None:
    """An indexing dedupe raises TypeError on the generator inputs only; the caller's list
    (never given to the code) is read as it was."""
    (tmp_path / "dd.py").write_text(
        "def dedupe(items):\n    return [items[i] for i in range(len(items)) if items[i] not in items[:i]]\n\n\n"
        "def lenient(items):\n    return list(dict.fromkeys(items))\n"
    )
    inputs = [[[1, 2, 1]], [[3, 3]]]
    for function, raised in (("dedupe", {2, 3}), ("lenient", set())):
        (target,) = with_variants([DifferentialTarget(module="dd", function=function, inputs=inputs)], _BOTH)
        run = differential.run_calls(tmp_path, [target], sandbox="auto")
        assert run.finished, run.output
        assert {i for i in range(4) if "raise" in run.results[(0, i)]} == raised, function
        assert all("a" not in run.results[(0, i)] for i in range(4))
        if not raised:
            assert [run.results[(0, i)]["v"] for i in (2, 3)] == [run.results[(0, i)]["v"] for i in (0, 1)]


def test_repeated_ints_are_asked_again_with_equal_floats() -> None:
    assert equal_floats([[3, 1, 3, 1, 3], 7]) == [[3.0, 1.0, 3, 1, 3.0], 7]
    assert equal_floats([[1, 2, 3]]) is None  # nothing repeats: nothing told apart
    assert equal_floats([["a", "a"]]) is None and equal_floats([[True, True]]) is None
    assert equal_floats([[2**60, 2**60]]) is None  # no equal float
    target = DifferentialTarget(module="m", function="f", inputs=[[[2, 2]], [[1, 2]], [5]])
    (out,) = with_variants([target], _BOTH)
    assert out.inputs == [[[2, 2]], [[1, 2]], [5], [[2, 2]], [[1, 2]], [[2.0, 2]]]
    assert [out.iterated_at(i) for i in range(6)] == [False, False, False, True, True, False]
    assert [out.asked_at(i) for i in range(6)] == [False, False, False, True, True, True]


def test_a_shared_inputs_equal_lists_are_one_list_in_the_call(tmp_path: Path) -> None:
    """r27v-13's class (a flatten keeping the lists it met by id()): a ``shared`` input's
    equal lists reach the call as one list (``[row] * 3``), an input unmarked as JSON makes
    it (three lists); 1 and 1.0 stay apart; the reference flatten answers both alike."""
    (tmp_path / "fl.py").write_text(
        "def rows_shared(xs):\n    return [x is xs[0] for x in xs]\n\n\n"
        "def flatten(xs, _seen=None):\n"
        "    seen = set() if _seen is None else _seen\n"
        "    seen.add(id(xs))\n"
        "    out = []\n"
        "    for x in xs:\n"
        "        if isinstance(x, list):\n"
        "            if id(x) not in seen:\n"
        "                out.extend(flatten(x, seen))\n"
        "        else:\n"
        "            out.append(x)\n"
        "    return out\n"
    )
    inputs = [[[[0, [1]], [0, [1]], [0, [1.0]]]]] * 2
    for function, answers in (
        ("rows_shared", [[True, False, False], [True, True, False]]),
        ("flatten", [[0, 1, 0, 1, 0, 1.0], [0, 1, 0, 1.0]]),
    ):
        target = DifferentialTarget(module="fl", function=function, inputs=inputs, shared=[False, True])
        run = differential.run_calls(tmp_path, [target], sandbox="auto")
        assert run.finished, run.output
        got = [[v["float"] if type(v) is dict else v for v in run.results[(0, i)]["v"]["list"]] for i in (0, 1)]
        assert got == answers, function
