"""Small modals: a one-line prompt and a pick-one list (keys 1..9 pick at once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option


class PromptModal(ModalScreen[str | None]):
    """Ask for one line of text; enter submits, escape cancels (returns None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PromptModal { align: center middle; }
    PromptModal > Vertical { width: 70; max-width: 95%; height: auto; border: round $accent;
        background: $surface; padding: 0 1; }
    PromptModal Label.hint { color: $text-muted; width: 1fr; }
    PromptModal #prompt-error { color: $error; width: 1fr; display: none; }
    """

    def __init__(
        self, title: str, value: str = "", hint: str = "", validate: Callable[[str], str | None] | None = None
    ) -> None:
        super().__init__()
        self._title, self._value, self._hint = title, value, hint
        self._validate = validate  # returns why the text is refused, or None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield Input(self._value, id="prompt-input")
            yield Label("", id="prompt-error")
            if self._hint:
                yield Label(self._hint, classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        problem = self._validate(event.value) if self._validate else None
        if problem:
            error = self.query_one("#prompt-error", Label)
            error.update(problem)
            error.display = True
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickModal(ModalScreen[str | None]):
    """Pick one of a few named choices; digits pick directly."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        *(Binding(str(i), f"pick({i - 1})", show=False) for i in range(1, 10)),
    ]
    DEFAULT_CSS = """
    PickModal { align: center middle; }
    PickModal > Vertical { width: 50; height: auto; border: round $accent; background: $surface;
        padding: 0 1; }
    PickModal OptionList { height: auto; max-height: 14; }
    PickModal.-bottom { align: left bottom; background: $background 30%; }
    """

    def __init__(self, title: str, choices: list[tuple[str, str]], dock: str = "center") -> None:
        super().__init__(classes="-bottom" if dock == "bottom" else None)
        self._title = title
        self._choices = choices  # (value, label)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield OptionList(*(Option(f"{i}  {label}", id=value) for i, (value, label) in enumerate(self._choices, 1)))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_pick(self, index: int) -> None:
        if 0 <= index < len(self._choices):
            self.dismiss(self._choices[index][0])

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """Ask before something that cannot be undone: y / enter confirms, n / escape keeps."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical { width: 64; max-width: 95%; height: auto; border: round $warning;
        background: $surface; padding: 0 1; }
    ConfirmModal Label { width: 1fr; }
    ConfirmModal Label.hint { color: $text-muted; }
    """

    def __init__(self, title: str, detail: str = "") -> None:
        super().__init__()
        self._title, self._detail = title, detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self._title}[/b]")
            if self._detail:
                yield Label(self._detail)
            yield Label("y / enter: yes    n / escape: no", classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
