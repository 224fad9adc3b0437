"""`repo-agent export dpo|sft`, `check`, `upload`, `prefs`: training files on the command line.

export: ingest the traces, build pairs if there are none, write a checked file + sidecar,
        print examples, tokens, cost per epoch, what was skipped and why, and the upload command.
check:  every broken rule of a training file, one `FILE:LINE: rule: detail` line each.
upload: check, upload with the Together SDK, print the file id and the fine-tuning command.
prefs:  run a batch, pair its rollouts with auto verdicts, export DPO: in one go.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.untrusted import neutralise
from exports.formats.registry import FORMATS, LAYOUTS, TOGETHER_FORMATS
from tui.cli.budget import add_budget_args, apply_prices, budget_line, require_prices
from tui.cli.command import CommandGroup
from tui.cli.errors import UserError, err_console
from tui.cli.loop_args import add_loop_args, savings_line
from tui.cli.safe_console import SafeConsole
from tui.cli.store_flag import add_db_flag

console = SafeConsole(highlight=False, soft_wrap=True)  # one line per error, never wrapped

EXPORT_EXAMPLES = """\
examples:
  repo-agent export dpo runs/ --out data/dpo.jsonl                    # confirmed + flipped pairs, patch mode
  repo-agent export dpo runs/ --out data/dpo.jsonl --auto --mode patch+trajectory --last-k 5 --cut-chars 400
  repo-agent export dpo runs/ --out data/step.jsonl --mode step        # decision-point pairs (branched rollouts)
  repo-agent export sft runs/ --out data/sft.jsonl --style step --last-k 6 --holdout-fraction 0.2 --seed 1
  repo-agent export sft runs/ --out data/sft.jsonl --format trl --tokenizer ~/models/qwen/tokenizer.json \\
      --price-per-mtok 0.48
