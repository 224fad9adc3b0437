"""A patch indexed once, highlighted only where it is shown.

`build_diff_model` is pure and thread-safe: the studio calls it in a thread worker when
a pair comes into view (and for the next pair, as a prefetch), and keeps the result in
a small LRU keyed by the patch text, so moving back and forth between pairs never
re-parses. The model keeps offsets into the patch text, not objects per line (a patch
at the agent's cap is 60,000 lines; an imported one can be 20 MB): a row becomes a
highlighted `DiffLine` when it is shown, a window of rows at a time. Rendering
(`tui.widgets.diff_view`) only styles and crops the few lines that are on screen.
`_parse` (whole objects, for the small A<->B patches of `tui.ab_model`) stays beside it.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import overload

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import _TokenType
from pygments.util import ClassNotFound
from rich.cells import cell_len
from rich.style import Style
from rich.syntax import PygmentsSyntaxTheme, Syntax
from rich.text import Span, Text

THEME = "monokai"
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
# Lines this different are rewritten, not edited: highlighting words would be noise.
_WORD_DIFF_MIN_RATIO = 0.35
# Words are compared only in lines of at most this many tokens (a code line has some 10-60):
# difflib's matching is cubic in the worst case, and a patch is the rollout's to write (two
# lines of 2,000 tokens, "a a a" against "a b a b", took 95 s for one row: round 22 sweep).
_WORD_DIFF_TOKENS_MAX = 150


@dataclass(slots=True)
class DiffLine:
    kind: str  # file | hunk | ctx | add | del | meta
    text: Text
    old_no: int | None = None
    new_no: int | None = None
    # (start, end) character spans of changed words inside an add/del line.
    words: list[tuple[int, int]] = field(default_factory=list)


def patch_key(patch: str) -> str:
    return hashlib.blake2b(patch.encode("utf-8", "replace"), digest_size=12).hexdigest()


# --------------------------------------------------------------------------- cache

_CACHE: OrderedDict[str, DiffModel] = OrderedDict()
_CACHE_SIZE = 48
_LOCK = threading.Lock()


def cached_model(patch: str) -> DiffModel | None:
    key = patch_key(patch)
    with _LOCK:
        model = _CACHE.get(key)
        if model is not None:
            _CACHE.move_to_end(key)
        return model


def diff_model_for(patch: str) -> DiffModel:
    """The cached model for ``patch``, building (parse + highlight) it on a miss."""
    model = cached_model(patch)
    if model is not None:
        return model
    model = build_diff_model(patch)
    with _LOCK:
        _CACHE[model.key] = model
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return model


# --------------------------------------------------------------------------- parsing


@dataclass
class _Hunk:
    header: str
    rows: list[tuple[str, str, int | None, int | None]]  # (kind, text, old_no, new_no)


@dataclass
class PatchFile:
    path: str
    header: str
    hunks: list[_Hunk] = field(default_factory=list)
    # What its header says became of the file (``new file mode``, ``deleted file mode``, a
    # side /dev/null; ``old mode``/``new mode``): an emptied file's hunks are a removed one's.
    created: bool = False
    removed: bool = False
    old_mode: str | None = None
    new_mode: str | None = None

    def header_fact(self, line: str) -> bool:
        """Take ``line`` of the header before the first hunk if it says what became of the file."""
        if line.startswith("new file mode "):
            self.created, self.new_mode = True, line[14:].strip()
        elif line.startswith("deleted file mode "):
            self.removed, self.old_mode = True, line[18:].strip()
        elif line.startswith("old mode "):
            self.old_mode = line[9:].strip()
        elif line.startswith("new mode "):
            self.new_mode = line[9:].strip()
        else:
            return False
        return True


HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_HUNK_AT = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")  # matched at an offset


def _parse(patch: str) -> list[PatchFile]:
    """unidiff first; when it rejects the patch (a hunk whose counts disagree with its
    lines, as in a cut patch) a small forgiving parser keeps every line it can place."""
    try:
        return _parse_unidiff(patch)
    except Exception:
        return parse_forgiving(patch)


def _parse_unidiff(patch: str) -> list[PatchFile]:
    from unidiff import PatchSet

    out: list[PatchFile] = []
    for pf in PatchSet(patch):
        f = PatchFile(pf.path, pf.source_file or "")
        for h in pf:
            header = f"@@ -{h.source_start},{h.source_length} +{h.target_start},{h.target_length} @@"
            if h.section_header:
                header += " " + h.section_header
            rows = []
            for ln in h:
                kind = {"+": "add", "-": "del", " ": "ctx"}.get(ln.line_type, "meta")
                text = ln.value.rstrip("\n")
                rows.append((kind, text, ln.source_line_no, ln.target_line_no))
            f.hunks.append(_Hunk(header, rows))
        out.append(f)
    if patch.strip() and not out:
        raise ValueError("no files")
    return out


def parse_forgiving(patch: str) -> list[PatchFile]:
    files: list[PatchFile] = []
    cur: PatchFile | None = None
    hunk: _Hunk | None = None
    old_no = new_no = 0
    for raw in patch.splitlines():
        if raw.startswith("diff --git "):
            parts = raw.split(" b/", 1)
            cur = PatchFile(parts[1] if len(parts) == 2 else raw[11:], raw)
            files.append(cur)
            hunk = None
            continue
        if raw.startswith("--- ") and (hunk is None or not hunk.rows or _hunk_full(hunk)):
            if cur is None or cur.hunks:
                cur = PatchFile(raw[4:].removeprefix("a/"), raw)
                files.append(cur)
            cur.created = cur.created or _header_path(raw[4:]) == "/dev/null"
            hunk = None
            continue
        if raw.startswith("+++ ") and hunk is None and cur is not None:
            name = raw[4:].strip()
            if name != "/dev/null":
                cur.path = name.removeprefix("b/")
            else:
                cur.removed = True
            continue
        m = HUNK_RE.match(raw)
        if m:
            if cur is None:
                cur = PatchFile("patch", "")
                files.append(cur)
            old_no, new_no = int(m.group(1)), int(m.group(3))
            hunk = _Hunk(raw, [])
            cur.hunks.append(hunk)
            continue
        if hunk is None:
            if cur is not None and not cur.hunks:
                cur.header_fact(raw)
            continue  # index/mode lines between headers
        if raw.startswith("+"):
            hunk.rows.append(("add", raw[1:], None, new_no))
            new_no += 1
        elif raw.startswith("-"):
            hunk.rows.append(("del", raw[1:], old_no, None))
            old_no += 1
        elif raw.startswith("\\"):
            hunk.rows.append(("meta", raw, None, None))
        else:
            hunk.rows.append(("ctx", raw[1:] if raw.startswith(" ") else raw, old_no, new_no))
            old_no += 1
            new_no += 1
    return files


def _hunk_full(hunk: _Hunk) -> bool:
    m = HUNK_RE.match(hunk.header)
    if not m:
        return True
    old_len = int(m.group(2) or 1)
    new_len = int(m.group(4) or 1)
    olds = sum(1 for k, *_ in hunk.rows if k in ("ctx", "del"))
    news = sum(1 for k, *_ in hunk.rows if k in ("ctx", "add"))
    return olds >= old_len and news >= new_len


# --------------------------------------------------------------------------- highlight


@lru_cache(maxsize=256)
def _lexer_for(path: str) -> str:
    try:
        return Syntax.guess_lexer(path, code="")
    except Exception:
        return "text"


_FG_ONLY: dict[Style, Style] = {}


def _fg_only(style: Style | str) -> Style:
    """The theme's token style without its background: the diff paints its own."""
    if isinstance(style, str):
        style = Style.parse(style)
    out = _FG_ONLY.get(style)
    if out is None:
        out = _FG_ONLY[style] = Style(color=style.color, bold=style.bold, italic=style.italic)
    return out


