"""`repo-agent suite check|mutate|calibrate`: make suites and prove their tasks are real."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.table import Table

from agent.untrusted import neutralise
from tui.cli import suite_sources
from tui.cli.command import CommandGroup
from tui.cli.errors import UserError
from tui.cli.progress import progress_line, warn_if_unsandboxed
from tui.cli.safe_console import SafeConsole
from tui.cli.suite_arg import load_suite_arg

SUITE_CHECK_EXAMPLES = """\
examples:
  repo-agent suite check mini-bugs
  repo-agent suite check path/to/suite.json
  repo-agent suite check ~/QuixBugs:gcd,bitcount
"""

SUITE_MUTATE_EXAMPLES = """\
examples:
  repo-agent suite mutate ~/src/toolz --out suites/toolz --tests "python -m pytest -q toolz/tests"
  repo-agent suite mutate . --out /tmp/mine --max-tasks 50 --operators comparison,off_by_one
  repo-agent suite mutate . --out /tmp/mine --max-tasks 300 --multi 2   # half 2-bug tasks
  repo-agent suite mutate ~/src/attrs --out suites/attrs --env auto   # its own venv (src/ layout, deps)

Run it again with the same arguments to resume a stopped run.
"""


def register(sub: argparse._SubParsersAction) -> None:
    suite = sub.add_parser("suite", help="suite tools (check, mutate, calibrate, from-swebench)")
    suite_sub = suite.add_subparsers(dest="suite_command", metavar="SUBCOMMAND")
    check = suite_sub.add_parser(
        "check",
        help="each task's tests fail on the source and pass with its reference fix",
        epilog=SUITE_CHECK_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("suite", help='"mini-bugs", a suite.json, a suite dir, or a QuixBugs checkout "path[:a,b]"')
    check.add_argument("--max-workers", type=int, default=2, help="tasks checked at once (default 2)")
    check.set_defaults(func=cmd_suite_check)

    mut = suite_sub.add_parser(
        "mutate",
        help="inject bugs into a repository with tests: a suite of validated repair tasks",
        description="Inject bugs with AST operators into the functions of REPO, keep those that break "
        "baseline-passing tests the same way twice, and write a suite with one task per kept bug "
        "(the original code as its hidden reference fix).",
        epilog=SUITE_MUTATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mut.add_argument("repo", help="the repository (a directory whose tests run with pytest)")
    mut.add_argument("--out", required=True, help="directory for the suite (suite.json, tasks/, fixes/)")
    mut.add_argument("--tests", default="python -m pytest -q", help='test command (default "python -m pytest -q")')
    mut.add_argument("--max-tasks", type=int, default=None, help="stop at N validated tasks")
    mut.add_argument("--operators", default=None, help="comma-separated operators (default: all; see below)")
    mut.add_argument("--per-function", type=int, default=None, help="at most K candidates per function")
    mut.add_argument("--multi", type=int, choices=(1, 2, 3), default=1, help="also tasks of 2 or 3 bugs")
    mut.add_argument("--seed", type=int, default=0)
    mut.add_argument("--max-workers", type=int, default=2, help="candidates validated at once (default 2)")
    suite_sources.add_env_flag(mut)
    mut.set_defaults(func=cmd_suite_mutate)

    from tui.cli import calibrate

    calibrate.register(suite_sub)
    suite_sources.register(suite_sub)
    suite.set_defaults(func=lambda a: suite.print_help() or 2)


def cmd_suite_check(args: argparse.Namespace) -> int:
    from agent.suites.loading import check_suite

    suite = load_suite_arg(args.suite)
    console = SafeConsole(highlight=False)
    table = Table(title=f"suite {suite.name}: {len(suite.tasks)} tasks", box=None, pad_edge=False)
    id_width = max(len(t.id) for t in suite.tasks)
    table.add_column("task", no_wrap=True, min_width=id_width)
    for col in ("fails as is", "passes w/ fix", "held-out", "ok"):
        table.add_column(col, no_wrap=True, min_width=len(col))
    # The detail column takes what is left of the terminal, cut with an ellipsis.
    table.add_column(
        "detail",
        no_wrap=True,
        overflow="ellipsis",
        max_width=max(20, console.width - id_width - len("fails as is passes w/ fix held-out 12 bug 12 ok") - 10),
    )
    yes = lambda v: "-" if v is None else ("[green]yes[/]" if v else "[red]no[/]")  # noqa: E731
    with progress_line(console, "check", elapsed=False) as progress:
        bar = progress.add_task("", total=len(suite.tasks))
        checks = check_suite(
            suite,
            max_workers=args.max_workers,
            progress=lambda c, done, total: progress.update(bar, completed=done, description=c.task_id),
        )
    for c in checks:
        table.add_row(
            c.task_id,
            yes(c.fails_untouched),
            "[yellow]too slow[/]" if c.too_slow else yes(c.passes_with_fix),
            f"{c.held_out_calls} bug {c.held_out_bug_differs}" if c.held_out_calls else "-",
            "[green]ok[/]" if c.ok else ("[yellow]not judged[/]" if c.too_slow else "[bold red]FAIL[/]"),
            neutralise("; ".join(x for x in (c.detail, c.too_slow, c.differential) if x)),
        )
    console.print(table)
    covered = [c for c in checks if c.held_out_calls]
    console.print(
        f"held-out differential: {len(covered)} of {len(checks)} tasks, "
        f"{sum(c.held_out_calls for c in covered)} calls per final run"
        + (
            f"; resting on the tests alone: {', '.join(resting)}"
            if (resting := [c.task_id for c in checks if not c.held_out_calls and not c.too_slow])
            else ""
        )
    )
    # Hidden tests: held-out test files, held-out lines of test data, a hidden test patch.
    unseen = [t.id for t in suite.tasks if not (t.held_out_tests or t.hold_out_lines or t.hidden_tests)]
    more = f" (+{len(unseen) - 5} more)" if len(unseen) > 5 else ""
    console.print(
        f"hidden tests: {len(suite.tasks) - len(unseen)} of {len(suite.tasks)} tasks"
        + (f"; none in: {', '.join(unseen[:5])}{more}" if unseen else "")
    )
    slow = [c.task_id for c in checks if c.too_slow]
    if slow:  # not the tasks' fault, and not vouched for either: said apart, still exit 1
        console.print(
            f"[yellow]{len(slow)} task(s) not judged, the machine too slow (the reference fix ran out of "
            f"time too; check again with fewer workers or on an idle machine):[/] {', '.join(slow)}"
        )
    bad = [c.task_id for c in checks if not c.ok and not c.too_slow]
    if bad:
        console.print(f"[bold red]{len(bad)} task(s) failed the check:[/] {', '.join(bad)}")
    if bad or slow:
        return 1
    console.print(f"[green]all {len(checks)} tasks ok[/]")
    return 0


def _stats_line(s) -> str:
    rate = s.validated / s.tried if s.tried else 0.0
    return (
        f"{s.phase}: tried {s.tried}, validated {s.validated} ({rate:.0%}), survived {s.survived}, "
        f"hang {s.hang}, flaky {s.flaky}, duplicate {s.duplicate}, not reached {s.uncovered}"
    )


def cmd_suite_mutate(args: argparse.Namespace) -> int:
    from agent.suites.mutate import OPERATORS, MutateConfig, MutateError, mutate_repo

    ops = [o.strip() for o in args.operators.split(",") if o.strip()] if args.operators else None
    if ops and set(ops) - set(OPERATORS):
        bad = ", ".join(sorted(set(ops) - set(OPERATORS)))
        raise UserError(f"--operators: unknown {bad} (known: {', '.join(OPERATORS)})")
    for flag, value in (("--max-tasks", args.max_tasks), ("--per-function", args.per_function)):
        if value is not None and value < 1:
            raise UserError(f"{flag} must be at least 1")
    console = SafeConsole(highlight=False)
    warn_if_unsandboxed(console)
    repo = Path(os.path.expanduser(args.repo))
    env = suite_sources.env_spec(args.env)
    python_env = suite_sources.build_repo_env(console, repo, env) if repo.is_dir() else None
    cfg = MutateConfig(
        tests=args.tests,
        max_tasks=args.max_tasks,
        operators=ops,
        per_function=args.per_function,
        multi=args.multi,
        seed=args.seed,
        max_workers=max(1, args.max_workers),
        env=env,
        python_env=python_env,
    )
    with progress_line(console, "mutate") as progress:
        bar = progress.add_task("baseline test run (with call contexts)", total=args.max_tasks)

        def on_progress(s) -> None:  # bar: validated tasks toward --max-tasks
            progress.update(bar, completed=s.validated, description=neutralise(_stats_line(s)))

        try:
            suite, stats = mutate_repo(repo, Path(os.path.expanduser(args.out)), cfg, progress=on_progress)
        except MutateError as exc:
            raise UserError(str(exc)) from None
    mins = max(stats.elapsed_s, 1e-9) / 60
    console.print(
        f"[bold]{neutralise(suite.name)}[/]: {len(suite.tasks)} tasks in {neutralise(args.out)}/suite.json "
        f"({stats.elapsed_s:.0f}s, {stats.validated / mins:.1f} tasks/min"
        + (f", {stats.resumed} decisions resumed" if stats.resumed else "")
        + ")"
    )
    console.print(neutralise(_stats_line(stats)))
    console.print(
        f"baseline: {stats.baseline_tests} tests, {stats.baseline_failing} failing there (ignored); "
        f"candidates generated: {stats.candidates}"
    )
    mix = ", ".join(f"{op} {stats.operators_validated[op]}/{n}" for op, n in stats.operators_tried.most_common())
    console.print(f"operators (validated/tried): {mix or '-'}")
    console.print(f"next: repo-agent suite check {neutralise(args.out)}")
    return 0


COMMANDS = CommandGroup(rank=20, register=register)
