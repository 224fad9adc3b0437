"""The review queue over the label store: keyset pages, counts, positions (by key).

Held by `labeling.store.LabelStore` as ``store.queue``. The queue order is `labeling.pairs.queue_key`;
the backend keeps an index in that order and counters of the whole queue, so a page
after a pair, the pair before it, its position and the totals cost the same at 500 and
at 50,000 pairs. `_matches` is the filter in Python, for a pair already in hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from labeling.backend import Backend
from labeling.errors import NotFound
from labeling.pairs import queue_key
from labeling.records import NARROWING_FIELDS, VERDICTS, PairFilter, PairRow, QueueCounts
from labeling.team_sql import team_queue


def pair_row(d: dict[str, Any]) -> PairRow:
    d = {k: d[k] for k in PairRow.model_fields if k in d}
    d["stale"] = bool(d.get("stale"))
    return PairRow.model_construct(**d)


class ReviewQueue:
    """``store.queue``: the review queue on a `labeling.backend.Backend`; ``pair`` reads one
    pair by id or prefix (`labeling.store.LabelStore.pair`)."""

    def __init__(self, db: Backend, pair: Callable[[str], PairRow]):
        self._db = db
        self.pair = pair

    def pairs(self, filt: PairFilter | None = None) -> list[PairRow]:
        """Pairs in review-queue order (`labeling.pairs.queue_key`), filtered in SQL."""
        f = (filt or PairFilter()).model_dump()
        return [pair_row(d) for d in self._db.queue_page(f, None, None)]

    def queue_page(
        self, filt: PairFilter | None = None, after: PairRow | tuple | None = None, limit: int = 100
    ) -> list[PairRow]:
        """Up to ``limit`` pairs of the queue that come after ``after`` (a pair or a queue
        key), in queue order: a keyset page, whose cost does not grow with the store."""
        f = (filt or PairFilter()).model_dump()
        return [pair_row(d) for d in self._db.queue_page(f, _key(after) if after is not None else None, limit)]

    def queue_before(self, filt: PairFilter | None = None, before: PairRow | tuple | None = None) -> PairRow | None:
        """The pair just before ``before`` in the queue (None at its head)."""
        f = (filt or PairFilter()).model_dump()
        rows = self._db.queue_page(f, _key(before), 1, backward=True) if before is not None else []
        return pair_row(rows[0]) if rows else None

    def counts(self, filt: PairFilter | None = None) -> QueueCounts:
        """Labeled / remaining over the pairs ``filt`` selects (its verdict filter ignored).

        The whole queue is counted from counters the store keeps as pairs and verdicts
        change; a filtered one by one SQL aggregate over the pairs it selects."""
        f = (filt or PairFilter()).model_dump()
        # A labeler's team queue (overlap K > 1): its own length (counters for the whole queue).
        return _counts(self._db.queue_counts(f), self._db.queue_size(f) if team_queue(f) else None)

    def review_figures(
        self, pair_id: str, filt: PairFilter, key: tuple | None = None, labeler_queue: PairFilter | None = None
    ) -> ReviewFigures:
        """A pair and what a review screen shows beside it, read together (one round trip
        on PostgreSQL): the whole queue's `counts`, the filter's, the pair's position in
        the filter's queue (counted by ``key``, its queue key when its page was read; again
        if the pair's key changed since), and with ``labeler_queue`` that queue's length."""
        f = filt.model_dump()
        whole = counts_whole_queue(filt)
        counted = [{}] if whole else [{}, f]
        theirs = labeler_queue.model_dump() if labeler_queue is not None and labeler_queue != filt else None
        sized = [g for g in (f, theirs) if g is not None and team_queue(g)]
        at = (f, _key(key)) if key is not None else None
        rows, by, sizes, pos = self._db.review_reads(pair_id, counted, sized, at)
        mine = sizes.pop(0) if team_queue(f) else None
        overall = _counts(by[0], None)
        counts = overall if whole else _counts(by[1], mine)
        pair = pair_row(rows[0]) if rows else None
        if pair is None or not _matches(pair, filt):
            pos = -1
        elif key is not None and _key(pair) != _key(key):  # labeled or rebuilt since its page was read
            pos = self._db.queue_position(f, _key(pair))
        queue = sizes[0] if sizes else (mine if labeler_queue is not None and labeler_queue == filt else None)
        return ReviewFigures(pair, overall, counts, pos if key is not None else None, queue)

    def queue_position(
        self, pair_id: str | PairRow, filt: PairFilter | None = None, counts: QueueCounts | None = None
    ) -> tuple[int, int]:
        """(0-based index of the pair in the queue, queue length); index -1 if absent.

        By key: counts the pairs before it over the queue index (cost grows with the
        position, not with the store). ``counts``: the filter's `counts`, if read already."""
        f = filt or PairFilter()
        try:
            pair = pair_id if isinstance(pair_id, PairRow) else self.pair(pair_id)
        except NotFound:
            pair = None
        total = queue_length(counts or self.counts(f), f)
        if pair is None or not _matches(pair, f):
            return -1, total
        return self._db.queue_position(f.model_dump(), _key(pair)), total


