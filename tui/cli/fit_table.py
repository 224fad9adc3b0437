"""Command-line tables that fit the terminal: one line per row on a narrow one (80 columns).

Each column says how it gives way when the rows are wider than the terminal: columns with
``give`` 0 (a pair id, a verdict) are always whole; the others, lowest ``give`` first, are
cut with an ellipsis down to ``min_width`` and then left out, one column at a time, so a
narrow terminal loses the least useful column entirely before the next one is touched.
A ``wrap`` column (a note) folds onto more lines instead once the terminal has ``WIDE``
columns, so a wide terminal shows all of it as the boxed tables did. Headers switch to their
short form when the full ones do not fit. Used by `pairs list`, `steps list` and `stats`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

UNFITTED = 100_000  # output to a pipe or a file: no terminal to fit, every column whole
WIDE = 120  # from this many columns a wrap column folds (whole text) instead of being cut
GAP = 2  # a borderless table: one space of padding each side between columns


@dataclass(frozen=True)
class Col:
    header: str
    short: str = ""  # header used when the table has to shrink (default: header)
    give: int = 0  # 0: always whole; 1 gives way first, then 2, ...
    min_width: int = 0  # cut down to this (with "…") before being left out
    justify: str = "left"
    wrap: bool = False  # folds onto more lines on a WIDE terminal instead of being cut
    middle: bool = False  # cut in the middle, not at the end: ids that differ at their end stay apart

    def head(self, short: bool) -> str:
        return (self.short or self.header) if short else self.header


@dataclass(frozen=True)
class Fit:
    """The layout chosen for a width: each column's width (None: left out), short headers or not."""

    widths: list[int | None]
    short: bool
    folded: bool  # a wrap column folds (the table may use more than one line per row)

    def left_out(self, cols: Sequence[Col]) -> list[str]:
        return [c.header for c, w in zip(cols, self.widths, strict=True) if w is None]


def cell_width(cell: str) -> int:
    """Width on screen of a markup cell (its widest line)."""
    return max((line.cell_len for line in Text.from_markup(cell).split()), default=0)


def fit(cols: Sequence[Col], rows: Sequence[Sequence[str]], width: int) -> Fit:
    """Choose column widths so that every row is one line of at most ``width`` cells."""
    data = [max((cell_width(r[i]) for r in rows), default=0) for i in range(len(cols))]
    widths: list[int | None] = [max(d, cell_width(c.header)) for c, d in zip(cols, data, strict=True)]
    if _total(widths) <= width:  # everything fits as it is
        return Fit(widths, short=False, folded=False)
    widths = [max(d, cell_width(c.head(True))) for c, d in zip(cols, data, strict=True)]
    folded = width >= WIDE and any(c.wrap for c in cols)
    if folded:  # a wrap column needs only its minimum here; it gets what is left over below
        widths = [min(w, c.min_width) if c.wrap and w is not None else w for c, w in zip(cols, widths, strict=True)]
    excess = _total(widths) - width
    for i in sorted((i for i, c in enumerate(cols) if c.give), key=lambda i: cols[i].give):
        if excess <= 0:
            break
        w = widths[i]
        assert w is not None
        if w - cols[i].min_width >= excess:  # cutting this column is enough
            widths[i] = w - excess
            excess = 0
            break
        widths[i] = None  # left out; if that frees more than needed, it may come back cut
        excess -= w + GAP
        if excess < 0 and -excess - GAP >= max(cols[i].min_width, 1):
            widths[i] = -excess - GAP
            excess = 0
    if folded:
        for i, c in enumerate(cols):
            w = widths[i]
            if c.wrap and w is not None:  # the room left over, up to its longest line (the rest folds)
                widths[i] = max(w, min(data[i], w + width - _total(widths)))
    return Fit(widths, short=True, folded=folded)


def _total(widths: Sequence[int | None]) -> int:
    kept = [w for w in widths if w is not None]
    return sum(kept) + GAP * max(len(kept) - 1, 0)


def fit_table(cols: Sequence[Col], rows: Sequence[Sequence[str]], width: int) -> tuple[Table, Fit]:
    """A borderless table of ``rows`` (markup cells) laid out by :func:`fit` for ``width``."""
    f = fit(cols, rows, width)
    t = Table(box=None, pad_edge=False, padding=(0, 1), show_edge=False)
    kept = [i for i, w in enumerate(f.widths) if w is not None]
    for i in kept:
        c = cols[i]
        fold = f.folded and c.wrap
        t.add_column(
            c.head(f.short),
            width=f.widths[i],
            justify=c.justify,  # type: ignore[arg-type]
            no_wrap=not fold,
            overflow="fold" if fold else "ellipsis",
        )
    for r in rows:
        t.add_row(*(_cell(r[i], cols[i], f.widths[i], f.folded) for i in kept))  # type: ignore[arg-type]
    return t, f


def _cell(cell: str, col: Col, width: int, folded: bool) -> str | Text:
    if folded and col.wrap:
        return cell
    cell = cell.replace("\n", " ")
    if not col.middle or cell_width(cell) <= width or width < 3:
        return cell
    text = Text.from_markup(cell)  # "django__django-11099" in 12 -> "django…11099"
    tail = (width - 1) // 2
    return text[: width - 1 - tail] + Text("…") + text[len(text) - tail :]


def table_width(console: Console) -> int:
    """The width to fit to: the terminal's, or ``COLUMNS`` when set; output to a pipe or a
    file is not a terminal and is not cut to one (``| grep`` keeps every column)."""
    if console.is_terminal or os.environ.get("COLUMNS", "").strip():
        return console.width
    return UNFITTED


def print_table(console: Console, cols: Sequence[Col], rows: Sequence[Sequence[str]]) -> Fit:
    """Fit ``rows`` to where the console writes and print them; returns the layout chosen."""
    width = table_width(console)
    t, f = fit_table(cols, rows, width)
    if width == UNFITTED:  # Rich never prints wider than its console: one as wide as the table
        Console(file=console.file, width=max(_total(f.widths), 1), highlight=False, soft_wrap=True).print(t)
    else:
        console.print(t)
    return f
