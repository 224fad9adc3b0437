"""Rollout: one rollout's tool-call stream, live, with the selected call beside it; `c`
shows the whole conversation instead (every message, reasoning included).

Reads the trace file itself (tui.live_trace), new bytes only, when the app's trace
watcher says the file changed (every half second without a watcher) while the screen
is shown and the rollout has not ended; the cursor follows new calls while it sits on
the last row. Steps the engine recorded as a loop are marked ⟳.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from agent.trace import batch_running, rollout_state, trace_path
from agent.untrusted import neutralise
from labeling.store import NotFound
from tui.live_trace import CallView, LiveTrace
from tui.screens.base import StudioScreen
from tui.state import fmt_cost, fmt_duration, fmt_tokens, replay_dir
from tui.widgets.conversation import ConversationView
from tui.widgets.diff_view import DiffView
from tui.widgets.fit_table import cut_text, fit_columns
from tui.widgets.outcome_badge import badge_style

CALLS_FLEX = [("arguments", 8), ("tool", 6)]  # cut before status and time

STATUS_STYLE = {
    "ok": "green",
    "passed": "green",
    "failed": "red",
    "error": "bold red",
    "invalid": "bold magenta",
    "running": "yellow",
    "no result": "dim",
}
END_KEY = "__end__"


def shown_text(value: object) -> str:
    """Text from the trace (a tool's output, the model's words) with escape codes shown, not sent."""
    return neutralise(value, markup=False)


def render_args(cv: CallView):
    """Arguments as a person reads them: `key: value`, multi-line strings (file content)
    as code, highlighted by the file they are for."""
    if cv.args is None:
        return Text(shown_text(cv.arguments or "(no arguments)"))
    if not cv.args:
        return Text("(no arguments)", style="dim")
    parts: list = []
    path = str(cv.args.get("rel_path") or "")
    for key, value in cv.args.items():
        if isinstance(value, str) and "\n" in value:
            parts.append(Text(f"{shown_text(key)}:", style="bold cyan"))
            lexer = Syntax.guess_lexer(path, code="") if path else "text"
            parts.append(
                Syntax(
                    shown_text(value),
                    lexer,
                    theme="monokai",
                    background_color="default",
                    line_numbers=True,
                    word_wrap=True,
                )
            )
        else:
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            parts.append(Text.assemble((f"{shown_text(key)}: ", "bold cyan"), shown_text(shown)))
    return Group(*parts)


def test_run_text(run) -> Text:
    """passed / failed, or what happened when no test ran at all (never "failed")."""
    c = run.counts
    total = max(c.collected, c.passed + c.failed + c.errors)
    if run.timed_out:
        return Text("timed out", style="red")
    if not total and not run.passed:
        return Text("no tests ran", style="yellow")
    return Text("passed", style="green") if run.passed else Text("failed", style="red")


def error_cause(message: str) -> str:
    """The cause first: "gave up after 4 retries: APIError: …" reads "APIError: … (gave
    up after 4 retries)", so a narrow screen still shows why."""
    head, sep, cause = message.partition(": ")
    if sep and head.startswith("gave up after"):
        return f"{cause} ({head})"
    return message


def status_text(cv: CallView) -> Text:
    return Text(cv.status, style=STATUS_STYLE[cv.status])


def tokens_shown(t: LiveTrace) -> tuple[int, int]:
    """Tokens in/out so far; an import with no per-call usage shows the totals its outcome had
    (as its pair card does)."""
    if t.end is not None and not (t.tokens_in or t.tokens_out):
        return t.end.outcome.tokens_in, t.end.outcome.tokens_out
    return t.tokens_in, t.tokens_out


