"""The launch form: a `BatchRequest` (the one `repo-agent run` builds), validated before it is returned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from agent.batch_request import BatchRequest

PROVIDERS = ("replay", "openai", "together")


@dataclass(frozen=True)
class Field:
    """One row of the form: an Input, or a Select when it has choices."""

    key: str  # the defaults/prefs key; the widget id is f-<key with dashes>
    label: str
    type: Literal["text", "integer", "number"] = "text"
    placeholder: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (shown, value)

    @property
    def id(self) -> str:
        return "f-" + self.key.replace("_", "-")


# The form, top to bottom ("replay from" is drawn after the provider: its choices are the batches on disk).
FIELDS = (
    Field("suite", "suite", placeholder="mini-bugs, suite.json, or a QuixBugs dir[:a,b]"),
    Field("provider", "provider", choices=tuple((p, p) for p in PROVIDERS)),
    Field("model", "model", placeholder="e.g. Qwen/Qwen2.5-7B-Instruct-Turbo"),
    Field("base_url", "base URL", placeholder="OpenAI-compatible endpoint (optional)"),
    Field("rollouts", "rollouts/task", "integer"),
    Field("temperature", "temperature", "number"),
    Field("seed", "seed", "integer"),
    Field("workers", "workers", "integer"),
    Field(
        "executor",
        "executor",
        choices=(("threads (this machine)", "thread"), ("Ray tasks (needs the ray extra)", "ray")),
    ),
    Field("ray_address", "ray address", placeholder="empty: a local Ray; auto: join the running cluster"),
    Field("max_iters", "max iters", "integer"),
    Field("loop_limit", "loop limit", "integer", "end a looping rollout after K repeats (0 = only flag it)"),
    Field(
        "allocation",
        "allocation",
        choices=(("fixed (rollouts/task each)", "fixed"), ("adaptive (rounds, within budget)", "adaptive")),
    ),
    Field("budget", "budget rollouts", "integer", "adaptive: required; fixed: optional cap"),
    Field("pairs_per_task", "pairs/task", "integer", "adaptive: 0 = as many as the budget buys"),
    Field("give_up_after", "give up after", "integer"),
    Field("tasks", "tasks", placeholder="comma-separated ids (empty: all; replay: the recorded ones)"),
)
# Form key -> input id: what `form_values` keeps and the defaults dict fills.
_INPUTS = {f.key: f"#{f.id}" for f in FIELDS if not f.choices}


class LaunchModal(ModalScreen[BatchRequest | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "launch", "Launch"),
    ]
    DEFAULT_CSS = """
    LaunchModal { align: center middle; }
    LaunchModal > Vertical { width: 84; max-width: 98%; height: auto; max-height: 98%; overflow-y: auto;
        border: round $accent; background: $surface; padding: 0 1; }
    LaunchModal Grid { grid-size: 2; grid-columns: 16 1fr; grid-rows: 1; height: auto; grid-gutter: 0 1;
        margin: 1 0; }
    LaunchModal Grid Label { color: $text-muted; }
    LaunchModal Grid Input, LaunchModal Grid Select { background: $boost; }
    LaunchModal Grid Input:focus { background: $accent 35%; color: $text; }
    LaunchModal Grid Select:focus > SelectCurrent { background: $accent 35%; }
    LaunchModal Grid Label.-focused { color: $accent; text-style: bold; }
    LaunchModal #launch-error { color: $error; height: auto; }
    LaunchModal #launch-buttons { height: auto; }
    """

    def __init__(self, replay_sources: list[tuple[str, str]], defaults: dict | None = None) -> None:
        super().__init__()
        self._sources = replay_sources  # (label, batch dir)
        self._d = {
            "suite": "mini-bugs",
            "provider": "replay",
            "model": "",
            "base_url": "",
            "rollouts": "2",
            "temperature": "0.7",
            "seed": "0",
            "workers": "2",
            "max_iters": "30",
            "loop_limit": "5",
            "allocation": "fixed",
            "budget": "",
            "pairs_per_task": "0",
            "give_up_after": "4",
            "executor": "thread",
            "ray_address": "",
            "tasks": "",
        }
        self._d.update({k: str(v) for k, v in (defaults or {}).items() if isinstance(v, (str, int, float))})

    def compose(self) -> ComposeResult:
        d = self._d
        paths = [path for _, path in self._sources]
        replay_value = d.get("replay_from") if d.get("replay_from") in paths else (paths[0] if paths else Select.BLANK)
        if d["provider"] not in PROVIDERS:
            d["provider"] = "replay"
        with Vertical():
            yield Label("[b]Launch a batch[/b]  (ctrl+s launch · escape cancel · tab next field)")
            with Grid():
                for f in FIELDS:
                    yield Label(f.label)
                    if f.choices:
                        yield Select(f.choices, value=d[f.key], allow_blank=False, id=f.id, compact=True)
                    else:
                        yield Input(
                            d[f.key],
                            id=f.id,
                            type=f.type,
                            placeholder=f.placeholder,
                            compact=True,
                            select_on_focus=False,
                        )
                    if f.key == "provider":
                        yield Label("replay from", id="l-replay")
                        yield Select(
                            self._sources,
                            value=replay_value,
                            allow_blank=not self._sources,
                            id="f-replay",
                            prompt="(no recorded batch)",
                            compact=True,
                        )
            yield Label("", id="launch-error")
            yield Button("Launch (ctrl+s)", variant="primary", id="launch-go", compact=True)

    def on_mount(self) -> None:
        self._show_replay()
        self.query_one("#f-suite", Input).focus()

    def _show_replay(self) -> None:
        """ "replay from" only means something to the replay provider: hidden otherwise
        (and so out of the tab order)."""
        replay = str(self.query_one("#f-provider", Select).value) == "replay"
        self.query_one("#l-replay", Label).display = replay
        self.query_one("#f-replay", Select).display = replay

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "f-provider":
            self._show_replay()

    def on_descendant_focus(self, event) -> None:
        # Light the label of the focused field: the field itself is one line of grey.
        for label in self.query("Grid Label"):
            label.remove_class("-focused")
        widget = event.widget
        grid = self.query_one(Grid)
        children = list(grid.children)
        if widget in children and children.index(widget) > 0:
            children[children.index(widget) - 1].add_class("-focused")

    def form_values(self) -> dict[str, str]:
        """The form as typed, to offer again at the next launch (tui.prefs)."""
        out = {key: self.query_one(wid, Input).value for key, wid in _INPUTS.items()}
        out["provider"] = str(self.query_one("#f-provider", Select).value)
        out["allocation"] = str(self.query_one("#f-allocation", Select).value)
        out["executor"] = str(self.query_one("#f-executor", Select).value)
        replay = self.query_one("#f-replay", Select).value
        if replay is not Select.BLANK:
            out["replay_from"] = str(replay)
        return out

    def _val(self, wid: str) -> str:
        return self.query_one(wid, Input).value.strip()

    def _request(self) -> BatchRequest:
        """The form as a request; the request model checks it (`BatchRequestError` is a ValueError)."""
        replay = self.query_one("#f-replay", Select).value
        allocation = str(self.query_one("#f-allocation", Select).value)
        try:
            numbers = {
                "rollouts": int(self._val("#f-rollouts")),
                "seed": int(self._val("#f-seed") or 0),
                "max_workers": int(self._val("#f-workers")),
                "max_iters": int(self._val("#f-max-iters")),
                "temperature": float(self._val("#f-temperature")) if self._val("#f-temperature") else None,
                "budget_rollouts": int(self._val("#f-budget")) if self._val("#f-budget") else None,
                "loop_limit": int(self._val("#f-loop-limit") or 5),
            }
            if allocation == "adaptive":  # fixed allocation takes no adaptive knobs
                numbers["pairs_per_task"] = int(self._val("#f-pairs-per-task") or 0)
                numbers["give_up_after"] = int(self._val("#f-give-up-after") or 4)
        except ValueError as exc:
            raise ValueError(f"numbers only in the numeric fields ({exc})") from None
        return BatchRequest.parse(
            suite=self._val("#f-suite"),
            provider=str(self.query_one("#f-provider", Select).value),
            model=self._val("#f-model") or None,
            base_url=self._val("#f-base-url") or None,
            replay_from=None if replay is Select.BLANK else str(replay),
            tasks=[t.strip() for t in self._val("#f-tasks").split(",") if t.strip()] or None,
            allocation=allocation,
            executor=str(self.query_one("#f-executor", Select).value),
            ray_address=self._val("#f-ray-address") or None,
            **numbers,
        )

    def action_launch(self) -> None:
        try:
            params = self._request()
        except ValueError as exc:
            self.query_one("#launch-error", Label).update(str(exc))
            return
        remember = getattr(self.app, "remember", None)
        if remember is not None:
            remember(launch=self.form_values())
        self.dismiss(params)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_launch()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_launch()

    def action_cancel(self) -> None:
        self.dismiss(None)
