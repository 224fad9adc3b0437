"""Held-out inputs whose list arguments come as generators (round 24 r24v-9: a dedupe indexing
its argument, ``items[i]``, raised TypeError on a caller's generator the reference takes, and
PASSed: every held-out argument was a JSON list).

For each function of the sample, up to ``MAX_ITERATED`` of its inputs holding a list argument
are asked again with each such (positional) argument passed as a generator over its items
(the runner's ``_as_generators``). The reference answers them in its own runs; an input it
does not answer so (it raises: its contract is a list) is left out (agent/differential.py
``_reference_once``), so an honest fix as strict as the reference is never asked one. The
class bound: a list argument's caller handing any iterable the reference takes.
"""

from __future__ import annotations

from agent.suites.models import DifferentialTarget

MAX_ITERATED = 8


def with_generator_inputs(calls: list[DifferentialTarget]) -> list[DifferentialTarget]:
    """``calls`` with, for each function (no script), up to ``MAX_ITERATED`` of its inputs
    holding a list argument asked again at the end, marked ``iterated`` (spread over them)."""
    out = []
    for t in calls:
        having = [i for i, x in enumerate(t.inputs) if any(type(a) is list for a in x)]
        if t.script or not having:
            out.append(t)
            continue
        step = max(1, len(having) // MAX_ITERATED)
        again = having[::step][:MAX_ITERATED]
        n = len(t.inputs)
        new = t.picked(list(range(n)) + again)
        out.append(new.model_copy(update={"iterated": [t.iterated_at(i) for i in range(n)] + [True] * len(again)}))
    return out
