"""A patch parsed and highlighted once, ready for line-by-line rendering.

`build_diff_model` is pure and thread-safe: the studio calls it in a thread worker when
a pair comes into view (and for the next pair, as a prefetch), and keeps the result in
a small LRU keyed by the patch text, so moving back and forth between pairs never
re-parses or re-highlights. Rendering (`tui.widgets.diff_view`) only styles and crops
the few lines that are on screen.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from rich.style import Style
from rich.syntax import Syntax
from rich.text import Span, Text

THEME = "monokai"
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
# Lines this different are rewritten, not edited: highlighting words would be noise.
_WORD_DIFF_MIN_RATIO = 0.35


@dataclass(slots=True)
class DiffLine:
    kind: str  # file | hunk | ctx | add | del | meta
    text: Text
    old_no: int | None = None
    new_no: int | None = None
    # (start, end) character spans of changed words inside an add/del line.
    words: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class DiffModel:
    key: str
    unified: list[DiffLine]
    split: list[tuple[DiffLine | None, DiffLine | None]]
    width: int  # widest code line, in cells
    files: int = 0
    added: int = 0
    removed: int = 0
    max_no: int = 0  # largest line number: the gutter's width

    @property
    def empty(self) -> bool:
        return not self.unified


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
class _File:
    path: str
    header: str
    hunks: list[_Hunk] = field(default_factory=list)


_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _parse(patch: str) -> list[_File]:
    """unidiff first; when it rejects the patch (a hunk whose counts disagree with its
    lines, as in a cut patch) a small forgiving parser keeps every line it can place."""
    try:
        return _parse_unidiff(patch)
    except Exception:
        return _parse_forgiving(patch)


def _parse_unidiff(patch: str) -> list[_File]:
    from unidiff import PatchSet

    out: list[_File] = []
    for pf in PatchSet(patch):
        f = _File(pf.path, pf.source_file or "")
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


def _parse_forgiving(patch: str) -> list[_File]:
    files: list[_File] = []
    cur: _File | None = None
    hunk: _Hunk | None = None
    old_no = new_no = 0
    for raw in patch.splitlines():
        if raw.startswith("diff --git "):
            parts = raw.split(" b/", 1)
            cur = _File(parts[1] if len(parts) == 2 else raw[11:], raw)
            files.append(cur)
            hunk = None
            continue
        if raw.startswith("--- ") and (hunk is None or not hunk.rows or _hunk_full(hunk)):
            if cur is None or cur.hunks:
                cur = _File(raw[4:].removeprefix("a/"), raw)
                files.append(cur)
            hunk = None
            continue
        if raw.startswith("+++ ") and hunk is None and cur is not None:
            name = raw[4:].strip()
            if name != "/dev/null":
                cur.path = name.removeprefix("b/")
            continue
        m = _HUNK_RE.match(raw)
        if m:
            if cur is None:
                cur = _File("patch", "")
                files.append(cur)
            old_no, new_no = int(m.group(1)), int(m.group(3))
            hunk = _Hunk(raw, [])
            cur.hunks.append(hunk)
            continue
        if hunk is None:
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
    m = _HUNK_RE.match(hunk.header)
    if not m:
        return True
    old_len = int(m.group(2) or 1)
    new_len = int(m.group(4) or 1)
    olds = sum(1 for k, *_ in hunk.rows if k in ("ctx", "del"))
    news = sum(1 for k, *_ in hunk.rows if k in ("ctx", "add"))
    return olds >= old_len and news >= new_len


# --------------------------------------------------------------------------- highlight


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


def _highlight(lines: list[str], lexer: str) -> list[Text]:
    if not lines:
        return []
    if lexer in ("text", "default"):
        return [Text(line) for line in lines]
    syntax = Syntax("", lexer, theme=THEME, background_color="default")
    text = syntax.highlight("\n".join(lines))
    parts = list(text.split("\n", allow_blank=True))
    if len(parts) < len(lines):  # defensive: never lose a line
        parts += [Text(line) for line in lines[len(parts) :]]
    out = []
    for part in parts[: len(lines)]:
        clean = Text(part.plain)
        clean.spans = [Span(sp.start, sp.end, _fg_only(sp.style)) for sp in part.spans if sp.end > sp.start]
        out.append(clean)
    return out


def _word_spans(a: str, b: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
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
    key = patch_key(patch)
    unified: list[DiffLine] = []
    split: list[tuple[DiffLine | None, DiffLine | None]] = []
    width = 0
    added = removed = 0
    files = _parse(patch) if patch.strip() else []
    for f in files:
        head = DiffLine("file", Text(f.path, style="bold"))
        unified.append(head)
        split.append((head, head))
        lexer = _lexer_for(f.path)
        for h in f.hunks:
            hl = DiffLine("hunk", Text(h.header))
            unified.append(hl)
            split.append((hl, hl))
            # Highlight each side as one piece of code so the lexer sees real context.
            old_idx = [i for i, r in enumerate(h.rows) if r[0] in ("ctx", "del")]
            new_idx = [i for i, r in enumerate(h.rows) if r[0] == "add"]
            old_hl = _highlight([h.rows[i][1] for i in old_idx], lexer)
            new_hl = _highlight([h.rows[i][1] for i in new_idx], lexer)
            texts: dict[int, Text] = dict(zip(old_idx, old_hl))
            texts.update(zip(new_idx, new_hl))
            lines = []
            for i, (kind, raw, o, n) in enumerate(h.rows):
                text = texts.get(i) or Text(raw)
                width = max(width, text.cell_len)
                lines.append(DiffLine(kind, text, o, n))
                added += kind == "add"
                removed += kind == "del"
            _pair_blocks(lines, unified, split)
    max_no = max((max(ln.old_no or 0, ln.new_no or 0) for ln in unified), default=0)
    return DiffModel(key, unified, split, width, len(files), added, removed, max_no)


def _pair_blocks(lines: list[DiffLine], unified: list[DiffLine], split: list) -> None:
    """Append a hunk's lines; pair each run of removed lines with the added run after it
    (word-level spans for the pairs, side by side in split mode)."""
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if line.kind != "del":
            unified.append(line)
            if line.kind == "add":
                split.append((None, line))
            else:
                split.append((line, line))
            i += 1
            continue
        j = i
        while j < n and lines[j].kind == "del":
            j += 1
        k = j
        while k < n and lines[k].kind == "add":
            k += 1
        dels, adds = lines[i:j], lines[j:k]
        for d, a in zip(dels, adds):
            d.words, a.words = _word_spans(d.text.plain, a.text.plain)
        unified.extend(dels)
        unified.extend(adds)
        for r in range(max(len(dels), len(adds))):
            split.append((dels[r] if r < len(dels) else None, adds[r] if r < len(adds) else None))
        i = k
