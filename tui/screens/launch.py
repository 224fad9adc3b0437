"""The launch form: a `BatchRequest` (the one `repo-agent run` builds), validated before it is returned."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from agent.batch_request import BatchRequest

PROVIDERS = ("replay", "openai", "together")


# Form key -> input id: what `form_values` keeps and the defaults dict fills.
_INPUTS = {
    "suite": "#f-suite",
    "model": "#f-model",
    "base_url": "#f-base-url",
    "rollouts": "#f-rollouts",
    "temperature": "#f-temperature",
    "seed": "#f-seed",
    "workers": "#f-workers",
    "max_iters": "#f-max-iters",
    "budget": "#f-budget",
    "pairs_per_task": "#f-pairs-per-task",
    "give_up_after": "#f-give-up-after",
    "tasks": "#f-tasks",
    "loop_limit": "#f-loop-limit",
    "ray_address": "#f-ray-address",
}


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
                yield Label("suite")
                yield Input(
                    d["suite"],
                    id="f-suite",
                    compact=True,
                    select_on_focus=False,
                    placeholder="mini-bugs, suite.json, or a QuixBugs dir[:a,b]",
                )
                yield Label("provider")
                yield Select(
                    [(p, p) for p in PROVIDERS], value=d["provider"], allow_blank=False, id="f-provider", compact=True
                )
                yield Label("replay from", id="l-replay")
                yield Select(
                    self._sources,
                    value=replay_value,
                    allow_blank=not self._sources,
                    id="f-replay",
                    prompt="(no recorded batch)",
                    compact=True,
                )
                yield Label("model")
                yield Input(
                    d["model"],
                    id="f-model",
                    compact=True,
                    select_on_focus=False,
                    placeholder="e.g. Qwen/Qwen2.5-7B-Instruct-Turbo",
                )
                yield Label("base URL")
                yield Input(
                    d["base_url"],
                    id="f-base-url",
                    compact=True,
                    select_on_focus=False,
                    placeholder="OpenAI-compatible endpoint (optional)",
                )
                yield Label("rollouts/task")
                yield Input(d["rollouts"], id="f-rollouts", type="integer", compact=True, select_on_focus=False)
                yield Label("temperature")
                yield Input(d["temperature"], id="f-temperature", type="number", compact=True, select_on_focus=False)
                yield Label("seed")
                yield Input(d["seed"], id="f-seed", type="integer", compact=True, select_on_focus=False)
                yield Label("workers")
                yield Input(d["workers"], id="f-workers", type="integer", compact=True, select_on_focus=False)
                yield Label("executor")
                yield Select(
                    [("threads (this machine)", "thread"), ("Ray tasks (needs the ray extra)", "ray")],
                    value=d["executor"],
                    allow_blank=False,
                    id="f-executor",
                    compact=True,
                )
                yield Label("ray address")
                yield Input(
                    d["ray_address"],
                    id="f-ray-address",
                    compact=True,
                    select_on_focus=False,
                    placeholder="empty: a local Ray; auto: join the running cluster",
                )
                yield Label("max iters")
                yield Input(d["max_iters"], id="f-max-iters", type="integer", compact=True, select_on_focus=False)
                yield Label("loop limit")
                yield Input(
                    d["loop_limit"],
                    id="f-loop-limit",
                    type="integer",
                    compact=True,
                    select_on_focus=False,
                    placeholder="end a looping rollout after K repeats (0 = only flag it)",
                )
                yield Label("allocation")
                yield Select(
                    [("fixed (rollouts/task each)", "fixed"), ("adaptive (rounds, within budget)", "adaptive")],
                    value=d["allocation"],
                    allow_blank=False,
                    id="f-allocation",
                    compact=True,
                )
                yield Label("budget rollouts")
                yield Input(
                    d["budget"],
                    id="f-budget",
                    type="integer",
                    compact=True,
                    select_on_focus=False,
                    placeholder="adaptive: required; fixed: optional cap",
                )
                yield Label("pairs/task")
                yield Input(
                    d["pairs_per_task"],
                    id="f-pairs-per-task",
                    type="integer",
                    compact=True,
                    select_on_focus=False,
                    placeholder="adaptive: 0 = as many as the budget buys",
                )
                yield Label("give up after")
                yield Input(
                    d["give_up_after"], id="f-give-up-after", type="integer", compact=True, select_on_focus=False
                )
                yield Label("tasks")
                yield Input(
                    d.get("tasks", ""),
                    id="f-tasks",
                    placeholder="comma-separated ids (empty: all; replay: the recorded ones)",
                    compact=True,
                    select_on_focus=False,
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
