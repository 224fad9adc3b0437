"""`repo-agent ingest` and `repo-agent stats`: index traces into the label store, and its signal report."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.untrusted import neutralise as esc  # every value from traces or the store goes through it
from labeling.rollout_states import left_out_text
from tui.cli.errors import UserError
from tui.cli.fit_table import Col, print_table
from tui.cli.label_store import console, err, flags_text, ingest_dirs, print_json, store_errors, store_from_args
from tui.cli.team_view import print_team
from tui.words import PAIRS_BUILT_TITLE, PAIRS_POSSIBLE_TITLE


@store_errors
def cmd_ingest(args: argparse.Namespace) -> int:
    for d in args.dirs:
        if not d.is_dir():
            raise UserError(f"no such directory: {d}")
    with store_from_args(args) as store:
        if args.strategy or args.order:
            store.rebuild_pairs(strategy=args.strategy, score_order=args.order)
        rep = ingest_dirs(store, args.dirs, quiet=args.json)
        if args.json:
            print_json(rep.model_dump_json(indent=2))
            return 0
        console.print(
            f"[bold]{rep.batches}[/] batches, {rep.files_seen} trace files: [bold]{rep.files_read}[/] read "
            f"({rep.bytes_read / 1e6:.1f} MB, {rep.events} events), {rep.files_unchanged} unchanged; "
            f"{rep.new_rollouts} new and {rep.updated_rollouts} updated rollouts in {rep.duration_s:.2f} s"
        )
        if rep.torn_lines or rep.invalid_lines:
            console.print(
                f"[yellow]{rep.invalid_lines} invalid lines skipped, {rep.torn_lines} partial last "
                "lines left for the next ingest[/]"
            )
        if rep.files_skipped or rep.dropped_rollouts:
            console.print(
                f"[yellow]{rep.files_skipped} files skipped (see the warnings), {rep.dropped_rollouts} rollouts "
                "whose trace file is gone dropped[/]"
            )
        for w in rep.warnings[:10]:
            console.print(f"[yellow]warning:[/] {esc(w)}")
        if len(rep.warnings) > 10:
            console.print(f"[yellow]... {len(rep.warnings) - 10} more warnings (--json lists them)[/]")
        if rep.pairs is not None:
            p = rep.pairs
            console.print(
                f"pairs ({esc(p.strategy)}): {p.pairs} selected, {p.new_pairs} new, {p.stale_pairs} now stale; "
                f"{len(p.no_contrast_tasks)} tasks without contrast"
            )
        index = store.search_progress()
        if index is not None:  # a large backlog: a process of its own fills it (labeling/search_fill.py)
            console.print(f"search {esc(index.summary)}: `repo-agent search` finds what is indexed so far")
        console.print(f"store: {esc(store.location)}")
    return 0


# `stats` tables are borderless (tui/cli/fit_table.py) so that each row is one line at 80 columns:
# the task id stays whole (SWE-bench ids differ at their end), the band's "no contrast" is cut first.
TASK_COLUMNS = (
    Col("task"),
    Col("judged", justify="right"),
    Col("passed", justify="right"),
    Col("pass rate", "rate", justify="right"),
    Col("", give=1, min_width=8),
    Col("pairs built", "built", justify="right"),
)
# Borderless like `run`'s allocation table, so it is one line a row at 80 columns (boxed, Rich cut its headers).
ALLOCATION_COLUMNS = (
    Col("allocation"),
    *(
        Col(header, short, justify="right")
        for header, short in (
            ("batches", ""),
            ("rollouts", ""),
            ("possible", ""),
            ("/1k rollouts", "/1k roll"),
            ("/1M tokens", "/1M tok"),
            ("best-worst", ""),
        )
    ),
)


@store_errors
def cmd_stats(args: argparse.Namespace) -> int:
    from labeling.stats import cheat_line, loop_line, signal_report
    from labeling.verdict_kinds import KIND_LABEL, VERDICT_KINDS

    plot = getattr(args, "plot", None)
    if plot is not None and plot.suffix.lower() not in (".svg", ".png"):
        raise UserError(f"--plot {plot}: give a .svg or .png file")
    if plot is not None and not plot.parent.is_dir():
        raise UserError(f"--plot: directory {plot.parent} does not exist")
    with store_from_args(args, must_exist=args.no_ingest) as store:
        if not args.no_ingest:
            ingest_dirs(store, [args.dir], quiet=True)
        rep = signal_report(store, band=(args.band_low, args.band_high))
        dead = [b for b in store.batches() if b.status == "interrupted"]
    if plot is not None:
        _plot(rep, plot)
    if args.json:
        print_json(rep.model_dump_json(indent=2))
        return 0
    for b in dead:  # its process died without writing its end (the batch's lock is free)
        console.print(
            f"[yellow]interrupted[/] batch {esc(b.batch_id)}: its process is gone; resume with  "
            f"repo-agent run ... --resume {esc(b.path)}"
        )
    lo, hi = rep.band
    left = left_out_text(rep.left_out)
    console.print(
        f"[bold]{rep.rollouts}[/] rollouts ({rep.judged} judged{'; left out: ' + left if left else ''}) over "
        f"{len(rep.tasks)} tasks; pairs by [bold]{esc(rep.strategy)}[/], score {esc(','.join(rep.score_order))}"
    )
    console.print(f"pass rate per task (learnable band {lo:.0%}-{hi:.0%})", style="table.title")
    label = {
        "learnable": "[green]learnable[/]",
        "all_pass": "[yellow]all pass[/]",
        "all_fail": "[red]all fail[/]",
        "easy": "easy",
        "hard": "hard",
        "none": "[dim]running[/]",
        "unknown": "[dim]no verdict[/]",
    }
    rows = []
    for ts in rep.tasks:
        rate = "-" if ts.pass_rate is None else f"{ts.pass_rate:.0%}"
        note = label[ts.band] + (" [dim]no contrast[/]" if ts.no_contrast else "")
        passed = str(ts.passed)
        if ts.left_out:  # what the rate leaves out: cancelled, copy, no verdict...
            note += " [dim]" + esc(left_out_text(ts.left_out)) + "[/]"
        rows.append([esc(ts.task_id), str(ts.rollouts), passed, rate, note, str(ts.pairs)])
    print_table(console, TASK_COLUMNS, rows)
    console.print(
        esc(
            f"learnable: {len(rep.learnable_tasks)}  all pass: {', '.join(rep.all_pass_tasks) or '-'}  "
            f"all fail: {', '.join(rep.all_fail_tasks) or '-'}  no contrast: "
            f"{', '.join(rep.no_contrast_tasks) or '-'}",
            markup=False,
        ),
        markup=False,
    )
    console.print(PAIRS_BUILT_TITLE.lower(), style="table.title")
    kinds = [[f"contrast {esc(k)}", str(n)] for k, n in sorted(rep.by_contrast.items())]
    kinds += [["[green]clean[/]", str(rep.clean_pairs)], *([flags_text([f]), str(n)] for f, n in rep.by_flag.items())]
    kinds.append(["stale (kept)", str(rep.stale_pairs)])
    print_table(console, (Col("kind"), Col("built", justify="right")), kinds)
    # What each pair's verdict rests on (labeling/verdict_kinds.py), strongest evidence first.
    rests = [[KIND_LABEL[k], str(n)] for k in VERDICT_KINDS if (n := rep.by_verdict_kind.get(k))]
    if rests:
        print_table(console, (Col("verdict rests on"), Col("pairs", justify="right")), rests)
    a = rep.agreement
    pct = lambda x: "-" if x is None else f"{x:.0%}"  # noqa: E731
    console.print(
        f"labeled [bold]{rep.labeled}[/] / {rep.pairs}, remaining [bold]{rep.remaining}[/]; "
        f"human vs auto: confirm {pct(a.confirm_rate)}, flip {pct(a.flip_rate)}, "
        f"discard {pct(a.discard_rate)}"
    )
    from agent.rejudge import older_checker_line

    if line := older_checker_line(Path(args.dir)):
        console.print(f"[yellow]{esc(line)}[/]")
    if line := loop_line(rep.loops):
        console.print(line)
    if rep.suspect:
        console.print(
            f"[bold yellow]SUSPECT[/]: {rep.suspect} rollouts ({rep.suspect_cleared} cleared by a person); "
            "the rest stay out of exports until cleared on the studio's Rollout screen (C)"
        )
    for c in rep.cheat_by_model:
        console.print(f"{esc(c.model)}: {cheat_line(c)}")
    print_team(console, rep.team)
    console.print("tool-call validity by model", style="table.title")
    models = [
        [esc(m.model), str(m.tool_calls), str(m.invalid_tool_calls), pct(m.validity_rate)]
        for m in rep.validity_by_model
    ]
    cols = (Col("model"), *(Col(h, justify="right") for h in ("calls", "invalid", "valid rate")))
    print_table(console, cols, models)
    if rep.by_allocation:
        console.print(PAIRS_POSSIBLE_TITLE.lower(), style="table.title", markup=False)
        num = lambda x: "-" if x is None else f"{x:,.1f}"  # noqa: E731
        rows = [
            [
                esc(s.strategy),
                str(s.batches),
                str(s.rollouts),
                str(s.pass_fail_pairs),
                num(s.pairs_per_1k_rollouts),
                num(s.pairs_per_mtok),
                str(s.best_worst_pairs),
            ]
            for s in rep.by_allocation
        ]
        print_table(console, ALLOCATION_COLUMNS, rows)
        for s in rep.by_allocation:
            if s.rollouts_by_status:
                went = ", ".join(f"{k} {v}" for k, v in sorted(s.rollouts_by_status.items()))
                console.print(f"{s.strategy} rollouts went to: {went}", markup=False)
    unknown = f" ({rep.cost_unknown_rollouts} rollouts without a known price)" if rep.cost_unknown_rollouts else ""
    console.print(f"spent: {rep.tokens_in:,} tokens in, {rep.tokens_out:,} out, ${rep.cost_usd:.4f}{unknown}")
    return 0


def _plot(rep, path: Path) -> None:
    """The report's charts (tui/charts.py, as in `repo-agent report`) to an SVG or PNG file."""
    from tui.charts import charts_svg, stats_charts, svg_png
    from tui.report import write_atomic

    svg = charts_svg(stats_charts(rep))
    data = svg_png(svg) if path.suffix.lower() == ".png" else svg.encode()
    write_atomic(path, data)
    err.print(f"charts: {path}", markup=False, highlight=False)
