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

import shlex
from collections import OrderedDict

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from labeling.records import CONTRASTS, PAIR_FLAGS, VERDICTS, PairFilter, PairRow, RolloutRow
from labeling.store import NotFound
from tui.ab_model import ab_patch_for
from tui.diff_model import diff_model_for
from tui.screens.base import StudioScreen
from tui.screens.pairs_queue import LOW_WATER, PAGE, QueueFlow, _key, _queue_length
from tui.screens.pairs_team import TeamFlow, shown_verdict, votes_line
from tui.widgets.diff_view import DiffView, prerender
from tui.widgets.outcome_badge import OutcomeBadge
from tui.widgets.prompt import PromptModal

FILTER_HINT = (
    "task:ID  flag:NAME|noisy|clean  verdict:unlabeled|labeled|all|confirm|flip|discard\n"
    "tag:T  batch:ID  contrast:pass_fail|efficiency|step  other words search ids/notes\n"
    "disagree: the pairs whose labelers' verdicts differ (to adjudicate)\n"
    "empty: the unlabeled queue · enter applies · escape keeps the current filter"
)
FILTER_VALUES = {
    "flag": (*PAIR_FLAGS, "noisy", "clean"),
    "verdict": ("unlabeled", "labeled", "all", *VERDICTS),
    "contrast": CONTRASTS,
}
VIEW_NAMES = {"unified": "unified", "split": "split", "ab": "A↔B"}
NEXT_VIEW = {"unified": "split", "split": "ab", "ab": "unified"}
AB_SIGNS = ("A", "B")

VERDICT_STYLE = {"confirm": "bold green", "flip": "bold yellow", "discard": "bold red"}


class FilterError(ValueError):
    """A filter word with a value the queue does not know (named in the message)."""


def parse_filter(text: str) -> PairFilter:
    fields: dict[str, str | bool | None] = {"verdict": "unlabeled"}
    free: list[str] = []
    disagree = False
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    for w in words:
        if w == "disagree":  # the adjudication queue (team review): every verdict state unless asked
            disagree = True
            continue
        key, sep, value = w.partition(":")
        if sep and key in ("task", "flag", "verdict", "tag", "batch", "contrast"):
            known = FILTER_VALUES.get(key)
            if known is not None and value not in known:
                raise FilterError(f"unknown {key} “{value}”: one of {', '.join(known)}")
            name = {"task": "task_id", "batch": "batch_id"}.get(key, key)
            fields[name] = None if (key == "verdict" and value == "all") else value
        else:
            free.append(w)
    if free:
        fields["text"] = " ".join(free)
    if disagree:
        fields["disagree"] = True
        if not any(w.startswith("verdict:") for w in words):
            fields["verdict"] = None
    return PairFilter.model_validate(fields)


