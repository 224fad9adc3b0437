"""`repo-agent run` and `repo-agent suite check`: the rollout engine on the command line."""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tui.cli.errors import UserError

RUN_EXAMPLES = """\
examples:
  # a local OpenAI-compatible server (vLLM, llama.cpp, Ollama): no key needed
  repo-agent run --suite mini-bugs --llm-provider openai --model qwen2.5-coder-7b \\
      --base-url http://localhost:8000/v1 --rollouts 4 --max-workers 4

  # Together AI (reads TOGETHER_API_KEY)
  repo-agent run --suite mini-bugs --llm-provider together \\
      --model Qwen/Qwen2.5-Coder-32B-Instruct --rollouts 4 --temperature 0.7 \\
      --price-in 0.8 --price-out 0.8

  # replay a recorded batch with no network (e.g. the shipped sample)
  # (tasks, rollouts and max-iters default to the recorded batch's)
  repo-agent run --suite mini-bugs --llm-provider replay --replay-from sample_traces/mini-bugs-scripted-sample

  # adaptive allocation: 200 rollouts spent where they buy pass/fail contrast
  repo-agent run --suite mini-bugs --llm-provider openai --model qwen2.5-coder-7b \\
      --base-url http://localhost:8000/v1 --allocation adaptive --budget-rollouts 200 --max-workers 4

  # a QuixBugs checkout, two programs only; resume an interrupted batch
  repo-agent run --suite ~/QuixBugs:gcd,bitcount --llm-provider openai --model gpt-4o-mini
  repo-agent run --suite mini-bugs --llm-provider openai --model gpt-4o-mini --resume runs/<batch>

Each rollout is a trace file under TRACE_DIR/<batch id>/traces/; open them with
`repo-agent studio TRACE_DIR`. Ctrl-C stops cleanly: running rollouts end as
"cancelled", and --resume runs what is left.
"""

BRANCH_EXAMPLES = """\
examples:
  # re-sample the first fix attempt of every rollout of a batch, 3 different ways
  repo-agent branch --from runs/<batch> --at first-write --samples 3 \\
      --llm-provider openai --model qwen2.5-coder-7b --base-url http://localhost:8000/v1

  # two rollouts only, at step 4; then pair and export the decision points
  repo-agent branch --from runs/<batch> --rollout fix_gcd__s0 fix_gcd__s1 --at step=4 --samples 2 ...
  repo-agent ingest runs && repo-agent export dpo runs --mode step --auto --out runs/steps.jsonl

Each branch copies its parent's conversation up to the decision point verbatim, replays the
parent's file writes so the workspace is the same, samples a next action different from the
parent's (and its siblings'), and runs to the end. The branches are a new batch beside the
parent (or under --trace-dir); the label store pairs each branch with its parent as a step
pair, preferring the side whose tests pass.
"""

