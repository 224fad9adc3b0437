"""ConversationView: every message of a rollout in order, line-rendered (render_line).

The system and task prompts start folded, so do long tool results; `space` folds or
unfolds the message under the cursor, `j`/`k` move between messages. Rows come from
`tui.conversation_model` by offset, so only what is on screen is cut and styled.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, get_current_worker

from tui.conversation_model import Block, ConversationLayout
from tui.live_trace import Turn

ROLE_STYLES = {
    "system": Style(color="#808080", bold=True),
    "user": Style(color="#d7af5f", bold=True),
    "assistant": Style(color="#5fafff", bold=True),
    "tool": Style(color="#5fd787", bold=True),
}
KIND_STYLES = {
    "reasoning": Style(color="#af87d7", italic=True),
    "text": Style(),
    "call": Style(color="#5fd7d7"),
    "hint": Style(color="#808080", italic=True),
    "gap": Style(),
}


class ConversationView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    ConversationView { height: 1fr; }
    """
    BINDINGS = [
        Binding("space", "toggle_fold", "Fold"),
        Binding("j", "move(1)", "Next msg"),
        Binding("k", "move(-1)", "Prev msg"),
    ]

    class StepChosen(Message):
        """The cursor moved to a message of this step (None: before the first step)."""

        def __init__(self, step: int | None) -> None:
            super().__init__()
            self.step = step

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = ConversationLayout()
        self.cursor = 0

    def set_turns(self, turns: list[Turn], *, reset: bool = False) -> None:
        """Show these turns; appended turns are laid out alone (a live rollout grows)."""
        if reset:
            self.model = ConversationLayout()
            self.model.width = max(1, self.size.width or 80)
            self.cursor = 0
        at_end = self.scroll_offset.y >= self.max_scroll_y
        known = len(self.model.blocks)
        self.model.extend(turns)
        self._resized()
        if not reset and known and at_end and len(self.model.blocks) > known:
            self.scroll_end(animate=False)

    def _resized(self) -> None:
        self.virtual_size = Size(self.model.width, self.model.height)
        self.refresh()

    def on_resize(self) -> None:
        width = max(1, self.scrollable_content_region.width)
        if width != self.model.width:
            top = self.model.block_at(self.scroll_offset.y) if self.model.blocks else 0
            self.model.relayout(width)
            self._resized()
            if self.model.blocks:
                self.scroll_to(y=self.model.starts[top], animate=False)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        text, kind, index = self.model.row(self.scroll_offset.y + y)
        if kind == "header":
            style = ROLE_STYLES.get(self.model.blocks[index].turn.role, Style(bold=True))
            if index == self.cursor:
                style += Style(reverse=True)
        else:
            style = KIND_STYLES.get(kind, Style())
        return Strip([Segment(text, style)]).crop_extend(0, width, Style())

    # ------------------------------------------------------------------ actions
    def show_step(self, step: int | None) -> None:
        """Put the first message of ``step`` at the top (with the cursor on it)."""
        index = self.model.first_of_step(step) if step is not None else None
        if index is not None:
            self._go(index)

    def _go(self, index: int) -> None:
        if not self.model.blocks:
            return
        self.cursor = max(0, min(index, len(self.model.blocks) - 1))
        self.scroll_to(y=self.model.starts[self.cursor], animate=False)
        self.refresh()
        self.post_message(self.StepChosen(self.model.blocks[self.cursor].turn.step))

    def _cursor_shown(self) -> bool:
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        start = self.model.starts[self.cursor]
        end = start + self.model.blocks[self.cursor].rows[-1]
        return start < top + height and end > top

    def action_move(self, delta: int) -> None:
        if not self.model.blocks:
            return
        if not self._cursor_shown():  # scrolled away: move from what is on screen
            self.cursor = self.model.block_at(self.scroll_offset.y) + (1 if delta < 0 else 0)
        self._go(self.cursor + delta)

    def action_toggle_fold(self) -> None:
        if not self.model.blocks:
            return
        if not self._cursor_shown():
            self.cursor = self.model.block_at(self.scroll_offset.y)
        block = self.model.blocks[self.cursor]
        if block.folded and block.turn.source is not None:  # a big content: read in a worker
            if not block.reading:
                block.reading = True
                self.refresh()
                at, width = self.cursor, self.model.width  # as pressed: the cursor may move meanwhile
                self.run_worker(
                    lambda: self._read_unfolded(at, block, width),
                    thread=True,
                    group="unfold",
                    exit_on_error=False,
                )
            return
        self.model.toggle(self.cursor)
        self._shown_at(self.cursor)

    def _shown_at(self, index: int) -> None:
        self._resized()
        if self.model.starts[index] < self.scroll_offset.y:
            self.scroll_to(y=self.model.starts[index], animate=False)

    def _read_unfolded(self, index: int, block: Block, width: int) -> None:
        worker: Worker = get_current_worker()
        try:
            new = block.unfolded(width)
        except Exception as exc:  # the trace cut or rewritten meanwhile: said, and space tries again
            self.app.call_from_thread(self._unfold_failed, block, exc)
            return
        if worker.is_cancelled:
            block.reading = False  # (a flag: set from here, read when drawn)
            return
        self.app.call_from_thread(self._unfolded, index, block, new)

    def _unfolded(self, index: int, old: Block, new: Block) -> None:
        old.reading = False
        if self.model.replace(index, old, new):
            self._shown_at(index)
        else:
            self.refresh()  # another rollout is shown: nothing to swap, "reading…" goes

    def _unfold_failed(self, old: Block, exc: Exception) -> None:
        old.reading = False
        self.refresh()
        self.notify(f"could not read the message: {exc}", severity="error")
