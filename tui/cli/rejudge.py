"""`repo-agent rejudge DIR`: judge recorded rollouts again with today's final verdict."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from tui.cli.command import CommandGroup
from tui.cli.errors import UserError
from tui.cli.progress import progress_line, warn_if_unsandboxed
from tui.cli.suite_arg import load_suite_arg

if TYPE_CHECKING:
    from agent.rejudge import Rejudged

REJUDGE_EXAMPLES = """\
examples:
  repo-agent rejudge runs/20261206-0712-mini-bugs-gpt-4o-mini-ab12
  repo-agent rejudge runs/<batch> --suite ~/QuixBugs      # the suite moved since the batch ran
  repo-agent rejudge runs/<batch> --force                  # judge again even today's verdicts

Each finished rollout's stored patch is applied to a fresh copy of its task and judged by
today's final verdict in the sandbox (held-out differential, hidden tests, canaries). The new
verdict is appended to the rollout's trace (a final test_run and a new rollout_end), so the
next `repo-agent ingest` updates pairs, pass rates and flags. Rollouts already judged by
today's checker are skipped: run it again to resume a stopped re-judge.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rejudge",
        help="judge a batch's finished rollouts again with today's final verdict",
        description="Re-run today's final verdict on each stored patch of a batch and record what changed.",
        epilog=REJUDGE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("batch", metavar="DIR", help="a batch directory (with batch.json and traces/)")
    p.add_argument("--suite", help="the suite (default: the one recorded in DIR/batch.json)")
    p.add_argument("--force", action="store_true", help="also rollouts already judged by today's checker")
    p.set_defaults(func=cmd_rejudge)


def cmd_rejudge(args: argparse.Namespace) -> int:
    from agent.batch_meta import read_batch_meta
    from agent.final_verdict import CHECKER_VERSION
    from agent.rejudge import rejudge_batch
    from agent.sandbox import SandboxError, require_sandbox
    from agent.suites.models import SuiteError

    batch = Path(args.batch).expanduser()
    try:
        meta = read_batch_meta(batch)
    except (OSError, ValueError) as exc:
        raise UserError(f"{batch}: not a batch directory (no readable batch.json): {exc}") from None
    suite = load_suite_arg(args.suite or meta.suite)
    console = Console(highlight=False)
    try:
        require_sandbox()
    except SandboxError as exc:
        raise UserError(str(exc)) from None
    warn_if_unsandboxed(console)
    try:
        with progress_line(console, "rejudge") as progress:
            bar = progress.add_task("", total=None)
            items = rejudge_batch(
                batch,
                suite,
                force=args.force,
                progress=lambda item, done, total: progress.update(
                    bar, completed=done, total=total, description=item.rollout_id if item else ""
                ),
            )
    except (SandboxError, SuiteError, OSError) as exc:
        # The machine's (no sandbox, a full disk) or the suite's, never one rollout's: a check
        # that could not run for one rollout is recorded there as not judged (agent/rejudge.py).
        raise UserError(f"rejudge stopped (run it again to resume): {exc}") from None
    judged = [i for i in items if i.after is not None]
    changed = [i for i in judged if i.changed]
    for i in changed:
        console.print(
            f"{escape(i.rollout_id)} ({escape(i.task_id)}): {i.before.label} -> [bold]{i.after.label if i.after else ''}[/]"
            + (f"  {escape(i.after.detail[:120])}" if i.after and i.after.detail else "")
        )
    skipped = [i for i in items if i.after is None and "today's checker" not in i.note]
    for i in skipped:
        console.print(f"[yellow]{escape(i.rollout_id)}[/]: left as {i.before.label}: {escape(i.note)}")
    already = len(items) - len(judged) - len(skipped)
    # A check that could not run for one rollout is recorded there; the batch went on.
    unjudged = [i for i in judged if i.after is not None and i.after.status == "not_judged"]
    console.print(
        f"re-judged {len(judged)} rollouts with checker {CHECKER_VERSION}: {len(changed)} changed"
        + (f", {len(unjudged)} not judged ({escape(_reasons(unjudged))})" if unjudged else "")
        + (f", {already} already judged by it" if already else "")
        + (f", {len(skipped)} left as they were" if skipped else "")
        + (". Run `repo-agent ingest` to update pairs and flags." if changed else "")
    )
    return 0


def _reasons(items: list[Rejudged]) -> str:
    """Why rollouts were not judged, the commonest first: "2x final test run: SandboxError: ..."."""
    counts = Counter((i.after.detail if i.after is not None else "")[:100] for i in items)
    shown = [f"{n}x {why}" if n > 1 else why for why, n in counts.most_common(3)]
    return "; ".join(shown) + (f"; +{len(counts) - 3} other reasons" if len(counts) > 3 else "")


COMMANDS = CommandGroup(rank=30, register=register)
