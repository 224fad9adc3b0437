"""Pairs: the review queue. Two rollouts side by side; a verdict commits and advances.

The queue is read a keyset page at a time (`LabelStore.queue_page`, in the store's queue
order) into a list of pair ids: what this session walked (so `p` finds pairs labeled
since) and a page ahead. Only the pair on screen is read from the store, and the next
one is prefetched (its rollouts and both diffs parsed and highlighted in a worker, and
the next page when the list runs short) so `n`/`c`/`f`/`d` render at once. Header and
totals come from the store (counters and a position by key), so they agree with
`repo-agent pairs list` whatever ingest does meanwhile; a pair on screen that a rebuild
made stale stays on screen, marked.
"""

from __future__ import annotations

from collections import OrderedDict

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from labeling.queue import ReviewFigures
from labeling.records import PairRow, RolloutRow
from labeling.store import NotFound
from tui.ab_model import ab_patch_for
from tui.diff_model import diff_model_for
from tui.screens.base import StudioScreen
from tui.screens.pairs_actions import PairActions
from tui.screens.pairs_filter import FilterError, filter_text, parse_filter
from tui.screens.pairs_queue import LOW_WATER, PAGE, QueueFlow, _key
from tui.screens.pairs_render import PairRendering
from tui.screens.pairs_team import TeamFlow
from tui.widgets.diff_view import DiffView, prerender
from tui.widgets.outcome_badge import OutcomeBadge

# The filter line is tui/screens/pairs_filter.py, drawing tui/screens/pairs_render.py, the
# keys tui/screens/pairs_actions.py; these names stay importable from here.
__all__ = ["FilterError", "PairsScreen", "filter_text", "parse_filter"]

AB_SIGNS = ("A", "B")


