"""The Pairs screen's rendering: the two-line header, the step pair's shared prefix, the A/B
cards, the diffs in the chosen layout (unified, split, A↔B) and the progress line.

Mixed into `tui.screens.pairs.PairsScreen`; header figures come from the queue
(tui/screens/pairs_queue.py), team verdicts from tui/screens/pairs_team.py.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import Horizontal
from textual.widgets import Static

from agent.untrusted import neutralise
from labeling.queue import ReviewFigures, counts_whole_queue, queue_length
from labeling.records import QueueCounts, RolloutRow
from tui.ab_model import ab_patch_for
from tui.screens.pairs_filter import filter_text
from tui.screens.pairs_host import PairsHost
from tui.screens.pairs_team import shown_verdict, votes_line
from tui.widgets.diff_view import DiffView
from tui.widgets.outcome_badge import OutcomeBadge

VIEW_NAMES = {"unified": "unified", "split": "split", "ab": "A↔B"}

VERDICT_STYLE = {"confirm": "bold green", "flip": "bold yellow", "discard": "bold red"}


def _short_args(arguments: str, limit: int = 60) -> str:
    flat = " ".join(arguments.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class PairRendering(PairsHost):
    """Draws the pair on screen (``pair``, ``sides``) into the widgets `PairsScreen.compose` made."""

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
        f = self.state.pair_filter
        figures, self._figures = self._figures, None  # read with the pair (show_current): its first render only
        if figures is not None and (figures.pair is None or figures.pair.pair_id != pair.pair_id):
            figures = None
        pos: int | None
        total: int | None
        if figures is not None and figures.position is not None and not self._gone:
            overall = figures.overall
            pos, total = figures.position, queue_length(figures.counts, f)
        else:
            overall = figures.overall if figures is not None else self.store.counts()  # the progress line's too
            pos, total = self._position(overall if counts_whole_queue(f) else None)
        shown = "…" if pos is None else (pos + 1 if pos >= 0 else "–")
        head.append(f" Pair {shown}/{'…' if total is None else total} ", style="bold reverse")
        if self._gone or pair.stale:
            head.append(
                " STALE: pruned, a verdict key skips it " if self._gone else " STALE ",
                style="bold black on magenta",
            )
        head.append(f" {neutralise(pair.task_id, markup=False)} ", style="bold")
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
            summary = Text(
                neutralise((row.summary or "(no final summary)") if row else "", markup=False), overflow="ellipsis"
            )
            if pair.kind == "step" and row is not None:
                summary = self._divergent_action(row, pair.at_step or 0) + "\n" + summary
            self.query_one(f"#summary-{side}", Static).update(summary, layout=False)
        if diffs:
            self._show_diffs()
        self._render_progress(overall, figures)

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

    def _render_progress(self, overall: QueueCounts | None = None, figures: ReviewFigures | None = None) -> None:
        c = overall or self.store.counts()
        mine = figures.labeler_queue if figures is not None else self._waiting_for_me()
        rate = self.state.rate.per_hour()
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" labeled {c.labeled}", style="bold")
        t.append(f" · remaining {c.remaining}")
        if mine is not None:
            t.append(f" · yours {mine}", style="bold")  # team review: pairs still wanting your verdict
        t.append(f"   confirm {c.confirm} · flip {c.flip} · discard {c.discard}", style="dim")
        t.append(f"   this session {self.state.rate.verdicts}")
        t.append(f" ({rate:.0f}/h)" if rate else "", style="dim")
        f = filter_text(self.state.pair_filter)
        t.append(f"   filter: {f}" if f else "   queue: unlabeled", style="cyan")
        t.append("   view: " + VIEW_NAMES[self.state.diff_view] + " (v)", style="dim")
        self.query_one("#pair-progress", Static).update(t, layout=False)
