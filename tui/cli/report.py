"""`repo-agent report DIR --out FILE.html`: the signal report, charts, agreement and pairs in one HTML file."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.cli.command import CommandGroup
from tui.cli.errors import UserError
from tui.cli.label_store import add_store_args, console, ingest_dirs, store_errors, store_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="one self-contained HTML file: signal report, charts, agreement, pairs with diffs",
        description=(
            "Write one HTML file anyone can open offline: the signal report and the Stats charts, the "
            "agreement figures, and the pairs (labeled first) with their diffs, verdicts, labelers and flags. "
            "The page loads nothing from the network (its content security policy forbids it)."
        ),
        epilog="example: repo-agent report runs/ --out review.html --max-pairs 200",
    )
    add_store_args(p)
    p.add_argument("--out", type=Path, required=True, metavar="FILE.html", help="the HTML file to write")
    p.add_argument("--max-pairs", type=int, default=500, metavar="N", help="pairs shown (default: 500)")
    p.add_argument("--title", default=None, help="the page's title (default: 'repo-agent report: DIR')")
    p.add_argument("--no-ingest", action="store_true", help="report the store as is, without ingesting first")
    p.set_defaults(func=cmd_report)


@store_errors
def cmd_report(args: argparse.Namespace) -> int:
    from labeling.stats import signal_report
    from tui.report import build_report, write_atomic

    if args.max_pairs < 0:
        raise UserError(f"--max-pairs must be 0 or more, not {args.max_pairs}")
    if not args.dir.is_dir():
        raise UserError(f"no such directory: {args.dir}")
    if not args.out.parent.is_dir():
        raise UserError(f"--out: directory {args.out.parent} does not exist")
    with store_from_args(args, must_exist=args.no_ingest) as store:
        if not args.no_ingest:
            ingest_dirs(store, [args.dir], quiet=True)
        rep = signal_report(store)
        page, figures = build_report(
            store, rep, title=args.title or f"repo-agent report: {args.dir}", max_pairs=args.max_pairs
        )
    write_atomic(args.out, page.encode("utf-8"))
    left = f", {figures.left_out} left out (--max-pairs)" if figures.left_out else ""
    console.print(
        f"report: {args.out} ({figures.pairs_shown} of {figures.pairs_total} pairs{left})", markup=False, soft_wrap=True
    )
    return 0


COMMANDS = CommandGroup(rank=110, register=register)
