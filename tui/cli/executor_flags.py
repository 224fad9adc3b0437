"""`--executor thread|ray` and `--ray-address` on every command that runs rollouts.

`run` and `prefs` get them through their shared batch flags (they become the
`BatchRequest`'s ``executor`` / ``ray_address``); `branch` builds its executor here.
"""

from __future__ import annotations

import argparse

from tui.cli.errors import UserError


def add_executor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--executor",
        choices=("thread", "ray"),
        default=None,
        help="where rollouts run: a local thread pool (default; with --resume, where the batch ran) "
        "or Ray tasks (needs the ray extra)",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help='with --executor ray: "auto" joins the running cluster, or a cluster address '
        "(default: start a local Ray instance)",
    )


def executor_from_args(args: argparse.Namespace):
    """The executor the flags name (None: the local thread pool); UserError on a bad choice."""
    from agent.batch_request import BatchRequestError, make_executor

    try:
        return make_executor(args.executor or "thread", args.max_workers, args.ray_address)
    except BatchRequestError as exc:
        raise UserError(str(exc)) from None
