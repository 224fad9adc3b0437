"""`?`: every key, for the app and for each screen, read from the bindings themselves."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.bindings import GLOBAL, binding_id

_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "escape": "esc",
    "enter": "enter",
}


def key_label(key: str) -> str:
    out = []
    for k in key.split(","):
        k = _NAMES.get(k, k)
        out.append(k.upper() if k.startswith("f") and k[1:].isdigit() else k)
    return ", ".join(out)


def bindings_table(
    title: str, bindings: list, section: str | None = None, keymap: dict[str, str] | None = None
) -> Table:
    """The bindings with the keys that fire them: a keymap's (tui/keymap.py) where it rebinds one."""
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold reverse",
        show_header=False,
        box=None,
        pad_edge=False,
        expand=False,
    )
    table.add_column("key", style="bold cyan", width=12, no_wrap=True)
    table.add_column("action", min_width=30)
    for b in bindings:
        b = b if isinstance(b, Binding) else Binding(*b)
        if b.description:
            rebound = keymap.get(binding_id(section, b)) if keymap and section else None
            table.add_row(key_label(rebound) if rebound else b.key_display or key_label(b.key), b.description)
    return table


# A diff view scrolls with the usual keys (ScrollView's own bindings, not listed there).
DIFF_KEYS: list[BindingType] = [
    Binding("tab", "", "Focus the other diff (A / B)", key_display="tab"),
    Binding("up,down", "", "Scroll lines (j / k too); both sides move together", key_display="↑ ↓"),
    Binding("left,right", "", "Scroll the code sideways (line numbers stay)", key_display="← →"),
    Binding("pageup,pagedown", "", "Scroll a page", key_display="PgUp PgDn"),
    Binding("home,end", "", "Top / bottom of the diff", key_display="Home End"),
    Binding("right_square_bracket,left_square_bracket", "", "Next / previous hunk", key_display="] ["),
    Binding("right_curly_bracket,left_curly_bracket", "", "Next / previous file", key_display="} {"),
    Binding("v", "", "Pairs: unified → split → A↔B (A's files against B's)", key_display="v"),
]

# The conversation's own keys (tui/widgets/conversation.py), then the usual scrolling.
CONVERSATION_KEYS: list[BindingType] = [
    Binding("j,k", "", "Next / previous message (the cursor: a reversed header)", key_display="j k"),
    Binding("space", "", "Fold or unfold the message under the cursor", key_display="space"),
    Binding("up,down", "", "Scroll lines; PgUp PgDn a page; Home End top / bottom", key_display="↑ ↓"),
    Binding("enter", "", "Steps, on the step of the message under the cursor", key_display="⏎"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 95%; height: 90%; border: round $accent;
        background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        from tui.screens.registry import SCREENS

        self.sections: list[tuple[str, str | None, list[BindingType]]] = [("Everywhere", GLOBAL, self.app.BINDINGS)]
        self.sections += [(spec.title, spec.mode, spec.load().BINDINGS) for spec in SCREENS]
        keymap = getattr(self.app, "_keymap", None)
        self.sections.insert(4, ("Diffs (Pairs, Rollout)", None, DIFF_KEYS))
        self.sections.insert(5, ("Conversation (Rollout: c)", None, CONVERSATION_KEYS))
        with VerticalScroll():
            yield Static(Text("repo-agent studio — keys", style="bold"))
            for title, section, bindings in self.sections:
                yield Static(bindings_table(title, bindings, section, keymap))
            yield Static(Text("ctrl+p opens the command palette: every screen and action by name.", style="dim"))
