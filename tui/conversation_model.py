"""The conversation laid out as screen lines, by offsets: what is off screen is never split,
wrapped or styled.

Each message is a block: a header row, then parts (reasoning, text, tool calls), each a
string with the offsets of its line starts and, per line, how many rows it wraps to at the
current width (cumulative, so a row is found by bisection). A folded part keeps the offsets
of its first few lines only and says how many more there are; the counting is str.count,
so a tool output of 100 MB folds in milliseconds. Plain code: no widgets.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from rich.cells import cell_len, get_character_cell_size

from tui.live_trace import Turn
from tui.words import count

FOLDED_LINES = 8  # a folded tool result shows this many lines
FOLD_OVER = 12  # tool results longer than this are folded at first
INDENT = "  "

# Control characters (C0 but newline, DEL, C1) shown as one visible mark: a trace is untrusted
# text and an escape sequence must never reach the terminal. Applied to the rows drawn only.
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # shown text ≠ the text
# Lone surrogates too (a trace's undecodable bytes): the terminal cannot encode them. One mark
# for one character, unlike agent/untrusted.py's escapes, so widths computed before drawing hold.
_SURROGATES = range(0xD800, 0xE000)
_CONTROL = {
    c: "\ufffd" for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI, *_SURROGATES] if c not in (0x0A, 0x09)
}
_CONTROL[0x09] = "    "


def printable(text: str) -> str:
    return text.translate(_CONTROL)


@dataclass
class Part:
    """One string shown as indented lines (kind names its style: reasoning, text, call, hint)."""

    kind: str
    text: str
    starts: list[int]  # offsets of the line starts shown
    more: int = 0  # lines not shown (folded); -1: not counted (a big content, ``size`` bytes)
    rows: list[int] = field(default_factory=list)  # cumulative wrapped rows per shown line
    width: int = 0  # the width ``rows`` was laid out at
    size: int = 0
    # line -> (its printable text, row starts): a line wrapped by cells (not one a character)
    cuts: dict[int, tuple[str, list[int]]] = field(default_factory=dict)

    def line(self, i: int) -> str:
        end = self.starts[i + 1] - 1 if i + 1 < len(self.starts) else len(self.text)
        if i + 1 == len(self.starts) and self.more:  # folded: the last shown line ends at its newline
            nl = self.text.find("\n", self.starts[i])
            end = nl if nl >= 0 else len(self.text)
        return self.text[self.starts[i] : end]

    def layout(self, width: int) -> int:
        if width != self.width or not self.rows:
            self.width = width
            self.cuts = {}
            self.rows = list(self._rows(max(1, width - len(INDENT))))
        return (self.rows[-1] if self.rows else 0) + (1 if self.more else 0)

    def _rows(self, w: int) -> list[int]:
        return list(accumulate(self._wraps(i, w) for i in range(len(self.starts))))

    def _wraps(self, i: int, w: int) -> int:
        """Rows line ``i`` takes at ``w`` cells: a character a cell (ASCII, no tab) is counted by
        length; other text by cells (CJK and most emoji take two), its row starts kept."""
        line = self.line(i)
        if line.isascii() and "\t" not in line:
            return max(1, -(-len(line) // w))
        # One row, drawn whole, nothing kept: most lines (a big output has millions). No character
        # takes more cells than its UTF-8 bytes (a wide one is 3 or 4) but a tab (4 cells, 1 byte):
        # a short line needs no measuring, which is slow.
        if len(line.encode("utf-8", "surrogatepass")) + 3 * line.count("\t") <= w:
            return 1
        shown = printable(line)
        if cell_len(shown) <= w:
            return 1
        self.cuts[i] = (shown, cuts := cell_cuts(shown, w))  # kept: a row slices it, never re-converts
        return len(cuts)

    def piece(self, i: int, wrap: int, w: int) -> str:
        """Row ``wrap`` of line ``i`` (laid out at ``w`` cells), printable."""
        laid = self.cuts.get(i)
        if laid is None:
            line = self.line(i)
            if line.isascii() and "\t" not in line:
                return printable(line[wrap * w : (wrap + 1) * w])
            return printable(line)  # one row (a line wrapped by cells is in ``cuts``)
        shown, cuts = laid
        end = cuts[wrap + 1] if wrap + 1 < len(cuts) else None
        return shown[cuts[wrap] : end]


def cell_cuts(text: str, width: int) -> list[int]:
    """Where each row of ``text`` starts when wrapped at ``width`` terminal cells: a wide
    character (CJK, emoji) is never cut in two, and a row never overflows."""
    cuts = [0]
    used = 0
    for i, ch in enumerate(text):
        cells = get_character_cell_size(ch)
        if used + cells > width and used:
            cuts.append(i)
            used = 0
        used += cells
    return cuts


def line_starts(text: str, limit: int | None = None, newlines: int | None = None) -> tuple[list[int], int]:
    """Offsets of the first ``limit`` line starts (all when None) and how many lines are left
    (``newlines``: the text's count of them, when known: counting 100 MB is not free)."""
    if limit is None:
        return [0, *(m.end() for m in re.finditer("\n", text))], 0
    starts = [0]
    pos = 0
    while len(starts) < limit:
        pos = text.find("\n", pos) + 1
        if not pos:
            break
        starts.append(pos)
    total = (text.count("\n") if newlines is None else newlines) + 1
    return starts, max(0, total - len(starts))


def call_text(name: str, arguments: str) -> str:
    """A tool call as a person reads it: its name, then `key: value` per argument."""
    try:
        args = json.loads(arguments) if arguments else {}
    except ValueError:
        return f"→ {name} {arguments}"
    if not isinstance(args, dict):
        return f"→ {name} {arguments}"
    lines = [f"→ {name}"]
    for key, value in args.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"  {key}: {shown}")
    return "\n".join(lines)


