"""Stats: the signal report (labeling.stats) as tables and small bar charts."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from labeling.rollout_states import left_out_text
from labeling.stats import loop_line
from labeling.verdict_kinds import KIND_LABEL, VERDICT_KINDS
from tui.charts import chart_text, stats_charts
from tui.screens.base import StudioScreen
from tui.state import fmt_cost, fmt_tokens
from tui.widgets.models_view import ModelsView
from tui.widgets.team_agreement import team_table
from tui.words import PAIRS_BUILT_TITLE, PAIRS_POSSIBLE_TITLE, count

BAR = 30


def rate_bar(rate: float | None, band: tuple[float, float], width: int = BAR) -> Text:
    """A pass-rate bar with the learnable band drawn behind it."""
    lo, hi = int(band[0] * width), int(band[1] * width)
    filled = 0 if rate is None else round(rate * width)
    t = Text()
    for i in range(width):
        in_band = lo <= i < hi
        if i < filled:
            t.append("█", style="green" if in_band else "cyan")
        else:
            t.append("░" if in_band else "·", style="yellow" if in_band else "dim")
    return t


def count_bar(n: int, top: int, width: int = 20) -> Text:
    filled = round(width * n / top) if top else 0
    return Text("█" * filled + " " * (width - filled), style="cyan")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _side_tables(r, bar_width: int) -> tuple[Table, Table, Table]:
    """Contrast kinds, noise flags and human vs auto: the three small tables."""
    contrast = Table(title=PAIRS_BUILT_TITLE, title_justify="left", title_style="bold", box=None)
    contrast.add_column("kind")
    contrast.add_column("built", justify="right")
    contrast.add_column("")
    top = max(r.by_contrast.values(), default=0)
    for k, n in sorted(r.by_contrast.items()):
        contrast.add_row(Text(k), str(n), count_bar(n, top, bar_width))
    flags = Table(title="Noise flags", title_justify="left", title_style="bold", box=None)
    flags.add_column("flag")
    flags.add_column("built", justify="right")
    flags.add_column("")
    top = max(r.by_flag.values(), default=0)
    for k, n in sorted(r.by_flag.items(), key=lambda kv: -kv[1]):
        flags.add_row(Text(k), str(n), count_bar(n, top, bar_width))
    if not r.by_flag:
        flags.add_row(Text("none", style="green"), "", "")
    agree = Table(title="Human vs auto", title_justify="left", title_style="bold", box=None)
    agree.add_column("")
    agree.add_column("labeled", justify="right")
    agree.add_column("confirm", justify="right")
    agree.add_column("flip", justify="right")
    agree.add_column("discard", justify="right")
    rows = [("all", r.agreement), ("clean", r.agreement_clean), ("noisy", r.agreement_noisy)]
    rows += [(k, a) for k, a in sorted(r.agreement_by_contrast.items())]
    for name, a in rows:
        agree.add_row(Text(name), str(a.labeled), _pct(a.confirm_rate), _pct(a.flip_rate), _pct(a.discard_rate))
    return contrast, flags, agree


def _row_width(tables: tuple[Table, ...], gap: int = 2) -> int:
    console = Console(width=1000)
    return sum(Measurement.get(console, console.options, t).maximum for t in tables) + gap * (len(tables) - 1)


def render_report(r, width: int = 120) -> Group:
    """The report laid out for ``width`` columns: narrower bars, and the three small
    tables stacked rather than side by side, below 110."""
    wide = width >= 110
    bar = BAR if wide else (16 if width >= 90 else 10)
    parts: list = []
    head = Text()
    if r.left_out:  # the pass rates count judged rollouts only (labeling/rollout_states.py)
        head.append(f" {r.judged} judged rollouts", style="bold")
        head.append(" (left out: " + left_out_text(r.left_out) + ")")
    else:
        head.append(f" {r.finished} finished rollouts", style="bold")
    head.append(
        f" · {len(r.tasks)} tasks · {len(r.learnable_tasks)} in the learnable band "
        f"{int(r.band[0] * 100)}–{int(r.band[1] * 100)}%"
    )
    head.append(
        f" · {count(r.pairs, 'pair')} built ({r.clean_pairs} clean) · labeled {r.labeled} · remaining {r.remaining}"
    )
    head.append(
        f"\n tokens {fmt_tokens(r.tokens_in)} in / {fmt_tokens(r.tokens_out)} out · cost {fmt_cost(r.cost_usd)}"
    )
    if r.cost_unknown_rollouts:
        head.append(f" (+{r.cost_unknown_rollouts} rollouts with no known price)", style="dim")
    head.append(f" · strategy {r.strategy} · score {' > '.join(r.score_order)}", style="dim")
    if line := loop_line(r.loops):
        head.append(f"\n {line}", style="yellow")
    parts.append(head)

    tasks = Table(
        title="Pass rate per task (yellow: the learnable band)",
        title_justify="left",
        title_style="bold",
        box=None,
        pad_edge=False,
        expand=False,
    )
    tasks.add_column("task", no_wrap=True)
    tasks.add_column("pass rate", justify="right")
    tasks.add_column("", no_wrap=True)
    tasks.add_column("passed/finished", justify="right")
    tasks.add_column("built", justify="right")  # pairs built, not possible (tui/words.py)
    tasks.add_column("band")
    for ts in r.tasks:
        band_style = {"learnable": "bold green", "easy": "cyan", "hard": "red"}.get(ts.band, "dim")
        tasks.add_row(  # Text, not str: a str cell is read as markup, and task ids are data
            Text(ts.task_id),
            _pct(ts.pass_rate),
            rate_bar(ts.pass_rate, r.band, bar),
            # judged rollouts only; the ones left out (cancelled, no verdict, copies...) apart
            f"{ts.passed}/{ts.rollouts}" + (f" +{sum(ts.left_out.values())} left out" if ts.left_out else ""),
            str(ts.pairs),
            Text(ts.band + (" · no contrast" if ts.no_contrast else ""), style=band_style),
        )
    parts.append(Text(""))
    parts.append(tasks)

    parts.append(Text(""))
    # Three tables in a row only where they fit whole (a squeezed row cut headers at 120
    # columns with room to spare): the bars shrink first, else two and one below.
    for bar_width in (14, 10, 6) if wide else ():
        three = _side_tables(r, bar_width)
        if _row_width(three) <= width - 2:  # the scroll's scrollbar and padding
            side = Table.grid(padding=(0, 2))
            for _ in three:
                side.add_column(no_wrap=True)
            side.add_row(*three)
            parts.append(side)
            break
    else:
        contrast, flags, agree = _side_tables(r, 8)
        narrow = Table.grid(padding=(0, 4))
        narrow.add_column()
        narrow.add_column()
        narrow.add_row(contrast, flags)
        parts += [narrow, Text(""), agree]
    if r.team is not None:
        parts.append(Text(""))
        parts.append(team_table(r.team))
    if any(k != "unknown" for k in r.by_verdict_kind):  # nothing to say when no batch's suite is found
        rests = Table(title="Verdict rests on", title_justify="left", title_style="bold", box=None)
        rests.add_column("kind")
        rests.add_column("pairs", justify="right")
        rests.add_column("")
        top = max(r.by_verdict_kind.values(), default=0)
        for k in VERDICT_KINDS:
            if n := r.by_verdict_kind.get(k):
                rests.add_row(Text(KIND_LABEL[k]), str(n), count_bar(n, top, 14 if wide else 8))
        parts += [Text(""), rests]

    if r.validity_by_model:
        valid = Table(title="Tool-call validity by model", title_justify="left", title_style="bold", box=None)
        valid.add_column("model")
        valid.add_column("calls", justify="right")
        valid.add_column("invalid", justify="right")
        valid.add_column("valid", justify="right")
        valid.add_column("")
        for m in r.validity_by_model:
            valid.add_row(
                Text(m.model),
                str(m.tool_calls),
                str(m.invalid_tool_calls),
                _pct(m.validity_rate),
                rate_bar(m.validity_rate, (0.0, 0.0), min(20, bar)),
            )
        parts.append(Text(""))
        parts.append(valid)
    if r.by_allocation:
        parts.append(Text(""))
        parts.append(allocation_table(r.by_allocation))
    return Group(*parts)


def allocation_table(stats) -> Table:
    t = Table(title=PAIRS_POSSIBLE_TITLE, title_justify="left", title_style="bold", box=None)
    for col in ("allocation", "rollouts", "possible", "/1k rollouts", "/1M tokens", "best-worst"):
        t.add_column(col, justify="left" if col == "allocation" else "right", no_wrap=True)
    num = lambda x: "—" if x is None else f"{x:,.1f}"  # noqa: E731
    for a in stats:
        t.add_row(
            Text(a.strategy),
            str(a.rollouts),
            str(a.pass_fail_pairs),
            num(a.pairs_per_1k_rollouts),
            num(a.pairs_per_mtok),
            str(a.best_worst_pairs),
        )
    return t


class StatsScreen(StudioScreen):
    MODE = "stats"
    BINDINGS = [
        Binding("g", "reload", "Recompute"),
        Binding("c", "toggle_charts", "Charts", tooltip="The report as bar charts, or as tables"),
        Binding("m", "toggle_models", "Models"),
        Binding("b", "next_model", "Next model B", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.b_index = 1  # which other model is B in the Models view
        self.charts = False  # c: the report drawn as bar charts (tui/charts.py) instead of tables

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        with VerticalScroll(id="stats-scroll"):
            yield Static(Text("computing the signal report…", style="dim"), id="stats-body")
        models = ModelsView(id="models-view")
        models.display = False
        yield models
        yield self.compose_footer()

    @property
    def showing_models(self) -> bool:
        return self.query_one("#models-view", ModelsView).display

    def action_toggle_models(self) -> None:
        """The signal report or the Models view (did the data help?)."""
        view = self.query_one("#models-view", ModelsView)
        view.display = not view.display
        self.query_one("#stats-scroll").display = not view.display
        if view.display:
            view.query_one("#models-tasks").focus()
        self._compute()

    def action_next_model(self) -> None:
        if self.showing_models:
            self.b_index += 1
            self._compute()

    def on_screen_resume(self) -> None:
        # Verdicts change the report without an ingest: recompute whenever shown.
        self._seen_version = self.state.store_version
        self.set_status(self.state.ingest.label)
        self._compute()

    def refresh_data(self) -> None:
        # A store change while the report is computed (it reads every pair) makes one
        # more run after it, not a pile of threads.
        if any(w.group == "stats" and w.node is self and not w.is_finished for w in self.app.workers):
            self._again = True
            return
        self._compute()

    def worker_ended(self, worker) -> None:
        if worker.group == "stats" and getattr(self, "_again", False):
            self._again = False
            self._compute()

    def action_reload(self) -> None:
        self._compute()

    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def _compute(self) -> None:
        from labeling.compare_store import store_comparison
        from labeling.stats import signal_report

        if self.app.call_from_thread(lambda: self.showing_models):
            view = self.query_one("#models-view", ModelsView)
            try:
                sc = store_comparison(self.store, b_index=self.b_index)
                jobs = self.store.jobs()
            except Exception as exc:
                self.app.call_from_thread(self.notify, f"cannot compare models: {exc}", severity="error")
                return
            self.app.call_from_thread(view.show, sc)
            self.app.call_from_thread(view.show_jobs, jobs)
            return
        try:
            report = signal_report(self.store)
        except Exception as exc:
            self.app.call_from_thread(self._show, Text(f"cannot compute the report: {exc}", style="red"))
            return
        self.app.call_from_thread(self._set_report, report)

    def _set_report(self, report) -> None:
        self._report = report
        self._show(self._rendered(report))

    def _rendered(self, report) -> RenderableType:
        if not self.charts:
            return render_report(report, self.size.width)
        # The scroll's own width (its scrollbar and padding out), so no row is cut at the edge.
        width = max(40, self.query_one("#stats-scroll").scrollable_content_region.width - 2)
        drawn: list[RenderableType] = []
        for chart in stats_charts(report):  # the same charts as `stats --plot` and the report
            drawn += [chart_text(chart, width), Text("")]
        return Group(*drawn)

    def action_toggle_charts(self) -> None:
        self.charts = not self.charts
        if getattr(self, "_report", None) is not None:
            self._show(self._rendered(self._report))

    def on_resize(self) -> None:
        if getattr(self, "_report", None) is not None:
            self._show(self._rendered(self._report))

    def _show(self, renderable) -> None:
        self.query_one("#stats-body", Static).update(renderable)
