"""`repo-agent compare`: did the data help? Two models on held-out tasks, with the uncertainty.

Runs (or reuses) K rollouts per task per model at shared seeds, plus model A again on a
second seed block (run-to-run noise), and reports the paired difference B - A
(labeling/compare.py). `--plan`: how many tasks and rollouts detect a given lift.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from agent.untrusted import neutralise
from tui.charts import chart_text, compare_chart
from tui.cli.command import CommandGroup
from tui.cli.errors import UserError
from tui.cli.safe_console import SafeConsole
from tui.cli.store_flag import add_db_flag
from tui.cli.suite_arg import load_suite_arg

EXAMPLES = """\
examples:
  # after `repo-agent export sft runs/ --out data/sft.jsonl --holdout-fraction 0.2`:
  # the base model against the fine-tune on the held-out suite beside data/sft.jsonl
  repo-agent compare --train data/sft.jsonl --llm-provider together \\
      --model Qwen/Qwen2.5-7B-Instruct --model me/Qwen2.5-7B-Instruct-ft-abc123 \\
      --rollouts 4 --price-in 0.3 --price-out 0.3 --budget-usd 5

  # before paying for a fine-tune: what does detecting +15 points from 30% take?
  repo-agent compare --plan --suite data/sft.holdout.suite.json --baseline-rate 0.3 --lift 0.15

Rollouts go to TRACE_DIR as ordinary batches (one per model and seed block); running the
same comparison again reuses every rollout already there and runs only what is missing.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="did the data help? a model against its base on held-out tasks, with intervals",
        description="Run K rollouts per task per model at shared seeds (reusing batches already in "
        "TRACE_DIR) and report each pass rate with its interval, the paired difference B - A, its "
        "interval and p-value, flipped tasks, and whether it exceeds run-to-run noise.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--suite", help="the held-out suite (default: the one `export` wrote beside --train)")
    p.add_argument("--train", metavar="FILE", help="an exported training file: its held-out suite is the default")
    p.add_argument("--model", action="append", default=[], help="model A (base), then model B (the fine-tune)")
    p.add_argument(
        "--job",
        metavar="ID",
        help="a fine-tuning job (`repo-agent jobs`): its base model is A (unless --model), its fine-tune B",
    )
    add_db_flag(p, "TRACE_DIR/labels.sqlite; with --job, the store the job is recorded in")
    p.add_argument("--llm-provider", choices=("openai", "together"), default="openai")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    p.add_argument("--rollouts", type=int, default=4, help="rollouts per task per model (default 4)")
    p.add_argument("--seed", type=int, default=0, help="base seed of the shared seed block (default 0)")
    p.add_argument("--no-noise", action="store_true", help="skip the A-vs-A noise block (saves a third of the cost)")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--max-iters", type=int, default=30, help="max assistant turns per rollout (default 30)")
    p.add_argument("--max-workers", type=int, default=1, help="rollouts run concurrently (default 1)")
    p.add_argument("--trace-dir", default="runs", help="where batch directories go and are reused from")
    p.add_argument("--budget-usd", type=float, help="no rollout starts once this much is spent (needs prices)")
    p.add_argument("--price-in", type=float, default=None, help="USD per 1M prompt tokens")
    p.add_argument("--price-out", type=float, default=None, help="USD per 1M completion tokens")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals (default 0.95)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    g = p.add_argument_group("planning (--plan: nothing is run)")
    g.add_argument("--plan", action="store_true", help="tasks and rollouts needed to detect --lift with 80%% power")
    g.add_argument("--baseline-rate", type=float, help="model A's expected pass rate, e.g. 0.3")
    g.add_argument("--lift", type=float, help="the improvement to detect, in pass-rate points, e.g. 0.15")
    g.add_argument(
        "--lift-sd",
        type=float,
        default=0.1,
        help="how much the lift varies from task to task (default 0.1); only more tasks average it away",
    )
    g.add_argument("--rollout-tokens", nargs=2, type=int, metavar=("IN", "OUT"), help="tokens per rollout for costs")
    p.set_defaults(func=cmd_compare)


def resolve_job(args: argparse.Namespace) -> None:
    """``--job ID``: models A (the job's base, or the one --model) and B (its fine-tuned model),
    and the held-out suite its training file's export wrote, unless --suite or --train says."""
    from exports.provenance import held_out_suite
    from labeling.errors import NotFound
    from labeling.store import LabelStore

    if len(args.model) > 1:
        raise UserError("with --job, give at most one --model (model A; B is the job's fine-tuned model)")
    store = LabelStore.open(args.db, Path(args.trace_dir))
    try:
        job = store.job(args.job)
    except NotFound as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    if job.status != "completed" or not job.output_model:
        raise UserError(f"job {job.job_id} is {job.status}: no fine-tuned model yet (repo-agent jobs DIR follow ID)")
    args.model = [args.model[0] if args.model else job.base_model, job.output_model]
    if not args.suite and not args.train:
        args.suite = held_out_suite(job.sidecar)
        if args.suite is None:
            raise UserError(f"job {job.job_id}: no held-out suite beside {job.training_file}; give --suite")


