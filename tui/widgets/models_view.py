"""Stats > Models: did the data help? Two models' pass rates with intervals, the paired
difference B - A, and the tasks, flipped ones first; enter opens a task's rollout under B
(`a`: under A). The comparison is `labeling.compare_store.store_comparison`. Below it, the
fine-tuning jobs launched from this store (`repo-agent finetune`), as last recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.console import Group, JustifyMethod
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from labeling.compare_store import StoreComparison
from labeling.records import JobRow
from labeling.rollout_states import left_out_text
from tui.charts import chart_text, compare_chart

if TYPE_CHECKING:
    from tui.app import StudioApp

FLIP_TEXT = {"up": Text("fixed by B", style="bold green"), "down": Text("broken by B", style="bold red")}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def render_head(sc: StoreComparison, width: int = 80) -> Group:
    c = sc.comparison
    d = c.difference
    level = round(100 * d.level)
    t = Table(box=None, pad_edge=False, title_justify="left", title_style="bold")
    t.title = f"Models on {sc.suite}: {d.tasks} tasks, paired by seed"
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("", "left"),
        ("model", "left"),
        ("pass rate", "right"),
        (f"{level}% interval", "right"),
        ("passed", "right"),
        ("valid calls", "right"),
        ("steps", "right"),
    )
    for col, just in columns:
        t.add_column(col, justify=just, no_wrap=col == "model", overflow="ellipsis", max_width=36 if col else None)
    for tag, s in (("A", c.a), ("B", c.b)):
        t.add_row(
            Text(tag, style="bold"),
            s.model,
            _pct(s.pass_rate),
            f"{_pct(s.ci.lo)}–{_pct(s.ci.hi)}" if s.ci else "—",
            f"{s.passed}/{s.rollouts}",
            _pct(s.validity_rate),
            "—" if s.mean_steps is None else f"{s.mean_steps:.1f}",
        )
    diff = Text()
    diff.append("B − A ", style="bold")
    style = "green" if d.ci.lo > 0 else "red" if d.ci.hi < 0 else "yellow"
    diff.append(f"{_pts(d.estimate)} points", style=f"bold {style}")
    diff.append(f"  ({level}% interval {_pts(d.ci.lo)} to {_pts(d.ci.hi)}, p = {d.p_value:.3g})")
    if c.noise is not None:
        diff.append("\nnoise (A vs A, second seed block) ")
        diff.append(f"{_pts(c.noise.ci.lo)} to {_pts(c.noise.ci.hi)}: ")
        diff.append(
            "the difference is larger" if c.beyond_noise else "the difference is within it",
            style="green" if c.beyond_noise else "yellow",
        )
    else:
        diff.append("\nno noise block (run `repo-agent compare` without --no-noise)", style="dim")
    diff.append(f"\nflipped: {len(c.flipped_up)} fixed by B, {len(c.flipped_down)} broken by B", style="bold")
    diff.append(" · enter: the task's rollout under B, a: under A", style="dim")
    if len(sc.models) > 2:
        diff.append(f" · b: next model B ({len(sc.models) - 1} candidates)", style="dim")
    if sc.left_out:  # the same reasons as stats and Runs (labeling/rollout_states.py)
        left = left_out_text(sc.left_out)
        diff.append(f"\nleft out of the rates: {left}", style="dim")
    return Group(t, chart_text(compare_chart(c), width=width), diff)


COLUMNS = ("task", "A passed", "B passed", "B − A", "flipped")
JOB_STYLE = {"completed": "green", "error": "red", "cancelled": "yellow"}


def render_jobs(jobs: list[JobRow]) -> Table:
    """One row a job: where it stands, what it made, what it cost (Together's estimate)."""
    t = Table(box=None, pad_edge=False, title_justify="left", title_style="bold")
    t.title = f"Fine-tuning jobs ({len(jobs)})"
    for col in ("job", "status", "method", "base model", "fine-tuned model", "est. price", "examples"):
        t.add_column(col, justify="right" if col in ("est. price", "examples") else "left", overflow="ellipsis")
    for j in jobs:
        price = j.estimate.get("price_usd")
        t.add_row(
            j.job_id,
            Text(j.status, style=JOB_STYLE.get(j.status, "cyan")),
            j.method,
            j.base_model,
            j.output_model or "—",
            "—" if price is None else f"${price:,.2f}",
            str(j.verdicts.get("examples", "—")),
        )
    return t


class ModelsView(Vertical):
    """The comparison; ``show(sc)`` fills it (``None``: no suite has two models yet)."""

    BINDINGS = [Binding("a", "open('a')", "Open A's rollout")]

    DEFAULT_CSS = """
    ModelsView { height: auto; }
    ModelsView #models-head { padding: 0 1; height: auto; }
    ModelsView #models-tasks { height: auto; max-height: 24; margin: 1 0 0 1; }
    ModelsView #models-jobs { padding: 0 1; margin: 1 0 0 0; height: auto; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.sc: StoreComparison | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("comparing models…", style="dim"), id="models-head")
        yield DataTable(id="models-tasks", cursor_type="row", zebra_stripes=True)
        jobs = Static(id="models-jobs")
        jobs.display = False
        yield jobs

    def on_mount(self) -> None:
        self._set_columns(self.query_one("#models-tasks", DataTable), [])

    def show(self, sc: StoreComparison | None) -> None:
        self.sc = sc
        head = self.query_one("#models-head", Static)
        table = self.query_one("#models-tasks", DataTable)
        table.clear()
        if sc is None:
            head.update(
                Text(
                    "No suite has rollouts of two models at shared seeds yet.\n"
                    "Run: repo-agent compare --suite HELDOUT --model BASE --model FINE_TUNED",
                    style="dim",
                )
            )
            table.display = False
            return
        head.update(render_head(sc, width=max(40, self.size.width - 2)))
        table.display = True
        order = {"up": 0, "down": 1, None: 2}
        rows = [
            (
                t.task_id,
                f"{t.a_passed}/{t.a_rollouts}",
                f"{t.b_passed}/{t.b_rollouts}",
                Text(_pts(t.difference), style="green" if t.difference > 0 else "red" if t.difference < 0 else ""),
                FLIP_TEXT[t.flipped] if t.flipped else Text(""),
            )
            for t in sorted(sc.comparison.tasks, key=lambda t: (order[t.flipped], t.task_id))
        ]
        self._set_columns(table, rows)
        for row in rows:
            table.add_row(*row, key=str(row[0]))

    def on_resize(self) -> None:
        if self.sc is not None:  # the chart is drawn for a width: draw it again for the new one
            self.query_one("#models-head", Static).update(render_head(self.sc, width=max(40, self.size.width - 2)))

    def show_jobs(self, jobs: list[JobRow]) -> None:
        """The store's fine-tuning jobs; hidden while there are none."""
        box = self.query_one("#models-jobs", Static)
        box.display = bool(jobs)
        if jobs:
            box.update(render_jobs(jobs))

    @staticmethod
    def _set_columns(table: DataTable, rows: list[tuple]) -> None:
        """Columns as wide as their widest cell, set before the rows go in: with widths left
        to DataTable, a frame drawn before it measures the rows caches a header of the old
        widths, and the header then stays narrower than its rows."""
        table.clear(columns=True)
        for i, label in enumerate(COLUMNS):
            cells = [Text(c) if isinstance(c, str) else c for c in (r[i] for r in rows)]
            table.add_column(label, key=label, width=max(c.cell_len for c in [Text(label), *cells]))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open("b")  # enter: the task's rollout under B (the fine-tune)

    def action_open(self, side: str) -> None:
        table = self.query_one("#models-tasks", DataTable)
        if self.sc is None or not table.row_count:
            return
        task_id = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        c = self.sc.comparison
        model = c.b.model if side == "b" else c.a.model
        uids = self.sc.uids.get((model, task_id), [])
        if uids:
            cast("StudioApp", self.app).open_rollout(uids[0])
