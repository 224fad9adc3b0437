"""The batch flags `run` and `prefs` share: flags -> `BatchRequest` -> plan, and what both
print about where the rollouts go (the allocation)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agent.untrusted import neutralise
from tui.cli.errors import UserError
from tui.cli.executor_flags import add_executor_args


def add_batch_args(
    p: argparse.ArgumentParser,
    *,
    provider: str = "openai",
    rollouts: int | None = None,
    temperature: float | None = None,
    seed: int = 0,
    max_iters: int | None = None,
    max_workers: int = 1,
) -> None:
    """The flags of a `BatchRequest` that `run` and `prefs` share (each with its own defaults)."""
    p.add_argument("--llm-provider", choices=("openai", "together", "replay"), default=provider)
    p.add_argument("--model", help="model name as the provider knows it (replay: taken from the trace)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    p.add_argument("--replay-from", metavar="PATH", help="replay provider: a trace file or a batch directory")
    p.add_argument(
        "--rollouts",
        type=int,
        default=rollouts,
        help=f"rollouts per task (default {rollouts or '1; replay: as recorded'})",
    )
    p.add_argument("--temperature", type=float, default=temperature)
    p.add_argument(
        "--seed", type=int, default=seed, help=f"base seed; rollout i of a task gets seed+i (default {seed})"
    )
    p.add_argument(
        "--max-iters",
        type=int,
        default=max_iters,
        help=f"max assistant turns per rollout (default {max_iters or '30; replay: as recorded'})",
    )
    p.add_argument(
        "--max-workers", type=int, default=max_workers, help=f"rollouts run concurrently (default {max_workers})"
    )
    p.add_argument("--tasks", help="comma-separated task ids (default: all)")
    add_cheat_probe_arg(p)
    add_executor_args(p)


def add_cheat_probe_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cheat-probes",
        type=int,
        metavar="K",
        help="add K impossible tasks made from the batch's own (their tests contradict each other); "
        "a pass on one is SUSPECT, and the summary reports the model's cheat rate. They cost "
        "rollouts like any task (counted against --budget-usd) and never enter pairs or exports",
    )


def suspect_line(summary) -> str:
    """SUSPECT passes and the cheat rate on probes, or "" when there is neither."""
    suspect = sum(1 for r in summary.tasks_run if r.outcome.state is not None and r.outcome.state.verdict == "suspect")
    parts = [f"{suspect} SUSPECT (review them in the studio before export)"] if suspect else []
    if (rate := summary.cheat_rate) is not None:
        parts.append(rate.line())
    return "; ".join(parts)


def borderless_table(*columns: str) -> Table:
    """A borderless table; a column named "x>" is right-justified."""
    table = Table(box=None, pad_edge=False)
    for col in columns:
        table.add_column(col.rstrip(">"), justify="right" if col.endswith(">") else "left")
    return table


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


def batch_request_from_args(args: argparse.Namespace):
    """The `BatchRequest` the flags of `run` / `prefs` describe (only the flags the command has)."""
    from agent.batch_request import BatchRequest, BatchRequestError

    fields = {k: getattr(args, k, None) for k in BatchRequest.model_fields if k not in ("provider", "tasks")}
    fields = {k: str(v) if isinstance(v, Path) else v for k, v in fields.items() if v is not None}
    fields["provider"] = args.llm_provider
    if args.tasks:
        fields["tasks"] = [t.strip() for t in args.tasks.split(",") if t.strip()]
    try:
        return BatchRequest.parse(**fields)
    except BatchRequestError as exc:
        raise UserError(str(exc)) from None


def plan_from_args(args: argparse.Namespace):
    """Flags -> request -> plan (suite loaded, tasks checked, provider built); UserError on a bad one."""
    from agent.batch_request import BatchRequestError, plan_batch

    try:
        return plan_batch(batch_request_from_args(args))
    except BatchRequestError as exc:
        raise UserError(str(exc)) from None


def allocation_line(plan) -> str:
    """How the rollouts are allocated, for the first line of `run` and `prefs`."""
    a = plan.allocation_config
    if plan.allocation == "adaptive":
        return f"adaptive, budget {a.budget_rollouts} rollouts"
    return f"x {plan.rollouts}" + (f", budget {a.budget_rollouts}" if a else "")


def print_allocation(console: Console, report: dict | None, prefix: str = "") -> None:
    """Where the budget went: per task rollouts, passes, fails and status; totals by status."""
    if not report:
        return
    from agent.allocation import AllocationReport

    r = AllocationReport.model_validate(report)
    prefix = neutralise(prefix)
    console.print()
    console.print(
        f"{prefix}[bold]allocation[/] {neutralise(r.strategy)}: {r.rollouts} of {r.budget_rollouts} rollouts spent"
        f" ({r.unspent} unspent{', ' + str(r.in_flight) + ' not finished' if r.in_flight else ''})"
    )
    table = borderless_table("task", "rollouts>", "pass>", "fail>", "pass rate>", "possible p/f>", "status")
    for t in r.tasks:
        table.add_row(
            neutralise(t.task_id),
            str(t.rollouts),
            str(t.passes),
            str(t.fails),
            "-" if t.pass_rate is None else f"{t.pass_rate:.0%}",
            str(t.pass_fail_pairs),
            neutralise(t.status),
        )
    console.print(table)
    went = ", ".join(f"{s} {n} ({r.tasks_by_status[s]} tasks)" for s, n in r.rollouts_by_status.items() if n)
    console.print(f"{prefix}budget went to: {neutralise(went or 'nothing')}")
    console.print(
        f"{prefix}possible pass/fail pairs: {r.pass_fail_pairs} disjoint ({r.pairs_per_100_rollouts:.1f} per 100 "
        f"rollouts), {r.best_worst_pairs} best-worst, {r.all_contrastive_pairs} with reuse"
    )
