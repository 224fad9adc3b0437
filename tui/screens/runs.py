"""Runs: batches with progress; launch, cancel and resume batches without blocking.

A launched batch runs in a thread worker through `agent.batch.run_batch`, the same
engine as `repo-agent run`, writing into the traces directory; its rows here update
through the same tailing ingest that shows a batch started in another terminal.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from agent.allocation import AllocationReport
from agent.batch_request import BatchPlan, BatchRequest, BatchRequestError, plan_batch
from agent.batch_spec import BatchCallbacks
from agent.executor import RolloutCancels
from agent.sandbox import SandboxError, require_sandbox
from agent.trace import read_batch_meta
from labeling.errors import NotFound
from labeling.records import BatchRow
from labeling.stats import cheat_line, cheat_stats
from tui.messages import BatchProgress
from tui.screens.base import StudioScreen
from tui.screens.launch import LaunchModal
from tui.state import fmt_cost, fmt_tokens, replay_dir
from tui.widgets.fit_table import MiddleCut, cut_text, fit_columns
from tui.widgets.fleet import FleetView
from tui.widgets.outcome_badge import cell_style
from tui.widgets.prompt import ConfirmModal
from tui.widgets.table_sync import sync_table

# Cut first when the screen is narrow: ids and names, never status, result or cost.
BATCH_FLEX = [("model", 10), ("suite", 8), ("batch", 12)]
ROLLOUT_FLEX = [("rollout", 10), ("task", 8)]


def progress_bar(done: int, total: int, width: int = 16) -> Text:
    total = max(total, done, 1)
    filled = round(width * done / total)
    t = Text("█" * filled, style="green" if done >= total else "yellow")
    t.append("░" * (width - filled), style="dim")
    return t


def _status_text(b: BatchRow, cancelling: bool) -> Text:
    """The batch's status as its batch.json says (the one source of truth, ingested every
    tail interval); "cancelling" while a cancel asked here has not reached batch.json."""
    if cancelling and b.status == "running":
        return Text("cancelling…", style="bold magenta")
    if b.status == "interrupted":  # its process died (agent.trace.batch_alive): R resumes it
        return Text("interrupted (R)", style="bold red")
    return Text(b.status, style={"finished": "green", "cancelled": "magenta", "error": "red"}.get(b.status, "yellow"))


def standing_text(r) -> Text:
    """A rollout's result cell: its verdict, or why it has none (cancelled, copy...)."""
    label = r.standing
    return Text(label, style=cell_style(label))


BATCH_COLUMNS = ("batch", "status", "bar", "pass", "cost", "tokens", "suite", "model")  # as composed
ROLLOUT_COLUMNS = ("rollout", "task", "status", "result", "steps", "calls", "tokens")


