"""The fleet: every running rollout at a glance, the ones that need a person on top.

One row per live rollout: task, step / max, its last tool call, seconds since its last
event, tokens and cost so far; a line per live batch with its ETA and projected cost.
Rollouts that loop (the engine's loop events), stall (a stall event, or no event for
``stall_s``) or error sort to the top with a mark, and each such alert is announced once
(a notification, and the terminal bell unless the app turned it off). ``k`` stops the
selected rollout when its batch runs in this studio (agent.executor.RolloutCancels).

Data: the store says which rollouts are running (the ingest keeps it current); each
one's trace is followed with tui.live_trace.LiveTrace, new bytes only. A one-second
clock runs only while rows are shown, so an idle studio has no timer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Static

from tui.live_trace import LiveTrace
from tui.state import fmt_cost, fmt_duration, fmt_tokens
from tui.words import count

if TYPE_CHECKING:
    from tui.app import StudioApp

LIVE_WINDOW_S = 600.0  # a trace silent for longer, in a batch not run here, is a crashed leftover
ALERT_ORDER = ("error", "stall", "loop")  # most urgent first
MARKS = {
    "error": ("✖ error", "bold red"),
    "stall": ("‖ stalled", "bold red"),
    "loop": ("⟳ loop", "bold yellow"),
}


@dataclass
class FleetRow:
    uid: str
    batch_id: str
    trace: LiveTrace
    alert: str | None = None  # error, stall, loop

    @property
    def sort_key(self) -> tuple:
        rank = ALERT_ORDER.index(self.alert) if self.alert else len(ALERT_ORDER)
        return rank, self.uid


def _alert(t: LiveTrace, since: float | None, stall_s: float) -> str | None:
    if t.errors or (t.end is not None and t.end.stop_reason == "error"):
        return "error"
    if t.end is None and (t.stalled or (since is not None and since >= stall_s)):
        return "stall"
    if t.loops and (t.loops[-1].step >= t.steps or (t.end is not None and t.end.stop_reason == "loop")):
        return "loop"
    return None


def _cost(t: LiveTrace) -> float | None:
    s = t.start
    if s is None or (s.price_in is None and s.price_out is None):
        return None
    return (t.tokens_in * (s.price_in or 0) + t.tokens_out * (s.price_out or 0)) / 1e6


def _epoch(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


class FleetView(Vertical):
    DEFAULT_CSS = """
    FleetView { height: auto; max-height: 45%; display: none; border-top: hkey $warning; }
    FleetView #fleet-head { height: auto; background: $boost; padding: 0 1; }
    FleetView DataTable { height: auto; max-height: 16; }
    """
    BINDINGS = [Binding("k", "stop_rollout", "Stop rollout")]
    clock = staticmethod(time.time)  # tests pin it

    def __init__(self, *, stall_s: float = 120.0, id: str | None = "fleet") -> None:
        super().__init__(id=id)
        self.stall_s = stall_s
        self.rows: list[FleetRow] = []
        self._traces: dict[str, LiveTrace] = {}
        self._announced: set[tuple[str, str]] = set()
        self._clock: Timer | None = None
        self._heads: list[Text] = []
        self._shown_uids: list[str] = []  # the table's rows, in the order drawn

    def compose(self) -> ComposeResult:
        yield Static(id="fleet-head")
        table: DataTable[RenderableType] = DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
        for label, key in (
            ("", "mark"),
            ("task", "task"),
            ("seed", "seed"),
            ("step", "step"),
            ("since", "since"),
            ("tokens", "tokens"),
            ("cost", "cost"),
            ("last tool call", "last"),
        ):
            table.add_column(label, key=key)
        yield table

    def on_mount(self) -> None:
        self._clock = self.set_interval(1.0, self.tick, pause=True)

    # ------------------------------------------------------------------ data
    def refresh_fleet(self, now: float | None = None) -> None:
        """Re-read which rollouts are live (from the store) and their traces' new bytes."""
        app = cast("StudioApp", self.app)
        store, state = app.store, app.state
        live_batches = {b.batch_id: b for b in store.batches() if b.status == "running"}
        here = set(state.running_batches)
        wanted: dict[str, tuple[str, str]] = {}
        for r in store.rollouts(status="running"):
            if r.state.status == "running":  # not a dead batch's (interrupted: labeling/rollout_states.py)
                wanted[r.uid] = (r.batch_id, r.trace_path)
        for bid in live_batches.keys() | here:
            for r in store.rollouts(batch_id=bid):
                if r.stop_reason in ("error", "loop"):
                    wanted.setdefault(r.uid, (r.batch_id, r.trace_path))
        for uid in list(self._traces):
            if uid not in wanted:
                del self._traces[uid]
        now = now if now is not None else self.clock()
        rows = []
        for uid, (bid, path) in wanted.items():
            t = self._traces.get(uid)
            if t is None:
                t = self._traces[uid] = LiveTrace(Path(path))
            t.poll()
            recent = t.last_event_ts is not None and now - t.last_event_ts <= LIVE_WINDOW_S
            if t.end is None and not (bid in here or recent):
                continue  # a leftover of a crashed run, not a running rollout
            if t.end is not None and bid not in here and bid not in live_batches:
                continue
            rows.append(FleetRow(uid, bid, t))
        self.rows = rows
        self._heads = [self._batch_line(live_batches.get(bid), bid, now) for bid in sorted({r.batch_id for r in rows})]
        self.tick(now)

    def traces_changed(self, paths: set[Path]) -> None:
        """Some trace files changed: re-read the ones shown (new bytes only)."""
        shown = {r.trace.path.absolute(): r for r in self.rows}
        if any(p in shown for p in paths):
            for p in paths:
                if p in shown:
                    shown[p].trace.poll()
            self.tick()

    def tick(self, now: float | None = None) -> None:
        """Redraw with the clock moved on: seconds since, stalls, ETA."""
        now = now if now is not None else self.clock()
        for r in self.rows:
            since = None if r.trace.last_event_ts is None else max(0.0, now - r.trace.last_event_ts)
            r.alert = _alert(r.trace, since, self.stall_s)
        self.rows.sort(key=lambda r: r.sort_key)
        self.display = bool(self.rows)
        if self._clock is not None:
            self._clock.resume() if self.rows else self._clock.pause()
        self._draw(now)
        self._announce()

    def _batch_line(self, b, batch_id: str, now: float) -> Text:
        line = Text(f" {batch_id}", style="bold")
        if b is None:
            return line
        total = max(b.planned, b.rollouts)
        line.append(f"  {b.finished}/{total} done")
        started = _epoch(b.started)
        if started is not None and b.finished and total > b.finished:
            eta = (now - started) / b.finished * (total - b.finished)
            line.append(f" · ETA {fmt_duration(eta)}")
        if b.finished and b.cost_usd:
            line.append(f" · cost {fmt_cost(b.cost_usd)} · projected {fmt_cost(b.cost_usd / b.finished * total)}")
        if b.judged:  # the same figure as Runs and stats: judged rollouts, copies left out
            line.append(f" · pass {b.passed}/{b.judged}")
        left = {k: n for k, n in b.states.items() if not k.isupper() and k != "running"}
        if left:
            line.append(
                " · not judged " + ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in left.items()), style="dim"
            )
        return line

    def _draw(self, now: float) -> None:
        head = Text(f" Fleet: {count(len(self.rows), 'live rollout')}", style="bold")
        alerts = sum(1 for r in self.rows if r.alert)
        if alerts:
            head.append(f" · {alerts} need attention", style="bold red")
        head.append("   k stops the selected one", style="dim")
        for line in self._heads:
            head.append("\n")
            head.append(line)
        self.query_one("#fleet-head", Static).update(head)
        table = self.query_one("#fleet-table", DataTable)
        # The cursor follows the rollout, not the row number: rows re-sort as alerts come and
        # go, and k must stop the rollout the user is looking at.
        keep = table.cursor_row
        kept_uid = self._shown_uids[keep] if 0 <= keep < len(self._shown_uids) else None
        table.clear()
        for r in self.rows:
            t = r.trace
            mark = Text(*MARKS[r.alert]) if r.alert else Text("running", style="yellow")
            if t.end is not None:
                mark.append(f" ({t.end.stop_reason})", style="dim")
            last = t.calls[-1] if t.calls else None
            since = None if t.last_event_ts is None else max(0.0, now - t.last_event_ts)
            cost = _cost(t)
            table.add_row(
                mark,
                t.start.task_id if t.start else r.uid.rpartition("/")[2],
                "—" if t.start is None or t.start.seed is None else str(t.start.seed),
                f"{t.steps}/{t.start.max_iters if t.start else '?'}",
                "—" if since is None else f"{since:.0f}s",
                fmt_tokens(t.tokens_in + t.tokens_out),
                fmt_cost(cost),
                f"{last.name} {last.key_args(40)}" if last else "—",
                key=r.uid,
            )
        self._shown_uids = [r.uid for r in self.rows]
        if kept_uid in self._shown_uids:
            keep = self._shown_uids.index(kept_uid)
        if table.row_count:
            table.move_cursor(row=max(0, min(keep, table.row_count - 1)), animate=False)

    def _announce(self) -> None:
        for r in self.rows:
            if r.alert is None or (r.uid, r.alert) in self._announced:
                continue
            self._announced.add((r.uid, r.alert))
            what = {"loop": "is looping", "stall": "has stalled", "error": "hit an error"}[r.alert]
            self.app.notify(f"{r.uid} {what}.", title="Rollout needs attention", severity="warning")
            if getattr(self.app, "bell_on_alert", True):
                self.app.bell()

    # ------------------------------------------------------------------ stop
    def selected(self) -> FleetRow | None:
        table = self.query_one("#fleet-table", DataTable)
        if not (0 <= table.cursor_row < len(self._shown_uids)):
            return None
        uid = self._shown_uids[table.cursor_row]
        return next((r for r in self.rows if r.uid == uid), None)

    def action_stop_rollout(self) -> None:
        r = self.selected()
        if r is None:
            return
        cancels = cast("StudioApp", self.app).state.rollout_cancels.get(r.batch_id)
        rid = r.uid.rpartition("/")[2]
        if cancels is None or not cancels.cancel(rid):
            self.app.notify(
                "Only a running rollout of a batch launched from this studio can be stopped here.", severity="warning"
            )
            return
        self.app.notify(f"Stopping {r.uid}: it ends 'cancelled' after this step; the batch goes on.")