def _short_args(arguments: str, limit: int = 60) -> str:
    flat = " ".join(arguments.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def filter_text(f: PairFilter) -> str:
    parts = ["disagree"] if f.disagree else []
    if f.verdict != (None if f.disagree else "unlabeled"):
        parts.append(f"verdict:{f.verdict or 'all'}")
    for key, name in (
        ("task", "task_id"),
        ("flag", "flag"),
        ("tag", "tag"),
        ("batch", "batch_id"),
        ("contrast", "contrast"),
    ):
        if getattr(f, name):
            parts.append(f"{key}:{getattr(f, name)}")
    if f.text:
        parts.append(f.text)
    return " ".join(parts)


class PairsScreen(QueueFlow, TeamFlow, StudioScreen):
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
        try:
            self.pair = self.store.pair(pid)
        except NotFound:
            self.queue.pop(self.index)
            self.show_current()
            return
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

    # ------------------------------------------------------------------ rendering
    def _render_empty(self) -> None:
        f = filter_text(self.state.pair_filter)
        if self._load_error:
            msg = Text(f"Could not load the review queue: {self._load_error}", style="bold red")
        elif not self._loaded:
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
        self.query_one("#pair-head", Static).update(msg)
        for side in ("a", "b"):
            self.query_one(f"#badge-{side}", OutcomeBadge).update("")
            self.query_one(f"#summary-{side}", Static).update("")
            self.query_one(f"#diff-{side}", DiffView).set_patch("", empty_message="")
        self._render_progress()

    def _render_pair(self, diffs: bool = True) -> None:
        pair = self.pair
        assert pair is not None
        # Two lines that never wrap: what must stay visible at 80 columns comes first
        # (position, task, flags; the verdict), details after, cut at the edge.
        head = Text(no_wrap=True, overflow="ellipsis")
        pos, total = self._position()
        shown = "…" if pos is None else (pos + 1 if pos >= 0 else "–")
        head.append(f" Pair {shown}/{'…' if total is None else total} ", style="bold reverse")
        if self._gone or pair.stale:
            head.append(
                " STALE: pruned, a verdict key skips it " if self._gone else " STALE ",
                style="bold black on magenta",
            )
        head.append(f" {pair.task_id} ", style="bold")
        if pair.flags:
            for fl in pair.flags:
                head.append(f" {fl} ", style="bold black on yellow")
                head.append(" ")
        else:
            head.append("no flags ", style="green")
        head.append(f"· {pair.contrast}")
        if pair.kind == "step" and pair.at_step:
            head.append(f" at step {pair.at_step}")
        head.append(" · auto prefers ", style="")
        head.append("A", style="bold green")
        head.append(f" (decided by {pair.decided_by or '—'})")
        head.append("\n")
        if (team := votes_line(pair, self.state.pair_filter, self.state.labeler)) is not None:
            head.append_text(team)  # several labelers' verdicts (tui/screens/pairs_team.py)
        elif pair.verdict:
            head.append(" verdict ", style="dim")
            head.append(pair.verdict.upper(), style=VERDICT_STYLE[pair.verdict])
            if pair.verdict == "flip":
                head.append(" → B preferred", style="yellow")
            head.append(f"  by {pair.labeler}" if pair.labeler else "", style="dim")
        else:
            head.append(" unlabeled", style="bold")
            head.append(" · c confirm  f flip  d discard", style="dim")
        if pair.note:
            head.append(f"   note: {pair.note}", style="italic")
        if self._pending_note:
            head.append(f"   note (saved with your verdict): {self._pending_note}", style="italic yellow")
        if pair.tags:
            head.append("   tags: " + ", ".join(pair.tags), style="cyan")
        head.append(f"   {pair.pair_id}", style="dim")
        self.query_one("#pair-head", Static).update(head, layout=False)  # fixed height: no re-layout
        prefix = self.query_one("#pair-prefix", Static)
        prefix.display = pair.kind == "step"
        if pair.kind == "step":
            at = pair.at_step or 0
            prefix.update(
                Text.assemble(
                    (f" shared prefix: {pair.prefix_messages or 0} messages", "bold"),
                    (f", steps 1–{at - 1} (collapsed: identical on both sides)" if at > 1 else " (collapsed)", "dim"),
                    ("   diverges at ", ""),
                    (f"step {at}", "bold black on yellow"),
                    ("   each side's next action is highlighted below", "dim"),
                )
            )

        verdict = shown_verdict(pair, self.state.pair_filter)  # a team's disagreement: none yet
        pref = {"flip": 1, "discard": None}.get(verdict or "", 0)
        for i, (side, row) in enumerate(zip("ab", self.sides)):
            if pref is None:
                role, style = "discarded", "red"
            elif i == pref:
                role, style = (
                    (
                        "preferred (flipped)"
                        if verdict == "flip"
                        else "preferred (auto)"
                        if not verdict
                        else "preferred"
                    ),
                    "bold green",
                )
            else:
                role, style = "rejected", "dim"
            self.query_one(f"#badge-{side}", OutcomeBadge).show(side.upper(), row, role, style)
            summary = Text((row.summary or "(no final summary)") if row else "", overflow="ellipsis")
            if pair.kind == "step" and row is not None:
                summary = self._divergent_action(row, pair.at_step or 0) + "\n" + summary
            self.query_one(f"#summary-{side}", Static).update(summary, layout=False)
        if diffs:
            self._show_diffs()
        self._render_progress()

    def _show_diffs(self) -> None:
        """Hand the on-screen pair's patches to the views of the current layout (only
        those: a hidden view is given its patch when the layout changes to it)."""
        a, b = self.sides if self.pair else (None, None)
        if self.state.diff_view == "ab":
            view = self.query_one("#diff-ab", DiffView)
            if a is None or b is None:
                view.set_patch("", empty_message="")
                return
            view.border_title = f"A {a.uid}  ◀ only in A │ only in B ▶  B {b.uid}"
            view.set_patch(
                ab_patch_for(a.patch, b.patch), empty_message="(A and B leave every file the same: identical fixes)"
            )
            return
        # The hidden A↔B view holds nothing (and so counts as ready) until it is shown.
        self.query_one("#diff-ab", DiffView).set_patch("", empty_message="")
        for side, row in zip("ab", (a, b)):
            view = self.query_one(f"#diff-{side}", DiffView)
            view.split = self.state.diff_view == "split"
            view.border_title = f"{side.upper()}  {row.uid}  (source │ {side.upper()})" if row else side.upper()
            view.set_patch(row.patch if row else "", empty_message="(no changes: empty patch)")

    def _apply_view(self) -> None:
        mode = self.state.diff_view
        diffs = self.query_one("#diffs", Horizontal)
        diffs.display = mode != "ab"
        diffs.set_class(mode == "split", "-split")
        self.query_one("#diff-ab", DiffView).display = mode == "ab"

    def _divergent_action(self, row: RolloutRow, at_step: int) -> Text:
        """The next assistant action after the shared prefix: what this pair contrasts."""
        step = next((st for st in self.store.steps(row.uid) if st.step == at_step), None)
        calls = ", ".join(f"{c.name}({_short_args(c.arguments)})" for c in step.calls) if step else ""
        return Text.assemble(
            (f"step {at_step} ▶ ", "bold black on yellow"),
            (calls or "(no tool call: answered in text)", "bold yellow"),
            overflow="ellipsis",
        )

    def _render_progress(self) -> None:
        c = self.store.counts()
        rate = self.state.rate.per_hour()
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" labeled {c.labeled}", style="bold")
        t.append(f" · remaining {c.remaining}")
        if (mine := self._waiting_for_me()) is not None:
            t.append(f" · yours {mine}", style="bold")  # team review: pairs still wanting your verdict
        t.append(f"   confirm {c.confirm} · flip {c.flip} · discard {c.discard}", style="dim")
        t.append(f"   this session {self.state.rate.verdicts}")
        t.append(f" ({rate:.0f}/h)" if rate else "", style="dim")
        f = filter_text(self.state.pair_filter)
        t.append(f"   filter: {f}" if f else "   queue: unlabeled", style="cyan")
        t.append("   view: " + VIEW_NAMES[self.state.diff_view] + " (v)", style="dim")
        self.query_one("#pair-progress", Static).update(t, layout=False)

    # ------------------------------------------------------------------ actions
    def action_verdict(self, verdict: str) -> None:
        if self.pair is None:
            return
        if self._gone:
            self.notify("This pair was pruned by a rebuild (stale): no verdict recorded.", severity="warning")
            self._advance()
            return
        note = self._pending_note
        self.store.set_verdict(self.pair.pair_id, verdict, note)  # committed on return
        self._verdicts_seen += 1
        self._pending_note = None
        self.state.rate.verdicts += 1
        self._advance()

    def _advance(self) -> None:
        if self.index + 1 >= len(self.queue):
            self._more()
        if self.index + 1 >= len(self.queue) and self._wrap_offered:
            self._wrap_offered = False
            self.action_wrap()
            return
        self._drop_done_ahead()  # team review: others brought it to K meanwhile
        if self.index + 1 < len(self.queue):
            self.index += 1
        else:
            left = _queue_length(self.store.counts(self.state.pair_filter), self.state.pair_filter)
            overall = self.store.counts().remaining
            if left and self.state.pair_filter.verdict == "unlabeled":
                msg = f"End of this queue: {left} pair(s) you skipped are still in it. s or n again wraps to them."
                self._wrap_offered = True
            else:
                msg = f"End of this queue. {overall} pair(s) left unlabeled overall" + (
                    " (/ to change the filter)." if overall else "."
                )
            self.notify(msg, title="Queue done")
        self.show_current()

    def action_skip(self) -> None:
        self._pending_note = None
        self._advance()

    def action_move(self, delta: int) -> None:
        if not self.queue:
            return
        if delta > 0 and self.index + delta >= len(self.queue):
            if self._wrap_offered and not self._more():
                self._advance()
                return
            self._more()
        index = max(0, min(len(self.queue) - 1, self.index + delta))
        if index == self.index:
            where = "last" if delta > 0 else "first"
            self.notify(f"This is the {where} pair of the queue ({len(self.queue)}); / changes the filter.")
            return
        self._pending_note = None
        self.index = index
        self.show_current()

    def _goto_pair(self, pid: str) -> None:
        if pid not in self.queue:
            self.queue.insert(self.index, pid)
        self.index = self.queue.index(pid)
        self.show_current()

    def action_undo(self) -> None:
        ev = self.store.undo()
        self._verdicts_seen += 1
        if ev is None:
            self.notify("Nothing to undo.", severity="warning")
            return
        self.notify(f"Undid {ev.value or 'action'} on {ev.target[:24]}", markup=False)
        if "#" not in ev.target:  # a pair (step marks target "<uid>#<step>")
            if ev.value == "verdict" and self.state.rate.verdicts:
                self.state.rate.verdicts -= 1
            self._goto_pair(ev.target)
        else:
            self.show_current()

    def action_redo(self) -> None:
        ev = self.store.redo()
        self._verdicts_seen += 1
        if ev is None:
            self.notify("Nothing to redo.", severity="warning")
            return
        self.notify(f"Redid {ev.value or 'action'} on {ev.target[:24]}", markup=False)
        if "#" not in ev.target:
            if ev.value == "verdict":
                self.state.rate.verdicts += 1
            self._goto_pair(ev.target)
        else:
            self.show_current()

    def action_open_side(self, i: int) -> None:
        row = self.sides[i] if self.pair else None
        if row is not None:
            self.studio.open_rollout(row.uid)

    def action_cycle_view(self) -> None:
        """unified → split → A↔B; the choice is kept for the next run."""
        self.state.diff_view = NEXT_VIEW[self.state.diff_view]
        self.studio.remember(diff_view=self.state.diff_view)
        self._apply_view()
        self._show_diffs()
        self._render_progress()

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
        if self.pair is None:
            return
        pair = self.pair

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
                self._verdicts_seen += 1  # a tag filter's figures change too
                self.show_current()

        self.app.push_screen(PromptModal("Tag this pair (find it later with / tag:NAME)"), done)
