"""The review queue as data (no Textual): what the reviewer walked and a keyset page ahead.

The queue is a list of pair ids: the ones this session walked up to the pair on screen
(kept, so `p` finds pairs labeled since) and the store's queue ahead of it, read a page at a
time (`LabelStore.queue_page`, in the store's queue order) and extended as the cursor nears
its end. A reload replaces what is ahead and keeps what was walked. The Pairs screen
(tui/screens/pairs.py) holds one and runs its store reads in workers; the methods that only
read the store (``read_ahead``, ``page_after_last``, ``count_by_scan``) change nothing here,
so a worker may call them.
"""

from __future__ import annotations

from typing import NamedTuple

from labeling.pairs import queue_key
from labeling.queue import queue_length
from labeling.records import PairFilter, PairRow, QueueCounts
from labeling.store import LabelStore, NotFound
from labeling.team_sql import team_queue

PAGE = 100  # pairs per keyset page
LOW_WATER = 20  # fetch the next page when fewer than this many are left ahead

# (0-based position of the pair on screen in the filter's queue, or -1; the queue's length).
# None: not counted yet (a scan in a worker answers later).
Figures = tuple[int | None, int | None]


class QueueLoad(NamedTuple):
    """What one load read, handed from the worker to the UI thread."""

    rows: list[PairRow]  # the queue ahead, in queue order, without the walked pairs
    end: bool  # the store has no pairs after the last of ``rows``
    counts: QueueCounts  # the filter's


def counted_by_key(f: PairFilter) -> bool:
    """Whether the pair's position in ``f``'s queue is counted on the spot, by its key (index
    ranges, counters). A search, tag, flag, batch or contrast filter scans what it selects,
    and so does the adjudication queue (``disagree``): those are counted in a worker."""
    return not (any((f.text, f.tag, f.flag, f.batch_id, f.contrast)) or f.disagree)


def labeler_queue(f: PairFilter) -> PairFilter | None:
    """With overlap K > 1: this labeler's whole queue, whatever the / filter (labeling/team.py)."""
    if f.overlap <= 1 or not f.labeler:
        return None
    return PairFilter(verdict="unlabeled", overlap=f.overlap, labeler=f.labeler)


