"""`repo-agent run` and `repo-agent branch`: the rollout engine on the command line."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from agent.untrusted import neutralise
from tui.cli.batch_args import (
    add_allocation_args,
    add_batch_args,
    allocation_line,
    borderless_table,
    plan_from_args,
    print_allocation,
    suspect_line,
)
from tui.cli.budget import add_budget_args, apply_prices, budget_from_args, budget_line, require_prices
from tui.cli.command import CommandGroup
from tui.cli.errors import UserError
from tui.cli.executor_flags import add_executor_args, executor_from_args
from tui.cli.loop_args import add_loop_args, loop_config, savings_line
from tui.cli.progress import progress_line, warn_if_unsandboxed
from tui.cli.safe_console import SafeConsole
from tui.cli.suite_arg import load_suite_arg

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
    add_batch_args(run)
    run.add_argument("--trace-dir", default="runs", help="where batch directories go (default ./runs)")
    run.add_argument("--resume", metavar="BATCH_DIR", help="continue a batch: finished rollouts are skipped")
    run.add_argument("--reflection", action="store_true", help="ask the model to reflect after a failed test run")
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
    add_loop_args(run)
    add_budget_args(run)
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
    add_executor_args(br)
    add_loop_args(br)
    add_budget_args(br)
    br.set_defaults(func=cmd_branch)


def _label(result) -> str:
    from agent.batch import result_state

    o = result.outcome
    if result.stop_reason in ("error", "diverged"):
        why = neutralise((result.error or result.stop_reason).splitlines()[0][:100])
        return f"[bold red]ERROR[/] ({result.stop_reason}: {why})"
    if result.stop_reason == "cancelled":
        return f"[yellow]CANCELLED[/] (steps={o.steps})"
    state = result_state(result)  # the one reading (docs/ARCHITECTURE.md, Rollout state)
    if not state.judged or state.verdict == "suspect":
        colour = "cyan" if state.status == "probe" and state.verdict not in ("suspect", "tampered") else "yellow"
        detail = f": {neutralise(state.detail[:100])}" if state.detail else ""
        return f"[{colour}]{neutralise(state.label.upper())}[/] (steps={o.steps}{detail})"
    if o.tests_tampered:
        return f"[bold magenta]TAMPERED[/] (steps={o.steps})"
    extra = f", {result.stop_reason}" if result.stop_reason in ("max_iters", "timeout", "loop") else ""
    return f"[bold green]PASS[/] (steps={o.steps})" if o.tests_passed else f"[red]FAIL[/] (steps={o.steps}{extra})"


def cmd_run(args: argparse.Namespace) -> int:
    from agent.batch import BatchMismatch
    from agent.batch_spec import BatchCallbacks
    from agent.trace import BatchBusy

    require_prices(args)
    apply_prices(args, args.model or "")
    plan = plan_from_args(args)
    console = SafeConsole(highlight=False, soft_wrap=True)
    warn_if_unsandboxed(console)
    batch_dir = plan.batch_dir
    console.print(
        f"[run] batch {batch_dir}  ({args.llm_provider}, {plan.model}, {plan.n_tasks} tasks {allocation_line(plan)})",
        markup=False,
    )

    with progress_line(console, "run") as progress:
        bar = progress.add_task("", total=plan.planned_total)

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
                f"\\[run] \\[{done}/{total}] {neutralise(result.task_id)} seed={result.seed}: {_label(result)}{resumed}"
            )
            progress.update(bar, completed=done)

        try:
            summary = plan.run(BatchCallbacks(event=on_event, rollout_end=on_end))
        except (BatchMismatch, BatchBusy) as exc:
            raise UserError(f"--resume: {exc}") from None
    print_summary(console, summary)
    if line := budget_line(summary.budget):
        console.print(f"[bold]{line}[/]")
    if plan.allocation == "adaptive" or plan.allocation_config is not None:
        print_allocation(console, summary.meta.allocation)
    if summary.interrupted or summary.cancelled:
        console.print(f"[yellow]interrupted[/]: resume with  repo-agent run ... --resume {neutralise(str(batch_dir))}")
        return 130
    done = summary.finished
    return 1 if done and all(r.stop_reason in ("error", "diverged") for r in done) else 0


def print_summary(console: SafeConsole, summary) -> None:
    valid, calls = summary.tool_calls
    tin, tout = summary.tokens
    console.print()
    console.print(
        f"[bold]pass rate[/]           {summary.pass_rate:6.1%}  ({summary.passed}/{len(summary.judged)} rollouts)"
    )
    if left := summary.not_judged():
        console.print(f"[bold]not judged[/]          {', '.join(f'{k} {n}' for k, n in left.items())}")
    console.print(f"[bold]tool-call validity[/]  {summary.validity_rate:6.1%}  ({valid}/{calls} calls valid)")
    console.print(f"[bold]mean steps[/]          {summary.mean_steps:6.1f}")
    cost = f"   est. cost ${summary.cost_usd:.4f}" if summary.cost_usd is not None else ""
    console.print(f"[bold]tokens[/]              in {tin:,}  out {tout:,}{cost}")
    if saved := savings_line(summary.results):
        console.print(f"[bold]{saved}[/]")
    if line := suspect_line(summary):
        console.print(f"[bold yellow]{line}[/]")
    table = borderless_table("task", "rollouts>", "pass>", "pass rate>", "tampered>", "errors>", "mean steps>")
    for s in summary.per_task():
        table.add_row(
            neutralise(s.task_id),
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
    from agent.batch_spec import BatchCallbacks, BatchControls
    from agent.branch import BranchError, BranchSpec, run_branches
    from agent.loop import RolloutConfig
    from agent.providers import ProviderConfigError, RetryPolicy, provider_factory
    from agent.trace import BATCH_FILE, new_batch_id, read_batch_meta

    require_prices(args)
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
    suite = load_suite_arg(spec)
    if suite.name != parent.suite:
        raise UserError(f"--suite: {spec} is suite {suite.name!r}, the batch ran {parent.suite!r}")
    model = args.model or parent.model
    try:
        factory = provider_factory(args.llm_provider, model, base_url=args.base_url, retry=RetryPolicy())
    except ProviderConfigError as exc:
        raise UserError(str(exc)) from None
    out_root = Path(args.trace_dir) if args.trace_dir else parent_dir.parent
    batch_dir = out_root / new_batch_id(suite.name, f"{model}-branch")
    console = SafeConsole(highlight=False, soft_wrap=True)
    console.print(f"[branch] {parent_dir} at {args.at}, {args.samples} samples per point -> {batch_dir}", markup=False)
    budget = budget_from_args(args, model)
    config = RolloutConfig(price_in=args.price_in, price_out=args.price_out, **loop_config(args))

    def on_end(result, done: int, total: int) -> None:
        console.print(f"\\[branch] \\[{done}/{total}] {neutralise(result.rollout_id)}: {_label(result)}")

    try:
        s = run_branches(
            BranchSpec(
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
            ),
            BatchCallbacks(rollout_end=on_end),
            BatchControls(cancel=threading.Event(), executor=executor_from_args(args), budget=budget),
        )
    except BranchError as exc:
        raise UserError(str(exc)) from None
    table = borderless_table("parent", "step>", "parent result", "branches (pass/fail)", "contrast>", "dropped>")
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
            neutralise(pt.parent_rollout_id),
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
        console.print(f"[dim]skipped {len(s.skipped)} rollouts ({neutralise(why)}{more})[/]")
    if saved := savings_line(s.results):
        console.print(saved)
    if line := budget_line(s.budget):
        console.print(f"[bold]{line}[/]")
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


COMMANDS = CommandGroup(rank=10, register=register)