"""


def register(sub: argparse._SubParsersAction) -> None:
    from tui.cli.agent import add_allocation_args, add_batch_args

    ex = sub.add_parser(
        "export",
        help="write a checked SFT or DPO training file (+ sidecar)",
        description="Build a training file from the label store of TRACES_DIR.",
        epilog=EXPORT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ex_sub = ex.add_subparsers(dest="export_kind", metavar="KIND")
    for kind in ("dpo", "sft"):
        p = ex_sub.add_parser(
            kind,
            help=f"{kind.upper()} file",
            epilog=EXPORT_EXAMPLES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("traces", type=Path, metavar="TRACES_DIR")
        p.add_argument("--out", required=True, type=Path, help="the .jsonl file to write")
        add_db_flag(p, "TRACES_DIR/labels.sqlite")
        p.add_argument("--format", choices=LAYOUTS, default="together")
        if kind == "dpo":
            p.add_argument("--mode", choices=("final", "patch", "patch+trajectory", "step"), default="patch")
            g = p.add_mutually_exclusive_group()
            g.add_argument("--labeled-only", action="store_true", help="only confirmed/flipped pairs (default)")
            g.add_argument("--auto", action="store_true", help="also unlabeled pairs, as auto-preferred")
            p.add_argument(
                "--keep-noisy",
                action="store_true",
                help="with --auto, keep pairs flagged both_fail/identical_patch/tests_tampered/unknown_outcome",
            )
            p.add_argument(
                "--min-agreement",
                type=float,
                default=0.5,
                help="team labels: a pair's verdict needs this share of its labelers (default 0.5; ties never settle)",
            )
            p.add_argument(
                "--adjudicator",
                help="team labels: the labeler whose verdict settles a pair (default: the store's, `repo-agent team`)",
            )
            p.add_argument("--last-k", type=int, default=5, help="patch+trajectory: last K tool calls (default 5)")
            p.add_argument("--cut-chars", type=int, default=500, help="tool output cut (default 500)")
        else:
            p.add_argument("--style", choices=("trajectory", "step"), default="trajectory")
            p.add_argument(
                "--train",
                choices=("all", "last", "final"),
                default="all",
                help="which assistant turns are trained (default: all valid ones)",
            )
            p.add_argument(
                "--include-failed-labeled-good",
                action="store_true",
                help="also failed rollouts a person preferred in a confirmed/flipped pair",
            )
            p.add_argument("--last-k", type=int, default=6, help="step style: context turns (default 6)")
            p.add_argument("--cut-chars", type=int, default=2000, help="step style: tool output cut (default 2000)")
        _add_common_export(p)
        p.set_defaults(func=cmd_export, kind=kind)
    ex.set_defaults(func=lambda a: ex.print_help() or 2)

    ck = sub.add_parser("check", help="check a training file against its format's rules")
    ck.add_argument("file", type=Path, nargs="?")
    ck.add_argument("--rules", action="store_true", help="list every rule the checker knows, and exit")
    ck.add_argument(
        "--format",
        dest="fmt",
        help=f"{'|'.join(FORMATS)} (default: detected from the first line)",
    )
    ck.add_argument("--limit", type=int, default=200, help="errors listed (default 200; all are counted)")
    ck.set_defaults(func=cmd_check)

    up = sub.add_parser("upload", help="check and upload a file to Together; print the fine-tuning command")
    up.add_argument("file", type=Path)
    up.add_argument("--check-only", action="store_true", help="check, do not upload")
    up.add_argument("--model", help="base model for the printed fine-tuning command")
    up.add_argument("--base-url", help="Together API base URL (default: the SDK's)")
    up.set_defaults(func=cmd_upload)

    pr = sub.add_parser(
        "prefs",
        help="run a batch, pair it with auto verdicts, export DPO (one go)",
        description="Rollouts -> auto-scored pairs -> Together preference JSONL, as before the "
        "studio; also reports contrast kinds and drops noisy pairs.",
        epilog=PREFS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pr.add_argument("--suite", required=True, help='"mini-bugs", a suite.json, a suite dir or a QuixBugs checkout')
    pr.add_argument("--out", required=True, type=Path, help="the preference .jsonl to write")
    pr.add_argument("--trace-dir", type=Path, default=Path("runs"), help="where the batch directory goes")
    add_batch_args(pr, provider="together", rollouts=4, temperature=0.7, seed=42, max_iters=30, max_workers=4)
    pr.add_argument("--output-mode", choices=("final", "patch", "patch+trajectory"), default="patch")
    pr.add_argument("--format", choices=LAYOUTS, default="together")
    pr.add_argument("--keep-noisy", action="store_true", help="keep both_fail/identical_patch/tests_tampered pairs")
    add_db_flag(pr, "TRACE_DIR/labels.sqlite")
    pr.add_argument("--tokenizer")
    pr.add_argument("--price-per-mtok", type=float)
    pr.add_argument("--price-in", type=float, help="USD per 1M prompt tokens (rollout cost)")
    pr.add_argument("--price-out", type=float, help="USD per 1M completion tokens (rollout cost)")
    add_budget_args(pr)
    pr.add_argument(
        "--pair-strategy",
        choices=("best-worst", "pass-fail", "all-contrastive"),
        help="pair strategy (default: the store's, best-worst at first); pass-fail uses every "
        "pass/fail contrast an adaptive batch buys",
    )
    add_allocation_args(pr)
    add_loop_args(pr)
    pr.set_defaults(func=cmd_prefs)


def _add_common_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("--holdout-tasks", help="comma-separated task ids held out of training")
    p.add_argument("--holdout-fraction", type=float, help="hold out this fraction of tasks (with --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed for --holdout-fraction (default 0)")
    p.add_argument("--holdout-out", help="held-out suite file (default: OUT.holdout.suite.json)")
    p.add_argument("--suite", help="suite the held-out tasks come from (default: from batch.json)")
    p.add_argument("--batches", help="comma-separated batch ids to export from (default: all)")
    p.add_argument("--tokenizer", help="tokenizer.json for real token counts (or env REPO_AGENT_TOKENIZER)")
    p.add_argument("--price-per-mtok", type=float, help="USD per million training tokens, for cost per epoch")
    p.add_argument("--dry-run", action="store_true", help="count and preview, write nothing")


def _options(args: argparse.Namespace):
    import exports

    common = dict(
        format=args.format,
        holdout_tasks=args.holdout_tasks or [],
        holdout_fraction=args.holdout_fraction,
        seed=args.seed,
        holdout_out=args.holdout_out,
        suite=args.suite,
        batches=args.batches or [],
        tokenizer_path=args.tokenizer,
        price_per_mtok=args.price_per_mtok,
        last_k=args.last_k,
        cut_chars=args.cut_chars,
    )
    try:
        if args.kind == "dpo":
            return exports.DpoOptions(
                mode=args.mode,
                auto=args.auto,
                keep_noisy=args.keep_noisy,
                min_agreement=args.min_agreement,
                adjudicator=args.adjudicator,
                **common,
            )
        return exports.SftOptions(
            style=args.style, train=args.train, include_failed_labeled_good=args.include_failed_labeled_good, **common
        )
    except ValueError as exc:  # pydantic: the first error is enough
        raise UserError(_pydantic_line(exc)) from None


def open_store(traces: Path, db: Path | str | None, warnings: list[str] | None = None):
    """The store, ingested first; the ingest's warnings (FIFOs, copies...) go to ``warnings``."""
    from labeling.store import DB_FILE, LabelStore, StoreError
    from labeling.store_url import resolve_db
    from tui.cli.label_store import refuse_empty

    if not traces.is_dir():
        raise UserError(f"no such directory: {traces}")
    where = resolve_db(db, traces, file_name=DB_FILE)
    if not isinstance(where, str):
        refuse_empty(traces, Path(where))
    try:
        store = LabelStore.open(db, traces)
        rep = store.ingest([traces])
        if warnings is not None:
            warnings.extend(rep.warnings)
        if not store.pairs():
            store.rebuild_pairs()
    except StoreError as exc:
        raise UserError(str(exc)) from None
    return store


