"""Held-out inputs asked again in another form a caller may give them, where the reference
takes it (round 24 r24v-9: a dedupe indexing its argument raised TypeError on a caller's
generator and PASSed, every held-out argument a JSON list; round 25 r25v-4: an unstable
mergesort PASSed, no held-out list holding two items equal and yet told apart; round 24
r24v-4: a dedupe keyed on ``str(item)`` PASSed the same way).

For each function of the sample, up to ``MAX_EACH`` of its inputs are asked again, at the
end of its inputs, marked ``asked`` (and the first kind ``iterated``):

- with each (positional) list argument passed as a generator over its items (the runner's
  ``_as_generators``): a caller's ``f(x.strip() for x in lines)``;
- with every other occurrence of each repeated int in a list argument made the equal float
  (``[3, 1, 3, 1]`` -> ``[3.0, 1.0, 3, 1]``): items equal under ``==`` and told apart by
  their type, so an order of equal items (a sort's stability, the first one a dedupe keeps)
  and a key function other than equality (``str``) show.

The reference answers them in its own runs; an input it raises at (its contract is a list,
or ints) is left out (agent/differential.py ``_reference_once``), so a fix as strict as the
reference is never asked one.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from agent.suites.models import DifferentialTarget

MAX_EACH = 8
_EXACT_FLOAT = 2**53  # past it an int has no equal float


def _spread(index: list[int]) -> list[int]:
    return index[:: max(1, len(index) // MAX_EACH)][:MAX_EACH]


def equal_floats(args: list[Any]) -> list[Any] | None:
    """``args`` with every other occurrence of each repeated int of a list argument made the
    equal float (the first one first); None where no list argument repeats an int."""
    out, changed = [], False
    for a in args:
        if type(a) is list and all(type(x) is int and abs(x) <= _EXACT_FLOAT for x in a):
            seen: dict[int, int] = {}
            for x in a:
                seen[x] = seen.get(x, 0) + 1
            made: dict[int, int] = {}
            items: list[Any] = []
            for x in a:
                k = made[x] = made.get(x, 0) + 1
                items.append(float(x) if seen[x] > 1 and k % 2 == 1 else x)
            changed = changed or items != a or any(type(x) is float for x in items)
            out.append(items)
        else:
            out.append(a)
    return out if changed else None


def with_variants(calls: list[DifferentialTarget], kinds: Collection[str]) -> list[DifferentialTarget]:
    """``calls`` with each function's variants of the ``kinds`` its task asks (its
    differential's ``widen``: ``iterables`` the generators, ``ties`` the equal floats; none for
    a script) after its own inputs. Asked of every task they FAILed honest fixes the project
    keeps (a fix sorting its list argument in place, round 13 r13-12; one keeping another of two
    equal items where the tests read no order, r13-5/r4-21; round 6's exact-Fraction average)."""
    out = []
    for t in calls:
        n = len(t.inputs)
        listed = [i for i, x in enumerate(t.inputs) if any(type(a) is list for a in x)]
        floats = [(i, v) for i in listed for v in [equal_floats(t.inputs[i])] if v is not None]
        if t.script or not listed or not ({"iterables", "ties"} & set(kinds)):
            out.append(t)
            continue
        again = _spread(listed) if "iterables" in kinds else []
        numbers = _spread([i for i, _ in floats]) if "ties" in kinds else []
        made = dict(floats)
        new = t.picked(list(range(n)) + again + numbers)
        inputs = new.inputs[: n + len(again)] + [made[i] for i in numbers]
        extra = len(again) + len(numbers)
        update = {
            "inputs": inputs,
            "iterated": [t.iterated_at(i) for i in range(n)] + [True] * len(again),
            "asked": [t.asked_at(i) for i in range(n)] + [True] * extra,
        }
        out.append(new.model_copy(update=update))
    return out
