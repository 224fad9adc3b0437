"""Pairs: the review queue. Two rollouts side by side; a verdict commits and advances.

The queue is a `PairQueue` (tui/pair_queue.py): what this session walked (so `p` finds
pairs labeled since) and a keyset page ahead, read in workers. Only the pair on screen is
read from the store, and the next one is prefetched (its rollouts and both diffs parsed and
highlighted in a worker, and the next page when the list runs short) so `n`/`c`/`f`/`d`
render at once. What is on screen is one value, ``shown`` (a `PairView`): its one watcher
hands it to the header, the A/B cards and the progress line, which render themselves
(tui/widgets/pair_*.py). Header and totals come from the store (counters and a position by
key), so they agree with `repo-agent pairs list` whatever ingest does meanwhile; a pair on
screen that a rebuild made stale stays on screen, marked. A store change reloads what is
ahead (at most one load at a time; changes meanwhile make one more after it).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Static
from textual.worker import Worker, get_current_worker

from labeling.pairs import queue_key
from labeling.queue import ReviewFigures, counts_whole_queue, queue_length
from labeling.records import PairFilter, PairRow, QueueCounts, RolloutRow, StepRow
from labeling.store import NotFound
from tui.ab_model import ab_cached, ab_patch_for
from tui.diff_model import diff_model_for
from tui.pair_filter import FILTER_HINT, FilterError, filter_text, parse_filter
from tui.pair_queue import LOW_WATER, Figures, PairQueue, QueueLoad, counted_by_key, labeler_queue
from tui.pair_view import PairView, Progress
from tui.screens.base import StudioScreen
from tui.widgets.diff_view import DiffView, prerender
from tui.widgets.pair_card import PairCard
from tui.widgets.pair_diffs import SideDiffs
from tui.widgets.pair_goal import PairGoal
from tui.widgets.pair_header import PairHeader
from tui.widgets.pair_prefix import StepPrefix
from tui.widgets.pair_progress import PairProgress
from tui.widgets.prompt import PromptModal

# The filter line is tui/pair_filter.py; these names stay importable from here.
__all__ = ["FilterError", "PairsScreen", "filter_text", "parse_filter"]

AB_SIGNS = ("A", "B")
AB_IDENTICAL = "(A and B leave every file the same: identical fixes)"
# Human-log actions on a rollout, not a pair (a SUSPECT clear, tui/screens/rollout.py): undo
# keeps the pair on screen.
ROLLOUT_ACTIONS = ("clear", "unclear")
NEXT_VIEW = {"unified": "split", "split": "ab", "ab": "unified"}
ROLLOUTS_KEPT = 64  # rollouts read for recent pairs, kept for `p` and the prefetch


class PairsScreen(StudioScreen):
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
        Binding("g", "toggle_goal", "Goal", show=False),
    ]

    # What is on screen. None until the first load answers, and while the queue starts
    # over (the last pair stays drawn meanwhile). Set whole; the widgets render from it.
    shown: reactive[PairView | None] = reactive(None, always_update=True, init=False, repaint=False)

    def __init__(self) -> None:
        super().__init__()
        self.pair_queue = PairQueue()
        self._pending_note: str | None = None  # typed before the verdict, saved with it
        self._reload = False  # a refresh asked for while a load ran
        self._rollouts: OrderedDict[str, RolloutRow] = OrderedDict()
        self._drawn: PairView | None = None  # what is drawn: stays while ``shown`` is None (a load)
        self._judged_while_loading: set[str] = set()  # not shown again when the load answers
        self._comparing: set[tuple[str, str]] = set()  # A↔B compares at work, by (A, B) uid

    # What tests, the bench and the app read: the queue's ids and cursor, the pair on screen.
    @property
    def queue(self) -> list[str]:
        return self.pair_queue.ids

    @property
    def index(self) -> int:
        return self.pair_queue.index

    @property
    def pair(self) -> PairRow | None:
        return self.shown.pair if self.shown is not None else None

    @property
    def sides(self) -> tuple[RolloutRow | None, RolloutRow | None]:
        return self.shown.sides if self.shown is not None else (None, None)

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        yield PairHeader(id="pair-head")
        yield PairGoal(id="pair-goal")  # the task's goal, two lines; g: all of it
        yield StepPrefix(id="pair-prefix")  # step pairs only: the shared prefix, collapsed
        with Horizontal(id="sides"):
            yield PairCard(0)
            yield Static(classes="gap")  # a plain column: cheaper to paint than a border
            yield PairCard(1)
        # Unified: A and B side by side. Split: A above B, each full width. A↔B: one
        # diff of A's files against B's. Every layout keeps the cards above in view.
        yield SideDiffs()
        yield DiffView(id="diff-ab")
        yield PairProgress(id="pair-progress")
        yield self.compose_footer()

    def on_mount(self) -> None:
        self.query_one(PairHeader).update(Text("loading the review queue…", style="dim"))
        ab = self.query_one("#diff-ab", DiffView)
        ab.set_signs(AB_SIGNS)
        ab.split = True  # A's files on the left, B's on the right
        self._apply_view()

    def on_show_screen(self) -> None:
        if self.focused is None:
            self.query_one("#diff-a", DiffView).focus()  # arrows scroll the diff; tab to the other
        view = self.shown
        if view is not None and view.pair is not None:  # `C` on Rollout does not change the store's version
            cleared = self._cleared(view.sides)
            if cleared != view.cleared:
                self.shown = replace(view, cleared=cleared)

    # ------------------------------------------------------------------ rendering
    def watch_shown(self, old: PairView | None, new: PairView | None) -> None:
        if new is None:
            return  # starting over: what is drawn stays until the queue answers
        self._drawn = new
        self.query_one(PairHeader).show(new)
        self.query_one(StepPrefix).show(new)
        self.query_one(PairGoal).show(new)
        for card in self.query(PairCard):
            card.show(new)
        if new.pair is None:
            self.query_one(SideDiffs).clear()
        elif old is None or old.pair is None or old.sides != new.sides or old.diff_view != new.diff_view:
            self._show_diffs(new)
        self.query_one(PairProgress).show(new)

    def _show_diffs(self, view: PairView) -> None:
        """Hand the pair's patches to the views of its layout (only those: a hidden view is
        given its patch when the layout changes to it)."""
        a, b = view.sides
        ab = self.query_one("#diff-ab", DiffView)
        if view.diff_view == "ab":
            if a is None or b is None:
                ab.set_patch("", empty_message="")
                return
            ab.border_title = f"A {a.uid}  ◀ only in A │ only in B ▶  B {b.uid}"
            patch = ab_cached(a.patch, b.patch)
            if patch is None:  # big patches take a second or two: worked out in a thread
                ab.set_patch("", empty_message="comparing A's files with B's…")
                if (a.uid, b.uid) not in self._comparing:  # paged away and back: it is still at work
                    self._comparing.add((a.uid, b.uid))
                    self._compare_ab(a, b)
                return
            ab.set_patch(patch, empty_message=AB_IDENTICAL)
            return
        # The hidden A↔B view holds nothing (and so counts as ready) until it is shown.
        ab.set_patch("", empty_message="")
        self.query_one(SideDiffs).show((a, b), view.diff_view == "split")

    # Not exclusive: a thread cannot be stopped, so a compare left behind by paging runs to its
    # end (into the cache) and is shown if its pair is back on screen by then.
    @work(thread=True, group="pairs-ab", exit_on_error=False)
    def _compare_ab(self, a: RolloutRow, b: RolloutRow) -> None:
        """Pure work on two stored patches: the one error it may meet is memory (two patches at
        the cap on a machine short of it). Anything else is a bug: said in the view too (never
        "comparing…" for ever), and raised on for the app to report (`worker_failed`)."""
        uids = (a.uid, b.uid)
        try:
            patch, failed = ab_patch_for(a.patch, b.patch), ""
        except MemoryError:
            patch, failed = None, "(could not compare A's files with B's: out of memory)"
        except Exception as exc:
            self.app.call_from_thread(self._compared_ab, uids, None, f"(could not compare A's files with B's: {exc})")
            raise
        self.app.call_from_thread(self._compared_ab, uids, patch, failed)

    def _compared_ab(self, uids: tuple[str, str], patch: str | None, failed: str) -> None:
        """A compare's end (``patch`` None: it failed, ``failed`` says why): shown if its pair is
        still on screen."""
        self._comparing.discard(uids)
        view = self.shown or self._drawn
        if view is None or view.diff_view != "ab" or tuple(r.uid if r else None for r in view.sides) != uids:
            return  # moved on meanwhile
        ab = self.query_one("#diff-ab", DiffView)
        if patch is None:
            ab.set_patch("", empty_message=failed)
        else:
            ab.set_patch(patch, empty_message=AB_IDENTICAL)

    def _apply_view(self) -> None:
        mode = self.state.diff_view
        diffs = self.query_one(SideDiffs)
        diffs.display = mode != "ab"
        diffs.set_class(mode == "split", "-split")
        self.query_one("#diff-ab", DiffView).display = mode == "ab"

    def _progress(self, overall: QueueCounts | None = None, figures: ReviewFigures | None = None) -> Progress:
        mine = figures.labeler_queue if figures is not None else self._waiting_for_me()
        return Progress(overall or self.store.counts(), mine, self.state.rate.verdicts, self.state.rate.per_hour())

    def _waiting_for_me(self) -> int | None:
        """With overlap K > 1: how many pairs still want this labeler's verdict (counters)."""
        whole = labeler_queue(self.state.pair_filter)
        return None if whole is None else self.store.counts(whole).mine

    def _render_empty(self) -> None:
        q = self.pair_queue
        f = filter_text(self.state.pair_filter)
        if q.load_error:
            msg = Text(f"Could not load the review queue: {q.load_error}", style="bold red")
        elif not q.loaded:
            msg = Text("loading the review queue…", style="dim")
        elif self.state.ingest.running and self.state.ingest.passes == 0:
            msg = Text(
                "Indexing the traces (progress in the top bar); pairs appear as soon as it ends.", style="yellow"
            )
        elif f:
            msg = Text(f"No pairs match the filter “{f}”.  / to change it.", style="yellow")
        else:
            msg = Text(
                "No pairs to review yet. Pairs appear once a task has finished rollouts "
                "that differ; launch a batch on Runs (F1).",
                style="yellow",
            )
        self.shown = PairView(
            pair=None,
            filter=self.state.pair_filter,
            diff_view=self.state.diff_view,
            progress=self._progress(),
            empty=msg,
        )

    def _show(
        self,
        pair: PairRow,
        sides: tuple[RolloutRow | None, RolloutRow | None],
        figures: ReviewFigures | None,
        gone: bool,
    ) -> None:
        """Put ``pair`` on screen; ``figures``: its header's, when read with it (show_current)."""
        f = self.state.pair_filter
        if figures is not None and (figures.pair is None or figures.pair.pair_id != pair.pair_id):
            figures = None
        position: Figures
        if figures is not None and figures.position is not None and not gone:
            overall = figures.overall
            position = figures.position, queue_length(figures.counts, f)
        else:
            overall = figures.overall if figures is not None else self.store.counts()  # the progress line's too
            position = self._position(pair, gone, overall if counts_whole_queue(f) else None)
        at = pair.at_step or 0
        actions = (self._step(sides[0], at), self._step(sides[1], at)) if pair.kind == "step" else (None, None)
        self.shown = PairView(
            pair=pair,
            filter=f,
            diff_view=self.state.diff_view,
            progress=self._progress(overall, figures),
            sides=sides,
            actions=actions,
            position=position[0],
            total=position[1],
            gone=gone,
            pending_note=self._pending_note,
            labeler=self.state.labeler,
            cleared=self._cleared(sides),
        )

    def _cleared(self, sides: tuple[RolloutRow | None, RolloutRow | None]) -> tuple[str | None, str | None]:
        """Who cleared each SUSPECT side (read fresh: `C` on Rollout changes it)."""
        if not any(r is not None and "SUSPECT" in r.standing for r in sides):
            return None, None
        cleared = self.store.cleared_rollouts([r.uid for r in sides if r is not None])
        a, b = ((cleared[r.uid].labeler or "?") if r is not None and r.uid in cleared else None for r in sides)
        return a, b

    def _step(self, row: RolloutRow | None, at_step: int) -> StepRow | None:
        """The step of ``row`` where a step pair's sides diverge."""
        if row is None:
            return None
        return next((st for st in self.store.steps(row.uid) if st.step == at_step), None)

    # ------------------------------------------------------------------ the pair on screen
    def _rollout(self, uid: str) -> RolloutRow | None:
        row = self._rollouts.get(uid)
        if row is None:
            try:
                row = self.store.rollout(uid)
            except NotFound:
                return None
            self._rollouts[uid] = row
            while len(self._rollouts) > ROLLOUTS_KEPT:
                self._rollouts.popitem(last=False)
        return row

    def show_current(self) -> None:
        q = self.pair_queue
        if not q.ids:
            self._render_empty()
            return
        q.clamp()
        pid = q.ids[q.index]
        # The pair and its header's figures in one read (one round trip on PostgreSQL).
        f = self.state.pair_filter
        key = q.keys.get(pid) if counted_by_key(f) else None
        figures = self.store.review_figures(pid, f, key, labeler_queue(f))
        if figures.pair is None:  # pruned by a rebuild since its page was read
            q.drop_current()
            self.show_current()
            return
        pair = figures.pair
        q.keys.setdefault(pid, queue_key(pair))
        self.state.pair_id = pid
        self._show(pair, (self._rollout(pair.chosen_uid), self._rollout(pair.rejected_uid)), figures, gone=False)
        # After the frame: the prefetch's parsing must not compete with this paint.
        ab = self.state.diff_view == "ab"
        view = self.query_one("#diff-ab" if ab else "#diff-a", DiffView)
        self.call_after_refresh(
            self._prefetch,
            q.index + 1,
            view.scrollable_content_region.width,
            view.size.height,
            self.state.diff_view,
            view.diff_styles,
        )

    @work(thread=True, exclusive=True, group="pairs-prefetch", exit_on_error=False)
    def _prefetch(self, index: int, width: int, height: int, mode: str, styles) -> None:
        """Read the next pair's rollouts, parse + highlight its diffs and render their
        first screenful, ahead of time; fetch the next page when the list runs short."""
        q = self.pair_queue
        if len(q.ids) - index < LOW_WATER:
            found = q.page_after_last(self.store, self.state.pair_filter)
            if found is not None:
                self.app.call_from_thread(q.append_page, *found)
        if not (0 <= index < len(q.ids)):
            return
        try:
            pair = self.store.pair(q.ids[index])
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

    # ------------------------------------------------------------------ loading the queue
    def refresh_data(self) -> None:
        # Coalesced: one load at a time, and one more after it if the store changed meanwhile.
        if any(w.group == "pairs-queue" and w.node is self and not w.is_finished for w in self.app.workers):
            self._reload = True
            return
        q = self.pair_queue
        self._load_queue(self.state.pair_filter, q.walked(self.pair is not None), q.gen)

    @work(thread=True, exclusive=True, group="pairs-queue", exit_on_error=False)
    def _load_queue(self, f: PairFilter, walked: list[str], gen: int) -> None:
        load = PairQueue.read_ahead(self.store, f, walked)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._set_queue, gen, load)

    def worker_ended(self, worker: Worker) -> None:
        if worker.group == "pairs-queue" and self._reload:
            self._reload = False
            self.refresh_data()

    def worker_failed(self, worker: Worker, error: BaseException) -> None:
        """Called by the app for a worker of this screen that raised."""
        if worker.group == "pairs-queue":
            self.pair_queue.load_error = f"{type(error).__name__}: {error}"
            self.pair_queue.loaded = True
            if self.pair is None:
                self._render_empty()

    def _set_queue(self, gen: int, load: QueueLoad) -> None:
        q = self.pair_queue
        if gen != q.gen:
            return  # loaded for another filter (or before a wrap)
        walked = q.walked(self.pair is not None)
        q.take(load, walked)
        if walked:
            self._recheck_current()  # stays on screen; marked if stale or gone
            return
        keep = self.state.pair_id
        if keep is not None and keep == self.state.open_pair:
            q.goto(keep)  # opened by --pair: shown even when the filter would not hold it
        else:
            q.index = q.ids.index(keep) if keep in q.ids else 0
        self.state.open_pair = None
        judged, self._judged_while_loading = self._judged_while_loading, set()
        while q.ids and q.ids[q.index] in judged:  # judged while this load ran: not shown again
            q.drop_current()
            q.clamp()
        self.show_current()

    def _recheck_current(self) -> None:
        view = self.shown
        assert view is not None and view.pair is not None
        try:
            pair, gone = self.store.pair(view.pair.pair_id), False
        except NotFound:
            pair, gone = view.pair, True  # pruned by a rebuild: keep showing what the reviewer reads
        self._show(pair, view.sides, None, gone)

    def _position(self, pair: PairRow, gone: bool, counts: QueueCounts | None) -> Figures:
        """The pair's position in the filter's queue and its length, as `repo-agent pairs
        list` shows them (``counts``: the filter's, when read already). A filter that scans
        is counted in a worker; the header shows its last figures (or …) until it answers."""
        f = self.state.pair_filter
        q = self.pair_queue
        if counted_by_key(f):
            return q.position(self.store, f, None if gone else pair, counts)
        stamp = q.stamp(pair.pair_id, f, self.state.store_version)
        if q.counted[0] != stamp:
            self._recount(f, None if gone else pair, stamp)
        return q.counted[1]

    @work(thread=True, exclusive=True, group="pairs-count", exit_on_error=False)
    def _recount(self, f: PairFilter, pair: PairRow | None, stamp: tuple) -> None:
        figures = PairQueue.count_by_scan(self.store, f, pair)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._counted_in, stamp, figures)

    def _counted_in(self, stamp: tuple, figures: tuple[int, int]) -> None:
        self.pair_queue.counted = (stamp, figures)
        view = self.shown
        if view is not None and view.pair is not None and stamp[0] == view.pair.pair_id:
            self._show(view.pair, view.sides, None, view.gone)

    def _restart(self) -> None:
        gen = self.pair_queue.restart()
        self.set_reactive(PairsScreen.shown, None)  # no render: the last pair stays drawn until the load
        self.state.pair_id = None
        self._reload = False
        self._load_queue(self.state.pair_filter, [], gen)

    # ------------------------------------------------------------------ keys
    def action_verdict(self, verdict: str) -> None:
        view = self.shown
        if view is None:  # the queue is loading (a wrap, a new filter, the first load)
            self._verdict_while_loading(verdict)
            return
        if view.pair is None:
            return  # no pair: the screen says why (empty queue, filter, loading error)
        if view.gone:
            self.notify("This pair was pruned by a rebuild (stale): no verdict recorded.", severity="warning")
            self._advance()
            return
        self._record(view.pair.pair_id, verdict)
        self._advance()

    def _record(self, pair_id: str, verdict: str) -> bool:
        """One verdict committed (with the pending note) and counted; a pair a rebuild pruned
        meanwhile is a warning, never a traceback."""
        try:
            self.store.set_verdict(pair_id, verdict, self._pending_note)  # committed on return
        except NotFound:
            self.notify(f"Pair {pair_id} is gone (a rebuild pruned it): no verdict recorded.", severity="warning")
            return False
        self.pair_queue.verdicts_seen += 1
        self._pending_note = None
        self.state.rate.verdicts += 1
        return True

    def _verdict_while_loading(self, verdict: str) -> None:
        """A verdict key pressed while the queue loads (a served studio answers slowly) judges the
        pair still drawn, the one the reviewer read; never dropped without a word."""
        drawn = self._drawn
        if drawn is None or drawn.pair is None or drawn.gone:
            self.notify("No pair on screen yet: the review queue is loading. Press it again once one shows.")
            return
        pair_id = drawn.pair.pair_id
        if not self._record(pair_id, verdict):
            return
        self._judged_while_loading.add(pair_id)
        self.notify(f"{verdict} recorded for {pair_id}; the next pair shows once the queue has loaded.")

    def _advance(self) -> None:
        q, f = self.pair_queue, self.state.pair_filter
        if q.index + 1 >= len(q.ids):
            q.more(self.store, f)
        if q.index + 1 >= len(q.ids) and q.wrap_offered:
            q.wrap_offered = False
            self.action_wrap()
            return
        q.drop_done_ahead(self.store, f)  # team review: others brought it to K meanwhile
        if q.index + 1 < len(q.ids):
            q.index += 1
        else:
            left = queue_length(self.store.counts(f), f)
            overall = self.store.counts().remaining
            if left and f.verdict == "unlabeled":
                msg = f"End of this queue: {left} pair(s) you skipped are still in it. s or n again wraps to them."
                q.wrap_offered = True
            else:
                msg = f"End of this queue. {overall} pair(s) left unlabeled overall" + (
                    " (/ to change the filter)." if overall else "."
                )
            self.notify(msg, title="Queue done")
        self.show_current()

    def action_skip(self) -> None:
        self._pending_note = None
        self._advance()

    def action_wrap(self) -> None:
        """Start over from the head of the queue: the pairs skipped so far come back."""
        self._pending_note = None
        self._restart()

    def action_move(self, delta: int) -> None:
        q = self.pair_queue
        if not q.ids:
            return
        if delta > 0 and q.index + delta >= len(q.ids):
            if q.wrap_offered and not q.more(self.store, self.state.pair_filter):
                self._advance()
                return
            q.more(self.store, self.state.pair_filter)
        index = max(0, min(len(q.ids) - 1, q.index + delta))
        if index == q.index:
            where = "last" if delta > 0 else "first"
            self.notify(f"This is the {where} pair of the queue ({len(q.ids)}); / changes the filter.")
            return
        self._pending_note = None
        q.index = index
        self.show_current()

    def _undone(self, target: str, verdicts: int, action: str | None = None) -> None:
        """After an undo or redo of an action on ``target``: show its pair (a step mark
        targets "<uid>#<step>", a SUSPECT clear a rollout: the pair on screen stays);
        ``verdicts``: the session's change."""
        if "#" in target or action in ROLLOUT_ACTIONS:
            self.show_current()
            return
        self.state.rate.verdicts = max(0, self.state.rate.verdicts + verdicts)
        self.pair_queue.goto(target)
        self.show_current()

    def action_undo(self) -> None:
        ev = self.store.undo()
        self.pair_queue.verdicts_seen += 1
        if ev is None:
            self.notify("Nothing to undo.", severity="warning")
            return
        self.notify(f"Undid {ev.value or 'action'} on {ev.target[:24]}", markup=False)
        self._undone(ev.target, -1 if ev.value == "verdict" else 0, ev.value)

    def action_redo(self) -> None:
        ev = self.store.redo()
        self.pair_queue.verdicts_seen += 1
        if ev is None:
            self.notify("Nothing to redo.", severity="warning")
            return
        self.notify(f"Redid {ev.value or 'action'} on {ev.target[:24]}", markup=False)
        self._undone(ev.target, 1 if ev.value == "verdict" else 0, ev.value)

    def action_open_side(self, i: int) -> None:
        row = self.sides[i] if self.pair else None
        if row is not None:
            self.studio.open_rollout(row.uid)

    def action_toggle_goal(self) -> None:
        self.query_one(PairGoal).toggle()

    def action_cycle_view(self) -> None:
        """unified → split → A↔B; the choice is kept for the next run."""
        self.state.diff_view = NEXT_VIEW[self.state.diff_view]
        self.studio.remember(diff_view=self.state.diff_view)
        self._apply_view()
        view = self.shown
        if view is not None:
            self.shown = replace(view, diff_view=self.state.diff_view, progress=self._progress())
            return
        # Starting over: the pair drawn stays until the queue answers; its diffs follow the layout.
        empty = PairView(None, self.state.pair_filter, self.state.diff_view, self._progress())
        self._show_diffs(empty)
        self.query_one(PairProgress).show(empty)

    def team_filter(self, f: PairFilter) -> PairFilter:
        """``f`` as this labeler's queue (the store's overlap and adjudicator, or --overlap)."""
        return self.store.team_filter(f, self.state.overlap)

    def action_filter(self) -> None:
        def check(text: str) -> str | None:
            try:
                parse_filter(text)
            except FilterError as exc:
                return str(exc)
            return None

        def done(text: str | None) -> None:
            if text is None:
                return
            self.state.pair_filter = self.team_filter(parse_filter(text))
            self._restart()

        self.app.push_screen(
            PromptModal("Filter the queue", filter_text(self.state.pair_filter), FILTER_HINT, validate=check), done
        )

    def action_note(self) -> None:
        pair = self.pair
        if pair is None:
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            if pair.verdict:
                self.store.set_verdict(pair.pair_id, pair.verdict, text or None)
                self.notify("Note saved.")
            else:
                self._pending_note = text or None
            self.show_current()

        self.app.push_screen(
            PromptModal(
                "Note on this pair",
                pair.note or self._pending_note or "",
                "saved with the verdict (enter to save, escape to cancel)",
            ),
            done,
        )

    def action_tag(self) -> None:
        if self.pair is None:
            return
        pid = self.pair.pair_id

        def done(text: str | None) -> None:
            if text:
                for tag in text.replace(",", " ").split():
                    self.store.tag_pair(pid, tag)
                self.pair_queue.verdicts_seen += 1  # a tag filter's figures change too
                self.show_current()

        self.app.push_screen(PromptModal("Tag this pair (find it later with / tag:NAME)"), done)
