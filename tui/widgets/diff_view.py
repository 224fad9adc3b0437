"""DiffView: a patch as a syntax-coloured diff, unified or split, line-rendered.

A ScrollView with `render_line` (no widget per line, as toolong does): the patch is
parsed and highlighted once in a thread worker (`tui.diff_model`), and only the lines
on screen are styled, cropped and cached (LRU) as Strips. Changed words inside a
changed line get a stronger background.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.diff_model import DiffLine, DiffModel, build_diff_model, cached_model, diff_model_for, patch_key

BG = {
    "add": Style(bgcolor="#14331f"),
    "del": Style(bgcolor="#3a1619"),
    "file": Style(bgcolor="#1d2b45", bold=True),
    "hunk": Style(color="#6c9ef8", bgcolor="#161b26"),
    "ctx": Style(),
    "meta": Style(color="#808080", italic=True),
}
WORD = {"add": Style(bgcolor="#2c6e3f"), "del": Style(bgcolor="#7d2a31")}
SIGN = {"add": "+", "del": "-", "ctx": " ", "meta": " "}
SIGN_STYLE = {"add": Style(color="#5fd787", bold=True), "del": Style(color="#ff5f5f", bold=True)}
GUTTER = Style(color="#6b6b6b")
EMPTY = Style(bgcolor="#1a1a1a")


class DiffView(ScrollView, can_focus=True):
    """Shows one patch. `set_patch` is cheap; the heavy work happens in a worker."""

    DEFAULT_CSS = """
    DiffView { background: $surface; scrollbar-size-horizontal: 1; }
    DiffView:focus { scrollbar-color: $accent; }
    """
    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    split: reactive[bool] = reactive(False)

    class Ready(Message):
        """The patch's model is built and on screen."""

        def __init__(self, view: DiffView, key: str) -> None:
            super().__init__()
            self.view = view
            self.key = key

    def __init__(
        self,
        patch: str = "",
        *,
        split: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._patch = ""
        self._key = ""
        self._model: DiffModel | None = None
        self._message = "(no patch)"
        self.set_reactive(DiffView.split, split)
        if patch:
            self._patch = patch

    def on_mount(self) -> None:
        if self._patch:
            patch, self._patch = self._patch, ""
            self.set_patch(patch)

    # ------------------------------------------------------------------ content
    @property
    def model(self) -> DiffModel | None:
        return self._model

    @property
    def ready(self) -> bool:
        return self._model is not None

    def set_patch(self, patch: str, *, empty_message: str = "(no changes)") -> None:
        key = patch_key(patch)
        if key == self._key and (self._model is not None or not patch.strip()):
            if not patch.strip() and self._message != empty_message:
                self._message = empty_message
                self.refresh()
            return
        self._patch, self._key = patch, key
        if not patch.strip():
            self._set_model(key, build_diff_model(""), empty_message)
            return
        model = cached_model(patch)
        if model is not None:
            self._set_model(key, model)
        else:
            self._model = None
            self._message = "rendering diff…"
            self._update_size()
            self._build(patch, key)

    @work(thread=True, exclusive=True, group="diff-build")
    def _build(self, patch: str, key: str) -> None:
        model = diff_model_for(patch)
        self.app.call_from_thread(self._set_model, key, model)

    def _set_model(self, key: str, model: DiffModel, empty_message: str = "(no changes)") -> None:
        if key != self._key:
            return  # a newer patch arrived while this one was building
        self._model = model
        self._message = empty_message
        self._update_size()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.post_message(self.Ready(self, key))

    def watch_split(self) -> None:
        self._update_size()
        self.refresh()

    def _rows(self) -> list:
        if self._model is None:
            return []
        return self._model.split if self.split else self._model.unified

    def _gutter_width(self) -> int:
        return max(3, len(str(self._model.max_no))) if self._model is not None else 3

    def _update_size(self) -> None:
        rows = self._rows()
        if not rows:
            self.virtual_size = Size(0, 1)
        elif self.split:
            self.virtual_size = Size(0, len(rows))
        else:
            g = self._gutter_width()
            self.virtual_size = Size(self._model.width + 2 * g + 4, len(rows))
        self.refresh()

    # ------------------------------------------------------------------ rendering
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        model = self._model
        if model is None or not model.unified:
            if y == 0:
                return Strip([Segment(self._message, GUTTER)]).crop_extend(0, width, None)
            return Strip.blank(width)
        return render_row(model, index, scroll_x, width, self.split, self.app.console)


# Rendered rows, shared by every DiffView and warmed by the prefetch worker, keyed by
# what determines the row's look; a row is styled once however often it is shown.
class _StripCache:
    """A small LRU that a worker thread and the UI thread can share."""

    def __init__(self, size: int) -> None:
        self._data: OrderedDict[tuple, Strip] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Strip | None:
        with self._lock:
            strip = self._data.get(key)
            if strip is not None:
                self._data.move_to_end(key)
            return strip

    def __setitem__(self, key: tuple, strip: Strip) -> None:
        with self._lock:
            self._data[key] = strip
            if len(self._data) > self._size:
                self._data.popitem(last=False)


_STRIPS = _StripCache(8192)


def prerender(model: DiffModel, width: int, split: bool, console, rows: int) -> None:
    """Render the first screenful of rows ahead of time (safe in a thread worker)."""
    for index in range(min(rows, len(model.split if split else model.unified))):
        render_row(model, index, 0, width, split, console)


def render_row(model: DiffModel, index: int, scroll_x: int, width: int, split: bool, console) -> Strip:
    rows = model.split if split else model.unified
    if index >= len(rows) or width <= 0:
        return Strip.blank(max(width, 0))
    key = (model.key, index, 0 if split else scroll_x, width, split)
    strip = _STRIPS.get(key)
    if strip is None:
        g = max(3, len(str(model.max_no)))
        if split:
            strip = _render_split(rows[index], width, g, console)
        else:
            strip = _render_unified(rows[index], scroll_x, width, g, console)
        _STRIPS[key] = strip
    return strip


def _code(line: DiffLine) -> Text:
    if not line.words:
        return line.text
    text = line.text.copy()
    for start, end in line.words:
        text.stylize(WORD[line.kind], start, end)
    return text


def _render_unified(line: DiffLine, scroll_x: int, width: int, g: int, console) -> Strip:
    bg = BG.get(line.kind, Style())
    if line.kind in ("file", "hunk"):
        text = Text.assemble(" " * (2 * g + 3), line.text)
    else:
        old = str(line.old_no) if line.old_no is not None else ""
        new = str(line.new_no) if line.new_no is not None else ""
        text = Text.assemble(
            (f"{old:>{g}} {new:>{g}} ", GUTTER),
            (SIGN.get(line.kind, " "), SIGN_STYLE.get(line.kind, GUTTER)),
            " ",
            _code(line),
        )
    text.stylize(bg)
    return Strip(text.render(console)).crop_extend(scroll_x, scroll_x + width, bg)


def _half(line: DiffLine | None, right: bool, width: int, g: int, console) -> Strip:
    if line is None:
        return Strip([Segment(" " * width, EMPTY)], width)
    bg = BG.get(line.kind, Style())
    if line.kind in ("file", "hunk"):
        text = line.text.copy()
    else:
        no = line.new_no if right else line.old_no
        text = Text.assemble(
            (f"{'' if no is None else no:>{g}} ", GUTTER),
            (SIGN.get(line.kind, " "), SIGN_STYLE.get(line.kind, GUTTER)),
            _code(line),
        )
    text.stylize(bg)
    return Strip(text.render(console)).crop_extend(0, width, bg)


def _render_split(row: tuple[DiffLine | None, DiffLine | None], width: int, g: int, console) -> Strip:
    left_w = max(1, (width - 1) // 2)
    right_w = max(1, width - 1 - left_w)
    left, right = row
    if left is not None and left is right and left.kind in ("file", "hunk"):
        return _half(left, False, width, g, console)
    return Strip.join(
        [
            _half(left, False, left_w, g, console),
            Strip([Segment("│", GUTTER)], 1),
            _half(right, True, right_w, g, console),
        ]
    )