def _suite_spec(args: argparse.Namespace) -> str:
    if args.suite:
        return args.suite
    from exports.holdout import default_holdout_path

    if args.train:
        held = default_holdout_path(Path(args.train))
        if held.is_file():
            return str(held)
        raise UserError(f"--train: no held-out suite beside {args.train} ({held.name}); give --suite")
    found = sorted({*Path.cwd().glob("*.holdout.suite.json"), *Path.cwd().glob("*/*.holdout.suite.json")})
    if len(found) == 1:
        return str(found[0])
    if found:
        raise UserError(f"several held-out suites here ({', '.join(map(str, found[:4]))}); give --suite or --train")
    raise UserError("--suite is required (no held-out suite written by `export` found here)")


def cmd_compare(args: argparse.Namespace) -> int:
    if args.plan:
        return cmd_plan(args)
    if args.job:
        resolve_job(args)
    if len(args.model) != 2:
        raise UserError("give two models: --model BASE --model FINE_TUNED")
    if args.model[0] == args.model[1]:
        raise UserError("the two --model names are the same (the noise block already measures A against A)")
    for name in ("rollouts", "max_iters", "max_workers"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    if not 0.5 <= args.level < 1:
        raise UserError("--level must be in [0.5, 1)")
    if args.budget_usd is not None and (args.price_in is None or args.price_out is None):
        raise UserError("--budget-usd needs --price-in and --price-out (the cost of a rollout is unknown without)")
    spec = _suite_spec(args)
    suite = load_suite_arg(spec)
    console = SafeConsole(highlight=False, soft_wrap=True, stderr=args.json)
    from labeling.compare_batches import NOISE_SEED_OFFSET

    a, b = args.model
    wanted = [(a, args.seed), (b, args.seed)]
    if not args.no_noise:
        wanted.append((a, args.seed + NOISE_SEED_OFFSET))
    blocks, stopped = _run_blocks(args, suite, spec, wanted, console)
    from labeling.compare import compare, summarize

    a_block, b_block = blocks[0], blocks[1]
    noise_block = blocks[2] if len(blocks) > 2 else None
    try:
        result = compare(
            summarize(a, a_block.verdicts, level=args.level, figures=a_block.figures()),
            a_block.verdicts,
            summarize(b, b_block.verdicts, level=args.level, figures=b_block.figures()),
            b_block.verdicts,
            noise_verdicts=noise_block.verdicts if noise_block else None,
            level=args.level,
            seed=args.seed,
        )
    except ValueError as exc:
        raise UserError(f"nothing to compare: {exc}" + (f" ({stopped})" if stopped else "")) from None
    if args.json:
        print(json.dumps(to_json(result, blocks)))
    else:
        render(console, result, blocks)
    if stopped:
        console.print(f"[yellow]{stopped}[/]: run the same command again to finish (finished rollouts are reused)")
        return 130
    return 0


def _plans(args, suite, spec, wanted):
    """One batch request per (model, seed) block, planned before anything runs (a missing
    key fails here); a block already in TRACE_DIR is resumed, so only what it lacks runs."""
    from agent.batch_request import BatchRequest, BatchRequestError, plan_batch
    from labeling.compare_batches import find_block_batch

    suite_arg = str(Path(spec).resolve()) if Path(spec).exists() else spec
    plans = []
    for model, seed in wanted:
        found = find_block_batch(
            Path(args.trace_dir), suite.name, model, seed, temperature=args.temperature, max_iters=args.max_iters
        )
        try:
            request = BatchRequest.parse(
                suite=suite_arg,
                provider=args.llm_provider,
                model=model,
                base_url=args.base_url,
                rollouts=args.rollouts,
                temperature=args.temperature,
                seed=seed,
                max_workers=args.max_workers,
                max_iters=args.max_iters,
                price_in=args.price_in,
                price_out=args.price_out,
                trace_dir=args.trace_dir,
                resume=str(found) if found else None,
            )
            plans.append((plan_batch(request), found))
        except BatchRequestError as exc:
            raise UserError(str(exc)) from None
    return plans


def _run_blocks(args, suite, spec, wanted, console):
    """Each (model, seed) block: reuse its batch from TRACE_DIR, run what it lacks.
    ``--budget-usd`` caps what this run spends (reused rollouts are already paid for)."""
    from agent.batch import BatchMismatch, plan_rollouts
    from agent.batch_spec import BatchCallbacks
    from labeling.compare_batches import read_block

    spent: dict = {"usd": 0.0, "n": 0, "budget_hit": False}
    halted = False
    blocks, stopped = [], None
    for (model, seed), (plan, found) in zip(wanted, _plans(args, suite, spec, wanted), strict=True):
        planned = plan_rollouts(plan.suite, args.rollouts, seed)
        block = read_block(model, seed, plan.batch_dir, planned) if found else None
        if block is not None and not block.missing:
            if not args.json:
                console.print(
                    f"\\[compare] {neutralise(model)} seeds {seed}..: all {len(planned)} rollouts reused ({found})"
                )
            blocks.append(block)
            continue
        if halted:  # budget reached or Ctrl-C: later blocks do not start
            blocks.append(block or read_block(model, seed, plan.batch_dir, planned))
            continue
        reused = len(planned) - (len(block.missing) if block else len(planned))
        console.print(
            f"\\[compare] {neutralise(model)} seeds {seed}..{seed + args.rollouts - 1}: "
            f"{len(planned) - reused} rollouts to run, {reused} reused -> {plan.batch_dir}"
        )

        def on_end(result, done, total, model=model, cancel=plan.cancel):
            if result.resumed:
                return
            spent["n"] += 1
            spent["usd"] += result.outcome.cost_usd or 0.0
            ok = "PASS" if result.outcome.tests_passed and not result.outcome.tests_tampered else "FAIL"
            console.print(f"\\[compare] \\[{done}/{total}] {neutralise(model)} {result.task_id} s{result.seed}: {ok}")
            per = spent["usd"] / spent["n"]
            # no rollout starts once spent + the running ones' projected cost would pass the budget
            if args.budget_usd is not None and spent["usd"] + per * args.max_workers > args.budget_usd:
                spent["budget_hit"] = True
                cancel.set()

        try:
            plan.run(BatchCallbacks(rollout_end=on_end))
        except BatchMismatch as exc:
            raise UserError(str(exc)) from None
        blocks.append(read_block(model, seed, plan.batch_dir, planned))
        if plan.cancel.is_set():
            halted = True
            stopped = (
                f"budget ${args.budget_usd:.2f} reached (${spent['usd']:.2f} spent)"
                if spent["budget_hit"]
                else "interrupted"
            )
    return blocks, stopped


def _ci(iv) -> list[float] | None:
    return None if iv is None else [round(iv.lo, 4), round(iv.hi, 4)]


def to_json(c, blocks) -> dict:
    """`{"models": [...], "difference": {...}, "tasks": [...]}` (the issue's shape, plus figures)."""
    models = []
    for s, blk in ((c.a, blocks[0]), (c.b, blocks[1])):
        d = s.model_dump()
        d["ci"] = _ci(s.ci)
        d["batch"] = str(blk.batch_dir)
        d["left_out"] = dict(blk.left_out)
        models.append(d)
    diff = c.difference.model_dump()
    diff["ci"] = _ci(c.difference.ci)
    diff["noise"] = None
    if c.noise is not None:
        diff["noise"] = {"estimate": c.noise.estimate, "ci": _ci(c.noise.ci), "p_value": c.noise.p_value}
    diff["beyond_noise"] = c.beyond_noise
    return {"models": models, "difference": diff, "tasks": [t.model_dump() for t in c.tasks]}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def render(console: SafeConsole, c, blocks) -> None:
    level = int(round(c.difference.level * 100))
    console.print(f"[bold]pass rate on {c.difference.tasks} held-out tasks[/] ({level}% intervals)")
    for tag, s in (("A", c.a), ("B", c.b)):
        ci = f"{_pct(s.ci.lo)}-{_pct(s.ci.hi)}" if s.ci else "-"
        err = f", {s.errors} errors" if s.errors else ""
        cost = "" if s.cost_usd is None else f" · ${s.cost_usd:.4f}"
        steps = "-" if s.mean_steps is None else f"{s.mean_steps:.1f}"
        console.print(
            f"  [bold]{tag}[/] {neutralise(s.model)}: [bold]{_pct(s.pass_rate)}[/] ({ci}; {s.passed}/{s.rollouts}{err})"
            f" · tool calls valid {_pct(s.validity_rate)} · mean steps {steps}"
            f" · tokens {s.tokens_in:,} in / {s.tokens_out:,} out{cost}"
        )
    console.print(chart_text(compare_chart(c), width=min(console.width, 100)))
    left: dict[str, int] = {}
    for blk in blocks:
        for k, n in getattr(blk, "left_out", {}).items():
            left[k] = left.get(k, 0) + n
    if left:  # not judged: out of the rates, never counted as fails (labeling/rollout_states.py)
        console.print(
            "  left out (not judged): " + ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(left.items()))
        )
    d = c.difference
    console.print(
        f"\n[bold]B - A[/] {_pts(d.estimate)} points  ({level}% interval {_pts(d.ci.lo)} to {_pts(d.ci.hi)}, "
        f"p = {d.p_value:.3g}; paired over {d.tasks} tasks)"
    )
    if c.noise is not None:
        n = c.noise
        verdict = "[green]larger than[/]" if c.beyond_noise else "[yellow]within[/]"
        console.print(
            f"[bold]noise[/] A vs A on a second seed block: {_pts(n.estimate)} ({_pts(n.ci.lo)} to {_pts(n.ci.hi)}); "
            f"the difference is {verdict} run-to-run noise"
        )
    up, down = c.flipped_up, c.flipped_down
    console.print(f"[bold]flipped[/] to pass under B: {', '.join(up) or 'none'}")
    console.print(f"[bold]flipped[/] to fail under B: {', '.join(down) or 'none'}")
    if d.ci.lo > 0:
        console.print(f"[green]B is better[/] on tasks like these (the {level}% interval excludes 0)")
    elif d.ci.hi < 0:
        console.print(f"[red]B is worse[/] on tasks like these (the {level}% interval excludes 0)")
    else:
        console.print(
            "[yellow]not shown[/]: the interval includes 0, so B - A could be anything in it; "
            "`repo-agent compare --plan` tells the tasks and rollouts a given lift needs"
        )
    console.print(f"traces: {', '.join(str(b.batch_dir) for b in blocks)}")


