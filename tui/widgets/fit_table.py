"""Fit a DataTable to its width by cutting its free-text columns first.

DataTable sizes each column to its widest cell, so a long argument string or id pushes
the status, result and reason columns off the right edge. `fit_columns` gives every
other column its natural width and the named free-text columns what is left, cutting
them in the order given (each down to its minimum) before anything else is cut. Cells
in those columns should be `cut_text(...)` so the cut shows as "…".
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from agent.untrusted import neutralise


def cut_text(value: str | Text, style: str = "") -> Text:
    # A value from a trace (an id, a model name): its escape codes are shown as text.
    text = value.copy() if isinstance(value, Text) else Text(neutralise(value, markup=False), style=style)
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


class MiddleCut:
    """A cell cut in the middle when its column is narrow, keeping the tail: two batch ids
    of one day differ at their end (``20261206-0…-a1b2``, never ``20261206-05…`` twice)."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text.plain

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MiddleCut) and self.text.plain == other.text.plain and self.text.style == other.text.style
        )

    def __hash__(self) -> int:
        return hash(self.text.plain)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.text.cell_len, self.text.cell_len)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield middle_cut(self.text, options.max_width)


def middle_cut(text: Text, width: int) -> Text:
    if text.cell_len <= width or width < 3 or len(text) != text.cell_len:
        return text
    tail = (width - 1) // 2
    out = text[: width - 1 - tail] + Text("…") + text[len(text) - tail :]
    out.no_wrap, out.overflow = True, "ellipsis"
    return out


def _natural(table: DataTable, key: ColumnKey) -> int:
    """The column's widest cell (measured here: the table's own figure lags until idle)."""
    col = table.columns[key]
    best = col.label.cell_len
    for value in table.get_column(key):
        if isinstance(value, Text):
            best = max(best, max((len(line) for line in value.plain.split("\n")), default=0))
        else:
            best = max(best, Text(str(value)).cell_len)
    return best


def fit_columns(table: DataTable, flexible: list[tuple[str, int]]) -> None:
    """``flexible``: (column key, minimum width), cut first to last."""
    width = table.scrollable_content_region.width
    if width <= 0 or not table.columns:
        return
    pad = 2 * table.cell_padding
    cols = table.columns
    keys = [(ColumnKey(k), least) for k, least in flexible if ColumnKey(k) in cols]
    natural = {k: _natural(table, k) for k in cols}
    over = sum(w + pad for w in natural.values()) - width
    for key, least in keys:
        take = max(0, min(over, natural[key] - least)) if over > 0 else 0
        over -= take
        cols[key].auto_width = not take
        cols[key].width = natural[key] - take
    table._require_update_dimensions = True  # no public hook: the table re-measures on refresh
    table.refresh()