def cmd_export(args: argparse.Namespace) -> int:
    import exports

    options = _options(args)
    ingest_warnings: list[str] = []
    store = open_store(args.traces, args.db, ingest_warnings)
    try:
        fn = exports.export_dpo if args.kind == "dpo" else exports.export_sft
        report = fn(store, args.out, options, dry_run=args.dry_run)
    except exports.ExportError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    print_report(console, report)
    print_warnings(err_console, [w for w in ingest_warnings if w not in report.warnings] + report.warnings)
    return 0


def print_warnings(c: SafeConsole, warnings: list[str], limit: int = 10) -> None:
    """Trace lines and files that were skipped: data, so never read as markup."""
    for w in warnings[:limit]:
        c.print(f"warning: {w}", markup=False, style="yellow")
    if len(warnings) > limit:
        c.print(f"... and {len(warnings) - limit} more warnings", markup=False, style="yellow")


def tokens_line(report) -> str:
    est = (
        " (estimate: chars/4; pass --tokenizer for a real count)"
        if report.tokens_are_estimate
        else f" ({report.token_counter})"
    )
    return f"{report.tokens:,}{est}"


def cost_line(report) -> str:
    if report.cost_per_epoch is None:
        return "set --price-per-mtok to see it"
    return f"${report.cost_per_epoch:,.4f} at ${report.price_per_mtok}/M tokens"


def print_report(c: SafeConsole, report) -> None:
    """Key/value lines, never cut or wrapped: paths and the upload command get copied."""
    import exports

    rows = [
        ("file", (report.path or "(dry run: nothing written)") + f"  [{report.format}, {report.mode}]"),
        ("examples", f"{report.examples:,}"),
        ("tokens", tokens_line(report)),
        ("tokens/example", f"{report.tokens_per_example:,.1f}"),
        ("cost/epoch", cost_line(report)),
    ]
    if report.kind == "sft":
        rows.append(
            (
                "sft tokens",
                f"whole trajectories {report.sft_trajectory_tokens:,} "
                f"({report.sft_trajectory_examples} examples)  vs  step-level "
                f"{report.sft_step_tokens:,} ({report.sft_step_examples} examples)",
            )
        )
    rows.append(("skipped", ", ".join(f"{k} {v}" for k, v in report.skipped.items()) or "none"))
    rows += [("note", f"{k} {v}") for k, v in report.notes.items()]
    if report.holdout_tasks:
        rows.append(("held out", f"{', '.join(report.holdout_tasks)} -> {report.holdout_suite_path}"))
    if report.meta_path:
        rows.append(("sidecar", report.meta_path))
    for key, value in rows:
        c.print(f"{key:<15} {value}", markup=False)
    if report.path:
        if report.format in TOGETHER_FORMATS:
            c.print(f"next: {exports.upload_command(report)}", markup=False)
        else:
            c.print(f"checked: repo-agent check {report.path} passes", markup=False)