class PairsScreen(PairRendering, PairActions, TeamFlow, QueueFlow, StudioScreen):
    MODE = "pairs"
    BINDINGS = [
        # The footer fits 80 columns: the verdict keys first; r, n, p, 1, 2 live in
        # help (?) and the palette (s skips to the next pair, as n does).
        Binding("c", "verdict('confirm')", "Confirm"),
        Binding("f", "verdict('flip')", "Flip"),
        Binding("d", "verdict('discard')", "Discard"),
        Binding("s", "skip", "Skip"),
        Binding("u", "undo", "Undo"),
        Binding("r", "redo", "Redo", show=False),
        Binding("n", "move(1)", "Next", show=False),
        Binding("p", "move(-1)", "Prev", show=False),
        Binding("1", "open_side(0)", "Open A", show=False),
        Binding("2", "open_side(1)", "Open B", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("e", "note", "Note"),
        Binding("t", "tag", "Tag"),
        Binding("v", "cycle_view", "View"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[str] = []
        self.index = 0
        self.pair: PairRow | None = None
        self.sides: tuple[RolloutRow | None, RolloutRow | None] = (None, None)
        self._loaded = False
        self._init_queue()
        self._pending_note: str | None = None
        self._rollouts: OrderedDict[str, RolloutRow] = OrderedDict()
        self._syncing = False
        self._figures: ReviewFigures | None = None  # read with the pair on screen, for its first render

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        yield Static(id="pair-head")
        yield Static(id="pair-prefix")  # step pairs only: the shared prefix, collapsed
        with Horizontal(id="sides"):
            for side in ("a", "b"):
                if side == "b":
                    yield Static(classes="gap")  # a plain column: cheaper to paint than a border
                with Vertical(classes="side", id=f"side-{side}"):
                    yield OutcomeBadge(id=f"badge-{side}")
                    yield Static(classes="summary", id=f"summary-{side}")
        # Unified: A and B side by side. Split: A above B, each full width. A↔B: one
        # diff of A's files against B's. Every layout keeps the cards above in view.
        with Horizontal(id="diffs"):
            yield DiffView(id="diff-a")
            yield Static(classes="gap")
            yield DiffView(id="diff-b")
        yield DiffView(id="diff-ab")
        yield Static(id="pair-progress")
        yield self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#pair-head", Static).update(Text("loading the review queue…", style="dim"))
        a, b = self.query_one("#diff-a", DiffView), self.query_one("#diff-b", DiffView)
        for view, other in ((a, b), (b, a)):
            self.watch(view, "scroll_y", self._follower(other, "y"), init=False)
            self.watch(view, "scroll_x", self._follower(other, "x"), init=False)
        ab = self.query_one("#diff-ab", DiffView)
        ab.set_signs(AB_SIGNS)
        ab.split = True  # A's files on the left, B's on the right
        self._apply_view()

    def _follower(self, other: DiffView, axis: str):
        def follow(value: float) -> None:  # one parameter: Textual passes the new value
            self._sync_scroll(other, value if axis == "x" else None, value if axis == "y" else None)

        return follow

    def _sync_scroll(self, other: DiffView, x: float | None, y: float | None) -> None:
        """A and B scroll together (the longer one clamps the shorter at its end)."""
        if self._syncing:
            return
        self._syncing = True
        try:
            other.scroll_to(x=x, y=y, animate=False, immediate=True)
        finally:
            self._syncing = False

    def on_show_screen(self) -> None:
        if self.focused is None:
            self.query_one("#diff-a", DiffView).focus()  # arrows scroll the diff; tab to the other

    def _rollout(self, uid: str) -> RolloutRow | None:
        row = self._rollouts.get(uid)
        if row is None:
            try:
                row = self.store.rollout(uid)
            except NotFound:
                return None
            self._rollouts[uid] = row
            while len(self._rollouts) > 64:
                self._rollouts.popitem(last=False)
        return row

    def show_current(self) -> None:
        if not self.queue:
            self.pair = None
            self.sides = (None, None)
            self._render_empty()
            return
        self.index = max(0, min(self.index, len(self.queue) - 1))
        pid = self.queue[self.index]
        # The pair and its header's figures in one read (one round trip on PostgreSQL).
        f = self.state.pair_filter
        key = self._keys.get(pid) if self._counted_by_key(f) else None
        figures = self.store.review_figures(pid, f, key, self._labeler_queue())
        if figures.pair is None:  # pruned by a rebuild since its page was read
            self.queue.pop(self.index)
            self.show_current()
            return
        self.pair, self._figures = figures.pair, figures
        self._gone = False
        self._keys.setdefault(pid, _key(self.pair))
        self.state.pair_id = pid
        self.sides = (self._rollout(self.pair.chosen_uid), self._rollout(self.pair.rejected_uid))
        self._render_pair()
        # After the frame: the prefetch's parsing must not compete with this paint.
        ab = self.state.diff_view == "ab"
        view = self.query_one("#diff-ab" if ab else "#diff-a", DiffView)
        self.call_after_refresh(
            self._prefetch,
            self.index + 1,
            view.scrollable_content_region.width,
            view.size.height,
            self.state.diff_view,
            view.diff_styles,
        )

    @work(thread=True, exclusive=True, group="pairs-prefetch", exit_on_error=False)
    def _prefetch(self, index: int, width: int, height: int, mode: str, styles) -> None:
        """Read the next pair's rollouts, parse + highlight its diffs and render their
        first screenful, ahead of time; fetch the next page when the list runs short."""
        queue = self.queue
        if len(queue) - index < LOW_WATER and not self._end and queue:
            last = queue[-1]
            key = self._keys.get(last)
            if key is not None:
                page = self.store.queue_page(self.state.pair_filter, key, PAGE)
                self.app.call_from_thread(self._append_page, last, page)
        if not (0 <= index < len(self.queue)):
            return
        try:
            pair = self.store.pair(self.queue[index])
            rows = []
            for uid in (pair.chosen_uid, pair.rejected_uid):
                row = self.store.rollout(uid)
                rows.append(row)
                self.app.call_from_thread(self._rollouts.__setitem__, uid, row)
                if row.patch.strip() and mode != "ab":
                    prerender(diff_model_for(row.patch), width, mode == "split", self.app.console, height, styles)
            if mode == "ab" and (patch := ab_patch_for(rows[0].patch, rows[1].patch)):
                prerender(diff_model_for(patch), width, True, self.app.console, height, styles, AB_SIGNS)
        except NotFound:
            return