@lru_cache(maxsize=64)
def _pygments_lexer(name: str) -> Lexer | None:
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


@lru_cache(maxsize=1)
def _theme() -> PygmentsSyntaxTheme:
    return PygmentsSyntaxTheme(THEME)


@lru_cache(maxsize=512)
def _token_style(token_type: _TokenType) -> Style | None:
    style = _fg_only(_theme().get_style_for_token(token_type))
    return style if style else None


def _highlight(lines: list[str], lexer: str) -> list[Text]:
    """Each line with its syntax colours: the lines lexed as one piece of code, the
    tokens cut into per-line spans (pygments directly: no Text for the whole piece)."""
    if not lines:
        return []
    lex = None if lexer in ("text", "default") else _pygments_lexer(lexer)
    if lex is None:
        return [Text(line) for line in lines]
    spans: list[list[Span]] = [[] for _ in lines]
    row = col = 0
    for token_type, value in lex.get_tokens("\n".join(lines)):
        style = _token_style(token_type)
        for k, part in enumerate(value.split("\n")):
            if k:
                row, col = row + 1, 0
            if part and style is not None and row < len(spans):
                spans[row].append(Span(col, col + len(part), style))
            col += len(part)
    return [Text(line, spans=line_spans) for line, line_spans in zip(lines, spans)]


