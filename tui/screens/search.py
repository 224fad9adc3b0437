"""``ctrl+f`` from any screen: search every rollout's messages, tool calls, outputs and patches
(labeling/search.py); enter on a hit opens the Rollout screen at its step.

A modal over the screen it was opened from: the query line, one line of status (or the one
line saying what is wrong with the query), and the hits, two lines each (where, then the
snippet). The search runs in a thread worker, one at a time. Snippets come neutralised
from the store and are drawn as `Text` (never parsed as markup).
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from agent.untrusted import neutralise_line
from labeling.errors import StoreError
from labeling.records import SearchHit
from labeling.search import SearchHits
from labeling.search_query import SearchError
from labeling.store import LabelStore
from tui.widgets.outcome_badge import cell_style
from tui.words import hits_summary

LIMIT = 200
HINT = 'words  "a phrase"  a OR b  -not  pre*  model: task: verdict: in:args|output|message|patch'


def hit_option(h: SearchHit, index: int) -> Option:
    """A hit as two lines: rollout, step, where and state; then its snippet."""
    t = Text(no_wrap=True, overflow="ellipsis", end="")
    t.append(neutralise_line(h.rollout_id, markup=False), style="bold")
    t.append(f"  {h.at}  ")
    t.append(h.place, style="cyan")
    label = h.state.label
    t.append(f"  {label}", style=cell_style(label))
    t.append(f"  {neutralise_line(h.batch_id, markup=False)}", style="dim")
    t.append("\n  ")
    t.append(h.snippet, style="italic")
    return Option(t, id=str(index))


class SearchModal(ModalScreen[SearchHit | None]):
    """Type, enter to search; ↓ or tab to the hits; enter opens one; escape closes."""

    BINDINGS = [Binding("escape", "close", "Close")]
    DEFAULT_CSS = """
    SearchModal { align: center middle; }
    SearchModal > Vertical { width: 100%; height: 100%; border: round $accent; background: $surface;
        padding: 0 1; }
    SearchModal #search-status { color: $text-muted; width: 1fr; height: 1; }
    SearchModal #search-status.-error { color: $error; }
    SearchModal OptionList { height: 1fr; border: none; padding: 0; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, store: LabelStore, line: str = "") -> None:
        super().__init__()
        self.store = store
        self.line = line
        self.hits: list[SearchHit] = []
        self.searching = False

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Search rollouts"
            yield Input(self.line, placeholder=HINT, id="search-input")
            yield Label("enter searches · ↓ to the hits · escape closes", id="search-status")
            yield OptionList(id="search-hits")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        if self.line.strip():
            self.search(self.line)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search(event.value)

    def on_key(self, event) -> None:
        hits = self.query_one(OptionList)
        if event.key == "down" and self.query_one(Input).has_focus and hits.option_count:
            event.stop()
            hits.focus()
            hits.highlighted = 0

    def search(self, line: str) -> None:
        self.line = line
        self.searching = True
        self._status("searching…")
        self._run(line)

    @work(thread=True, exclusive=True, group="search")
    def _run(self, line: str) -> None:
        try:
            hits: SearchHits | str = self.store.search(line, limit=LIMIT)
        except (SearchError, StoreError) as exc:
            hits = str(exc)
        except Exception as exc:  # a store or trace problem: one red line, never the studio's end
            hits = f"search failed: {type(exc).__name__}: {exc}"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, line, hits)

    def _show(self, line: str, hits: SearchHits | str) -> None:
        self.searching = False
        options = self.query_one(OptionList)
        if isinstance(hits, str):  # the query is malformed: say so, keep the last hits
            self._status(neutralise_line(hits, markup=False), error=True)
            return
        self.hits = hits
        options.clear_options()
        options.add_options([hit_option(h, i) for i, h in enumerate(hits)])
        said = hits_summary(len(hits), LIMIT, unchecked=hits.unchecked, checked=hits.checked)
        if hits.partial_index is not None:  # the index is still filling (labeling/search_fill.py)
            said += f" · {hits.partial_index.words}"
        tail = " · enter opens one · escape closes" if hits else ""
        self._status(f"{said}{tail}")

    def _status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#search-status", Label)
        status.update(Text(text))
        status.set_class(error, "-error")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.hits[int(event.option.id or 0)])

    def action_close(self) -> None:
        self.dismiss(None)