def _pydantic_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        e = errors()[0]
        where = ".".join(str(x) for x in e.get("loc", ()))
        return f"{where}: {e.get('msg', 'invalid')}".replace("Value error, ", "")
    return str(exc).splitlines()[0]


def cmd_check(args: argparse.Namespace) -> int:
    import exports
    from exports.check import UnreadableFile
    from exports.formats.registry import UnknownFormat

    if args.rules:
        for rule, what in exports.RULES.items():
            console.print(f"{rule:<22} {what}", markup=False)
        return 0
    if args.file is None:
        raise UserError("check needs a FILE (or --rules)")
    try:
        report = exports.check_file(args.file, args.fmt)
    except (UnknownFormat, UnreadableFile) as exc:  # a FIFO, a device, a directory: named as what it is
        raise UserError(str(exc)) from None
    for line in exports.render_report(report, limit=args.limit):
        console.print(line, markup=False)
    if report.error_count > len(report.errors[: args.limit]):
        console.print(f"... {report.error_count - min(args.limit, len(report.errors))} more", markup=False)
    how = "detected" if report.detected else "given"
    if report.ok:
        console.print(
            f"[green]ok[/]: {neutralise(str(args.file))}: {report.lines} lines, format {report.format} ({how})"
        )
        return 0
    rules = ", ".join(f"{k} {v}" for k, v in sorted(report.by_rule().items()))
    console.print(
        f"[bold red]{report.error_count} error(s)[/] in {report.bad_lines()} of {report.lines} lines "
        f"({report.format or 'unknown format'}, {how}): {rules}"
    )
    return 1


def cmd_upload(args: argparse.Namespace) -> int:
    import exports

    if not args.file.is_file():
        raise UserError(f"no such file: {args.file}")
    report = exports.check_file(args.file)
    if not report.ok:
        for line in exports.render_report(report, limit=20):
            console.print(line, markup=False)
        raise UserError(f"{args.file} fails the check ({report.error_count} error(s)); nothing uploaded")
    console.print(f"[green]check passed[/]: {report.lines} lines, {report.format}")
    if args.check_only:
        return 0
    try:
        res = exports.upload_file(args.file, base_url=args.base_url, check=report)
    except exports.UploadError as exc:
        raise UserError(str(exc)) from None
    console.print(f"uploaded: file id [bold]{neutralise(str(res['id']))}[/] ({res['bytes']:,} bytes)")
    console.print("next:", exports.fine_tune_command(res["id"], res["kind"], args.model), markup=False)
    if not args.model:
        console.print("[dim](replace MODEL with the base model, e.g. Qwen/Qwen2.5-7B-Instruct)[/]")
    return 0


# --------------------------------------------------------------------------- prefs

PREFS_EXAMPLES = """\
example (the same flags as before the studio):
  repo-agent prefs --suite mini-bugs --rollouts 4 --out runs/x/pairs.jsonl --trace-dir runs/x \\
      --llm-provider together --model Qwen/Qwen2.5-7B-Instruct-Turbo --temperature 0.7 --seed 42 --max-workers 4
"""


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False)


def _outcome(result) -> str:
    o = result.outcome
    if result.stop_reason in ("error", "diverged"):
        return f"ERROR ({(result.error or result.stop_reason).splitlines()[0][:100]})"
    if result.stop_reason == "cancelled":
        return f"CANCELLED (steps={o.steps})"
    if o.state is not None and (o.state.status == "probe" or o.state.verdict == "suspect"):
        return f"{o.state.label} (steps={o.steps})"
    if o.tests_tampered:
        return f"TAMPERED (steps={o.steps})"
    return f"{'PASS' if o.tests_passed else 'FAIL'} (steps={o.steps})"