class ReviewFigures(NamedTuple):
    pair: PairRow | None  # None: no such pair
    overall: QueueCounts  # the whole queue's counts (the progress line)
    counts: QueueCounts  # the filter's (its length: `queue_length`)
    position: int | None  # 0-based in the filter's queue, -1 if not in it; None: not counted
    labeler_queue: int | None  # team review: the length of the labeler's whole queue


def _counts(by: dict[str, int], mine: int | None) -> QueueCounts:
    n = {v: by.get(v, 0) for v in VERDICTS}
    labeled, remaining = sum(n.values()), by.get("", 0)
    return QueueCounts(total=labeled + remaining, labeled=labeled, remaining=remaining, mine=mine, **n)


def counts_whole_queue(f: PairFilter) -> bool:
    """Whether ``counts(f)`` is ``counts()`` (the filter narrows by verdict only)."""
    g = f.model_dump()
    return not (f.include_stale or team_queue(g) or any(g.get(k) for k in NARROWING_FIELDS))


def _key(p: PairRow | tuple) -> tuple:
    """A pair's queue key with SQL-friendly values (booleans as 0/1)."""
    k = queue_key(p) if isinstance(p, PairRow) else p
    return tuple(int(v) if isinstance(v, bool) else v for v in k)


def queue_length(c: QueueCounts, f: PairFilter) -> int:
    """How many pairs the filter's queue holds, from its counts."""
    if f.verdict == "unlabeled":
        return c.remaining if c.mine is None else c.mine
    if f.verdict == "labeled":
        return c.labeled
    if f.verdict in VERDICTS:
        return getattr(c, f.verdict)
    return c.total


def _matches(p: PairRow, f: PairFilter) -> bool:
    """The filter in Python, for one pair already in hand (the queue itself filters in SQL)."""
    if p.stale and p.verdict is None and not f.include_stale:
        return False
    if f.task_id and p.task_id != f.task_id:
        return False
    if f.batch_id and not (p.chosen_uid.startswith(f.batch_id + "/") or p.rejected_uid.startswith(f.batch_id + "/")):
        return False
    if f.contrast and p.contrast != f.contrast:
        return False
    if f.flag:
        if f.flag == "noisy":
            if not p.flags:
                return False
        elif f.flag == "clean":
            if p.flags:
                return False
        elif f.flag not in p.flags:
            return False
    if f.disagree and (not p.disagree or (f.adjudicator and f.adjudicator in p.verdicts)):
        return False
    if f.verdict:
        if f.verdict == "unlabeled" and team_queue(f.model_dump()):
            if p.stale and not f.include_stale:
                return False
            if len(p.verdicts) >= f.overlap or f.labeler in p.verdicts:
                return False
        elif f.verdict == "unlabeled":
            if p.verdict is not None:
                return False
        elif f.verdict == "labeled":
            if p.verdict is None:
                return False
        elif p.verdict != f.verdict:
            return False
    if f.tag and f.tag not in p.tags:
        return False
    if f.text:
        t = f.text.lower()
        hay = " ".join([p.pair_id, p.task_id, p.chosen_uid, p.rejected_uid, p.note or "", *p.tags]).lower()
        if t not in hay:
            return False
    return True
