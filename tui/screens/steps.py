"""Steps: mark bad tool-call steps of one rollout (`x` then a reason), jump between flags."""

from __future__ import annotations

import json

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from agent.untrusted import neutralise, neutralise_line
from labeling.records import STEP_REASONS, StepRow
from labeling.store import NotFound
from tui.conversation_model import printable
from tui.live_trace import LiveTrace
from tui.screens.base import StudioScreen
from tui.widgets.fit_table import cut_text, fit_columns
from tui.widgets.prompt import PickModal, PromptModal

STEPS_FLEX = [("tools", 10), ("flags", 8)]  # cut before the mark and its reason
RESULT_CHARS = 1500

REASON_LABELS = {
    "invalid_args": "invalid arguments",
    "wrong_file": "wrong file",
    "loop": "loop / repeated call",
    "premature_finish": "premature finish",
    "unneeded": "unneeded step",
    "other": "other (write why)",
}


ARGUMENT_CHARS = 4000


def arguments_text(args: dict | None, raw: str, limit: int = ARGUMENT_CHARS) -> Group:
    """A tool call's arguments as a person reads them: ``key: value`` a line, and a value of
    several lines (write_file's content, a patch) as its text below its key, indented (a
    wrapped line too), not as a JSON string of ``\\n``s. Keys and values are untrusted:
    neutralised, plain Text."""
    if args is None:  # did not parse to an object: the raw text as sent
        return Group(Text(neutralise(raw[:limit], markup=False) + ("…" if len(raw) > limit else "")))
    parts: list[RenderableType] = []
    for key, value in args.items():
        line = Text(f"{neutralise_line(key, markup=False)}:", style="bold")
        if isinstance(value, str) and "\n" in value:
            parts.append(line)
            body = Text(neutralise(value[:limit], markup=False).rstrip("\n"))
            if len(value) > limit:
                body.append(f"\n… {len(value) - limit:,} more characters", style="dim")
            parts.append(Padding(body, (0, 0, 0, 2)))
        else:
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            line.append(" " + neutralise_line(shown[:limit], markup=False) + ("…" if len(shown) > limit else ""))
            parts.append(line)
    return Group(*parts)


def _flags_text(row: StepRow) -> Text:
    t = Text()
    for f in row.auto_flags:
        t.append(f" {f} ", style="black on yellow")
        t.append(" ")
    return t


def _mark_text(row: StepRow) -> Text:
    if row.mark is None:
        return Text("")
    return Text(f"BAD: {row.mark.reason}", style="bold red")


