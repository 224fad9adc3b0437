"""Counts in words: "1 pair", "2 pairs" (a screen that says "1 pairs" reads as careless)."""

from __future__ import annotations

_IRREGULAR = {"batch": "batches"}


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` agreeing: count(1, "pair") == "1 pair"; count(3, "batch") == "3 batches"."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {plural or _IRREGULAR.get(noun) or noun + 's'}"


# Pairs *built* (in the store, to label) against pass/fail pairs *possible* (disjoint:
# min(passes, fails) a task, what the rollouts bought): the same words in `repo-agent stats`
# and on the Stats screen.
PAIRS_BUILT_TITLE = "Pairs built by kind"
PAIRS_POSSIBLE_TITLE = "Pass/fail pairs possible by allocation (disjoint: no rollout in two)"
