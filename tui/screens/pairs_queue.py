"""The Pairs screen's queue, as data: what the reviewer walked and a keyset page ahead.

Mixed into `tui.screens.pairs.PairsScreen`. The queue is a list of pair ids: the ones
this session walked up to the pair on screen (kept, so `p` finds pairs labeled since) and
the store's queue ahead of it, read a page at a time in a worker (`LabelStore.queue_page`)
and extended as the cursor nears its end. A store change reloads what is ahead (at most
one load at a time; changes meanwhile make one more after it), so new pairs show up and
pairs made stale or labeled elsewhere drop out, while the pair on screen stays (marked
when a rebuild made it stale or pruned it). Header figures come from the store.
"""

from __future__ import annotations

from textual import work
from textual.worker import get_current_worker

from labeling.pairs import queue_key
from labeling.queue import queue_length
from labeling.records import PairFilter, PairRow, QueueCounts
from labeling.store import NotFound
from tui.screens.queue_host import QueueHost

PAGE = 100  # pairs per keyset page
LOW_WATER = 20  # fetch the next page when fewer than this many are left ahead


class QueueFlow(QueueHost):
    """Needs the PairsScreen's ``store``, ``state``, ``app``, ``pair``, ``queue``, ``index``,
    ``show_current``, ``_render_pair`` and ``_render_empty``."""

    def _init_queue(self) -> None:
        self._end = False  # the store has no pairs after the last one loaded
        self._keys: dict[str, tuple] = {}  # pair id -> its queue key when loaded
        self._gone = False  # the pair on screen was pruned from the store by a rebuild
        self._load_error: str | None = None
        self._reload = False  # a refresh asked for while a load ran
        # The header's figures for a filter counted in a worker: ((pair, filter, store
        # version, verdicts), (position, total)).
        self._counted: tuple[tuple | None, tuple[int | None, int | None]] = (None, (None, None))
        self._verdicts_seen = 0  # bumped by every verdict, undo and redo made here
        self._wrap_offered = False  # the end of the queue was reached with skipped pairs left
        self._gen = 0  # bumped when the queue starts over (filter, wrap): older loads are dropped

    # ------------------------------------------------------------------ data
    def refresh_data(self) -> None:
        # Coalesced: one load at a time, and one more after it if the store changed meanwhile.
        if any(w.group == "pairs-queue" and w.node is self and not w.is_finished for w in self.app.workers):
            self._reload = True
            return
        walked = list(self.queue[: self.index + 1]) if self._loaded and self.pair is not None else []
        self._load_queue(self.state.pair_filter, walked, self._gen)

    @work(thread=True, exclusive=True, group="pairs-queue", exit_on_error=False)
    def _load_queue(self, filt: PairFilter, walked: list[str], gen: int) -> None:
        """The queue ahead: pairs of the filter in queue order, from its head, leaving out
        those this session already walked (they stay behind the cursor for `p`)."""
        seen = set(walked)
        rows: list[PairRow] = []
        after = None
        end = False
        while len(rows) < PAGE:
            page = self.store.queue_page(filt, after, PAGE)
            rows += [p for p in page if p.pair_id not in seen]
            if len(page) < PAGE:
                end = True
                break
            after = page[-1]
        counts = self.store.counts(filt)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._set_queue, gen, rows, end, counts)

    def worker_ended(self, worker) -> None:
        if worker.group == "pairs-queue" and self._reload:
            self._reload = False
            self.refresh_data()

    def worker_failed(self, worker, error: BaseException) -> None:
        """Called by the app for a worker of this screen that raised."""
        if worker.group == "pairs-queue":
            self._load_error = f"{type(error).__name__}: {error}"
            self._loaded = True
            if self.pair is None:
                self._render_empty()

    def _set_queue(self, gen: int, rows: list[PairRow], end: bool, counts: QueueCounts) -> None:
        if gen != self._gen:
            return  # loaded for another filter (or before a wrap)
        self._load_error = None
        # What this session walked up to the pair on screen stays; the rest is the store's now.
        walked = self.queue[: self.index + 1] if self._loaded and self.pair is not None else []
        known = set(walked)
        for p in rows:
            self._keys[p.pair_id] = _key(p)
        self.queue = walked + [p.pair_id for p in rows if p.pair_id not in known]
        self._end = end
        self._loaded = True
        if self.pair is not None and walked:
            self._recheck_current()  # stays on screen; marked if stale or gone
            return
        keep = self.state.pair_id
        self.index = self.queue.index(keep) if keep in self.queue else 0
        self.show_current()

    def _recheck_current(self) -> None:
        assert self.pair is not None
        try:
            self.pair = self.store.pair(self.pair.pair_id)
            self._gone = False
        except NotFound:
            self._gone = True  # pruned by a rebuild: keep showing what the reviewer reads
        self._render_pair(diffs=False)

    def _more(self) -> bool:
        """Load the next keyset page after the last loaded pair (a page: cheap at any size)."""
        if self._end or not self.queue:
            return False
        last = self._keys.get(self.queue[-1])
        if last is None:
            return False
        page = self.store.queue_page(self.state.pair_filter, last, PAGE)
        self._append_page(self.queue[-1], page)
        return bool(page)

    def _append_page(self, last: str, page: list[PairRow]) -> None:
        if not self.queue or self.queue[-1] != last:
            return
        known = set(self.queue)
        for p in page:
            self._keys[p.pair_id] = _key(p)
        self.queue += [p.pair_id for p in page if p.pair_id not in known]
        self._end = len(page) < PAGE

    def _position(self, counts: QueueCounts | None = None) -> tuple[int | None, int | None]:
        """(0-based position of the pair on screen in the store's queue or -1, queue length):
        ``counts``: the filter's counts, when the caller read them already.
        what `repo-agent pairs list` with this filter shows, by key over the queue index.

        The plain queue (verdict and task filters: index ranges, counters) is counted here;
        a search, tag, flag or batch filter scans what it selects, so it is counted in a
        worker and the header shows the last figures (or …) until it answers."""
        f = self.state.pair_filter
        if not self._counted_by_key(f):
            pid = self.pair.pair_id if self.pair is not None else None
            if self._counted[0] != (pid, f, self.state.store_version, self._verdicts_seen):
                self._recount(f, self.pair, self._gone, (pid, f, self.state.store_version, self._verdicts_seen))
            return self._counted[1]
        if self._gone or self.pair is None:
            return -1, queue_length(counts or self.store.counts(f), f)
        return self.store.queue_position(self.pair, f, counts)

    def _counted_by_key(self, f: PairFilter) -> bool:
        """Whether the pair's position in the filter's queue is counted here, by its key."""
        return not (any((f.text, f.tag, f.flag, f.batch_id, f.contrast)) or self._team_counted_in_worker(f))

    @work(thread=True, exclusive=True, group="pairs-count", exit_on_error=False)
    def _recount(self, f: PairFilter, pair: PairRow | None, gone: bool, stamp: tuple) -> None:
        if gone or pair is None:
            figures = (-1, queue_length(self.store.counts(f), f))
        else:
            figures = self.store.queue_position(pair, f)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._counted_in, stamp, figures)

    def _counted_in(self, stamp: tuple, figures: tuple[int, int]) -> None:
        self._counted = (stamp, figures)
        if self.pair is not None and stamp[0] == self.pair.pair_id:
            self._render_pair(diffs=False)

    def action_wrap(self) -> None:
        """Start over from the head of the queue: the pairs skipped so far come back."""
        self._pending_note = None
        self._restart()

    def _restart(self) -> None:
        self.queue, self._loaded, self.index, self._end = [], False, 0, False
        self.pair = None
        self.state.pair_id = None
        self._gen += 1
        self._reload = False
        self._load_queue(self.state.pair_filter, [], self._gen)


def _key(p: PairRow) -> tuple:
    return queue_key(p)
