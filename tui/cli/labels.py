"""`repo-agent ingest | stats | pairs ... | steps ...`: the label store on the command line.

Everything the studio does to labels is scriptable here. The store defaults to
``DIR/labels.sqlite`` (``--db`` to put it elsewhere); the labeler name to ``$USER``
(``--labeler`` or ``REPO_AGENT_LABELER``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.cli.command import CommandGroup

# The commands live in tui/cli/ingest_stats.py and tui/cli/pairs_steps.py, what they share in
# tui/cli/label_store.py (import it from there); ``console`` stays importable here for tests.
from tui.cli.ingest_stats import cmd_ingest, cmd_stats
from tui.cli.label_store import add_store_args, console
from tui.cli.pairs_steps import (
    cmd_pairs_list,
    cmd_pairs_rebuild,
    cmd_pairs_set,
    cmd_pairs_tag,
    cmd_pairs_undo_redo,
    cmd_steps_list,
    cmd_steps_mark,
)

__all__ = [
    "add_overlap_flag",
    "add_store_args",
    "cmd_ingest",
    "cmd_pairs_list",
    "cmd_pairs_rebuild",
    "cmd_pairs_set",
    "cmd_pairs_tag",
    "cmd_pairs_undo_redo",
    "cmd_stats",
    "cmd_steps_list",
    "cmd_steps_mark",
    "console",
    "register",
]

EXAMPLES = """\
examples:
  repo-agent ingest runs/                       # index every batch under runs/ into runs/labels.sqlite
  repo-agent stats runs/                        # the signal report (--json for scripts)
  repo-agent pairs list runs/ --verdict unlabeled --contrast pass_fail
  repo-agent pairs set runs/ 3f2a9c confirm     # a unique prefix of the pair id is enough
  repo-agent pairs set runs/ 3f2a9c flip --note "the shorter fix is the right one"
  repo-agent pairs undo runs/                   # exact: back to the state before the last action
  repo-agent pairs rebuild runs/ --strategy all-contrastive --order "pass,-steps"
  repo-agent steps mark runs/ BATCH/task__s3 4 loop --text "reads the same file again"
"""

# --------------------------------------------------------------------------- parser


def add_overlap_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--overlap",
        type=int,
        metavar="K",
        help="verdicts asked per pair for this command (default: the store's, `repo-agent team`)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    from labeling.records import STEP_REASONS, STRATEGIES, VERDICTS

    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "ingest",
        help="index trace batches into the label store (incremental)",
        description="Index every batch under DIR... into the label store; unchanged files are "
        "not read again, growing traces are read from where the last ingest stopped.",
        epilog=EXAMPLES,
        formatter_class=fmt,
    )
    add_store_args(p, many=True)
    p.add_argument("--strategy", choices=STRATEGIES, help="pair strategy to use from now on")
    p.add_argument("--order", help='score order to use from now on, e.g. "pass,-steps,-tool_calls,-files_touched"')
    p.add_argument("--json", action="store_true", help="print the ingest report as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "stats",
        help="the signal report: pass rates, pairs, flags, agreement, cost",
        epilog=EXAMPLES,
        formatter_class=fmt,
    )
    add_store_args(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-ingest", action="store_true", help="report the store as is, without ingesting first")
    p.add_argument("--band-low", type=float, default=0.2, help="learnable band lower pass rate (default 0.2)")
    p.add_argument("--band-high", type=float, default=0.6, help="learnable band upper pass rate (default 0.6)")
    p.add_argument(
        "--plot",
        type=Path,
        metavar="FILE.svg|FILE.png",
        help="also draw the report's charts to this file (SVG or PNG, by its suffix)",
    )
    p.set_defaults(func=cmd_stats)

    pairs = sub.add_parser(
        "pairs", help="list pairs, set verdicts, undo/redo, rebuild", epilog=EXAMPLES, formatter_class=fmt
    )
    psub = pairs.add_subparsers(dest="pairs_command", metavar="ACTION", required=True)

    p = psub.add_parser(
        "list",
        help="pairs in review order, filtered",
        description="Pairs in review order. Below 120 columns each pair is one line: cells never wrap, "
        "long ones end in '…', and the note/tags go first, then 'by', then contrast, flags and task (in its "
        "middle) are cut or left out (the last line names them); pair id and verdict are always whole. From 120 "
        "columns every column shows and a long note folds onto more lines. --json is the same at every width.",
    )
    add_store_args(p)
    p.add_argument("--task")
    p.add_argument("--batch")
    p.add_argument("--contrast", help="pass_fail | efficiency | step")
    p.add_argument("--flag", help="a noise flag, or noisy / clean")
    p.add_argument("--verdict", help="confirm | flip | discard | unlabeled | labeled")
    p.add_argument("--tag")
    p.add_argument("--text", help="substring of ids, task, note or tags")
    p.add_argument("--all", action="store_true", help="include stale unlabeled pairs")
    p.add_argument("--disagree", action="store_true", help="team review: pairs whose labelers disagree (to adjudicate)")
    add_overlap_flag(p)
    p.add_argument("--limit", type=int, default=50, help="rows to show (0: all; default 50)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-ingest", action="store_true")
    p.set_defaults(func=cmd_pairs_list)

    p = psub.add_parser("set", help="record a verdict on a pair")
    add_store_args(p)
    p.add_argument("pair_id", metavar="PAIR_ID", help="pair id or a unique prefix")
    p.add_argument("verdict", choices=VERDICTS)
    p.add_argument("--note")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_pairs_set)

    for action in ("undo", "redo"):
        p = psub.add_parser(action, help=f"{action} your last labeling action (exact, across restarts)")
        add_store_args(p)
        p.set_defaults(func=cmd_pairs_undo_redo, action=action)

    for action in ("tag", "untag"):
        p = psub.add_parser(action, help=f"{action} a pair")
        add_store_args(p)
        p.add_argument("pair_id", metavar="PAIR_ID")
        p.add_argument("tag")
        p.set_defaults(func=cmd_pairs_tag, action=action)

    p = psub.add_parser("rebuild", help="re-select pairs with a strategy / score order (kept pairs keep verdicts)")
    add_store_args(p)
    p.add_argument("--strategy", choices=STRATEGIES)
    p.add_argument("--order", help='e.g. "pass,-steps,-tool_calls,-files_touched"')
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_pairs_rebuild)

    steps = sub.add_parser("steps", help="list a rollout's steps, mark steps bad", epilog=EXAMPLES, formatter_class=fmt)
    ssub = steps.add_subparsers(dest="steps_command", metavar="ACTION", required=True)
    p = ssub.add_parser("list", help="a rollout's steps with tool calls, auto flags and marks")
    add_store_args(p)
    p.add_argument("uid", metavar="UID", help="<batch id>/<rollout id> (or a rollout id found in one batch only)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_steps_list)
    p = ssub.add_parser("mark", help="mark a step bad")
    add_store_args(p)
    p.add_argument("uid", metavar="UID")
    p.add_argument("step", type=int, metavar="STEP")
    p.add_argument("reason", choices=STEP_REASONS, metavar="REASON", help=" | ".join(STEP_REASONS))
    p.add_argument("--text")
    p.set_defaults(func=cmd_steps_mark, action="mark")
    p = ssub.add_parser("unmark", help="remove a step's mark")
    add_store_args(p)
    p.add_argument("uid", metavar="UID")
    p.add_argument("step", type=int, metavar="STEP")
    p.set_defaults(func=cmd_steps_mark, action="unmark")


COMMANDS = CommandGroup(rank=50, register=register)
