"""Full-text search over rollouts (docs/studio.md, Search): a search line to hits.

The backend finds documents (`labeling.sqlite_search` on SQLite, a tsvector on
PostgreSQL) newest first; here the hits of one event are folded into one (a long text
is indexed in parts) and each gets its snippet, read back from its trace at the
event's offset. Both backends see only `labeling.search_query`'s rendering of the
line, never the user's syntax, so a malformed line is a `SearchError` before any SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.trace import RolloutState
from labeling.records import IndexProgress, SearchHit
from labeling.rollout_states import live_state, row_state
from labeling.search_docs import event_text, read_line, snippet
from labeling.search_index import HIT_COLUMNS
from labeling.search_query import SearchQuery, matches, needs_check, parse_search

MAX_LIMIT = 1000
MAX_CHECKED = 5000  # candidates a phrase is checked on before the search stops


class SearchHits(list[SearchHit]):
    """The hits of one search, newest first, and whether the search saw every candidate.

    ``unchecked``: it stopped after checking ``checked`` (at least `MAX_CHECKED`) candidates
    for a phrase with more left, so older hits may exist that were never looked at: "at least
    N", never "N hits"."""

    def __init__(self, hits: list[SearchHit] | None = None, *, unchecked: bool = False, checked: int = 0) -> None:
        super().__init__(hits or [])
        self.unchecked = unchecked
        self.checked = checked
        self.partial_index: IndexProgress | None = None  # the index held part of the store (still filling)


def find(
    hits: Callable[[SearchQuery, int | None, int], list[tuple]],
    q: SearchQuery,
    limit: int,
    path_of: Callable[[str], str],
    alive: Callable[[], dict[str, bool]],
) -> SearchHits:
    """Up to ``limit`` hits (one per event), newest first. ``hits`` is the backend's
    ``search_hits``; ``path_of`` turns a stored trace path into one to open. A phrase is
    checked on each candidate's text (`matches`), at most `MAX_CHECKED` of them. ``alive``
    (batch id -> its process can still write; the store's `batch_liveness`), asked once at
    the first running hit: a running rollout of a dead batch reads as interrupted, as
    everywhere else. Required: without it every such rollout read as running."""
    limit = max(1, min(limit, MAX_LIMIT))
    check = needs_check(q)
    seen: set[tuple[str, int, str]] = set()
    out: list[SearchHit] = []
    before: int | None = None
    page = limit * 2 + 8
    batches: dict[str, bool] | None = None  # `alive()`, asked once, at the first running hit
    while len(out) < limit:
        got = hits(q, before, page)
        for raw in got:
            row = dict(zip(HIT_COLUMNS, raw))
            key = (row["uid"], row["offset"], row["place"])
            if key in seen:
                continue  # another part of the same text
            seen.add(key)
            state = row_state(row["state_status"], row["state_verdict"], row["state_reason"], "")
            if state.status == "running":
                batches = alive() if batches is None else batches
                state = live_state(state, batches.get(row["batch_id"], True))
                if not _kept(state, q.filters):
                    continue
            hit = _hit(row, state, q, check, path_of)
            if hit is not None:
                out.append(hit)
                if len(out) == limit:
                    break
        if len(got) < page:
            break
        before = got[-1][0]
        if len(out) < limit and len(seen) >= MAX_CHECKED:
            return SearchHits(out, unchecked=True, checked=len(seen))  # more were left
    return SearchHits(out, checked=len(seen))


def _kept(state: RolloutState, filters: dict[str, str]) -> bool:
    """Whether a running rollout the state or reason filter chose by its stored state still
    has it (``state:running`` showed interrupted rollouts; ``reason:interrupted`` chose every
    running one: labeling/sqlite_search.py `filter_sql`)."""
    return filters.get("state", state.status) == state.status and filters.get("reason", state.reason) == state.reason


def _hit(
    row: dict[str, Any], state: RolloutState, q: SearchQuery, check: bool, path_of: Callable[[str], str]
) -> SearchHit | None:
    path = path_of(row["trace_path"])
    text = event_text(read_line(path, row["offset"]), row["place"])
    if check and not matches(q, text):
        return None
    return SearchHit(
        uid=row["uid"],
        rollout_id=row["rollout_id"],
        batch_id=row["batch_id"],
        step=row["step"],
        place=row["place"],
        snippet=snippet(text, q.words),
        task_id=row["task_id"] or "",
        model=row["model"] or "",
        state=state,
        trace_path=path,
        offset=row["offset"],
    )


__all__ = ["MAX_CHECKED", "MAX_LIMIT", "SearchHits", "find", "parse_search"]
