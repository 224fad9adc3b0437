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


def hits_summary(n: int, limit: int, *, unchecked: bool, checked: int) -> str:
    """How many hits a search found, truthfully (labeling/search.py ``SearchHits``): "3 hits";
    at the limit "the newest 50 hits" (older ones may match); "at least 3 hits" when it stopped
    checking candidates for a phrase before the end."""
    hits = count(n, "hit")
    if unchecked:
        return f"at least {hits} (stopped after checking {checked:,} candidates: narrow the query)"
    if n >= limit:
        return f"the newest {hits} (older ones may match)"
    return hits
