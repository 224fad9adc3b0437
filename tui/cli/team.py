"""`repo-agent team DIR [--overlap K] [--adjudicator NAME]`: a team's review settings.

The settings live in the label store (labeling/team.py), so every labeler's studio and
commands use the same overlap and adjudicator; without options it shows them with the
sizes of your queue and of the adjudication queue.
"""

from __future__ import annotations

import argparse
import json
import sys

from tui.cli.command import CommandGroup
from tui.cli.label_store import add_store_args, ingest_dirs, store_errors, store_from_args
from tui.cli.safe_console import SafeConsole
from tui.words import count

console = SafeConsole(highlight=False)

EXAMPLES = """\
examples:
  repo-agent team runs/ --overlap 2 --adjudicator lead   # two verdicts per pair; lead settles disagreements
  repo-agent team runs/ --labeler bob                    # bob's queue and the adjudication queue
  repo-agent pairs list runs/ --disagree                 # the adjudication queue
  repo-agent team runs/ --overlap 1 --adjudicator ""     # back to one verdict per pair, no adjudicator
"""


@store_errors
def cmd_team(args: argparse.Namespace) -> int:
    with store_from_args(args, must_exist=args.no_ingest) as store:
        if not args.no_ingest:
            ingest_dirs(store, [args.dir], quiet=True)
        s = store.set_team_settings(overlap=args.overlap, adjudicator=args.adjudicator)
        mine, adjudicate = store.team_queue_sizes()
        labeler = store.labeler
    if args.json:
        sys.stdout.write(json.dumps(s.model_dump() | {"labeler": labeler, "mine": mine, "disagree": adjudicate}))
        sys.stdout.write("\n")
        return 0
    console.print(
        f"overlap {s.overlap} verdict{'s' if s.overlap > 1 else ''} per pair; "
        f"adjudicator {s.adjudicator or '- (none: exports settle by majority)'}",
        markup=False,
    )
    console.print(
        f"{labeler}'s queue: {count(mine, 'pair')}; adjudication queue (disagree): {count(adjudicate, 'pair')}",
        markup=False,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "team",
        help="team review: verdicts per pair (overlap) and the adjudicator, kept in the store",
        description="Show or set the team's review settings: how many labelers' verdicts each pair asks "
        "for (--overlap K) and whose verdict settles a disagreement (--adjudicator NAME).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_store_args(p)
    p.add_argument("--overlap", type=int, metavar="K", help="verdicts asked per pair (1: one labeler is enough)")
    p.add_argument("--adjudicator", metavar="NAME", help='the labeler whose verdict settles a pair ("" for none)')
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-ingest", action="store_true", help="use the store as is, without ingesting first")
    p.set_defaults(func=cmd_team)


COMMANDS = CommandGroup(rank=130, register=register)
