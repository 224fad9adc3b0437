"""DiffView: a patch as a syntax-coloured diff, unified or split, line-rendered.

A ScrollView with `render_line` (no widget per line, as toolong does): the patch is
parsed and highlighted once in a thread worker (`tui.diff_model`), and only the lines
on screen are styled, cropped and cached (LRU) as Strips. Changed words inside a
changed line get a stronger background than the line's own.

Line numbers and +/- markers stay put while the code scrolls sideways, in both layouts.
Colours come from component classes (`diff-view--add`, `diff-view--add-word`, ...), so
a Textual theme, or an app's CSS, recolours the diff.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.actions import SkipAction
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.worker import get_current_worker

from tui.diff_model import DiffLine, DiffModel, build_diff_model, cached_model, diff_model_for, patch_key

WARM_AFTER = 0.08  # seconds without scrolling before the next pages are rendered ahead
SIGNS = ("-", "+")  # markers of removed / added lines; the A↔B view shows ("A", "B")


@dataclass(frozen=True, slots=True)
class DiffStyles:
    """The resolved colours of one DiffView (hashable: part of the row cache key)."""

    add: Style = Style(bgcolor="#14331f")
    delete: Style = Style(bgcolor="#3a1619")
    add_word: Style = Style(bgcolor="#2c6e3f")
    delete_word: Style = Style(bgcolor="#7d2a31")
    file: Style = Style(bgcolor="#1d2b45", bold=True)
    hunk: Style = Style(color="#6c9ef8", bgcolor="#161b26")
    meta: Style = Style(color="#808080", italic=True)
    gutter: Style = Style(color="#6b6b6b")
    sign_add: Style = Style(color="#5fd787", bold=True)
    sign_delete: Style = Style(color="#ff5f5f", bold=True)
    empty: Style = Style(bgcolor="#1a1a1a")

    def line(self, kind: str) -> Style:
        return {"add": self.add, "del": self.delete, "file": self.file, "hunk": self.hunk, "meta": self.meta}.get(
            kind, Style()
        )

    def word(self, kind: str) -> Style:
        return self.add_word if kind == "add" else self.delete_word

    def sign(self, kind: str) -> Style:
        return {"add": self.sign_add, "del": self.sign_delete}.get(kind, self.gutter)


_COMPONENTS = {
    "add": "diff-view--add",
    "delete": "diff-view--delete",
    "add_word": "diff-view--add-word",
    "delete_word": "diff-view--delete-word",
    "file": "diff-view--file",
    "hunk": "diff-view--hunk",
    "meta": "diff-view--meta",
    "gutter": "diff-view--gutter",
    "sign_add": "diff-view--sign-add",
    "sign_delete": "diff-view--sign-delete",
    "empty": "diff-view--empty",
}


class DiffView(ScrollView, can_focus=True):
    """Shows one patch. `set_patch` is cheap; the heavy work happens in a worker."""

    COMPONENT_CLASSES = set(_COMPONENTS.values())
    DEFAULT_CSS = """
    DiffView { background: $surface; scrollbar-size-horizontal: 1; }
    DiffView:focus { scrollbar-color: $accent; }
    DiffView > .diff-view--add { background: $success 18%; }
    DiffView > .diff-view--delete { background: $error 18%; }
    DiffView > .diff-view--add-word { background: $success 55%; text-style: bold; }
    DiffView > .diff-view--delete-word { background: $error 55%; text-style: bold; }
    DiffView > .diff-view--file { background: $primary 30%; text-style: bold; }
    DiffView > .diff-view--hunk { color: $primary-lighten-2; background: $primary 10%; }
    DiffView > .diff-view--meta { color: $text-muted; text-style: italic; }
    DiffView > .diff-view--gutter { color: $text-muted; }
    DiffView > .diff-view--sign-add { color: $success; text-style: bold; }
    DiffView > .diff-view--sign-delete { color: $error; text-style: bold; }
    DiffView > .diff-view--empty { background: $panel; }
    """
    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("right_square_bracket", "next_header(1, False)", "Next hunk", key_display="]", show=False),
        Binding("left_square_bracket", "next_header(-1, False)", "Prev hunk", key_display="[", show=False),
        Binding("right_curly_bracket", "next_header(1, True)", "Next file", key_display="}", show=False),
        Binding("left_curly_bracket", "next_header(-1, True)", "Prev file", key_display="{", show=False),
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
        self._styles: DiffStyles | None = None
        self._warm_timer: Timer | None = None
        self.signs: tuple[str, str] = SIGNS
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

    @property
    def diff_styles(self) -> DiffStyles:
        """The theme's diff colours, resolved once per stylesheet update."""
        if self._styles is None:
            self._styles = DiffStyles(**{name: self._component(cls) for name, cls in _COMPONENTS.items()})
        return self._styles

    def _component(self, name: str) -> Style:
        """Only what the component class sets (so syntax colours show through), with
        translucent colours blended over the view's own background."""
        styles = self.get_component_styles(name)
        base = self.background_colors[1]
        out = Style()
        if styles.has_rule("background"):
            out += Style(bgcolor=(base + styles.background).rich_color)
        if styles.has_rule("color"):
            out += Style(color=(base + styles.color).rich_color)
        if styles.has_rule("text_style"):
            out += styles.text_style
        return out

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None  # a theme change: resolve the colours again
        self.refresh()

    def set_signs(self, signs: tuple[str, str]) -> None:
        if signs != self.signs:
            self.signs = signs
            self.refresh()

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

    # ------------------------------------------------------------------ warming ahead
    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            # Once the keys pause: a warm-up racing held-down keys only slows them.
            if self._warm_timer is not None:
                self._warm_timer.stop()
            self._warm_timer = self.set_timer(WARM_AFTER, self._warm_ahead)

    def _warm_ahead(self) -> None:
        """Render, in a thread, the pages the next keys will show (the next page, the next
        file's first, the previous, the last, the first): while a person reads, PageDown,
        `}`, PageUp, End and Home get ready."""
        model = self._model
        height = self.scrollable_content_region.height
        if model is None or model.empty or height <= 0:
            return
        top = round(self.scroll_y)
        rows = len(model.split if self.split else model.unified)
        starts = [top + height, top - height, rows - height, 0]
        next_file = model.next_header(top, 1, split=self.split, files=True)
        if next_file is not None:
            starts.insert(1, next_file)
        wanted = [i for s in starts for i in range(max(0, s), min(rows, s + height))]
        view = (round(self.scroll_x), self.scrollable_content_region.width, self.split, self.diff_styles, self.signs)
        self._warm(model, wanted, view)

    @work(thread=True, exclusive=True, group="diff-warm")
    def _warm(self, model: DiffModel, rows: list[int], view: tuple) -> None:
        worker = get_current_worker()
        scroll_x, width, split, styles, signs = view
        for index in rows:
            if worker.is_cancelled:
                return
            render_row(model, index, scroll_x, width, split, self.app.console, styles, signs)

    def _set_model(self, key: str, model: DiffModel, empty_message: str = "(no changes)") -> None:
        if key != self._key:
            return  # a newer patch arrived while this one was building
        self._model = model
        self._message = empty_message
        self._update_size()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.call_after_refresh(self._show_first_change)
        self._warm_ahead()
        self.post_message(self.Ready(self, key))

    # Every key moves at once (no scroll animation): an animated jump across a big patch
    # draws every page on the way, and End on 60,000 lines took seconds to arrive.
    def action_scroll_home(self) -> None:
        if not self._allow_scroll:
            raise SkipAction()
        self.scroll_home(x_axis=self.scroll_y == 0, animate=False, immediate=True)

    def action_scroll_end(self) -> None:
        if not self._allow_scroll:
            raise SkipAction()
        self.scroll_end(animate=False, immediate=True)

    def action_scroll_up(self) -> None:
        if not self.allow_vertical_scroll:
            raise SkipAction()
        self.scroll_up(animate=False, immediate=True)

    def action_scroll_down(self) -> None:
        if not self.allow_vertical_scroll:
            raise SkipAction()
        self.scroll_down(animate=False, immediate=True)

    def action_page_up(self) -> None:
        if not self.allow_vertical_scroll:
            raise SkipAction()
        self.scroll_page_up(animate=False)

    def action_page_down(self) -> None:
        if not self.allow_vertical_scroll:
            raise SkipAction()
        self.scroll_page_down(animate=False)

    def action_next_header(self, step: int, files: bool) -> None:
        """Put the next (or previous) hunk's or file's header at the top."""
        if self._model is None:
            return
        row = self._model.next_header(round(self.scroll_y), step, split=self.split, files=files)
        if row is not None:
            self.scroll_to(y=row, animate=False, immediate=True)

    def watch_split(self) -> None:
        self._update_size()
        self.refresh()
        self.call_after_refresh(self._show_first_change)

    def _show_first_change(self) -> None:
        """A short view (the split layout at 80x24 has four rows a side) starts on the first
        change with a line of context, not on headers and context with the change below."""
        model, height = self._model, self.scrollable_content_region.height
        if model is None or height <= 0 or round(self.scroll_y) != 0:
            return
        first = model.first_change()
        if first is not None and first >= height:
            self.scroll_to(y=first - min(3, (height - 1) // 3), animate=False, immediate=True)

    def on_resize(self) -> None:
        self._update_size()

    def _rows(self) -> int:
        if self._model is None:
            return 0
        return len(self._model.split if self.split else self._model.unified)

    def _update_size(self) -> None:
        rows = self._rows()
        if not rows or self._model is None:
            self.virtual_size = Size(0, 1)
        else:
            width = self.scrollable_content_region.width
            # Sideways scrolling moves the code only: the overflow is what the widest
            # line does not fit in the code column.
            overflow = max(0, self._model.width - code_width(self._model, width, self.split))
            self.virtual_size = Size(width + overflow if overflow else 0, rows)
        self.refresh()

    # ------------------------------------------------------------------ rendering
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        model = self._model
        styles = self.diff_styles
        if model is None or not model.unified:
            if y == 0:
                return Strip([Segment(self._message, styles.gutter)]).crop_extend(0, width, None)
            return Strip.blank(width)
        return render_row(model, index, scroll_x, width, self.split, self.app.console, styles, self.signs)


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


# A few screens' worth (both sides, the next pair's prefetch): rows are cheap to redo,
# and a big cache would hold more memory than a big patch's own text.
_STRIPS = _StripCache(512)


def gutter_digits(model: DiffModel) -> int:
    return max(3, len(str(model.max_no)))


def code_width(model: DiffModel, width: int, split: bool) -> int:
    """Cells left for code beside the fixed gutter (the narrower half when split)."""
    g = gutter_digits(model)
    if split:
        return max(1, (width - 1) // 2 - (g + 3))
    return max(1, width - (2 * g + 4))


def prerender(
    model: DiffModel, width: int, split: bool, console, rows: int, styles: DiffStyles, signs: tuple[str, str] = SIGNS
) -> None:
    """Render the first screenful of rows ahead of time (safe in a thread worker)."""
    for index in range(min(rows, len(model.split if split else model.unified))):
        render_row(model, index, 0, width, split, console, styles, signs)


def render_row(
    model: DiffModel,
    index: int,
    scroll_x: int,
    width: int,
    split: bool,
    console,
    styles: DiffStyles | None = None,
    signs: tuple[str, str] = SIGNS,
) -> Strip:
    styles = styles or DiffStyles()
    if not 0 <= index < len(model.split if split else model.unified) or width <= 0:
        return Strip.blank(max(width, 0))
    key = (model.key, index, scroll_x, width, split, styles, signs)
    strip = _STRIPS.get(key)
    if strip is None:
        g = gutter_digits(model)
        if split:
            strip = _render_split(model.split_row(index), scroll_x, width, g, console, styles, signs)
        else:
            strip = _render_unified(model.line(index), scroll_x, width, g, console, styles, signs)
        _STRIPS[key] = strip
    return strip


def code_text(line: DiffLine, styles: DiffStyles) -> Text:
    """The line's code with its background under the syntax colours and the changed
    words over both (the background goes first, so it never hides them)."""
    text = line.text.copy()
    text.stylize_before(styles.line(line.kind))
    for start, end in line.words:
        text.stylize(styles.word(line.kind), start, end)
    return text


def _sign(line: DiffLine, signs: tuple[str, str]) -> str:
    return {"del": signs[0], "add": signs[1]}.get(line.kind, " ")


def _banner(line: DiffLine, width: int, console, styles: DiffStyles, indent: int) -> Strip:
    bg = styles.line(line.kind)
    text = Text.assemble(" " * indent, line.text)
    text.stylize_before(bg)
    return Strip(text.render(console)).crop_extend(0, width, bg)


def _code_strip(line: DiffLine, scroll_x: int, width: int, console, styles: DiffStyles) -> Strip:
    bg = styles.line(line.kind)
    return Strip(code_segments(line, styles)).crop_extend(scroll_x, scroll_x + width, bg)


_COMBINED: dict[tuple[Style, Style | None, Style | None], Style] = {}


def _combined(bg: Style, token: Style | None, word: Style | None) -> Style:
    key = (bg, token, word)
    style = _COMBINED.get(key)
    if style is None:
        style = bg
        if token is not None:
            style += token
        if word is not None:
            style += word
        if len(_COMBINED) > 4096:
            _COMBINED.clear()
        _COMBINED[key] = style
    return style


def code_segments(line: DiffLine, styles: DiffStyles) -> list[Segment]:
    """`code_text` as segments, made directly (a row on screen is drawn often while
    scrolling; Text.render costs several times this). Token spans never overlap (one
    lexer's tokens), nor do changed-word spans."""
    plain = line.text.plain
    spans = line.text.spans
    words = line.words
    bg = styles.line(line.kind)
    word = styles.word(line.kind)
    cuts = {0, len(plain)}
    for span in spans:
        cuts.update((span.start, span.end))
    for start, end in words:
        cuts.update((start, end))
    points = sorted(c for c in cuts if 0 <= c <= len(plain))
    out: list[Segment] = []
    si = wi = 0
    for a, b in zip(points, points[1:]):
        while si < len(spans) and spans[si].end <= a:
            si += 1
        token = spans[si].style if si < len(spans) and spans[si].start <= a else None
        while wi < len(words) and words[wi][1] <= a:
            wi += 1
        in_word = wi < len(words) and words[wi][0] <= a
        style = _combined(bg, token if isinstance(token, Style) else None, word if in_word else None)
        out.append(Segment(plain[a:b], style))
    return out


def _gutter(numbers: str, line: DiffLine, styles: DiffStyles, signs: tuple[str, str], bg: Style, width: int) -> Strip:
    """Line numbers, the +/- sign and a space, on the line's background."""
    segments = [
        Segment(numbers, _combined(bg, styles.gutter, None)),
        Segment(_sign(line, signs), _combined(bg, styles.sign(line.kind), None)),
        Segment(" ", bg),
    ]
    return Strip(segments).crop_extend(0, width, bg)


def _render_unified(
    line: DiffLine, scroll_x: int, width: int, g: int, console, styles: DiffStyles, signs: tuple[str, str]
) -> Strip:
    if line.kind in ("file", "hunk"):
        return _banner(line, width, console, styles, 2 * g + 4 if line.kind == "hunk" else 1)
    bg = styles.line(line.kind)
    old = str(line.old_no) if line.old_no is not None else ""
    new = str(line.new_no) if line.new_no is not None else ""
    gw = 2 * g + 4
    head = _gutter(f"{old:>{g}} {new:>{g}} ", line, styles, signs, bg, min(gw, width))
    if width <= gw:
        return head
    return Strip.join([head, _code_strip(line, scroll_x, width - gw, console, styles)])


def _half(
    line: DiffLine | None,
    right: bool,
    scroll_x: int,
    width: int,
    g: int,
    console,
    styles: DiffStyles,
    signs: tuple[str, str],
) -> Strip:
    if line is None:
        return Strip([Segment(" " * width, styles.empty)], width)
    if line.kind in ("file", "hunk"):
        return _banner(line, width, console, styles, 1)
    bg = styles.line(line.kind)
    no = line.new_no if right else line.old_no
    gw = g + 3
    head = _gutter(f"{'' if no is None else no:>{g}} ", line, styles, signs, bg, min(gw, width))
    if width <= gw:
        return head
    return Strip.join([head, _code_strip(line, scroll_x, width - gw, console, styles)])


def _render_split(
    row: tuple[DiffLine | None, DiffLine | None],
    scroll_x: int,
    width: int,
    g: int,
    console,
    styles: DiffStyles,
    signs: tuple[str, str],
) -> Strip:
    left_w = max(1, (width - 1) // 2)
    right_w = max(1, width - 1 - left_w)
    left, right = row
    if left is not None and left is right and left.kind in ("file", "hunk"):
        return _banner(left, width, console, styles, 1)
    return Strip.join(
        [
            _half(left, False, scroll_x, left_w, g, console, styles, signs),
            Strip([Segment("│", styles.gutter)], 1),
            _half(right, True, scroll_x, right_w, g, console, styles, signs),
        ]
    )