def folded_by_default(turn: Turn, newlines: int) -> bool:
    """The system prompt and the task's prompt are long and the same every rollout: folded."""
    if turn.source is not None:  # content too big to read at open (tui/lazy_trace.py)
        return True
    return turn.role in ("system", "user") and turn.step is None or (turn.role == "tool" and newlines >= FOLD_OVER)


@dataclass
class Block:
    turn: Turn
    folded: bool
    newlines: int  # in the turn's text, counted once
    parts: list[Part] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # cumulative rows: header, each part, the gap
    reading: bool = False  # its big content is being read and laid out, off the UI thread

    def unfolded(self, width: int) -> Block:
        """This block unfolded and laid out at ``width``, as a new block: a big content (100 MB
        of tool output) is decoded and laid out in a worker while this one is still drawn."""
        block = Block(self.turn, False, self.newlines)
        block.build()
        block.layout(width)
        return block

    def build(self) -> None:
        t, self.parts = self.turn, []
        if self.folded and t.role != "tool":
            return  # the header says how long it is
        if t.reasoning:
            self.parts.append(Part("reasoning", t.reasoning, *line_starts(t.reasoning)))
        if t.source is not None and self.folded:  # a big content left in the file: its head only
            head = t.source.head()
            starts, _ = line_starts(head, FOLDED_LINES, head.count("\n"))
            self.parts.append(Part("text", head, starts, more=-1, size=t.source.size))
        elif (text := t.full_text()) and not text.isspace():  # (not strip(): that copies a 100 MB output)
            limit = FOLDED_LINES if self.folded else None
            newlines = self.newlines if t.source is None else text.count("\n")
            self.parts.append(Part("text", text, *line_starts(text, limit, newlines)))
        for name, arguments in t.calls:
            shown = call_text(name, arguments)
            self.parts.append(Part("call", shown, *line_starts(shown)))

    def layout(self, width: int) -> int:
        self.rows = list(accumulate([1, *(p.layout(width) for p in self.parts), 1]))
        return self.rows[-1]

    def header(self) -> str:
        t = self.turn
        sign = "▸" if self.folded else "▾"
        who = {"tool": f"result of {t.tool}" if t.tool else "tool result"}.get(t.role, t.role)
        head = f"{sign} {who}" + (f" · step {t.step}" if t.step is not None else "")
        if self.reading:
            head += " · reading…"
        elif self.folded and t.role != "tool" and t.source is not None:
            head += f" · {t.source.size / 1e6:.1f} MB (space: unfold)"
        elif self.folded and t.role != "tool":
            said = t.text or t.reasoning
            if said:
                size = count((self.newlines if said is t.text else said.count("\n")) + 1, "line")
            else:  # tool calls only: "1 line" for a call whose arguments unfold over many read wrong
                said, size = " ".join(name for name, _ in t.calls), count(len(t.calls), "call")
            first = printable(said[:200].strip().split("\n", 1)[0])
            head += f" · {size} (space: unfold) · {first}"
        return head

    def row(self, n: int, width: int) -> tuple[str, str]:
        """Row ``n`` of this block: (text, kind); kinds: header, reasoning, text, call, hint, gap."""
        if n == 0:
            return self.header(), "header"
        if n >= self.rows[-1] - 1:
            return "", "gap"
        i = bisect_right(self.rows, n) - 1  # rows[0] == 1: part i starts at rows[i]
        part, k = self.parts[i], n - self.rows[i]
        shown = part.rows[-1] if part.rows else 0
        if k >= shown:
            if part.more < 0:
                return f"{INDENT}… {part.size / 1e6:.1f} MB in all (space: unfold)", "hint"
            return f"{INDENT}… {part.more} more line{'s' if part.more != 1 else ''} (space: unfold)", "hint"
        j = bisect_right(part.rows, k)
        wrap = k - (part.rows[j - 1] if j else 0)
        piece = part.piece(j, wrap, max(1, width - len(INDENT)))
        return ("│ " if part.kind == "reasoning" else INDENT) + piece, part.kind


