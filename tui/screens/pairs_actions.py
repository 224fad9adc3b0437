"""The Pairs screen's actions: verdicts and skips that advance the queue, moving, undo/redo,
opening a side, the diff layout, and the filter, note and tag prompts.

Mixed into `tui.screens.pairs.PairsScreen`; every write goes through the store and is
committed when the call returns.
"""

from __future__ import annotations

from labeling.queue import queue_length
from tui.screens.pairs_filter import FILTER_HINT, FilterError, filter_text, parse_filter
from tui.screens.pairs_host import PairsHost
from tui.widgets.prompt import PromptModal

# Human-log actions on a rollout, not a pair (a SUSPECT clear, tui/screens/rollout.py): undo shows the pair on screen.
ROLLOUT_ACTIONS = ("clear", "unclear")
NEXT_VIEW = {"unified": "split", "split": "ab", "ab": "unified"}


class PairActions(PairsHost):
    """The keys of the Pairs screen (its ``BINDINGS``) and what they do to the queue."""

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
            left = queue_length(self.store.counts(self.state.pair_filter), self.state.pair_filter)
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
        if "#" not in ev.target and ev.value not in ROLLOUT_ACTIONS:  # a pair (step marks: "<uid>#<step>")
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
        if "#" not in ev.target and ev.value not in ROLLOUT_ACTIONS:
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