class PairQueue:
    """The Pairs screen's queue: ids, the cursor, each loaded pair's keyset key, counts."""

    def __init__(self) -> None:
        self.ids: list[str] = []  # pair ids: walked, then loaded ahead
        self.index = 0  # the pair on screen, in ``ids``
        self.keys: dict[str, tuple] = {}  # pair id -> its queue key when loaded
        self.end = False  # the store has no pairs after the last one loaded
        self.loaded = False  # a load has answered since the last restart
        self.load_error: str | None = None  # the last load's failure, for the empty screen
        self.counts: QueueCounts | None = None  # the filter's, as of the last load
        self.gen = 0  # bumped when the queue starts over (filter, wrap): older loads are dropped
        self.wrap_offered = False  # the end was reached with skipped pairs left: s or n wraps
        self.verdicts_seen = 0  # bumped by every verdict, undo, redo and tag made here
        # The figures of a filter counted by a scan: ((pair, filter, store version,
        # verdicts seen) they were counted for, figures).
        self.counted: tuple[tuple | None, Figures] = (None, (None, None))

    # ------------------------------------------------------------------ the cursor
    @property
    def current(self) -> str | None:
        return self.ids[self.index] if 0 <= self.index < len(self.ids) else None

    def walked(self, showing: bool) -> list[str]:
        """The pairs up to the one on screen (``showing``: a pair is on screen), which a reload keeps."""
        return list(self.ids[: self.index + 1]) if self.loaded and showing else []

    def clamp(self) -> None:
        self.index = max(0, min(self.index, len(self.ids) - 1))

    def drop_current(self) -> None:
        """The pair at the cursor is gone from the store (pruned since its page was read)."""
        self.ids.pop(self.index)

    def goto(self, pair_id: str) -> None:
        """Put the cursor on ``pair_id``, inserting it here when the queue does not hold it."""
        if pair_id not in self.ids:
            self.ids.insert(self.index, pair_id)
        self.index = self.ids.index(pair_id)

    def restart(self) -> int:
        """Start over from the head (a new filter, a wrap): loads begun before are dropped."""
        self.ids, self.loaded, self.index, self.end = [], False, 0, False
        self.gen += 1
        return self.gen

    # ------------------------------------------------------------------ loading
    @staticmethod
    def read_ahead(store: LabelStore, f: PairFilter, walked: list[str]) -> QueueLoad:
        """The queue ahead: pairs of ``f`` in queue order from its head, leaving out those
        this session already walked (they stay behind the cursor for `p`). Reads only."""
        seen = set(walked)
        rows: list[PairRow] = []
        after = None
        end = False
        while len(rows) < PAGE:
            page = store.queue_page(f, after, PAGE)
            rows += [p for p in page if p.pair_id not in seen]
            if len(page) < PAGE:
                end = True
                break
            after = page[-1]
        return QueueLoad(rows, end, store.counts(f))

    def take(self, load: QueueLoad, walked: list[str]) -> None:
        """What this session walked stays; the rest is the store's now."""
        self.load_error = None
        known = set(walked)
        for p in load.rows:
            self.keys[p.pair_id] = queue_key(p)
        self.ids = walked + [p.pair_id for p in load.rows if p.pair_id not in known]
        self.end = load.end
        self.counts = load.counts
        self.loaded = True

    def page_after_last(self, store: LabelStore, f: PairFilter) -> tuple[str, list[PairRow]] | None:
        """The keyset page after the last loaded pair, with that pair's id (for ``append_page``);
        None at the end. Reads only."""
        ids = self.ids
        if self.end or not ids:
            return None
        last = ids[-1]
        key = self.keys.get(last)
        if key is None:
            return None
        return last, store.queue_page(f, key, PAGE)

    def append_page(self, last: str, page: list[PairRow]) -> None:
        """Add a page read after ``last``, unless the queue changed meanwhile."""
        if not self.ids or self.ids[-1] != last:
            return
        known = set(self.ids)
        for p in page:
            self.keys[p.pair_id] = queue_key(p)
        self.ids += [p.pair_id for p in page if p.pair_id not in known]
        self.end = len(page) < PAGE

    def more(self, store: LabelStore, f: PairFilter) -> bool:
        """Load the next keyset page now (a page: cheap at any size); whether it held pairs."""
        found = self.page_after_last(store, f)
        if found is None:
            return False
        self.append_page(*found)
        return bool(found[1])

    def drop_done_ahead(self, store: LabelStore, f: PairFilter) -> None:
        """Team review: drop the pairs just ahead that other labelers brought to K since they
        were loaded, so two reviewers walking the same queue do not both pass K."""
        if not team_queue(f.model_dump()):
            return
        ids, i = self.ids, self.index
        while i + 1 < len(ids):
            try:
                p = store.pair(ids[i + 1])
            except NotFound:
                return  # the screen drops it when it gets there
            if len(p.verdicts) < f.overlap or f.labeler in p.verdicts:
                return
            ids.pop(i + 1)

    # ------------------------------------------------------------------ figures
    def position(
        self, store: LabelStore, f: PairFilter, pair: PairRow | None, counts: QueueCounts | None = None
    ) -> Figures:
        """What `repo-agent pairs list` with ``f`` shows for ``pair`` (None: one not in the
        store any more), by key over the queue index; ``counts``: ``f``'s, when the caller
        read them already. Only for a filter `counted_by_key`."""
        if pair is None:
            return -1, queue_length(counts or store.counts(f), f)
        return store.queue_position(pair, f, counts)

    @staticmethod
    def count_by_scan(store: LabelStore, f: PairFilter, pair: PairRow | None) -> tuple[int, int]:
        """The same figures for a filter that scans (the worker's side). Reads only."""
        if pair is None:
            return -1, queue_length(store.counts(f), f)
        return store.queue_position(pair, f)

    def stamp(self, pair_id: str | None, f: PairFilter, store_version: int) -> tuple:
        """What scanned figures are counted for: they are stale once any part changes."""
        return (pair_id, f, store_version, self.verdicts_seen)
