"""`repo-agent ingest | stats | pairs ... | steps ...`: the label store on the command line.

Everything the studio does to labels is scriptable here. The store defaults to
``DIR/labels.sqlite`` (``--db`` to put it elsewhere); the labeler name to ``$USER``
(``--labeler`` or ``REPO_AGENT_LABELER``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.markup import escape as esc  # every value from traces or the store goes through it
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from tui.cli.errors import UserError
from tui.cli.store_flag import add_db_flag
from tui.cli.team_view import print_team, votes_cell

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

FLAG_STYLE = {
    "both_fail": "red",
    "identical_patch": "magenta",
    "tiebreak_only": "yellow",
    "flaky": "yellow",
    "tests_tampered": "bold red",
    "non_minimal": "cyan",
    "summary_only": "magenta",
    "unknown_outcome": "dim",
}

EXAMPLES = """\
examples:
  repo-agent ingest runs/                       # index every batch under runs/ into runs/labels.sqlite
  repo-agent stats runs/                        # the signal report (--json for scripts)
  repo-agent pairs list runs/ --verdict unlabeled --contrast pass_fail
  repo-agent pairs set runs/ 3f2a9c confirm     # a unique prefix of the pair id is enough
  repo-agent pairs set runs/ 3f2a9c flip --note "the shorter fix is the right one"
  repo-agent pairs undo runs/                   # exact: back to the state before the last action
  repo-agent pairs rebuild runs/ --strategy all-contrastive --order "pass,-steps"
  repo-agent steps mark runs/ BATCH/task__s3 4 loop --text "reads the same file again"
"""


# --------------------------------------------------------------------------- plumbing


def _add_common(p: argparse.ArgumentParser, *, many: bool = False) -> None:
    if many:
        p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="trace directories (batches or their parent)")
    else:
        p.add_argument("dir", type=Path, metavar="DIR", help="the traces directory (holds labels.sqlite)")
    add_db_flag(p)
    p.add_argument("--labeler", help="who is labeling (default: $REPO_AGENT_LABELER or $USER)")


def _db_path(args: argparse.Namespace) -> Path | str:
    from labeling.store import DB_FILE
    from labeling.store_url import resolve_db

    d = args.dirs[0] if hasattr(args, "dirs") else args.dir
    return resolve_db(args.db, d, file_name=DB_FILE)


def _open(args: argparse.Namespace, *, must_exist: bool = False):
    from labeling.store import LabelStore

    d = args.dirs[0] if hasattr(args, "dirs") else args.dir
    if not Path(d).is_dir():
        raise UserError(f"no such directory: {d}")
    path = _db_path(args)
    if isinstance(path, str):  # PostgreSQL: trace paths are keyed by the traces directory
        return LabelStore(path, labeler=args.labeler, base=Path(d))
    if must_exist and not path.exists():
        raise UserError(f"no label store at {path}: run `repo-agent ingest {d}` first")
    try:
        return LabelStore(path, labeler=args.labeler)
    except Exception as exc:  # sqlite3.DatabaseError and friends: not a store file
        raise UserError(f"cannot open label store {path}: {exc}") from None


def _run(fn):
    """Turn the store's typed errors into one-line user errors."""

    def wrapper(args: argparse.Namespace) -> int:
        from labeling.store import StoreError

        try:
            return fn(args) or 0
        except StoreError as exc:
            raise UserError(str(exc)) from None

    return wrapper


def _print_json(obj) -> None:
    sys.stdout.write(obj if isinstance(obj, str) else json.dumps(obj, indent=2))
    sys.stdout.write("\n")


def _flags(flags: list[str]) -> str:
    return " ".join(f"[{FLAG_STYLE.get(f, 'white')}]{esc(f)}[/]" for f in flags) or "[green]clean[/]"