class StepsScreen(StudioScreen):
    MODE = "steps"
    BINDINGS = [
        Binding("x", "mark", "Mark bad"),
        Binding("X", "unmark", "Unmark"),
        Binding("right_square_bracket", "jump(1)", "Next flagged", key_display="]"),
        Binding("left_square_bracket", "jump(-1)", "Prev flagged", key_display="["),
        Binding("u", "undo", "Undo"),
        Binding("r", "redo", "Redo", show=False),  # in help and the palette; the footer fits 80 columns
        Binding("o", "open_rollout", "Rollout"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.uid: str | None = None
        self.rows: list[StepRow] = []
        self._results: dict[tuple[int, str], str] = {}  # (step, call id) -> tool output
        self._words: dict[int, tuple[str, str | None]] = {}  # step -> (what the model said, its reasoning)

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        yield Static(id="steps-head")
        with Horizontal(id="steps-body"):
            table: DataTable[RenderableType] = DataTable(id="steps-table", cursor_type="row", zebra_stripes=True)
            table.add_column("step", key="step")
            table.add_column("tool calls", key="tools")
            table.add_column("auto flags", key="flags")
            table.add_column("mark", key="mark")
            yield table
            with VerticalScroll(id="step-detail"):
                yield Static(id="step-detail-text")
        yield self.compose_footer()

    def on_show_screen(self) -> None:
        self.studio.default_rollout()
        if self.state.rollout_uid != self.uid:
            self.refresh_data()
        if self.state.step is not None:
            index = next((i for i, r in enumerate(self.rows) if r.step == self.state.step), None)
            self.state.step = None
            if index is not None:
                self.query_one("#steps-table", DataTable).move_cursor(row=index, animate=False)
        self.query_one("#steps-table", DataTable).focus()

    def refresh_data(self) -> None:
        self.uid = self.state.rollout_uid
        table = self.query_one("#steps-table", DataTable)
        keep = table.cursor_row
        table.clear()
        head = self.query_one("#steps-head", Static)
        if not self.uid:
            self.rows = []
            head.update(
                Text("No rollout selected: open one from Pairs (1 / 2), Rollout (enter) or Runs.", style="yellow")
            )
            self._render_detail()
            return
        try:
            r = self.store.rollout(self.uid)
            self.rows = self.store.steps(self.uid)
        except NotFound:
            self.rows = []
            head.update(Text(f"{self.uid}: not indexed yet (it appears once ingest reaches it).", style="yellow"))
            self._render_detail()
            return
        for row in self.rows:
            tools = ", ".join(c.name + ("" if c.valid else "(invalid)") for c in row.calls) or "(no tool call)"
            label = Text(str(row.step), style="bold red" if row.mark else "bold yellow" if row.auto_flags else "")
            table.add_row(label, cut_text(tools), _flags_text(row), _mark_text(row), key=str(row.step))
        fit_columns(table, STEPS_FLEX)
        self._results, self._words = self._read_results(r.trace_path)
        flagged = sum(1 for s in self.rows if s.auto_flags)
        marked = sum(1 for s in self.rows if s.mark)
        t = Text()
        t.append(f" {r.task_id} ", style="bold reverse")
        t.append(f"  {self.uid}", style="dim")
        t.append(f"\n {len(self.rows)} steps · {flagged} auto-flagged", style="")
        t.append(f" · {marked} marked bad", style="red" if marked else "")
        t.append("   x: mark bad (never trained on) · ] [: flagged steps", style="dim")
        head.update(t)
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1), animate=False)
        self._render_detail()

    def on_resize(self) -> None:
        fit_columns(self.query_one("#steps-table", DataTable), STEPS_FLEX)

    @staticmethod
    def _read_results(trace_path: str) -> tuple[dict[tuple[int, str], str], dict[int, tuple[str, str | None]]]:
        """Tool outputs and the model's words are not in the store: read them from the trace,
        for this rollout only, so a step can be judged without leaving the screen."""
        from pathlib import Path

        trace = LiveTrace(Path(trace_path))
        trace.poll()
        results = {(c.step, c.call_id): r for c in trace.calls if (r := c.shown_result()) is not None}
        return results, trace.step_words()

    def _current(self) -> StepRow | None:
        table = self.query_one("#steps-table", DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _render_detail(self) -> None:
        out = self.query_one("#step-detail-text", Static)
        row = self._current()
        if row is None:
            out.update("")
            return
        parts: list = []
        head = Text(f"step {row.step}", style="bold")
        head.append(f"   tokens {row.tokens_in}/{row.tokens_out}", style="dim")
        parts.append(head)
        if row.mark:
            parts.append(
                Text(
                    f"marked bad: {row.mark.reason}"
                    + (f" — {row.mark.text}" if row.mark.text else "")
                    + f"  ({row.mark.labeler})",
                    style="bold red",
                )
            )
        if row.auto_flags:
            parts.append(Text("auto flags: " + ", ".join(row.auto_flags), style="yellow"))
        said, reasoning = self._words.get(row.step, ("", None))
        if reasoning:  # why the model took this step, before what it did
            parts.append(Text("\nreasoning", style="bold magenta"))
            parts.append(Text(printable(reasoning[:RESULT_CHARS]), style="italic"))
        if said.strip():
            parts.append(Text("\nsaid", style="bold"))
            parts.append(Text(printable(said[:RESULT_CHARS])))
        for c in row.calls:
            t = Text(f"\n{neutralise(c.name, markup=False)}", style="bold cyan")
            status = "invalid" if not c.valid else ("ok" if c.ok else "error" if c.ok is False else "—")
            t.append(f"  {status}", style={"invalid": "magenta", "error": "red", "ok": "green"}.get(status, ""))
            parts.append(t)
            for v in ([c.parse_error] if c.parse_error else []) + list(c.violations):
                parts.append(Text(f"  {neutralise(v, markup=False)}", style="magenta"))
            parts.append(arguments_text(c.args, c.arguments))
            if c.error:
                parts.append(Text(f"error: {neutralise(c.error, markup=False)}", style="red"))
            result = self._results.get((row.step, c.call_id))
            if result is not None:
                parts.append(Text("result:", style="bold"))
                cut = len(result) > RESULT_CHARS
                parts.append(
                    Text(
                        neutralise(result[:RESULT_CHARS], markup=False) + ("\n…" if cut else ""),
                        style="dim" if c.ok else "",
                    )
                )
        out.update(Group(*parts))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._render_detail()

    # ------------------------------------------------------------------ actions
    def action_mark(self) -> None:
        row = self._current()
        if row is None or self.uid is None:
            return
        uid, step = self.uid, row.step

        def with_text(reason: str, text: str | None) -> None:
            self.store.mark_step(uid, step, reason, text or None)  # committed on return
            self.refresh_data()

        def picked(reason: str | None) -> None:
            if reason is None:
                return
            if reason == "other":
                self.app.push_screen(
                    PromptModal(f"Why is step {step} bad?"),
                    lambda text: with_text(reason, text) if text is not None else None,
                )
            else:
                with_text(reason, None)

        choices = [(r, REASON_LABELS.get(r, r)) for r in STEP_REASONS]
        calls = ", ".join(c.name for c in row.calls) or "no tool call"
        # Docked at the bottom: the step being marked stays readable above it.
        self.app.push_screen(PickModal(f"Step {step} ({calls}) is bad because…", choices, dock="bottom"), picked)

    def action_unmark(self) -> None:
        row = self._current()
        if row is None or self.uid is None or row.mark is None:
            return
        self.store.unmark_step(self.uid, row.step)
        self.refresh_data()

    def action_jump(self, delta: int, quiet: bool = False) -> None:
        table = self.query_one("#steps-table", DataTable)
        i = table.cursor_row + delta
        while 0 <= i < len(self.rows):
            if self.rows[i].auto_flags:
                table.move_cursor(row=i, animate=False)
                return
            i += delta
        if not quiet:
            self.notify("No more flagged steps that way.")

    def action_undo(self) -> None:
        ev = self.store.undo()
        self.notify(f"Undid {ev.value} on {ev.target[:30]}" if ev else "Nothing to undo.", markup=False)
        self.refresh_data()

    def action_redo(self) -> None:
        ev = self.store.redo()
        self.notify(f"Redid {ev.value} on {ev.target[:30]}" if ev else "Nothing to redo.", markup=False)
        self.refresh_data()

    def action_open_rollout(self) -> None:
        if self.uid:
            self.studio.open_rollout(self.uid)
