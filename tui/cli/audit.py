"""`repo-agent audit DIR`: what an export would leave out and why, by reason and count (exports/audit.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from tui.cli.command import CommandGroup
from tui.cli.store_flag import add_db_flag

EXAMPLES = """\
examples:
  repo-agent audit runs/            # rollouts, pairs and examples an export leaves out, by reason
  repo-agent audit runs/ --json     # the same for scripts, with every left-out rollout's uid
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="what an export would leave out and why (not judged, copies, dropped verdicts)",
        description="Ingest DIR, then list everything a DPO or SFT export would leave out and why, "
        "by reason and count: rollouts not judged (cancelled, interrupted, error, budget, diverged, "
        "corrupt, no verdict), copies of another rollout's content, and human verdicts on pairs "
        "with such a side. Nothing is written but the store's index.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="the traces directory (holds labels.sqlite)")
    add_db_flag(p)
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.set_defaults(func=cmd_audit)


def _counts(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {n}" for k, n in d.items()) or "none"


def cmd_audit(args: argparse.Namespace) -> int:
    from exports.audit import audit
    from tui.cli.exports import open_store

    store = open_store(args.dir, args.db)
    try:
        report = audit(store)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report.model_dump_for_json(), indent=2))
        return 0
    c = Console(highlight=False)
    r = report.rollouts
    rate = f"{r.pass_rate:.0%}" if r.pass_rate is not None else "-"
    c.print(f"rollouts    {r.rollouts}: {r.judged} judged ({r.passed} pass, {rate}); left out: {_counts(r.left_out)}")
    for name, s in (("dpo", report.dpo_labeled), ("dpo --auto", report.dpo_auto), ("sft", report.sft)):
        c.print(f"{name:<12}{s.examples} example(s); skipped: {escape(_counts(s.skipped))}")
    if report.dropped_verdicts:
        c.print(f"verdicts left out ({len(report.dropped_verdicts)}): a side of the pair is not judged")
        for d in report.dropped_verdicts[:20]:
            c.print(f"  {d.pair_id[:12]}  {d.verdict:<8} {escape(d.labeler or '-')}  {escape(d.reason)}")
    by_reason: dict[str, list[str]] = {}
    for x in report.left_out:
        by_reason.setdefault(x.reason, []).append(x.uid)
    for reason, uids in sorted(by_reason.items()):
        more = f" ... and {len(uids) - 5} more (--json lists all)" if len(uids) > 5 else ""
        c.print(f"{reason.replace('_', ' ')} ({len(uids)}): {escape(', '.join(uids[:5]))}{more}")
    return 0


COMMANDS = CommandGroup(rank=70, register=register)