def cmd_plan(args: argparse.Namespace) -> int:
    from labeling.compare import plan
    from labeling.compare_batches import rollout_tokens

    if args.baseline_rate is None or args.lift is None:
        raise UserError("--plan needs --baseline-rate P and --lift D (e.g. --baseline-rate 0.3 --lift 0.15)")
    suite = load_suite_arg(_suite_spec(args)) if args.suite or args.train else None
    tokens = tuple(args.rollout_tokens) if args.rollout_tokens else None
    if tokens is None and suite is not None:
        tokens = rollout_tokens(Path(args.trace_dir), {suite.name, suite.name.removesuffix("-holdout")})
    per = None
    if tokens and args.price_in is not None and args.price_out is not None:
        per = (tokens[0] * args.price_in + tokens[1] * args.price_out) / 1e6
    kw = dict(level=args.level, cost_per_rollout=per, noise_block=not args.no_noise, lift_sd=args.lift_sd)
    try:
        needed = plan(args.baseline_rate, args.lift, **kw)
        have = plan(args.baseline_rate, args.lift, suite_tasks=len(suite.tasks), **kw) if suite else []
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps({"needed": [r.model_dump() for r in needed], "suite": [r.model_dump() for r in have]}))
        return 0
    console = SafeConsole(highlight=False, soft_wrap=True)
    target = f"{_pct(args.baseline_rate)} -> {_pct(args.baseline_rate + args.lift)}"
    console.print(
        f"[bold]plan[/]: detect {target} with 80% power at the {int(args.level * 100)}% level "
        f"(lift varying by {args.lift_sd:.2f} from task to task)"
    )
    t = Table(box=None, pad_edge=False)
    for col in (
        "rollouts/task",
        "tasks needed",
        "total rollouts",
        "cost",
        *(("power with this suite",) if suite else ()),
    ):
        t.add_column(col, justify="right")
    mine = {r.rollouts: r for r in have}
    for r in needed:
        cost = "-" if r.cost_usd is None else f"${r.cost_usd:,.2f}"
        extra = (f"{mine[r.rollouts].power:.0%} ({len(suite.tasks)} tasks)",) if suite else ()
        t.add_row(str(r.rollouts), str(r.tasks), f"{r.total_rollouts:,}", cost, *extra)
    console.print(t)
    if suite is not None:
        ok = [r for r in have if r.power >= 0.8]
        console.print(
            f"suite {suite.name}: {len(suite.tasks)} tasks; "
            + (
                f"{ok[0].rollouts} rollouts per task reach 80% power"
                if ok
                else "[yellow]no rollout count reaches 80% power: hold out more tasks[/]"
            )
        )
    blocks = "3 blocks (A, B, A again for noise)" if not args.no_noise else "2 blocks (A, B)"
    how = (
        f"{tokens[0]:,.0f} in / {tokens[1]:,.0f} out tokens per rollout"
        if tokens
        else "no token figures (give --rollout-tokens IN OUT)"
    )
    console.print(f"[dim]total = {blocks} x tasks x rollouts; cost from {how}; prices from --price-in/--price-out[/]")
    return 0


COMMANDS = CommandGroup(rank=120, register=register)
