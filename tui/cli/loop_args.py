"""``--loop-limit`` / ``--stall-after`` for every command that runs rollouts (run, prefs,
branch; run and prefs pass them on through ``agent.batch_request.BatchRequest``, whose
fields have the same names), and the line that says what stopping loops saved."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from tui.cli.errors import UserError


def add_loop_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--loop-limit",
        type=int,
        default=None,
        metavar="K",
        help="end a rollout that repeats itself (same call+result, a cycle of <=3 steps, the same failing "
        "tests after the same write) after K repeats, stop reason 'loop' (default 5, or a resumed batch's; "
        "0 = only flag it)",
    )
    p.add_argument(
        "--stall-after",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="record a stall when a rollout writes no event for this long (hung model or tool; default 120)",
    )


def loop_config(args: argparse.Namespace) -> dict[str, Any]:
    """RolloutConfig fields from the parsed flags."""
    limit = 5 if args.loop_limit is None else args.loop_limit
    if limit < 0:
        raise UserError("--loop-limit must be 0 (flag only) or more")
    if args.stall_after <= 0:
        raise UserError("--stall-after must be positive")
    return {"loop_limit": limit, "stall_s": args.stall_after}


def savings_line(results: Iterable[Any]) -> str | None:
    """ "loop stops: 2 rollouts, saved ~48 steps, ~310k tokens, ~$0.41 (projected to --max-iters)"."""
    stopped = [r for r in results if r.stop_reason == "loop" and r.outcome.saved is not None]
    if not stopped:
        return None
    steps = sum(r.outcome.saved.steps for r in stopped)
    tokens = sum(r.outcome.saved.tokens_in + r.outcome.saved.tokens_out for r in stopped)
    costs = [r.outcome.saved.cost_usd for r in stopped if r.outcome.saved.cost_usd is not None]
    money = f", ~${sum(costs):.2f}" if costs else " (give --price-in/--price-out for dollars)"
    n = len(stopped)
    return (
        f"loop stops: {n} rollout{'s' * (n != 1)}, saved ~{steps} steps, ~{tokens:,} tokens{money} "
        f"(projected to --max-iters)"
    )