SUITE_CHECK_EXAMPLES = """\
examples:
  repo-agent suite check mini-bugs
  repo-agent suite check path/to/suite.json
  repo-agent suite check ~/QuixBugs:gcd,bitcount
"""


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="run an agent on a suite and write one trace per rollout",
        description="Run N rollouts per task of a suite with an LLM agent; print pass rate, "
        "tool-call validity, steps and tokens.",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--suite",
        required=True,
        help='suite: "mini-bugs", a suite.json, a suite dir, or a QuixBugs checkout "path[:a,b]"',
    )
    run.add_argument("--llm-provider", choices=("openai", "together", "replay"), default="openai")
    run.add_argument("--model", help="model name as the provider knows it (replay: taken from the trace)")
    run.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    run.add_argument("--rollouts", type=int, default=None, help="rollouts per task (default 1; replay: as recorded)")
    run.add_argument("--temperature", type=float, default=None)
    run.add_argument("--seed", type=int, default=0, help="base seed; rollout i of a task gets seed+i (default 0)")
    run.add_argument(
        "--max-iters", type=int, default=None, help="max assistant turns per rollout (default 30; replay: as recorded)"
    )
    run.add_argument("--max-workers", type=int, default=1, help="rollouts run concurrently (default 1)")
    run.add_argument("--trace-dir", default="runs", help="where batch directories go (default ./runs)")
    run.add_argument("--resume", metavar="BATCH_DIR", help="continue a batch: finished rollouts are skipped")
    run.add_argument("--replay-from", metavar="PATH", help="replay provider: a trace file or a batch directory")
    run.add_argument("--reflection", action="store_true", help="ask the model to reflect after a failed test run")
    run.add_argument("--tasks", help="comma-separated task ids (default: all)")
    run.add_argument("--price-in", type=float, default=None, help="USD per 1M prompt tokens (for cost figures)")
    run.add_argument("--price-out", type=float, default=None, help="USD per 1M completion tokens")
    run.add_argument(
        "--rollout-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wall-clock limit per rollout (checked between steps; stop reason 'timeout')",
    )
    run.add_argument("--output-limit", type=int, default=8000, help="tool output cut, characters (default 8000)")
    add_allocation_args(run)
    run.set_defaults(func=cmd_run)

    br = sub.add_parser(
        "branch",
        help="re-sample recorded rollouts at a decision point (step DPO pairs)",
        description="Replay recorded rollouts up to a decision point, sample K different next actions, "
        "run each branch to completion and score it.",
        epilog=BRANCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    br.add_argument("--from", dest="from_batch", required=True, metavar="BATCH_DIR", help="the recorded batch")
    br.add_argument("--rollout", nargs="+", metavar="ID", help="rollout ids to branch (default: every finished one)")
    br.add_argument("--at", default="first-write", help="first-write (default), each-step, or step=N")
    br.add_argument("--samples", type=int, default=2, help="different next actions per decision point (default 2)")
    br.add_argument("--llm-provider", choices=("openai", "together"), default="openai")
    br.add_argument("--model", help="model name as the provider knows it (default: the batch's)")
    br.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    br.add_argument(
        "--temperature", type=float, default=None, help="sampling temperature (default: the parent rollout's, else 1.0)"
    )
    br.add_argument("--seed", type=int, default=1, help="sample j of a point uses seed+j (default 1)")
    br.add_argument("--max-iters", type=int, default=None, help="max steps, prefix included (default: the parent's)")
    br.add_argument("--max-workers", type=int, default=1, help="branches run concurrently (default 1)")
    br.add_argument("--trace-dir", help="where the branch batch goes (default: beside BATCH_DIR)")
    br.add_argument("--suite", help="the suite (default: the one recorded in BATCH_DIR/batch.json)")
    br.add_argument("--price-in", type=float, default=None, help="USD per 1M prompt tokens (for cost figures)")
    br.add_argument("--price-out", type=float, default=None, help="USD per 1M completion tokens")
    br.set_defaults(func=cmd_branch)

    suite = sub.add_parser("suite", help="suite tools (check)")
    suite_sub = suite.add_subparsers(dest="suite_command", metavar="SUBCOMMAND")
    check = suite_sub.add_parser(
        "check",
        help="each task's tests fail on the source and pass with its reference fix",
        epilog=SUITE_CHECK_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("suite", help='"mini-bugs", a suite.json, a suite dir, or a QuixBugs checkout "path[:a,b]"')
    check.set_defaults(func=cmd_suite_check)
    suite.set_defaults(func=lambda a: suite.print_help() or 2)


def add_allocation_args(p: argparse.ArgumentParser) -> None:
    """--allocation and its budget flags (`run` and `prefs`)."""
    g = p.add_argument_group("allocation (where the rollouts go)")
    g.add_argument(
        "--allocation",
        choices=("fixed", "adaptive"),
        default=None,
        help="fixed: --rollouts per task (default); adaptive: rounds, spent where pass/fail contrast is",
    )
    g.add_argument(
        "--budget-rollouts",
        type=int,
        metavar="B",
        help="rollouts the batch may spend (adaptive: required; fixed: a cap)",
    )
    g.add_argument(
        "--pairs-per-task",
        type=int,
        metavar="K",
        help="adaptive: stop a task at K disjoint pass/fail pairs (default 0: as many as the budget buys)",
    )
    g.add_argument(
        "--give-up-after",
        type=int,
        metavar="k",
        help="adaptive: k rollouts that all pass / all fail: too easy / too hard, stop (default 4)",
    )
    g.add_argument(
        "--initial-per-task", type=int, metavar="N", help="adaptive: first rollouts of every task (default 2)"
    )


def allocation_from_args(args: argparse.Namespace, resume_dir: Path | None = None):
    """(strategy, AllocationConfig | None) from the flags; a resumed batch's own settings fill
    in what is not given. Raises UserError on a bad combination."""
    from agent.allocation import AllocationConfig
    from agent.trace import BATCH_FILE, read_batch_meta

    old = None
    if resume_dir is not None and (resume_dir / BATCH_FILE).is_file():
        try:
            old = read_batch_meta(resume_dir).params
        except ValueError:
            old = None
    strategy = args.allocation or (old.allocation if old else "fixed")
    given = {k: getattr(args, k) for k in ("budget_rollouts", "pairs_per_task", "give_up_after", "initial_per_task")}
    if old is not None and old.allocation == strategy:
        given = {k: v if v is not None else getattr(old, k, None) for k, v in given.items()}
    if strategy == "fixed":
        for k in ("pairs_per_task", "give_up_after", "initial_per_task"):
            if getattr(args, k) is not None:
                raise UserError(f"--{k.replace('_', '-')} needs --allocation adaptive")
        budget = given["budget_rollouts"]
        if budget is not None and budget < 1:
            raise UserError("--budget-rollouts must be at least 1")
        return "fixed", (AllocationConfig(budget_rollouts=budget) if budget is not None else None)
    if given["budget_rollouts"] is None:
        raise UserError("--allocation adaptive needs --budget-rollouts B (the most rollouts it may spend)")
    try:
        return "adaptive", AllocationConfig(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise UserError(f"allocation: {exc}") from None


def print_allocation(console: Console, report: dict | None, prefix: str = "") -> None:
    """Where the budget went: per task rollouts, passes, fails and status; totals by status."""
    if not report:
        return
    from agent.allocation import AllocationReport

    r = AllocationReport.model_validate(report)
    prefix = escape(prefix)
    console.print()
    console.print(
        f"{prefix}[bold]allocation[/] {escape(r.strategy)}: {r.rollouts} of {r.budget_rollouts} rollouts spent"
        f" ({r.unspent} unspent{', ' + str(r.in_flight) + ' not finished' if r.in_flight else ''})"
    )
    table = Table(box=None, pad_edge=False)
    for col, just in (
        ("task", "left"),
        ("rollouts", "right"),
        ("pass", "right"),
        ("fail", "right"),
        ("pass rate", "right"),
        ("p/f pairs", "right"),
        ("status", "left"),
    ):
        table.add_column(col, justify=just)
    for t in r.tasks:
        table.add_row(
            escape(t.task_id),
            str(t.rollouts),
            str(t.passes),
            str(t.fails),
            "-" if t.pass_rate is None else f"{t.pass_rate:.0%}",
            str(t.pass_fail_pairs),
            escape(t.status),
        )
    console.print(table)
    went = ", ".join(f"{s} {n} ({r.tasks_by_status[s]} tasks)" for s, n in r.rollouts_by_status.items() if n)
    console.print(f"{prefix}budget went to: {escape(went or 'nothing')}")
    console.print(
        f"{prefix}pass/fail pairs: {r.pass_fail_pairs} disjoint ({r.pairs_per_100_rollouts:.1f} per 100 "
        f"rollouts), {r.best_worst_pairs} best-worst, {r.all_contrastive_pairs} with reuse"
    )


def _load_suite(spec: str):
    from agent.suites.loading import SuiteError, load_suite

    try:
        return load_suite(os.path.expanduser(spec))
    except SuiteError as exc:
        raise UserError(str(exc)) from None


def _label(result) -> str:
    o = result.outcome
    if result.stop_reason in ("error", "diverged"):
        why = escape((result.error or result.stop_reason).splitlines()[0][:100])
        return f"[bold red]ERROR[/] ({result.stop_reason}: {why})"
    if result.stop_reason == "cancelled":
        return f"[yellow]CANCELLED[/] (steps={o.steps})"
    if o.tests_tampered:
        return f"[bold magenta]TAMPERED[/] (steps={o.steps})"
    extra = f", {result.stop_reason}" if result.stop_reason in ("max_iters", "timeout") else ""
    return f"[bold green]PASS[/] (steps={o.steps})" if o.tests_passed else f"[red]FAIL[/] (steps={o.steps}{extra})"


def _replay_defaults(args: argparse.Namespace) -> None:
    """Replaying a batch directory: its tasks, rollouts and max_iters unless given."""
    from agent.trace import BATCH_FILE, read_batch_meta

    args.replay_tasks = None
    src = Path(args.replay_from) if args.llm_provider == "replay" and args.replay_from else None
    meta = None
    if src is not None and (src / BATCH_FILE).is_file():
        try:
            meta = read_batch_meta(src)
        except ValueError as exc:
            raise UserError(f"--replay-from: bad {src / BATCH_FILE}: {exc}".splitlines()[0]) from None
    if meta is not None:
        args.replay_tasks = list(dict.fromkeys(p.task_id for p in meta.planned))
        args.model = args.model or meta.model
    if args.rollouts is None:
        args.rollouts = meta.params.rollouts if meta else 1
    if args.max_iters is None:
        args.max_iters = meta.params.max_iters if meta else 30


def cmd_run(args: argparse.Namespace) -> int:
    from agent.batch import BatchMismatch, run_batch
    from agent.loop import RolloutConfig
    from agent.providers import ProviderConfigError, RetryPolicy, provider_factory
    from agent.trace import new_batch_id

    _replay_defaults(args)
    for name in ("rollouts", "max_iters", "max_workers"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    suite = _load_suite(args.suite)
    task_ids = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    if task_ids is None and args.replay_tasks:
        task_ids = [t for t in args.replay_tasks if t in {x.id for x in suite.tasks}] or None
    for t in task_ids or []:
        if t not in {x.id for x in suite.tasks}:
            raise UserError(f"--tasks: no task {t!r} in suite {suite.name}")
    try:
        factory = provider_factory(
            args.llm_provider, args.model, base_url=args.base_url, replay_from=args.replay_from, retry=RetryPolicy()
        )
    except ProviderConfigError as exc:
        raise UserError(str(exc)) from None
    model = args.model or ("replay" if args.llm_provider == "replay" else "")
    if args.resume:
        batch_dir = Path(args.resume)
        if not batch_dir.is_dir():
            raise UserError(f"--resume: {batch_dir} is not a batch directory")
    else:
        batch_dir = Path(args.trace_dir) / new_batch_id(suite.name, model)
    strategy, alloc_cfg = allocation_from_args(args, batch_dir if args.resume else None)
    config = RolloutConfig(
        max_iters=args.max_iters,
        temperature=args.temperature,
        reflection=args.reflection,
        output_limit=args.output_limit,
        price_in=args.price_in,
        price_out=args.price_out,
        timeout_s=args.rollout_timeout,
    )
    console = Console(highlight=False, soft_wrap=True)
    try:
        from agent.sandbox import sandbox_warning

        if warning := sandbox_warning():
            console.print(f"[yellow]warning:[/] {escape(warning)}")
    except ImportError:
        pass
    n_tasks = len(task_ids or suite.tasks)
    planned_total = args.rollouts * n_tasks
    if strategy == "adaptive":
        how = f"adaptive, budget {alloc_cfg.budget_rollouts} rollouts"
        planned_total = alloc_cfg.budget_rollouts
    else:
        if alloc_cfg is not None:
            planned_total = min(planned_total, alloc_cfg.budget_rollouts)
        how = f"x {args.rollouts}" + (f", budget {alloc_cfg.budget_rollouts}" if alloc_cfg else "")
    console.print(f"[run] batch {batch_dir}  ({args.llm_provider}, {model}, {n_tasks} tasks {how})", markup=False)

    cancel = threading.Event()
    with Progress(
        TextColumn("\\[run]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("", total=planned_total)

        live = {"running": 0, "steps": 0}
        lock = threading.Lock()

        def on_event(rollout_id: str, event) -> None:  # from worker threads: just counters
            with lock:
                live["running"] += {"rollout_start": 1, "rollout_end": -1}.get(event.kind, 0)
                live["steps"] += event.kind == "llm_call"
                text = f"{live['running']} running, {live['steps']} steps"
            progress.update(bar, description=text)

        def on_end(result, done: int, total: int) -> None:
            resumed = " [dim](resumed)[/]" if result.resumed else ""
            progress.console.print(
                f"\\[run] \\[{done}/{total}] {escape(result.task_id)} seed={result.seed}: {_label(result)}{resumed}"
            )
            progress.update(bar, completed=done)

        try:
            summary = run_batch(
                suite,
                factory,
                batch_dir,
                rollouts=args.rollouts,
                seed=args.seed,
                max_workers=args.max_workers,
                config=config,
                task_ids=task_ids,
                provider_name=args.llm_provider,
                model=model,
                base_url=args.base_url,
                suite_path=args.suite,
                cancel=cancel,
                on_rollout_end=on_end,
                on_event=on_event,
                allocation=strategy,
                allocation_config=alloc_cfg,
            )
        except BatchMismatch as exc:
            raise UserError(f"--resume: {exc}") from None
    print_summary(console, summary)
    if strategy == "adaptive" or alloc_cfg is not None:
        print_allocation(console, summary.meta.allocation)
    if summary.interrupted or summary.cancelled:
        console.print(f"[yellow]interrupted[/]: resume with  repo-agent run ... --resume {escape(str(batch_dir))}")
        return 130
    done = summary.finished
    return 1 if done and all(r.stop_reason in ("error", "diverged") for r in done) else 0


def print_summary(console: Console, summary) -> None:
    done = summary.finished
    valid, calls = summary.tool_calls
    tin, tout = summary.tokens
    passed = sum(r.outcome.tests_passed for r in done)
    console.print()
    console.print(f"[bold]pass rate[/]           {summary.pass_rate:6.1%}  ({passed}/{len(done)} rollouts)")
    console.print(f"[bold]tool-call validity[/]  {summary.validity_rate:6.1%}  ({valid}/{calls} calls valid)")
    console.print(f"[bold]mean steps[/]          {summary.mean_steps:6.1f}")
    cost = f"   est. cost ${summary.cost_usd:.4f}" if summary.cost_usd is not None else ""
    console.print(f"[bold]tokens[/]              in {tin:,}  out {tout:,}{cost}")
    table = Table(title=None, box=None, pad_edge=False)
    for col, just in (
        ("task", "left"),
        ("rollouts", "right"),
        ("pass", "right"),
        ("pass rate", "right"),
        ("tampered", "right"),
        ("errors", "right"),
        ("mean steps", "right"),
    ):
        table.add_column(col, justify=just)
    for s in summary.per_task():
        table.add_row(
            escape(s.task_id),
            str(s.rollouts),
            str(s.passed),
            f"{s.pass_rate:.0%}",
            str(s.tampered),
            str(s.errors),
            f"{s.steps / s.rollouts:.1f}" if s.rollouts else "-",
        )
    console.print(table)
    console.print(f"traces: {summary.batch_dir}", markup=False)


def cmd_branch(args: argparse.Namespace) -> int:
    from agent.branch import BranchError, run_branches
    from agent.loop import RolloutConfig
    from agent.providers import ProviderConfigError, RetryPolicy, provider_factory
    from agent.trace import BATCH_FILE, new_batch_id, read_batch_meta

    parent_dir = Path(args.from_batch)
    if not (parent_dir / BATCH_FILE).is_file():
        raise UserError(f"--from: {parent_dir} is not a batch directory (no {BATCH_FILE})")
    try:
        parent = read_batch_meta(parent_dir)
    except ValueError as exc:
        raise UserError(f"--from: bad {parent_dir / BATCH_FILE}: {exc}".splitlines()[0]) from None
    for name in ("samples", "max_workers"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    spec = args.suite or parent.suite_path
    if not spec:
        raise UserError(f"--suite: {parent_dir} does not record its suite's path; give --suite")
    suite = _load_suite(spec)
    if suite.name != parent.suite:
        raise UserError(f"--suite: {spec} is suite {suite.name!r}, the batch ran {parent.suite!r}")
    model = args.model or parent.model
    try:
        factory = provider_factory(args.llm_provider, model, base_url=args.base_url, retry=RetryPolicy())
    except ProviderConfigError as exc:
        raise UserError(str(exc)) from None
    out_root = Path(args.trace_dir) if args.trace_dir else parent_dir.parent
    batch_dir = out_root / new_batch_id(suite.name, f"{model}-branch")
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[branch] {parent_dir} at {args.at}, {args.samples} samples per point -> {batch_dir}", markup=False)
    config = RolloutConfig(price_in=args.price_in, price_out=args.price_out)

    def on_end(result, done: int, total: int) -> None:
        console.print(f"\\[branch] \\[{done}/{total}] {escape(result.rollout_id)}: {_label(result)}")

    try:
        s = run_branches(
            parent_dir,
            suite,
            factory,
            batch_dir,
            at=args.at,
            samples=args.samples,
            rollout_ids=args.rollout,
            seed=args.seed,
            temperature=args.temperature,
            max_iters=args.max_iters,
            max_workers=args.max_workers,
            config=config,
            provider_name=args.llm_provider,
            model=model,
            base_url=args.base_url,
            suite_path=spec,
            cancel=threading.Event(),
            on_rollout_end=on_end,
        )
    except BranchError as exc:
        raise UserError(str(exc)) from None
    table = Table(box=None, pad_edge=False)
    for col, just in (
        ("parent", "left"),
        ("step", "right"),
        ("parent result", "left"),
        ("branches (pass/fail)", "left"),
        ("contrast", "right"),
        ("dropped", "right"),
    ):
        table.add_column(col, justify=just)
    contrasting = 0
    for pr in s.points:
        pt = pr.point
        mine = [
            r.outcome.tests_passed and not r.outcome.tests_tampered
            for r in pr.branches
            if r.stop_reason not in ("cancelled", "error", "diverged")
        ]
        differ = sum(ok != pt.parent_passed for ok in mine)
        contrasting += differ
        table.add_row(
            escape(pt.parent_rollout_id),
            str(pt.at_step),
            "PASS" if pt.parent_passed else "FAIL",
            " ".join("P" if ok else "F" for ok in mine) or "-",
            str(differ),
            str(pr.duplicates) + (f" +{len(pr.errors)} err" if pr.errors else ""),
        )
    console.print(table)
    tin = sum(r.outcome.tokens_in for r in s.results)
    tout = sum(r.outcome.tokens_out for r in s.results)
    console.print(
        f"[bold]decision points[/] {len(s.points)}   [bold]branches[/] {len(s.results)}   "
        f"[bold]pass/fail vs parent[/] {contrasting} (step pairs with pass/fail contrast)   "
        f"tokens in {tin:,} out {tout:,}"
    )
    if dropped := sum(pr.dropped_tokens for pr in s.points):
        console.print(
            f"[dim]{sum(pr.duplicates for pr in s.points)} duplicate samples dropped "
            f"({dropped:,} tokens spent on them, in no trace)[/]"
        )
    if s.skipped:
        why = ", ".join(f"{k}: {v}" for k, v in list(s.skipped.items())[:5])
        more = ", ..." if len(s.skipped) > 5 else ""
        console.print(f"[dim]skipped {len(s.skipped)} rollouts ({escape(why)}{more})[/]")
    console.print(f"traces: {batch_dir}", markup=False)
    dirs = (
        f"{out_root}"
        if parent_dir.parent == out_root
        else f"{parent_dir} {batch_dir} --db {out_root / 'labels.sqlite'}"
    )
    console.print(
        f"next: repo-agent ingest {dirs}  (step pairs: branch vs parent), then "
        f"repo-agent export dpo {out_root} --mode step --auto --out {out_root / 'steps.jsonl'}",
        markup=False,
    )
    if s.interrupted or s.meta.stop_reason == "cancelled":
        return 130
    return 0


def cmd_suite_check(args: argparse.Namespace) -> int:
    from agent.suites.loading import check_suite

    suite = _load_suite(args.suite)
    console = Console(highlight=False)
    table = Table(title=f"suite {escape(suite.name)}: {len(suite.tasks)} tasks", box=None, pad_edge=False)
    id_width = max(len(t.id) for t in suite.tasks)
    table.add_column("task", no_wrap=True, min_width=id_width)
    for col in ("fails as is", "passes w/ fix", "ok"):
        table.add_column(col, no_wrap=True, min_width=len(col))
    # The detail column takes what is left of the terminal, cut with an ellipsis.
    table.add_column(
        "detail",
        no_wrap=True,
        overflow="ellipsis",
        max_width=max(20, console.width - id_width - len("fails as is passes w/ fix ok") - 10),
    )
    yes = lambda v: "-" if v is None else ("[green]yes[/]" if v else "[red]no[/]")  # noqa: E731
    with Progress(
        TextColumn("\\[check]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("", total=len(suite.tasks))
        checks = check_suite(
            suite, progress=lambda c, done, total: progress.update(bar, completed=done, description=c.task_id)
        )
    for c in checks:
        table.add_row(
            escape(c.task_id),
            yes(c.fails_untouched),
            yes(c.passes_with_fix),
            "[green]ok[/]" if c.ok else "[bold red]FAIL[/]",
            escape(c.detail or ""),
        )
    console.print(table)
    bad = [c.task_id for c in checks if not c.ok]
    if bad:
        console.print(f"[bold red]{len(bad)} task(s) failed the check:[/] {escape(', '.join(bad))}")
        return 1
    console.print(f"[green]all {len(checks)} tasks ok[/]")
    return 0
