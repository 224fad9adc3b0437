"""`--budget-usd` and `--prices` for every command that spends (run, prefs, branch, calibrate).

The check itself lives in the batch runner (agent/budget.py), so every front end gets it;
here are only the flags, the prices they need, and the summary line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tui.cli.errors import UserError

PRICES_HELP = (
    'JSON prices file: {"MODEL": {"in": USD per 1M prompt tokens, "out": USD per 1M completion tokens}, '
    '"*": {...} for any other model}'
)


def add_budget_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--budget-usd",
        type=float,
        default=None,
        help="no new rollout starts once spent + running rollouts' projected cost would pass X dollars "
        "(needs --price-in/--price-out or --prices)",
    )
    p.add_argument("--prices", default=None, help=PRICES_HELP)


def prices_from_file(path: str, model: str) -> tuple[float | None, float | None]:
    try:
        data = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"--prices: cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserError(f"--prices: {path} is not valid JSON: {exc}") from None
    entry = data.get(model) if isinstance(data, dict) else None
    if entry is None and isinstance(data, dict):
        entry = data.get("*")
    if not isinstance(entry, dict):
        raise UserError(f'--prices: {path} has no prices for model {model!r} (and no "*" entry)')
    try:
        return (
            None if entry.get("in") is None else float(entry["in"]),
            None if entry.get("out") is None else float(entry["out"]),
        )
    except (TypeError, ValueError):
        raise UserError(f"--prices: {path}: prices for {model!r} must be numbers") from None


def require_prices(args: argparse.Namespace) -> None:
    """Refuse ``--budget-usd`` without any prices, before the command does anything else."""
    if getattr(args, "budget_usd", None) is None:
        return
    if args.budget_usd <= 0:
        raise UserError("--budget-usd must be more than 0")
    priced = getattr(args, "prices", None) or any(getattr(args, k, None) is not None for k in ("price_in", "price_out"))
    if not priced:
        raise UserError(
            "--budget-usd needs prices to know what a rollout costs: give --price-in and --price-out "
            "(USD per 1M tokens) or --prices FILE"
        )


def apply_prices(args: argparse.Namespace, model: str) -> None:
    """Fill ``args.price_in/out`` from ``--prices`` (the flags win)."""
    if getattr(args, "prices", None):
        pin, pout = prices_from_file(args.prices, model)
        if getattr(args, "price_in", None) is None:
            args.price_in = pin
        if getattr(args, "price_out", None) is None:
            args.price_out = pout


def budget_from_args(args: argparse.Namespace, model: str):
    """``apply_prices``, then the DollarBudget of ``--budget-usd``, if any."""
    from agent.budget import DollarBudget

    apply_prices(args, model)
    limit = getattr(args, "budget_usd", None)
    if limit is None:
        return None
    if limit <= 0:
        raise UserError("--budget-usd must be more than 0")
    if getattr(args, "price_in", None) is None and getattr(args, "price_out", None) is None:
        raise UserError(
            "--budget-usd needs prices to know what a rollout costs: give --price-in and --price-out "
            "(USD per 1M tokens) or --prices FILE"
        )
    return DollarBudget(limit)


def budget_line(report) -> str | None:
    """'budget $5.00: spent $4.12, left $0.88 (3 rollouts not started)'."""
    if report is None:
        return None
    line = f"budget ${report.limit_usd:,.2f}: spent ${report.spent_usd:,.4f}, left ${report.left_usd:,.4f}"
    if report.refused:
        line += f" ({report.refused} rollouts not started: the budget could not cover them)"
    return line