class RunsScreen(StudioScreen):
    MODE = "runs"
    BINDINGS = [
        Binding("l", "launch", "Launch batch"),
        Binding("x", "cancel", "Cancel batch/rollout"),
        Binding("R", "resume", "Resume batch"),
        Binding("enter", "open", "Open"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[BatchRow] = []
        self._shown_batch: str | None = None
        self._launched: dict[str, BatchRequest] = {}
        self._reload = False

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        batches: DataTable[RenderableType] = DataTable(id="batches", cursor_type="row", zebra_stripes=True)
        # Status and figures before the names: what a narrow screen cuts is at the right.
        for label, key in (
            ("batch", "batch"),
            ("status", "status"),
            ("progress", "bar"),
            ("pass", "pass"),
            ("cost", "cost"),
            ("tokens in/out", "tokens"),
            ("suite", "suite"),
            ("provider/model", "model"),
        ):
            batches.add_column(label, key=key)
        yield batches
        yield FleetView()  # live rollouts, the ones needing attention first; hidden when none run
        yield Static(id="budget")  # adaptive batches: where the budget went
        rollouts: DataTable[RenderableType] = DataTable(id="batch-rollouts", cursor_type="row", zebra_stripes=True)
        for label, key in (
            ("rollout", "rollout"),
            ("task", "task"),
            ("status", "status"),
            ("result", "result"),
            ("steps", "steps"),
            ("calls", "calls"),
            ("tokens", "tokens"),
        ):
            rollouts.add_column(label, key=key)
        yield rollouts
        yield Static(
            "l launch (replay needs no key, no network) · enter opens · tab switches table · "
            "x cancels the batch, or on a running rollout below, that rollout",
            id="runs-hint",
        )
        yield self.compose_footer()

    def on_show_screen(self) -> None:
        if self.focused is None:
            self.query_one("#batches", DataTable).focus()

    def refresh_data(self) -> None:
        """Re-read batches and the shown batch's rollouts in a worker (one at a time; a
        change meanwhile reloads once more after it)."""
        if any(w.group == "runs-load" and w.node is self and not w.is_finished for w in self.app.workers):
            self._reload = True
            return
        b = self._selected_batch()
        self._load(b.batch_id if b else None)

    @work(thread=True, exclusive=True, group="runs-load", exit_on_error=False)
    def _load(self, bid: str | None) -> None:
        batches = self.store.batches()
        batches.sort(key=lambda b: (b.started or "", b.batch_id), reverse=True)
        if bid is None or all(b.batch_id != bid for b in batches):
            bid = batches[0].batch_id if batches else None
        rollouts, budget, planned = [], None, {}
        if bid is not None:
            rollouts = self.store.rollouts(batch_id=bid, with_patch=False)
            row = next(b for b in batches if b.batch_id == bid)
            path = Path(row.path)
            live = sum(1 for r in rollouts if r.state.status == "running")
            budget = _budget_text(path, row, live)
            if cheats := cheat_text(rollouts):
                budget = cheats if budget is None else Text.assemble(budget, "\n", cheats)
            try:  # a just-started rollout has no task in the store yet: its plan has
                planned = {p.rollout_id: p.task_id for p in read_batch_meta(path).planned}
            except Exception:
                planned = {}
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._apply, batches, bid, rollouts, budget, planned)

    def _apply(
        self, batches: list[BatchRow], bid: str | None, rollouts: list, budget: Text | None, planned: dict
    ) -> None:
        self.batches = batches
        table = self.query_one("#batches", DataTable)
        rows = []
        for b in batches:
            total = max(b.planned, b.rollouts)
            # over judged rollouts, copies left out: the same figure as stats (labeling/rollout_states.py)
            rate = f"{100 * b.passed / b.judged:.0f}%" if b.judged else "—"
            cancel = self.state.running_batches.get(b.batch_id)
            bar = progress_bar(b.finished, total, 12)
            bar.append(f" {b.finished}/{total}")
            cells = (
                MiddleCut(cut_text(b.batch_id)),
                _status_text(b, cancel is not None and cancel.is_set()),
                bar,
                rate,
                fmt_cost(b.cost_usd),
                f"{fmt_tokens(b.tokens_in)}/{fmt_tokens(b.tokens_out)}",
                cut_text(b.suite),
                cut_text(f"{b.provider}/{b.model}"),
            )
            rows.append((b.batch_id, cells))
        sync_table(table, rows, BATCH_COLUMNS, "batch")
        fit_columns(table, BATCH_FLEX)
        self.query_one(FleetView).refresh_fleet()
        sel = self._selected_batch()
        if sel is not None and sel.batch_id != bid:
            self._show_rollouts(force=True)  # the cursor is on another batch now
            return
        self._shown_batch = bid
        budget_w = self.query_one("#budget", Static)
        budget_w.display = budget is not None
        if budget is not None:
            budget_w.update(budget)
        rtable = self.query_one("#batch-rollouts", DataTable)
        rrows = []
        for r in sorted(rollouts, key=lambda r: (r.task_id or planned.get(r.rollout_id, ""), r.uid)):
            result = standing_text(r)
            rcells = (
                MiddleCut(cut_text(r.rollout_id)),  # the seed is at the end
                cut_text(r.task_id or planned.get(r.rollout_id, "")),
                r.stop_reason or r.state.label,
                result,
                str(r.steps),
                str(r.tool_calls),
                fmt_tokens(r.tokens_in + r.tokens_out),
            )
            rrows.append((r.uid, rcells))
        sync_table(rtable, rrows, ROLLOUT_COLUMNS, "rollout")
        fit_columns(rtable, ROLLOUT_FLEX)

    def traces_changed(self, paths: set[Path]) -> None:
        self.query_one(FleetView).traces_changed(paths)

    def on_resize(self) -> None:
        fit_columns(self.query_one("#batches", DataTable), BATCH_FLEX)
        fit_columns(self.query_one("#batch-rollouts", DataTable), ROLLOUT_FLEX)

    def worker_ended(self, worker) -> None:
        if worker.group == "runs-load" and self._reload:
            self._reload = False
            self.refresh_data()

    def _selected_batch(self) -> BatchRow | None:
        table = self.query_one("#batches", DataTable)
        if not self.batches or not table.row_count or not (0 <= table.cursor_row < table.row_count):
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((b for b in self.batches if b.batch_id == key), None)

    def _show_rollouts(self, force: bool = False) -> None:
        b = self._selected_batch()
        bid = b.batch_id if b else None
        if bid == self._shown_batch and not force:
            return
        if bid != self._shown_batch:
            self.query_one("#batch-rollouts", DataTable).clear()  # another batch: its own rows
            self._shown_batch = bid
        self.refresh_data()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "batches":
            self._show_rollouts()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id in ("batch-rollouts", "fleet-table") and event.row_key.value:
            self.studio.open_rollout(str(event.row_key.value))  # both tables are keyed by rollout uid
        elif event.data_table.id == "batches":
            self.query_one("#batch-rollouts", DataTable).focus()

    def action_open(self) -> None:
        table = self.query_one("#batch-rollouts", DataTable)
        if self.focused is table and table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            self.studio.open_rollout(str(key))
        else:
            table.focus()

    def batch_progress(self, msg: BatchProgress) -> None:
        if msg.finished:
            self.refresh_data()  # "cancelling…" gives way to what batch.json says

    # ------------------------------------------------------------------ launch / cancel / resume
    def action_launch(self) -> None:
        if self._launch_refused():
            return
        sources = [(b.batch_id, b.path) for b in self.batches if b.finished]
        last = self.studio.prefs.get("launch")  # the last launch's form, kept across runs
        self.app.push_screen(LaunchModal(sources, last if isinstance(last, dict) else None), self._launch)

    def _launch(self, request: BatchRequest | None) -> None:
        if request is None:
            return
        trace_dir = Path(self.state.traces_dir)
        if request.provider == "replay":
            # A replay re-plays recorded rollouts: written into the source folder it would
            # be copies of them there. It goes to a folder beside it, never into it.
            trace_dir = replay_dir(trace_dir)
            self.notify(f"The replay writes to {trace_dir}: beside the traces, never into them.", markup=False)
        self.start_batch(request.model_copy(update={"trace_dir": str(trace_dir)}))

    def start_batch(self, request: BatchRequest) -> None:
        """Plan the batch (suite, tasks, provider: the checks `repo-agent run` makes) and run it."""
        if self._launch_refused():  # launch and resume (replay is a launch) both come here
            return
        try:
            require_sandbox()  # no bwrap: REPO_AGENT_UNSAFE_NO_SANDBOX=1 in the studio's environment
            plan = plan_batch(request)
        except (BatchRequestError, SandboxError) as exc:
            self.notify(str(exc), title="Cannot launch", severity="error", markup=False)
            return
        batch_id = plan.batch_dir.name
        self.state.running_batches[batch_id] = plan.cancel
        self.state.rollout_cancels[batch_id] = RolloutCancels()  # the fleet view stops single rollouts
        self._launched[batch_id] = request
        self.notify(f"{batch_id}: {request.provider}/{plan.model}", title="Batch launched", markup=False)
        self._run_batch(plan)

    def _launch_refused(self) -> bool:
        """A served studio runs no model code unless its server was started with --allow-launch."""
        why = self.studio.served.launch_refusal() if self.studio.served else None
        if why:
            self.notify(why, title="Cannot launch", severity="error", markup=False)
        return why is not None

    @work(thread=True, group="batches", exit_on_error=False)
    def _run_batch(self, plan: BatchPlan) -> None:
        batch_id = plan.batch_dir.name
        post = self.app.post_message
        first = [True]
        done_total = [0, 0]

        def started(p) -> None:
            post(BatchProgress(batch_id, done_total[0], done_total[1], rollout_id=p.rollout_id, started=True))
            if first[0]:
                first[0] = False
                self.app.call_from_thread(self._follow_first, f"{batch_id}/{p.rollout_id}")

        def ended(result, done: int, total: int) -> None:
            done_total[:] = [done, total]
            post(BatchProgress(batch_id, done, total, rollout_id=result.rollout_id))

        error = None
        try:
            summary = plan.run(
                BatchCallbacks(rollout_start=started, rollout_end=ended),
                rollout_cancels=self.state.rollout_cancels.get(batch_id),
            )
            done_total[:] = [len(summary.results), len(summary.meta.planned)]
        except Exception as exc:  # shown, never raised into the UI
            error = f"{type(exc).__name__}: {exc}"
        post(BatchProgress(batch_id, done_total[0], done_total[1], finished=True, error=error))

    def _follow_first(self, uid: str) -> None:
        # One toast per launch (and one when it ends, from the app), not one per rollout.
        self.state.rollout_uid = uid
        self.notify(f"{uid} is running — F2 to watch it live.", title="Batch launched", markup=False)

    def action_cancel(self) -> None:
        """x: on a rollout (lower table focused) stop that rollout alone; else the selected
        batch. Both ask first: a cancel throws away the rollouts' work so far."""
        rollouts = self.query_one("#batch-rollouts", DataTable)
        if self.focused is rollouts and rollouts.row_count:
            # The row's own batch: the batches cursor may be on another one.
            uid = str(rollouts.coordinate_to_cell_key(rollouts.cursor_coordinate).row_key.value)
            self._stop_rollout(uid)
            return
        b = self._selected_batch()
        if b is None:
            return
        cancel = self.state.running_batches.get(b.batch_id)
        if cancel is None or b.status != "running":
            self.notify(self._not_cancellable(b), severity="warning", markup=False)
            return

        def stop_all(yes: bool | None) -> None:
            if not yes:
                return
            if self.state.running_batches.get(b.batch_id) is not cancel:  # it ended while we asked
                self.notify(f"{b.batch_id} has ended: nothing to cancel.", severity="warning", markup=False)
                return
            cancel.set()
            self.notify(f"Cancelling {b.batch_id}: running rollouts end cleanly; R resumes it.", markup=False)
            self.refresh_data()

        self.app.push_screen(
            ConfirmModal(
                f"Cancel batch {b.batch_id}?", "Running rollouts end as cancelled; unstarted ones wait for R (resume)."
            ),
            stop_all,
        )

    def _not_cancellable(self, b: BatchRow) -> str:
        if b.status != "running" or b.batch_id in self.state.running_batches:
            return f"{b.batch_id} has ended ({b.status}): nothing to cancel."
        return f"{b.batch_id} was launched outside this studio: cancel it where it runs (Ctrl-C there)."

    def _stop_rollout(self, uid: str) -> None:
        batch_id, _, rid = uid.rpartition("/")
        cancels = self.state.rollout_cancels.get(batch_id)
        if cancels is None or rid not in cancels.running():
            if cancels is None and batch_id not in self.state.running_batches and self._running_elsewhere(uid):
                why = f"{rid} runs in a batch launched outside this studio: stop it where it runs."
            else:
                why = f"{rid} is not running (nothing to stop)."
            self.notify(why, severity="warning", markup=False)
            return

        def stop_one(yes: bool | None) -> None:
            if yes and cancels.cancel(rid):
                self.notify(f"Stopping {rid}: it ends as cancelled; the batch goes on (R re-runs it).", markup=False)

        self.app.push_screen(
            ConfirmModal(f"Stop rollout {rid}?", "It ends as cancelled; the rest of the batch goes on."), stop_one
        )

    def _running_elsewhere(self, uid: str) -> bool:
        try:
            return self.store.rollout(uid).state.status == "running"
        except NotFound:
            return False

    def action_resume(self) -> None:
        b = self._selected_batch()
        if b is None:
            return
        if b.batch_id in self.state.running_batches:
            self.notify("That batch is still running.", severity="warning")
            return
        request = self._launched.get(b.batch_id)
        try:
            if request is None:
                request = BatchRequest.for_resume(read_batch_meta(Path(b.path)), Path(b.path))
        except BatchRequestError as exc:
            self.notify(f"cannot resume here: {exc}", severity="warning", markup=False)
            return
        except Exception as exc:
            self.notify(f"cannot read batch.json: {exc}", severity="error", markup=False)
            return
        self.start_batch(request.model_copy(update={"resume": b.path}))


def cheat_text(rollouts: list) -> Text | None:
    """One line: the batch's SUSPECT rollouts and its cheat rate on probes; None without either."""
    suspect = sum(1 for r in rollouts if r.suspect and not r.probe)
    stats = cheat_stats(rollouts)
    if not suspect and not stats:
        return None
    line = Text(" ")
    if suspect:
        line.append(f"{suspect} SUSPECT", style="bold yellow")
        line.append(" (out of exports until cleared: open one, C) ", style="dim")
    for s in stats:
        line.append(cheat_line(s), style="bold yellow" if s.cheated else "green")
    return line


def _budget_text(batch_dir: Path, b: BatchRow, live: int = 0) -> Text | None:
    """One line: how the batch's rollouts were spent, by task status (from batch.json)."""
    try:
        meta = read_batch_meta(batch_dir)
        if not meta.allocation:
            return None
        rep = AllocationReport.model_validate(meta.allocation)
    except Exception:  # an unreadable or older batch.json: nothing to show
        return None
    spent: dict[str, list[int]] = {}
    for t in rep.tasks:
        tally = spent.setdefault(t.status, [0, 0])
        tally[0] += 1
        tally[1] += t.rollouts
    # Spent is what ended; issued rollouts that a cancel stopped (or never started)
    # wait for a resume and are not spent.
    spent_n = min(rep.rollouts, b.finished)
    line = Text(f" {rep.strategy} · budget {rep.budget_rollouts} · spent {spent_n}", style="bold")
    if rep.rollouts > spent_n:
        issued = rep.rollouts - spent_n
        if b.status != "running":
            line.append(f" · {issued} not run (R resumes)", style="yellow")
        else:  # issued is running and queued: only the started ones run (one worker runs one)
            running = min(live, issued)
            queued = f", {issued - running} queued" if issued > running else ""
            line.append(f" · {running} running{queued}", style="yellow")
    if rep.unspent:
        line.append(f" · unspent {rep.unspent}", style="dim")
    line.append(f" · pass/fail pairs {rep.pass_fail_pairs}   ")
    styles = {"contrast_met": "green", "too_easy": "cyan", "too_hard": "red", "open": "yellow"}
    for status, (tasks, rollouts) in sorted(spent.items()):
        line.append(f"{status} ", style=styles.get(status, ""))
        line.append(f"{tasks} tasks/{rollouts} rollouts   ", style="dim")
    return line
