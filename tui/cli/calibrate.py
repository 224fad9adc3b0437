"""`repo-agent suite calibrate`: per-task pass rates and the subset in the learnable band."""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

from rich.table import Table

from agent.untrusted import neutralise
from tui.cli.batch_args import add_cheat_probe_arg, suspect_line
from tui.cli.budget import add_budget_args, budget_from_args, budget_line, require_prices
from tui.cli.errors import UserError
from tui.cli.executor_flags import add_executor_args, executor_from_args
from tui.cli.safe_console import SafeConsole

EXAMPLES = """\
examples:
  # from batches already run on the suite
  repo-agent suite calibrate suites/toolz --from runs/ --band 0.2-0.6 --out suites/toolz-band
  # 4 pilot rollouts per task first (any provider), at most $3
  repo-agent suite calibrate suites/toolz --k 4 --llm-provider openai --model qwen2.5-coder-7b \\
      --base-url http://localhost:8000/v1 --max-workers 4 --price-in 0.2 --price-out 0.2 --budget-usd 3 \\
      --band 0.2-0.6 --out suites/toolz-band
"""


def register(suite_sub: argparse._SubParsersAction) -> None:
    p = suite_sub.add_parser(
        "calibrate",
        help="per-task pass rate (with a 95%% interval) from batches or k pilot rollouts; select a band",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("suite", help="the suite to calibrate")
    p.add_argument("--from", dest="sources", action="append", default=[], help="batch dir(s) to count (repeatable)")
    p.add_argument("--k", type=int, default=None, help="run K pilot rollouts per task first")
    p.add_argument("--llm-provider", choices=("openai", "together"), default="openai")
    p.add_argument("--model", help="model for the pilot rollouts")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint for the pilot rollouts")
    p.add_argument("--max-workers", type=int, default=1)
    p.add_argument("--max-iters", type=int, default=30)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trace-dir", default="runs", help="where the pilot batch goes (default ./runs)")
    p.add_argument("--price-in", type=float, default=None, help="USD per 1M prompt tokens")
    p.add_argument("--price-out", type=float, default=None, help="USD per 1M completion tokens")
    add_budget_args(p)
    add_executor_args(p)  # the pilot rollouts may run as Ray tasks
    add_cheat_probe_arg(p)  # with --k: probes run beside the pilot rollouts, never calibrated
    p.add_argument("--band", default="0.2-0.6", help="learnable band of pass rates, LOW-HIGH (default 0.2-0.6)")
    p.add_argument("--out", help="write the tasks in the band as a suite here (dir or .json)")
    p.set_defaults(func=cmd_calibrate)


def _pilot(args: argparse.Namespace, suite, console: SafeConsole) -> Path:
    from agent.batch import run_batch
    from agent.batch_spec import BatchCallbacks, BatchControls, BatchSpec
    from agent.loop import RolloutConfig
    from agent.probes import ProbeError, with_probes
    from agent.providers import ProviderConfigError, RetryPolicy, provider_factory
    from agent.trace import new_batch_id

    if not args.model:
        raise UserError("--k needs --model (and --base-url for a local server)")
    budget = budget_from_args(args, args.model)
    try:
        factory = provider_factory(args.llm_provider, args.model, base_url=args.base_url, retry=RetryPolicy())
    except ProviderConfigError as exc:
        raise UserError(str(exc)) from None
    batch_dir = Path(args.trace_dir) / new_batch_id(suite.name, f"{args.model}-calibrate")
    try:  # cheat probes run beside the tasks; pass_rates counts the suite's own tasks only
        run_suite, _ = with_probes(suite, args.cheat_probes or 0, batch_dir, None)
    except ProbeError as exc:
        raise UserError(str(exc)) from None
    total = args.k * len(run_suite.tasks)
    probes = f" + {args.cheat_probes} cheat probes" if args.cheat_probes else ""
    console.print(f"\\[calibrate] {args.k} pilot rollouts x {len(suite.tasks)} tasks{probes} -> {batch_dir}")

    def on_end(result, done: int, n: int) -> None:
        verdict = "PASS" if result.outcome.tests_passed and not result.outcome.tests_tampered else "FAIL"
        state = result.outcome.state
        if state is not None and (state.status == "probe" or state.verdict == "suspect"):
            verdict = state.label
        console.print(f"\\[calibrate] \\[{done}/{total}] {result.task_id} seed={result.seed}: {verdict}")

    config = RolloutConfig(
        max_iters=args.max_iters, temperature=args.temperature, price_in=args.price_in, price_out=args.price_out
    )
    summary = run_batch(
        BatchSpec(
            run_suite,
            factory,
            batch_dir,
            rollouts=args.k,
            seed=args.seed,
            max_workers=max(1, args.max_workers),
            config=config,
            provider_name=args.llm_provider,
            model=args.model,
            base_url=args.base_url,
            suite_path=args.suite,
        ),
        BatchCallbacks(rollout_end=on_end),
        BatchControls(cancel=threading.Event(), budget=budget, executor=executor_from_args(args)),
    )
    if line := budget_line(summary.budget):
        console.print(f"[bold]{line}[/]")
    if line := suspect_line(summary):
        console.print(f"[bold yellow]{line}[/]")
    return batch_dir


def cmd_calibrate(args: argparse.Namespace) -> int:
    from agent.suites.calibrate import in_band, parse_band, pass_rates, write_selected
    from tui.cli.suite_arg import load_suite_arg

    try:
        band = parse_band(args.band)
    except ValueError as exc:
        raise UserError(f"--band: {exc}") from None
    if args.k is not None and args.k < 1:
        raise UserError("--k must be at least 1")
    if args.k is None and not args.sources:
        raise UserError("give --from BATCH_DIR (batches already run on the suite) or --k K (pilot rollouts)")
    if args.cheat_probes and args.k is None:
        raise UserError("--cheat-probes runs probes beside the pilot rollouts: it needs --k")
    if args.cheat_probes is not None and args.cheat_probes < 0:
        raise UserError("--cheat-probes must be 0 (none) or more")
    if args.budget_usd is not None and args.k is None:
        raise UserError("--budget-usd limits the pilot rollouts: it needs --k")
    require_prices(args)
    suite = load_suite_arg(args.suite)
    console = SafeConsole(highlight=False, soft_wrap=True)
    roots = [Path(os.path.expanduser(s)) for s in args.sources]
    for r in roots:
        if not r.exists():
            raise UserError(f"--from: {r} does not exist")
    if args.k is not None:
        roots.append(_pilot(args, suite, console))
    rates = pass_rates(suite, roots)
    table = Table(title=f"suite {suite.name}: pass rates (95% Wilson interval)", box=None, pad_edge=False)
    table.add_column("task", no_wrap=True)
    for col in ("judged", "pass", "rate"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("interval", no_wrap=True)
    table.add_column(f"band {band[0]:g}-{band[1]:g}", no_wrap=True)
    for t in suite.tasks:
        tr = rates[t.id]
        lo, hi = tr.interval
        rate = "-" if tr.rate is None else f"{tr.rate:.0%}"
        mark = "[green]yes[/]" if in_band(tr, band) else ("-" if tr.rate is None else "no")
        table.add_row(neutralise(t.id), str(tr.rollouts), str(tr.passes), rate, f"{lo:.0%}-{hi:.0%}", mark)
    console.print(table)
    left: dict[str, int] = {}
    for tr in rates.values():
        for k, n in tr.left_out.items():
            left[k] = left.get(k, 0) + n
    if left:  # the same reasons as stats, audit and the studio (labeling/rollout_states.py)
        console.print(
            "left out of the rates: " + ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(left.items()))
        )
    measured = [r for r in rates.values() if r.rollouts]
    chosen = [r for r in measured if in_band(r, band)]
    console.print(
        f"{len(measured)} of {len(suite.tasks)} tasks have rollouts; {len(chosen)} in the band {band[0]:g}-{band[1]:g}"
    )
    if not measured:
        console.print("[yellow]no judged rollouts of this suite in the given batches[/]")
        return 1
    if args.out:
        if not chosen:
            console.print("[yellow]no task in the band: nothing written[/]")
            return 1
        path = write_selected(suite, rates, band, Path(os.path.expanduser(args.out)))
        console.print(f"selected suite: {path} ({len(chosen)} tasks)")
        console.print(f"next: repo-agent prefs --suite {path} ...")
    return 0