def cmd_prefs(args: argparse.Namespace) -> int:

    import exports
    from agent.batch_spec import BatchCallbacks
    from exports.prefs import run_prefs
    from labeling.store import LabelStore
    from tui.cli.agent import allocation_line, plan_from_args, print_allocation
    from tui.cli.batch_args import suspect_line

    require_prices(args)
    apply_prices(args, args.model or "")
    plan = plan_from_args(args)
    try:
        options = exports.DpoOptions(
            mode=args.output_mode,
            format=args.format,
            auto=True,
            keep_noisy=args.keep_noisy,
            tokenizer_path=args.tokenizer,
            price_per_mtok=args.price_per_mtok,
        )
    except ValueError as exc:
        raise UserError(_pydantic_line(exc)) from None
    suite = plan.suite
    _say(f"[prefs] Loaded suite: {suite.name} ({len(suite.tasks)} tasks)")
    if plan.allocation == "adaptive":
        _say(f"[prefs] Allocation: {allocation_line(plan)}")
        _say(
            f"[prefs] Starting up to {plan.planned_total} rollouts ({plan.n_tasks} tasks) "
            f"with {args.max_workers} workers"
        )
    else:
        _say(f"[prefs] Rollouts per task: {plan.rollouts}")
        _say(
            f"[prefs] Starting {plan.rollouts * plan.n_tasks} rollouts ({plan.n_tasks} tasks × {plan.rollouts} "
            f"rollouts) with {args.max_workers} workers"
        )

    def on_end(result, done: int, total: int) -> None:
        _say(f"[prefs] [{done}/{total}] {result.task_id} seed={result.seed}: {_outcome(result)}")

    args.trace_dir.mkdir(parents=True, exist_ok=True)
    store = LabelStore.open(args.db, args.trace_dir)
    try:
        s = run_prefs(
            plan.batch_spec(),
            store,
            options,
            args.out,
            observer=BatchCallbacks(rollout_end=on_end),
            controls=plan.controls(),
            pair_strategy=args.pair_strategy,
        )
    finally:
        store.close()
    if plan.allocation == "adaptive" or plan.allocation_config is not None:
        print_allocation(console, s.batch.meta.allocation, prefix="[prefs] ")
    r = s.report
    _say("[prefs] Summary")
    _say(f"[prefs]   Total tasks: {s.tasks}")
    _say(f"[prefs]   Preference pairs generated: {r.examples if r.path else 0}")
    nc = f" ({', '.join(s.no_contrast_tasks)})" if s.no_contrast_tasks else ""
    _say(f"[prefs]   No-contrast tasks: {len(s.no_contrast_tasks)}{nc}")
    _say(f"[prefs]   Pairs by contrast kind: {_counts(s.by_contrast)}")
    dropped = sum(s.noisy_dropped.values())
    why = f" ({_counts(s.noisy_dropped)}; keep them with --keep-noisy)" if dropped else ""
    _say(f"[prefs]   Noisy pairs dropped: {dropped}{why}")
    other = {k: v for k, v in r.skipped.items() if not k.startswith("noisy:") and k != "other_batch"}
    if other:
        _say(f"[prefs]   Other pairs skipped: {_counts(other)}")
    _say(f"[prefs]   Tokens: {tokens_line(r)}; {r.tokens_per_example:,.1f} per pair; cost/epoch: {cost_line(r)}")
    if saved := savings_line(s.batch.results):
        _say(f"[prefs]   {saved}")
    if cheats := suspect_line(s.batch):
        _say(f"[prefs]   {cheats}")
    _say(f"[prefs]   Traces: {s.batch_dir}")
    if line := budget_line(s.batch.budget):
        _say(f"[prefs]   {line}")
    if s.error:
        _say(f"[prefs]   No pairs file written: {s.error}")
        return 1
    _say(f"[prefs]   Pairs file: {r.path}")
    _say(f"[prefs]   Meta file: {r.meta_path}")
    if r.format in TOGETHER_FORMATS:
        _say(f"[prefs]   Next: {exports.upload_command(r)}")
    return 0


def _counts(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"


COMMANDS = CommandGroup(rank=60, register=register)