def _ingest(store, dirs: list[Path], *, quiet: bool = False):
    if quiet or not err.is_terminal:
        return store.ingest(dirs)
    with Progress(
        TextColumn("ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("ingest", total=None)

        def on_progress(p):
            bar.update(task, total=p.bytes_total or 1, completed=p.bytes_done)

        return store.ingest(dirs, progress=on_progress)


# --------------------------------------------------------------------------- commands


@_run
def cmd_ingest(args: argparse.Namespace) -> int:
    for d in args.dirs:
        if not d.is_dir():
            raise UserError(f"no such directory: {d}")
    with _open(args) as store:
        if args.strategy or args.order:
            store.rebuild_pairs(strategy=args.strategy, score_order=args.order)
        rep = _ingest(store, args.dirs, quiet=args.json)
        if args.json:
            _print_json(rep.model_dump_json(indent=2))
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
        console.print(f"store: {esc(store.location)}")
    return 0


@_run
def cmd_stats(args: argparse.Namespace) -> int:
    from labeling.stats import loop_line, signal_report

    with _open(args, must_exist=args.no_ingest) as store:
        if not args.no_ingest:
            _ingest(store, [args.dir], quiet=True)
        rep = signal_report(store, band=(args.band_low, args.band_high))
    if args.json:
        _print_json(rep.model_dump_json(indent=2))
        return 0
    lo, hi = rep.band
    console.print(
        f"[bold]{rep.rollouts}[/] rollouts ({rep.finished} finished, {rep.running} running) over "
        f"{len(rep.tasks)} tasks; pairs by [bold]{esc(rep.strategy)}[/], score {esc(','.join(rep.score_order))}"
    )
    t = Table(title=f"pass rate per task (learnable band {lo:.0%}-{hi:.0%})", title_justify="left")
    for col in ("task", "finished", "passed", "pass rate", "", "pairs"):
        t.add_column(col, justify="right" if col in ("finished", "passed", "pass rate", "pairs") else "left")
    label = {
        "learnable": "[green]learnable[/]",
        "all_pass": "[yellow]all pass[/]",
        "all_fail": "[red]all fail[/]",
        "easy": "easy",
        "hard": "hard",
        "none": "[dim]running[/]",
        "unknown": "[dim]no verdict[/]",
    }
    for ts in rep.tasks:
        rate = "-" if ts.pass_rate is None else f"{ts.pass_rate:.0%}"
        note = label[ts.band] + (" [dim]no contrast[/]" if ts.no_contrast else "")
        passed = str(ts.passed) + (f" +{ts.unknown}?" if ts.unknown else "")  # +n?: no verdict
        t.add_row(esc(ts.task_id), str(ts.rollouts), passed, rate, note, str(ts.pairs))
    console.print(t)
    console.print(
        f"learnable: {len(rep.learnable_tasks)}  all pass: {', '.join(rep.all_pass_tasks) or '-'}  "
        f"all fail: {', '.join(rep.all_fail_tasks) or '-'}  no contrast: "
        f"{', '.join(rep.no_contrast_tasks) or '-'}",
        markup=False,
    )
    p = Table(title="pairs", title_justify="left")
    p.add_column("kind")
    p.add_column("pairs", justify="right")
    for k, n in sorted(rep.by_contrast.items()):
        p.add_row(f"contrast {esc(k)}", str(n))
    p.add_row("[green]clean[/]", str(rep.clean_pairs))
    for f, n in rep.by_flag.items():
        p.add_row(_flags([f]), str(n))
    p.add_row("stale (kept)", str(rep.stale_pairs))
    console.print(p)
    a = rep.agreement
    pct = lambda x: "-" if x is None else f"{x:.0%}"  # noqa: E731
    console.print(
        f"labeled [bold]{rep.labeled}[/] / {rep.pairs}, remaining [bold]{rep.remaining}[/]; "
        f"human vs auto: confirm {pct(a.confirm_rate)}, flip {pct(a.flip_rate)}, "
        f"discard {pct(a.discard_rate)}"
    )
    if line := loop_line(rep.loops):
        console.print(line)
    print_team(console, rep.team)
    v = Table(title="tool-call validity by model", title_justify="left")
    for col in ("model", "calls", "invalid", "valid rate"):
        v.add_column(col, justify="left" if col == "model" else "right")
    for m in rep.validity_by_model:
        v.add_row(esc(m.model), str(m.tool_calls), str(m.invalid_tool_calls), pct(m.validity_rate))
    console.print(v)
    if rep.by_allocation:
        al = Table(title="pairs bought by allocation (disjoint pass/fail)", title_justify="left")
        for col in ("allocation", "batches", "rollouts", "p/f pairs", "/1k rollouts", "/1M tokens", "best-worst"):
            al.add_column(col, justify="left" if col == "allocation" else "right")
        num = lambda x: "-" if x is None else f"{x:,.1f}"  # noqa: E731
        for s in rep.by_allocation:
            al.add_row(
                esc(s.strategy),
                str(s.batches),
                str(s.rollouts),
                str(s.pass_fail_pairs),
                num(s.pairs_per_1k_rollouts),
                num(s.pairs_per_mtok),
                str(s.best_worst_pairs),
            )
        console.print(al)
        for s in rep.by_allocation:
            if s.rollouts_by_status:
                went = ", ".join(f"{k} {v}" for k, v in sorted(s.rollouts_by_status.items()))
                console.print(f"{s.strategy} rollouts went to: {went}", markup=False)
    unknown = f" ({rep.cost_unknown_rollouts} rollouts without a known price)" if rep.cost_unknown_rollouts else ""
    console.print(f"spent: {rep.tokens_in:,} tokens in, {rep.tokens_out:,} out, ${rep.cost_usd:.4f}{unknown}")
    return 0


def _filter(args: argparse.Namespace):
    from labeling.records import CONTRASTS, PAIR_FLAGS, VERDICTS, PairFilter

    if args.contrast and args.contrast not in CONTRASTS:
        raise UserError(f"unknown contrast {args.contrast!r} (use {', '.join(CONTRASTS)})")
    if args.flag and args.flag not in (*PAIR_FLAGS, "noisy", "clean"):
        raise UserError(f"unknown flag {args.flag!r} (use {', '.join(PAIR_FLAGS)}, noisy or clean)")
    if args.verdict and args.verdict not in (*VERDICTS, "unlabeled", "labeled"):
        raise UserError(f"unknown verdict {args.verdict!r} (use {', '.join(VERDICTS)}, unlabeled or labeled)")
    return PairFilter(
        task_id=args.task,
        batch_id=args.batch,
        contrast=args.contrast,
        flag=args.flag,
        verdict=args.verdict,
        tag=args.tag,
        text=args.text,
        include_stale=args.all,
        disagree=args.disagree,
    )


def _note_tags(note: str | None, tags: list[str]) -> str:
    parts = [escape(note)] if note else []
    if tags:
        parts.append("[cyan]" + escape(" ".join(f"#{t}" for t in tags)) + "[/]")
    return "\n".join(parts)


@_run
def cmd_pairs_list(args: argparse.Namespace) -> int:
    filt = _filter(args)
    with _open(args, must_exist=args.no_ingest) as store:
        if not args.no_ingest:
            _ingest(store, [args.dir], quiet=True)
        filt = store.team_filter(filt, args.overlap)  # team review: your queue, the adjudicator (tui/cli/team.py)
        pairs = store.pairs(filt)
        counts = store.counts(filt)
    shown = pairs[: args.limit] if args.limit else pairs
    if args.json:
        _print_json([p.model_dump() | {"preferred_uid": p.preferred_uid} for p in shown])
        return 0
    mine = "" if counts.mine is None else f"; {counts.mine} waiting for your verdict"
    t = Table(
        title=f"{len(pairs)} pairs ({counts.labeled} labeled, {counts.remaining} remaining{mine})",
        title_justify="left",
    )
    for col in ("pair", "task", "contrast", "chosen > rejected", "flags", "verdict", "note / tags"):
        t.add_column(col, overflow="fold", no_wrap=col in ("pair", "contrast"))

    def short(uid: str, task: str) -> str:  # "batch/task__s3" -> "s3" (--json has the full uids)
        rid = uid.split("/", 1)[-1]
        return rid[len(task) + 2 :] if rid.startswith(task + "__") else rid

    for p in shown:
        verdict = esc(p.verdict) if p.verdict else "[dim]-[/]"
        if len(p.verdicts) > 1:  # team review: each labeler's verdict
            verdict = votes_cell(p.verdicts)
        if p.stale:
            verdict += " [dim](stale)[/]"
        t.add_row(
            esc(p.pair_id),
            esc(p.task_id),
            f"{esc(p.contrast or '')} [dim]by {esc(p.decided_by or '')}[/]",
            esc(f"{short(p.chosen_uid, p.task_id)} > {short(p.rejected_uid, p.task_id)}"),
            _flags(p.flags),
            verdict,
            _note_tags(p.note, p.tags),
        )
    console.print(t)
    if len(shown) < len(pairs):
        console.print(f"[dim]... {len(pairs) - len(shown)} more (--limit 0 shows all)[/]")
    return 0


@_run
def cmd_pairs_set(args: argparse.Namespace) -> int:
    with _open(args, must_exist=True) as store:
        ev = store.set_verdict(args.pair_id, args.verdict, note=args.note)
        p = store.pair(ev.target)
    if args.json:
        _print_json(ev.model_dump_json())
        return 0
    console.print(
        f"{esc(ev.target)}: [bold]{esc(args.verdict)}[/] (prefers {esc(p.preferred_uid or 'neither')}) "
        f"by {esc(ev.labeler)}"
    )
    return 0


@_run
def cmd_pairs_undo_redo(args: argparse.Namespace) -> int:
    with _open(args, must_exist=True) as store:
        ev = store.undo() if args.action == "undo" else store.redo()
    if ev is None:
        console.print(f"nothing to {args.action} for {store.labeler}", markup=False)
        return 1
    console.print(f"{args.action}: {ev.value} on {ev.target} (event {ev.ref})", markup=False)
    return 0


@_run
def cmd_pairs_tag(args: argparse.Namespace) -> int:
    with _open(args, must_exist=True) as store:
        ev = (
            store.tag_pair(args.pair_id, args.tag) if args.action == "tag" else store.untag_pair(args.pair_id, args.tag)
        )
    console.print(f"{ev.target}: {args.action} {ev.value}", markup=False)
    return 0


@_run
def cmd_pairs_rebuild(args: argparse.Namespace) -> int:
    with _open(args) as store:
        _ingest(store, [args.dir], quiet=True)
        rep = store.rebuild_pairs(strategy=args.strategy, score_order=args.order)
    if args.json:
        _print_json(rep.model_dump_json(indent=2))
        return 0
    console.print(
        f"{rep.strategy} ({','.join(rep.score_order)}): {rep.pairs} pairs, {rep.new_pairs} new, "
        f"{rep.stale_pairs} now stale; by contrast {rep.by_contrast}; flags {rep.by_flag}; "
        f"no contrast: {', '.join(rep.no_contrast_tasks) or '-'}",
        markup=False,
    )
    return 0


@_run
def cmd_steps_mark(args: argparse.Namespace) -> int:
    with _open(args, must_exist=True) as store:
        uid = store.resolve_uid(args.uid)
        if args.action == "mark":
            ev = store.mark_step(uid, args.step, args.reason, args.text)
        else:
            ev = store.unmark_step(uid, args.step)
    console.print(f"{ev.target}: {args.action}{' ' + ev.value if ev.value else ''}", markup=False)
    return 0


@_run
def cmd_steps_list(args: argparse.Namespace) -> int:
    with _open(args, must_exist=True) as store:
        uid = store.resolve_uid(args.uid)
        steps = store.steps(uid)
    if args.json:
        _print_json([s.model_dump() for s in steps])
        return 0
    t = Table(title=esc(uid), title_justify="left")
    for col in ("step", "calls", "auto flags", "mark"):
        t.add_column(col, overflow="fold")
    for s in steps:
        calls = (
            ", ".join(f"{esc(c.name)}{'' if c.valid else ' [red](invalid)[/]'}" for c in s.calls) or "[dim]no call[/]"
        )
        mark = f"[red]{esc(s.mark.reason)}[/] {esc(s.mark.text or '')}" if s.mark else ""
        t.add_row(str(s.step), calls, esc(" ".join(s.auto_flags)), mark)
    console.print(t)
    return 0


# --------------------------------------------------------------------------- parser


def add_overlap_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--overlap",
        type=int,
        metavar="K",
        help="verdicts asked per pair for this command (default: the store's, `repo-agent team`)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    from labeling.records import STEP_REASONS, STRATEGIES, VERDICTS

    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "ingest",
        help="index trace batches into the label store (incremental)",
        description="Index every batch under DIR... into the label store; unchanged files are "
        "not read again, growing traces are read from where the last ingest stopped.",
        epilog=EXAMPLES,
        formatter_class=fmt,
    )
    _add_common(p, many=True)
    p.add_argument("--strategy", choices=STRATEGIES, help="pair strategy to use from now on")
    p.add_argument("--order", help='score order to use from now on, e.g. "pass,-steps,-tool_calls,-files_touched"')
    p.add_argument("--json", action="store_true", help="print the ingest report as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "stats",
        help="the signal report: pass rates, pairs, flags, agreement, cost",
        epilog=EXAMPLES,
        formatter_class=fmt,
    )
    _add_common(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-ingest", action="store_true", help="report the store as is, without ingesting first")
    p.add_argument("--band-low", type=float, default=0.2, help="learnable band lower pass rate (default 0.2)")
    p.add_argument("--band-high", type=float, default=0.6, help="learnable band upper pass rate (default 0.6)")
    p.set_defaults(func=cmd_stats)

    pairs = sub.add_parser(
        "pairs", help="list pairs, set verdicts, undo/redo, rebuild", epilog=EXAMPLES, formatter_class=fmt
    )
    psub = pairs.add_subparsers(dest="pairs_command", metavar="ACTION", required=True)

    p = psub.add_parser("list", help="pairs in review order, filtered")
    _add_common(p)
    p.add_argument("--task")
    p.add_argument("--batch")
    p.add_argument("--contrast", help="pass_fail | efficiency | step")
    p.add_argument("--flag", help="a noise flag, or noisy / clean")
    p.add_argument("--verdict", help="confirm | flip | discard | unlabeled | labeled")
    p.add_argument("--tag")
    p.add_argument("--text", help="substring of ids, task, note or tags")
    p.add_argument("--all", action="store_true", help="include stale unlabeled pairs")
    p.add_argument("--disagree", action="store_true", help="team review: pairs whose labelers disagree (to adjudicate)")
    add_overlap_flag(p)
    p.add_argument("--limit", type=int, default=50, help="rows to show (0: all; default 50)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-ingest", action="store_true")
    p.set_defaults(func=cmd_pairs_list)

    p = psub.add_parser("set", help="record a verdict on a pair")
    _add_common(p)
    p.add_argument("pair_id", metavar="PAIR_ID", help="pair id or a unique prefix")
    p.add_argument("verdict", choices=VERDICTS)
    p.add_argument("--note")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_pairs_set)

    for action in ("undo", "redo"):
        p = psub.add_parser(action, help=f"{action} your last labeling action (exact, across restarts)")
        _add_common(p)
        p.set_defaults(func=cmd_pairs_undo_redo, action=action)

    for action in ("tag", "untag"):
        p = psub.add_parser(action, help=f"{action} a pair")
        _add_common(p)
        p.add_argument("pair_id", metavar="PAIR_ID")
        p.add_argument("tag")
        p.set_defaults(func=cmd_pairs_tag, action=action)

    p = psub.add_parser("rebuild", help="re-select pairs with a strategy / score order (kept pairs keep verdicts)")
    _add_common(p)
    p.add_argument("--strategy", choices=STRATEGIES)
    p.add_argument("--order", help='e.g. "pass,-steps,-tool_calls,-files_touched"')
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_pairs_rebuild)

    steps = sub.add_parser("steps", help="list a rollout's steps, mark steps bad", epilog=EXAMPLES, formatter_class=fmt)
    ssub = steps.add_subparsers(dest="steps_command", metavar="ACTION", required=True)
    p = ssub.add_parser("list", help="a rollout's steps with tool calls, auto flags and marks")
    _add_common(p)
    p.add_argument("uid", metavar="UID", help="<batch id>/<rollout id> (or a rollout id found in one batch only)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_steps_list)
    p = ssub.add_parser("mark", help="mark a step bad")
    _add_common(p)
    p.add_argument("uid", metavar="UID")
    p.add_argument("step", type=int, metavar="STEP")
    p.add_argument("reason", choices=STEP_REASONS, metavar="REASON", help=" | ".join(STEP_REASONS))
    p.add_argument("--text")
    p.set_defaults(func=cmd_steps_mark, action="mark")
    p = ssub.add_parser("unmark", help="remove a step's mark")
    _add_common(p)
    p.add_argument("uid", metavar="UID")
    p.add_argument("step", type=int, metavar="STEP")
    p.set_defaults(func=cmd_steps_mark, action="unmark")