class ConversationLayout:
    """Blocks and where each starts (in rows) at one width."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.starts: list[int] = []
        self.width = 80
        self.height = 0

    def extend(self, turns: list[Turn]) -> None:
        for turn in turns[len(self.blocks) :]:
            newlines = turn.text.count("\n") if turn.source is None else FOLD_OVER  # big: folded, not counted
            block = Block(turn, folded_by_default(turn, newlines), newlines)
            block.build()
            self.starts.append(self.height)
            self.height += block.layout(self.width)
            self.blocks.append(block)

    def relayout(self, width: int) -> None:
        self.width, self.height, self.starts = width, 0, []
        for block in self.blocks:
            self.starts.append(self.height)
            self.height += block.layout(width)

    def toggle(self, index: int) -> None:
        block = self.blocks[index]
        block.folded = not block.folded
        block.build()
        self.relayout(self.width)

    def replace(self, index: int, old: Block, new: Block) -> bool:
        """Put ``new`` where ``old`` is, if the conversation still holds it there."""
        if index >= len(self.blocks) or self.blocks[index] is not old:
            return False  # another rollout was opened meanwhile
        self.blocks[index] = new
        self.relayout(self.width)
        return True

    def block_at(self, row: int) -> int:
        return max(0, bisect_right(self.starts, row) - 1)

    def row(self, row: int) -> tuple[str, str, int]:
        """(text, kind, block index) of a row; past the end: ("", "gap", -1)."""
        if row < 0 or row >= self.height or not self.blocks:
            return "", "gap", -1
        i = self.block_at(row)
        text, kind = self.blocks[i].row(row - self.starts[i], self.width)
        return text, kind, i

    def first_of_step(self, step: int) -> int | None:
        return next((i for i, b in enumerate(self.blocks) if b.turn.step == step), None)