def _word_spans(a: str, b: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    if len(ta) > _WORD_DIFF_TOKENS_MAX or len(tb) > _WORD_DIFF_TOKENS_MAX:
        return [], []
    sm = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    if sm.ratio() < _WORD_DIFF_MIN_RATIO:
        return [], []
    oa = [0]
    for t in ta:
        oa.append(oa[-1] + len(t))
    ob = [0]
    for t in tb:
        ob.append(ob[-1] + len(t))
    sa: list[tuple[int, int]] = []
    sb: list[tuple[int, int]] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        if i2 > i1:
            sa.append((oa[i1], oa[i2]))
        if j2 > j1:
            sb.append((ob[j1], ob[j2]))
    return sa, sb


def build_diff_model(patch: str) -> DiffModel:
    return DiffModel(patch)


# --------------------------------------------------------------------------- the model

# Row kinds, one byte a row.
KINDS = ("file", "hunk", "ctx", "add", "del", "meta")
_FILE, _HUNKK, _CTX, _ADD, _DEL, _META = range(6)
_NONE = -1  # no line number / no row
_LINE_MAX = 2**31 - 2**20  # line numbers kept in array("i"), with room to count on
# Rows are highlighted a window at a time (the lexer sees a hunk's neighbouring lines);
# a few windows are kept, so scrolling back and forth re-highlights nothing.
_WINDOW = 16
_WINDOWS_KEPT = 32


class DiffModel:
    """A patch as offsets into its own text: per row a kind, where its text starts and
    ends, its line numbers and the changed line it pairs with; the split layout is two
    columns of row numbers. No row is a Python object until it is shown (`line`), and
    only the windows of rows on screen are highlighted (toolong's way with big logs):
    about 40 bytes a row beside the patch text, whatever the patch's size."""

    def __init__(self, patch: str) -> None:
        self.key = patch_key(patch)
        self.patch = patch
        self.kinds = bytearray()
        self.starts = array("I")  # a trace's patch is far below 4 GB
        self.ends = array("I")
        self.old_nos = array("i")
        self.new_nos = array("i")
        self.partner = array("i")  # a removed line's added line, and back (word spans)
        self.file_rows = array("i")  # the unified row of each file's header
        self.hunk_rows = array("i")  # ... and of each hunk's header
        self.paths: list[str] = []
        self.split_left = array("i")
        self.split_right = array("i")
        self.split_file_rows = array("i")
        self.split_hunk_rows = array("i")
        self.width = 0  # widest code line, in cells
        self.added = 0
        self.removed = 0
        self.max_no = 0  # largest line number: the gutter's width
        self._windows: OrderedDict[int, list[Text | None]] = OrderedDict()
        self._words: OrderedDict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = OrderedDict()
        self._lock = threading.Lock()
        if patch.strip():
            _index(self, patch)
        self._build_split()
        self.unified = UnifiedRows(self)
        self.split = SplitRows(self)

    @property
    def files(self) -> int:
        return len(self.file_rows)

    @property
    def empty(self) -> bool:
        return not self.kinds

    def __len__(self) -> int:
        return len(self.kinds)

    # ------------------------------------------------------------------ rows
    def raw(self, row: int) -> str:
        if self.kinds[row] == _FILE:
            return self.paths[bisect_right(self.file_rows, row) - 1]
        return self.patch[self.starts[row] : self.ends[row]]

    def line(self, row: int) -> DiffLine:
        """Row ``row`` as a DiffLine: highlighted, with its changed words."""
        kind = self.kinds[row]
        text = self._window(row // _WINDOW)[row % _WINDOW]
        if text is None:
            text = Text(self.raw(row), style="bold") if kind == _FILE else Text(self.raw(row))
        o, n = self.old_nos[row], self.new_nos[row]
        words: list[tuple[int, int]] = []
        other = self.partner[row]
        if other != _NONE:
            spans = self._word_pair(row if kind == _DEL else other)
            words = spans[0] if kind == _DEL else spans[1]
        return DiffLine(KINDS[kind], text, None if o == _NONE else o, None if n == _NONE else n, words)

    def _word_pair(self, removed: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Changed words of a removed line and its added partner, worked out once a pair."""
        with self._lock:
            got = self._words.get(removed)
        if got is None:
            got = _word_spans(self.raw(removed), self.raw(self.partner[removed]))
            with self._lock:
                self._words[removed] = got
                if len(self._words) > _WINDOW * _WINDOWS_KEPT:
                    self._words.popitem(last=False)
        return got

    def _window(self, w: int) -> list[Text | None]:
        with self._lock:
            got = self._windows.get(w)
            if got is not None:
                self._windows.move_to_end(w)
                return got
        got = self._highlight_window(w)
        with self._lock:
            self._windows[w] = got
            while len(self._windows) > _WINDOWS_KEPT:
                self._windows.popitem(last=False)
        return got

    def _highlight_window(self, w: int) -> list[Text | None]:
        lo, hi = w * _WINDOW, min(len(self.kinds), (w + 1) * _WINDOW)
        out: list[Text | None] = [None] * (hi - lo)
        group: list[int] = []
        for row in range(lo, hi + 1):
            if row == hi or self.kinds[row] in (_FILE, _HUNKK):
                self._highlight_group(group, lo, out)
                group = []
            elif self.kinds[row] != _META:
                group.append(row)
        return out

    def _highlight_group(self, rows: list[int], lo: int, out: list[Text | None]) -> None:
        """One hunk's rows inside a window: each side highlighted as one piece of code."""
        if not rows:
            return
        lexer = _lexer_for(self.paths[bisect_right(self.file_rows, rows[0]) - 1] if self.paths else "")
        old = [r for r in rows if self.kinds[r] != _ADD]
        new = [r for r in rows if self.kinds[r] == _ADD]
        for side in (old, new):
            for r, text in zip(side, _highlight([self.raw(r) for r in side], lexer)):
                out[r - lo] = text

    # ------------------------------------------------------------------ split
    def _build_split(self) -> None:
        """Each run of removed lines beside the run of added lines after it."""
        kinds, left, right = self.kinds, self.split_left, self.split_right
        n = len(kinds)
        partner = self.partner
        partner.frombytes(b"\xff" * (4 * n))  # -1 everywhere: no partner
        i = 0
        while i < n:
            kind = kinds[i]
            if kind != _DEL:
                if kind == _FILE:
                    self.split_file_rows.append(len(left))
                elif kind == _HUNKK:
                    self.split_hunk_rows.append(len(left))
                left.append(_NONE if kind == _ADD else i)
                right.append(i)
                i += 1
                continue
            j = i
            while j < n and kinds[j] == _DEL:
                j += 1
            k = j
            while k < n and kinds[k] == _ADD:
                k += 1
            for r in range(min(j - i, k - j)):
                partner[i + r], partner[j + r] = j + r, i + r
            for r in range(max(j - i, k - j)):
                left.append(i + r if i + r < j else _NONE)
                right.append(j + r if j + r < k else _NONE)
            i = k

    def split_row(self, index: int) -> tuple[DiffLine | None, DiffLine | None]:
        a, b = self.split_left[index], self.split_right[index]
        left = None if a == _NONE else self.line(a)
        if a == b:
            return left, left
        return left, None if b == _NONE else self.line(b)

    # ------------------------------------------------------------------ moving
    def first_change(self) -> int | None:
        """The first added or removed row: the same index in both layouts (rows before it
        are context and headers, one row each in either)."""
        hits = [i for i in (self.kinds.find(bytes([_ADD])), self.kinds.find(bytes([_DEL]))) if i >= 0]
        return min(hits) if hits else None

    def next_header(self, at: int, step: int, *, split: bool, files: bool) -> int | None:
        """The row of the next (``step`` 1) or previous (-1) file or hunk header from row ``at``."""
        if files:
            rows = self.split_file_rows if split else self.file_rows
        else:
            rows = self.split_hunk_rows if split else self.hunk_rows
        if step > 0:
            i = bisect_right(rows, at)
            return rows[i] if i < len(rows) else None
        i = bisect_left(rows, at)
        return rows[i - 1] if i > 0 else None


class UnifiedRows(Sequence[DiffLine]):
    """The unified layout's rows, each made when asked for."""

    def __init__(self, model: DiffModel) -> None:
        self._model = model

    def __len__(self) -> int:
        return len(self._model.kinds)

    @overload
    def __getitem__(self, index: int) -> DiffLine: ...
    @overload
    def __getitem__(self, index: slice) -> list[DiffLine]: ...
    def __getitem__(self, index: int | slice) -> DiffLine | list[DiffLine]:
        if isinstance(index, slice):
            return [self._model.line(r) for r in range(*index.indices(len(self)))]
        return self._model.line(_checked(index, len(self)))


class SplitRows(Sequence[tuple[DiffLine | None, DiffLine | None]]):
    """The split layout's rows: (old side, new side), each made when asked for."""

    def __init__(self, model: DiffModel) -> None:
        self._model = model

    def __len__(self) -> int:
        return len(self._model.split_left)

    @overload
    def __getitem__(self, index: int) -> tuple[DiffLine | None, DiffLine | None]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[DiffLine | None, DiffLine | None]]: ...
    def __getitem__(
        self, index: int | slice
    ) -> tuple[DiffLine | None, DiffLine | None] | list[tuple[DiffLine | None, DiffLine | None]]:
        if isinstance(index, slice):
            return [self._model.split_row(r) for r in range(*index.indices(len(self)))]
        return self._model.split_row(_checked(index, len(self)))


def _checked(index: int, length: int) -> int:
    if index < 0:
        index += length
    if not 0 <= index < length:
        raise IndexError(index)
    return index


def _index(m: DiffModel, patch: str) -> None:
    """One pass over the patch's lines: rows as offsets. Hunk lines are counted against
    their header (a removed line reading "--- x" stays a line); a hunk cut short ends at
    the first line that cannot belong to it, so a cut patch keeps every line it can place."""
    ascii_only = patch.isascii()
    kinds, starts, ends, olds, news = m.kinds, m.starts, m.ends, m.old_nos, m.new_nos
    width = max_no = added = removed = 0
    n = len(patch)
    pos = 0
    in_hunk = False
    git_header = False  # the current file began with "diff --git" and has no hunk yet
    has_file = has_hunk = False
    old_left = new_left = old_no = new_no = 0

    def row(kind: int, start: int, stop: int, o: int, nw: int) -> None:
        kinds.append(kind)
        starts.append(start)
        ends.append(stop)
        olds.append(o)
        news.append(nw)

    def new_file(path: str, start: int, stop: int) -> None:
        m.file_rows.append(len(kinds))
        m.paths.append(path)
        row(_FILE, start, stop, _NONE, _NONE)

    while pos < n:
        end = patch.find("\n", pos)
        if end < 0:
            end = n
        stop = end - 1 if end > pos and patch[end - 1] == "\r" else end
        c = patch[pos] if pos < stop else ""
        if in_hunk and c == "\\":
            row(_META, pos, stop, _NONE, _NONE)
            pos = end + 1
            continue
        if in_hunk and (old_left > 0 or new_left > 0) and c in ("+", "-", " ", ""):
            if c == "+":
                row(_ADD, pos + 1, stop, _NONE, new_no)
                new_no += 1
                new_left -= 1
                added += 1
            elif c == "-":
                row(_DEL, pos + 1, stop, old_no, _NONE)
                old_no += 1
                old_left -= 1
                removed += 1
            else:
                row(_CTX, min(pos + 1, stop), stop, old_no, new_no)
                old_no += 1
                new_no += 1
                old_left -= 1
                new_left -= 1
            span = stop - pos - 1
            if span > width:
                width = span if ascii_only else max(width, cell_len(patch[pos + 1 : stop]))
            max_no = max(max_no, old_no - 1, new_no - 1)
            pos = end + 1
            continue
        in_hunk = False
        if patch.startswith("diff --git ", pos):
            line = patch[pos:stop]
            parts = line.split(" b/", 1)
            new_file(parts[1] if len(parts) == 2 else line[11:], pos, stop)
            has_file, has_hunk, git_header = True, False, True
        elif patch.startswith("--- ", pos):
            if not (git_header and has_file and not has_hunk):
                new_file(_header_path(patch[pos + 4 : stop]).removeprefix("a/"), pos, stop)
                has_file, has_hunk = True, False
            git_header = False
        elif patch.startswith("+++ ", pos) and has_file and not has_hunk:
            name = _header_path(patch[pos + 4 : stop])
            if name != "/dev/null":
                m.paths[-1] = name.removeprefix("b/")
        elif git_header and not has_hunk and patch.startswith(_HEADER_FACTS, pos):
            row(_META, pos, stop, _NONE, _NONE)
        elif c == "@" and (h := _HUNK_AT.match(patch, pos, stop)):
            if not has_file:
                new_file("patch", pos, pos)
                has_file = True
            m.hunk_rows.append(len(kinds))
            row(_HUNKK, pos, stop, _NONE, _NONE)
            # Clamped: an imported patch's header may say 2**40, which array("i") cannot hold.
            old_no, new_no = min(int(h.group(1)), _LINE_MAX), min(int(h.group(3)), _LINE_MAX)
            old_left = int(h.group(2) or 1)
            new_left = int(h.group(4) or 1)
            in_hunk = has_hunk = True
            git_header = False
        pos = end + 1
    m.width, m.max_no, m.added, m.removed = width, max_no, added, removed


# A git header's lines that say what became of the file, shown under its name: a file made
# empty and a removed one show the same removed lines, a new empty file or a change of mode none.
_HEADER_FACTS = (
    "new file mode ",
    "deleted file mode ",
    "old mode ",
    "new mode ",
    "rename from ",
    "rename to ",
    "Binary files ",
    "repo-agent: not diffed",
)


def _header_path(rest: str) -> str:
    return rest.split("\t", 1)[0].strip()
