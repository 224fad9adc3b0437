"""Held-out inputs whose list arguments come as generators (agent/differential_iterables.py;
round 24 r24v-9)."""

from __future__ import annotations

from pathlib import Path

from agent import differential
from agent.differential_iterables import MAX_ITERATED, with_generator_inputs
from agent.suites.models import DifferentialTarget


def test_inputs_with_a_list_argument_are_asked_again_as_generators() -> None:
    target = DifferentialTarget(
        module="m", function="f", inputs=[[[1, 2]], [3], [[4], 5], ["s"]], keywords=[{}, {"k": 1}]
    )
    script = DifferentialTarget(module="m", function="K", inputs=[[[1], []]], script=True)
    out, same = with_generator_inputs([target, script])
    assert same == script  # a script's calls stay as they are
    assert out.inputs == [[[1, 2]], [3], [[4], 5], ["s"], [[1, 2]], [[4], 5]]
    assert [out.iterated_at(i) for i in range(6)] == [False] * 4 + [True, True]
    assert out.keywords_of(1) == {"k": 1} and out.keywords_of(4) == {}
    assert out.picked([5, 0]).iterated == [True]  # the marks go with their inputs
    many = DifferentialTarget(module="m", function="f", inputs=[[[i]] for i in range(40)])
    (more,) = with_generator_inputs([many])
    assert sum(more.iterated) == MAX_ITERATED
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
        (target,) = with_generator_inputs([DifferentialTarget(module="dd", function=function, inputs=inputs)])
        run = differential.run_calls(tmp_path, [target], sandbox="auto")
        assert run.finished, run.output
        assert {i for i in range(4) if "raise" in run.results[(0, i)]} == raised, function
        assert all("a" not in run.results[(0, i)] for i in range(4))
        if not raised:
            assert [run.results[(0, i)]["v"] for i in (2, 3)] == [run.results[(0, i)]["v"] for i in (0, 1)]
