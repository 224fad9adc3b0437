"""`repo-agent studio [TRACES_DIR] [--db PATH] [--labeler NAME]`: open the studio."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.screens.registry import MODES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "studio",
        help="open the studio (Textual) on a directory of trace batches",
        description="Review, label and export rollouts in a terminal app. Keys: ? for help, ctrl+p for commands.",
    )
    p.add_argument(
        "traces_dir",
        nargs="?",
        default="sample_traces",
        type=Path,
        metavar="TRACES_DIR",
        help="directory of batches (default: sample_traces)",
    )
    p.add_argument("--db", type=Path, default=None, help="label store (default: TRACES_DIR/labels.sqlite)")
    p.add_argument("--labeler", default=None, help="your name on verdicts and marks (default: $USER)")
    p.add_argument(
        "--screen",
        default="pairs",
        choices=MODES,
        help="screen to open on (default: pairs)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tui.cli.errors import UserError

    traces = Path(args.traces_dir)
    if not traces.is_dir():
        raise UserError(f"{traces} is not a directory of trace batches")
    if args.db is not None and not Path(args.db).parent.is_dir():
        raise UserError(f"--db: directory {Path(args.db).parent} does not exist")
    from tui.app import StudioApp

    StudioApp(traces, db_path=args.db, labeler=args.labeler, start=args.screen).run()
    return 0