class RolloutScreen(StudioScreen):
    MODE = "rollout"
    LIVENESS_S = 2.0  # how often a rollout without its end asks whether its batch still runs
    BINDINGS = [
        Binding("enter", "open_steps", "Mark steps"),
        Binding("c", "toggle_conversation", "Talk", tooltip="The whole conversation, or the tool calls"),
        # Short names: the footer fits 80 columns (help spells them out).
        Binding("G", "last", "Last call"),
        Binding("e", "end", "End+patch", tooltip="The final summary and the patch"),
        Binding("F", "toggle_follow", "Follow"),
        Binding("v", "toggle_split", "Split"),
        Binding("n", "other_rollout(1)", "Next"),
        Binding("p", "other_rollout(-1)", "Prev"),
        # Shown in the head of a SUSPECT rollout only: the footer stays as it was.
        Binding("C", "clear_suspect", "Clear SUSPECT", show=False, tooltip="Clear a SUSPECT rollout for export"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.trace: LiveTrace | None = None
        self.uid: str | None = None
        self.follow = True
        self._rows = 0
        self._shown: dict[int, tuple] = {}  # row -> (status, duration, looped) as last drawn
        self._copies: dict[str, str | None] = {}  # uid -> the original it copies (None: an original)
        self._watched: Path | None = None
        self._alive: bool | None = None  # the batch's liveness the header was drawn with

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        yield Static(id="rollout-head")
        with Horizontal(id="rollout-body"):
            table: DataTable[RenderableType] = DataTable(id="calls", cursor_type="row", zebra_stripes=True)
            for label in ("step", "tool", "arguments", "status", "time"):
                table.add_column(label, key=label)
            yield table
            with Vertical(id="detail"):
                with Vertical(id="call-pane"):
                    yield Static(classes="title", id="call-title")
                    with VerticalScroll(id="call-args"):
                        yield Static(id="call-args-text")
                    yield Static("result", classes="title")
                    with VerticalScroll(id="call-result"):
                        yield Static(id="call-result-text")
                with Vertical(id="final-pane"):
                    yield Static(id="suspect-lines")
                    yield Static("final summary", classes="title")
                    yield Static(id="final-summary")
                    yield Static("patch", classes="title")
                    yield DiffView(id="final-diff")
        yield ConversationView(id="conversation")
        yield self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#final-pane").display = False
        self.query_one(ConversationView).display = False
        if getattr(self.app, "watcher", None) is None:  # no file-system events: poll
            self.set_interval(0.5, self.poll, name="follow")
        # A batch process that dies writes nothing more: no event would ever redraw the header.
        self.set_interval(self.LIVENESS_S, self.check_alive, name="liveness")
        self._render_head()

    def check_alive(self) -> None:
        """Redraw the header when a rollout without its end changes between running and
        interrupted (its batch's process died, or a resume took it up again)."""
        t = self.trace
        if t is None or t.start is None or t.end is not None or not self.is_current:
            return
        if batch_running(t.path.parent.parent) != self._alive:
            self._render_head()

    def traces_changed(self, paths: set[Path]) -> None:
        if self.trace is not None and self._watched in paths:
            self.poll()

    # ------------------------------------------------------------------ data
    def on_show_screen(self) -> None:
        self.studio.default_rollout()
        uid = self.state.rollout_uid
        if uid != self.uid:
            self.load(uid)
        self._focus_body()
        at, self.state.rollout_at = self.state.rollout_at, None
        if at is not None and self.trace is not None:
            self.open_at(*at)

    def open_at(self, step: int | None, place: str) -> None:
        """A search hit (tui/screens/search.py): a message in the conversation, a call or an
        output on the calls table, at the step's first call; a patch at the end."""
        self.follow = False
        row = next((i for i, cv in enumerate(self.trace.calls if self.trace else []) if cv.step == step), None)
        if row is not None:
            self.query_one("#calls", DataTable).move_cursor(row=row, animate=False)
        talk = self.query_one(ConversationView)
        if (place == "message") != talk.display:
            self.action_toggle_conversation()  # it shows the cursor's step
        elif talk.display:
            talk.show_step(step)
        if place == "patch":
            self.action_end()

    def _focus_body(self) -> None:
        talk = self.query_one(ConversationView)
        (talk if talk.display else self.query_one("#calls", DataTable)).focus()

    def _path_for(self, uid: str) -> Path:
        try:
            return Path(self.store.rollout(uid).trace_path)
        except NotFound:  # not indexed yet: where a batch launched here writes it
            batch_id, _, rid = uid.partition("/")
            path = trace_path(self.state.traces_dir / batch_id, rid)
            replayed = trace_path(replay_dir(self.state.traces_dir) / batch_id, rid)
            return replayed if not path.parent.parent.is_dir() and replayed.parent.parent.is_dir() else path

    def load(self, uid: str | None) -> None:
        self.uid = uid
        self.trace = LiveTrace(self._path_for(uid)) if uid else None
        self._watched = self.trace.path.absolute() if self.trace else None
        self._rows = 0
        self._shown = {}
        self.follow = True
        table = self.query_one("#calls", DataTable)
        table.clear()
        self.query_one(ConversationView).set_turns([], reset=True)
        self.poll()
        if self.trace is not None and self.trace.end is not None and table.row_count:
            # A finished rollout reads from the top; a running one follows its tail.
            self.follow = False
            table.move_cursor(row=0, animate=False)
        self._render_head()

    def poll(self) -> None:
        """Read new events (cheap when nothing changed: one stat)."""
        if self.trace is None or not self.is_current:
            return
        if not self.trace.poll() and self._rows:
            return
        self._sync_rows()
        self._render_head()

    def _sync_rows(self) -> None:
        table = self.query_one("#calls", DataTable)
        at_end = table.cursor_row >= table.row_count - 1
        calls = self.trace.calls if self.trace else []
        # Rows for calls already shown may have changed (a result arrived): update in place.
        # Row keys are positions: call ids are not unique across steps for every model.
        looped = self.trace.loop_steps if self.trace else set()
        for i in range(min(self._rows, len(calls))):
            # Only cells that changed: an update invalidates the row's render cache, and
            # re-rendering every row on each new step made following slower as it grew.
            cv = calls[i]
            shown = (cv.status, cv.duration_s, cv.step in looped)
            if self._shown.get(i) != shown:
                self._shown[i] = shown
                table.update_cell(str(i), "status", status_text(cv))
                table.update_cell(str(i), "time", fmt_duration(cv.duration_s))
                if cv.step in looped:
                    table.update_cell(str(i), "step", Text(f"{cv.step}⟳", style="bold yellow"))
        for i, cv in enumerate(calls[self._rows :], self._rows):
            self._shown[i] = (cv.status, cv.duration_s, cv.step in looped)
            step = Text(f"{cv.step}⟳", style="bold yellow") if cv.step in looped else str(cv.step)
            table.add_row(
                step,
                cut_text(cv.name),
                cut_text(cv.key_args(200)),
                status_text(cv),
                fmt_duration(cv.duration_s),
                key=str(i),
            )
        self._rows = len(calls)
        self.query_one(ConversationView).set_turns(self.trace.turns if self.trace else [])
        if self.trace and self.trace.end is not None and END_KEY not in table.rows:
            table.add_row(
                "■",
                Text("end", style="bold"),
                cut_text(self.trace.end.stop_reason, style="dim"),
                "",
                fmt_duration(self.trace.end.duration_s),
                key=END_KEY,
            )
        fit_columns(table, CALLS_FLEX)
        if self.follow and at_end and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)
        self._render_detail()

    def on_resize(self) -> None:
        fit_columns(self.query_one("#calls", DataTable), CALLS_FLEX)

    # ------------------------------------------------------------------ rendering
    def _copy_of(self) -> str | None:
        """The uid whose content this ended rollout repeats (the store's, read once)."""
        uid = self.uid
        if uid is None:
            return None
        if uid not in self._copies:
            try:
                self._copies[uid] = self.store.rollout(uid).copy_of
            except NotFound:
                return None  # not ingested yet: asked again at the next render
        return self._copies[uid]

    def _render_head(self) -> None:
        head = self.query_one("#rollout-head", Static)
        t = self.trace
        if t is None:
            head.update(
                Text("No rollout selected: open one from Runs (F1: enter) or Pairs (F3: 1 / 2).", style="yellow")
            )
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        if t.start is None:
            text.append(shown_text(f" {self.uid} "), style="bold reverse")
            text.append(f"  {shown_text(t.problem)}" if t.problem else "  waiting for the trace…", style="yellow")
            head.update(text)
            return
        # The outcome line first (it must survive 80 columns), then who ran it.
        text.append(f" {shown_text(t.start.task_id)} ", style="bold reverse")
        text.append(" ")
        # One reading of the state (agent.trace.rollout_state): a trace without its end in a
        # batch whose process is gone was interrupted, not running.
        self._alive = t.end is not None or batch_running(t.path.parent.parent)
        state = rollout_state(t.end, alive=self._alive)
        text.append(f" {state.label.upper()} ", style=badge_style(state.label))
        if t.end is not None:
            text.append(f" {shown_text(t.end.stop_reason)}", style="dim")
            if copy_of := self._copy_of():
                text.append(f" · copy of {copy_of}: counted once, left out of pairs and exports", style="yellow")
        elif state.status != "running":
            text.append(" resume its batch from Runs (R)", style="dim")
        text.append("\n ")
        invalid = sum(1 for c in t.calls if not c.valid)
        text.append(f"steps {t.steps} · calls {len(t.calls)}")
        text.append(f" ({invalid} invalid)" if invalid else "", style="magenta")
        tin, tout = tokens_shown(t)
        text.append(f" · tokens {fmt_tokens(tin)}/{fmt_tokens(tout)}")
        if t.tests:
            text.append(" · last test run: ")
            text.append_text(test_run_text(t.tests[-1]))
        if t.loops:
            last_loop = t.loops[-1]
            text.append(f" · ⟳{last_loop.pattern} ×{last_loop.repeats}", style="bold yellow")
        if t.stalls:
            text.append(f" · stalled {t.stalls[-1].idle_s:.0f}s on {t.stalls[-1].waiting_on}", style="bold red")
        saved = t.end.outcome.saved if t.end is not None else None
        if saved is not None:
            money = f", {fmt_cost(saved.cost_usd)}" if saved.cost_usd is not None else ""
            tokens = fmt_tokens(saved.tokens_in + saved.tokens_out)
            text.append(f" · saved ~{saved.steps} steps, ~{tokens} tok{money}", style="green")
        # An interrupted rollout writes nothing more: nothing to follow.
        text.append("   following" if self.follow and state.status == "running" else "", style="italic yellow")
        text.append(shown_text(f"   {t.start.provider}/{t.start.model}"), style="cyan")
        text.append(shown_text(f"   {self.uid}"), style="dim")
        if t.end is not None and t.end.outcome.suspect:
            text.append("\n ")
            text.append_text(self._suspect_line(t.end.outcome.suspect))
        if t.errors:
            text.append("\n ")
            text.append(f"{len(t.errors)} error{'s' if len(t.errors) > 1 else ''}: ", style="bold red")
            text.append(shown_text(error_cause(t.errors[-1].message)), style="red")
        head.update(text)

    def _cleared_by(self) -> str | None:
        """Who cleared this rollout of SUSPECT (None: held out of exports)."""
        event = self.store.cleared_rollouts([self.uid]).get(self.uid) if self.uid else None
        return event.labeler if event is not None else None

    def _suspect_line(self, hits) -> Text:
        first = hits[0]
        where = f" {first.path}:{first.line}" if first.path and first.line else ""
        text = Text(f"⚠ {len(hits)} mark{'s' if len(hits) > 1 else ''} of gaming: ", style="bold yellow")
        text.append(f"{first.rule}{where} {first.text}", style="yellow")
        state = self.trace.end.outcome.state if self.trace and self.trace.end else None
        if state is not None and state.status == "probe":
            text.append(" · a cheat probe: never exported", style="dim")
        elif (who := self._cleared_by()) is not None:
            text.append(f" · cleared by {who} (C takes it back)", style="green")
        else:
            text.append(" · out of exports until cleared: e shows the lines, C clears", style="bold")
        return text

    def _render_suspect(self) -> None:
        """Every SUSPECT mark with its line, above the patch."""
        box = self.query_one("#suspect-lines", Static)
        hits = self.trace.end.outcome.suspect if self.trace and self.trace.end else []
        box.display = bool(hits)
        if not hits:
            return
        text = Text("SUSPECT: the marks and their lines\n", style="bold yellow")
        for h in hits:
            where = f"{h.path}:{h.line}" if h.path and h.line else "test runs"
            text.append(f"  {h.rule:<17} ", style="bold")
            text.append(f"{where:<24} ", style="cyan")
            text.append(f"{h.text}\n")
        box.update(text)

    def _render_detail(self) -> None:
        table = self.query_one("#calls", DataTable)
        call_pane = self.query_one("#call-pane")
        final_pane = self.query_one("#final-pane")
        if not table.row_count or self.trace is None:
            call_pane.display, final_pane.display = True, False
            self.query_one("#call-title", Static).update("")
            self.query_one("#call-args-text", Static).update("")
            self.query_one("#call-result-text", Static).update("")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key == END_KEY:
            call_pane.display, final_pane.display = False, True
            end, final = self.trace.end, self.trace.final
            summary = final.summary if final and final.summary else "(the agent gave no final summary)"
            self.query_one("#final-summary", Static).update(Text(shown_text(summary)))
            self._render_suspect()
            diff = self.query_one("#final-diff", DiffView)
            diff.split = self.state.split_diff
            diff.set_patch(end.outcome.patch if end else "", empty_message="(no changes: empty patch)")
            return
        call_pane.display, final_pane.display = True, False
        if not key or not key.isdigit() or int(key) >= len(self.trace.calls):
            return
        cv = self.trace.calls[int(key)]
        title = Text(f"step {cv.step} · {shown_text(cv.name)} · ")
        title.append_text(status_text(cv))
        title.append(f" · {fmt_duration(cv.duration_s)}")
        self.query_one("#call-title", Static).update(title)
        args = render_args(cv)
        problems = ([f"parse error: {cv.parse_error}"] if cv.parse_error else []) + cv.violations
        if problems:
            warn = Text(shown_text("\n".join(problems)), style="bold magenta")
            self.query_one("#call-args-text", Static).update(Group(warn, args))
        else:
            self.query_one("#call-args-text", Static).update(args)
        shown = cv.shown_result()
        result = shown if shown is not None else ("(waiting for the result…)" if cv.ok is None else "")
        res = Text(shown_text(result))
        if cv.error:
            res = Text.assemble(Text(f"error: {shown_text(cv.error)}\n", style="bold red"), res)
        if cv.truncated:
            res.append("\n[output was cut]", style="dim")
        self.query_one("#call-result-text", Static).update(res)

    # ------------------------------------------------------------------ events/actions
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = self.query_one("#calls", DataTable)
        self.follow = event.cursor_row >= table.row_count - 1
        self._render_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_steps()

    def action_toggle_conversation(self) -> None:
        talk = self.query_one(ConversationView)
        body = self.query_one("#rollout-body")
        talk.display, body.display = not talk.display, talk.display
        if talk.display:
            talk.show_step(self._selected_step())
        self._focus_body()

    def _selected_step(self) -> int | None:
        table = self.query_one("#calls", DataTable)
        if not table.row_count or self.trace is None:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key and key.isdigit() and int(key) < len(self.trace.calls):
            return self.trace.calls[int(key)].step
        return None

    def on_conversation_view_step_chosen(self, event: ConversationView.StepChosen) -> None:
        """The calls table follows the conversation's cursor, so enter marks that step."""
        table = self.query_one("#calls", DataTable)
        if event.step is None or self.trace is None:
            return
        row = next((i for i, cv in enumerate(self.trace.calls) if cv.step == event.step), None)
        if row is not None:
            table.move_cursor(row=row, animate=False)

    def action_open_steps(self) -> None:
        if not self.uid:
            return
        table = self.query_one("#calls", DataTable)
        if table.row_count and self.trace is not None:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key and key.isdigit() and int(key) < len(self.trace.calls):
                self.state.step = self.trace.calls[int(key)].step
        self.studio.open_rollout(self.uid, "steps")

    def action_last(self) -> None:
        table = self.query_one("#calls", DataTable)
        if table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)
        self.follow = True

    def action_end(self) -> None:
        table = self.query_one("#calls", DataTable)
        if END_KEY in table.rows:
            table.move_cursor(row=table.get_row_index(END_KEY), animate=False)
            self.query_one("#final-diff", DiffView).focus()
        else:
            self.notify("The rollout has not ended yet.")

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        if self.follow:
            self.action_last()
        self._render_head()

    def action_other_rollout(self, delta: int) -> None:
        """The next/previous rollout of the same batch (running ones included)."""
        if not self.uid:
            return
        uid = self.store.neighbour_rollout(self.uid, delta)  # by key: no batch (nor patch) read
        if uid is not None:
            self.studio.open_rollout(uid)
        else:
            self.notify("No more rollouts in this batch that way.")

    def action_clear_suspect(self) -> None:
        """Clear a SUSPECT rollout for export, or take a clear back (both in the human log)."""
        end = self.trace.end if self.trace is not None else None
        state = end.outcome.state if end is not None else None
        if not self.uid or state is None or state.verdict != "suspect":
            self.notify("Only a SUSPECT rollout needs clearing.")
            return
        if state.status == "probe":
            self.notify("A cheat probe's rollout is never exported: nothing to clear.")
            return
        try:
            if self._cleared_by() is None:
                self.store.clear_suspect(self.uid)
                self.notify("Cleared: exports may use this rollout (C again takes it back).")
            else:
                self.store.unclear_suspect(self.uid)
                self.notify("Held again: out of exports until cleared.")
        except NotFound:
            self.notify("This rollout is not in the label store yet.", severity="warning")
            return
        self._render_head()

    def action_toggle_split(self) -> None:
        self.state.split_diff = not self.state.split_diff
        self.studio.remember(diff_view=self.state.diff_view)
        self.query_one("#final-diff", DiffView).split = self.state.split_diff
