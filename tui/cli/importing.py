"""`repo-agent import PATH... --out DIR`: other agents' trajectories as our trace batches."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from agent.untrusted import neutralise
from tui.cli.command import CommandGroup
from tui.cli.errors import UserError
from tui.cli.safe_console import SafeConsole

if TYPE_CHECKING:
    from agent.importers import FileResult

console = SafeConsole(highlight=False, soft_wrap=True)  # one line per file, never wrapped

EXAMPLES = """\
examples:
  repo-agent import trajectories/my-run/ --out runs/                     # SWE-agent .traj (+ results.json)
  repo-agent import runs-mini/ --out runs/ --results sb-cli-report.json  # mini-swe-agent .traj.json
  repo-agent import evaluation/output.jsonl --out runs/                  # OpenHands eval rows
  repo-agent import logs/2025-05-12_task.eval --out runs/                # Inspect AI logs
  repo-agent studio runs/                                                # then review as usual
"""

STYLE = {"imported": "green", "unchanged": "dim", "skipped": "yellow", "broken": "red"}


def register(sub: argparse._SubParsersAction) -> None:
    from agent.importers import FORMATS

    p = sub.add_parser(
        "import",
        help="import SWE-agent, mini-swe-agent, OpenHands or Inspect AI trajectories as trace batches",
        description=(
            "Read trajectory files or folders (recursively) and write one batch per source run into "
            "--out, so ingest, pairs, studio and export work on them. Outcomes come only from the "
            "source's own verdict (results.json, --results, report.resolved, Inspect scores); "
            "without one a rollout's outcome is unknown and it never forms a pass/fail pair. "
            "Re-importing the same files changes nothing."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="trajectory files or folders")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write batches into")
    p.add_argument("--format", dest="fmt", default="auto", choices=FORMATS, help="source format (default: auto)")
    p.add_argument(
        "--results",
        type=Path,
        default=None,
        metavar="FILE",
        help="verdicts by instance id: SWE-bench/sb-cli report (resolved_ids...) or {id: {resolved: bool}}",
    )
    p.set_defaults(func=run)


def print_line(f: FileResult) -> None:
    """One line per file, as soon as it is done."""
    what = (
        f"{f.format}, {f.rollouts} rollout{'s' if f.rollouts != 1 else ''} -> {f.batch_id}" if f.batch_id else f.reason
    )
    # Paths, ids and reasons come from the files: neutralised (a "[/]" or an escape code stays text).
    console.print(f"[{STYLE.get(f.status, '')}]{f.status:<9}[/] {neutralise(f.path)}: ", end="")
    console.print(neutralise(what, markup=False), markup=False, highlight=False)
    for note in f.notes:
        console.print(f"          left out: {neutralise(note, markup=False)}", markup=False, highlight=False)


def run(args: argparse.Namespace) -> int:
    from agent.importers import BrokenFile, import_paths, read_results_file

    for p in args.paths:
        if not p.exists():
            raise UserError(f"{p} does not exist")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is not a directory")
    results = None
    if args.results is not None:
        try:
            results = read_results_file(args.results)
        except BrokenFile as exc:
            raise UserError(f"--results {args.results}: {exc}") from None
    try:
        report = import_paths(args.paths, args.out, fmt=args.fmt, results=results, on_file=print_line)
    except OSError as exc:
        raise UserError(f"cannot write to {args.out}: {exc.strerror or exc}") from None
    n = len(report.files)
    console.print(
        f"{report.count('imported')} imported, {report.count('unchanged')} unchanged, "
        f"{report.count('skipped')} skipped, {report.count('broken')} broken of {n} file{'s' if n != 1 else ''}; "
        f"{report.rollouts} rollouts in {len(report.batches)} batch{'es' if len(report.batches) != 1 else ''} "
        f"under {neutralise(args.out)}"
    )
    if report.batches:
        console.print(f"next: repo-agent studio {neutralise(args.out, markup=False)}", markup=False, highlight=False)
    return 0 if report.batches else 1  # nothing imported (or nothing found): a script should notice


COMMANDS = CommandGroup(rank=40, register=register)
