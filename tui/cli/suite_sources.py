"""`repo-agent suite from-swebench`, `suite from-bugsinpy` and the `--env` flag: suites from datasets and real
repositories with their own environments (docs/agent-and-suites.md)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from agent.untrusted import neutralise
from tui.cli.errors import UserError
from tui.cli.progress import progress_line
from tui.cli.safe_console import SafeConsole

if TYPE_CHECKING:
    from agent.suites.models import Suite

ENV_HELP = (
    "the Python environment the tests run in: 'auto' builds a venv with uv from what the repository "
    "declares (dependencies, test/dev extras and groups, test requirements files; wheels only, cached), "
    "'none' is repo-agent's own (default), or the path of a venv"
)

FROM_SWEBENCH_EXAMPLES = """\
examples:
  repo-agent suite from-swebench instances.jsonl --out suites/mine --repos ~/src --env auto
  repo-agent suite from-swebench swe-gym.json --out suites/gym --ids django__django-1,psf__requests-2

Repositories are looked up in --repos as owner__name or name (clone them there first),
or cloned from GitHub when --repos is not given. Then: repo-agent suite check DIR.
"""

FROM_BUGSINPY_EXAMPLES = """\
examples:
  repo-agent suite from-bugsinpy ~/BugsInPy --project tqdm --out suites/tqdm --repos ~/src --env auto
  repo-agent suite from-bugsinpy ~/BugsInPy --project black --bugs 1,4-9 --out suites/black --repos ~/src

Clone the project (projects/NAME/project.info names it) into --repos first. Then: repo-agent suite check DIR.
"""


def add_env_flag(parser: argparse.ArgumentParser, help_text: str = ENV_HELP) -> None:
    parser.add_argument("--env", default="none", metavar="auto|none|PATH", help=help_text)


def env_spec(value: str) -> str | None:
    """``--env`` as a task stores it: None (repo-agent's), "auto", or an absolute venv path."""
    from agent.suites.env import ENV_AUTO, ENV_NONE, EnvError, check_env_dir

    if value == ENV_NONE:
        return None
    if value == ENV_AUTO:
        return ENV_AUTO
    try:
        return str(check_env_dir(Path(value)))
    except EnvError as exc:
        raise UserError(f"--env: {exc}") from None


def build_repo_env(console: Console, repo: Path, spec: str | None) -> Path | None:
    """The venv a repository's runs use now (built once for "auto", with progress), or None."""
    from agent.suites.env import ENV_AUTO, EnvError, build_env, plan_env

    if spec is None:
        return None
    if spec != ENV_AUTO:
        return Path(spec)
    try:
        plan = plan_env(repo)
        with progress_line(console, "env") as progress:
            bar = progress.add_task("", total=None)
            built = build_env(plan, progress=lambda msg: progress.update(bar, description=neutralise(msg)))
    except EnvError as exc:
        raise UserError(f"{repo}: environment: {exc}") from None
    what = f"built in {built.seconds:.1f}s" if built.built else "cached"
    console.print(
        f"env {built.path.name}: {len(plan.requirements)} requirements from "
        f"{', '.join(plan.sources) or 'nothing declared'}; import roots {', '.join(r or '.' for r in plan.roots)}; "
        f"{what}"
    )
    return built.path


def prepare_envs(console: Console, suite: Suite) -> list[str]:
    """Build each task's ``auto`` environment once (shared by tasks that declare the same);
    returns the ids of tasks whose environment could not be built, each said in one line."""
    from agent.suites.env import ENV_AUTO, EnvError, build_env, plan_for
    from agent.suites.git import GitSourceError, env_checkout
    from agent.suites.models import SuiteError
    from agent.workspace import source_dir

    failed: list[str] = []
    todo = [t for t in suite.tasks if t.env == ENV_AUTO]
    if not todo:
        return failed
    with progress_line(console, "env") as progress:
        bar = progress.add_task("", total=len(todo))
        for i, task in enumerate(todo):
            progress.update(bar, completed=i, description=neutralise(f"{task.id}: checkout"))
            try:
                # SWE-bench's environment_setup_commit declares the dependencies, when named
                plan = plan_for(source_dir(suite, task), env_checkout(suite, task))
                start = time.monotonic()

                def say(msg: str, tid: str = task.id) -> None:
                    progress.update(bar, description=neutralise(f"{tid}: {msg}"))

                built = build_env(plan, progress=say)
                if built.built:
                    progress.console.print(
                        f"env {built.path.name} for {neutralise(task.id)}: {len(plan.requirements)} requirements, "
                        f"built in {time.monotonic() - start:.1f}s"
                    )
            except (EnvError, SuiteError, GitSourceError) as exc:
                failed.append(task.id)
                progress.console.print(f"[red]{neutralise(task.id)}:[/] environment: {neutralise(str(exc))}")
        progress.update(bar, completed=len(todo))
    return failed


def register(suite_sub: argparse._SubParsersAction) -> None:
    p = suite_sub.add_parser(
        "from-swebench",
        help="a suite from SWE-bench-format instances (JSON or JSONL): hidden tests, FAIL_TO_PASS/PASS_TO_PASS",
        description="Write a suite with one git-source task per SWE-bench instance: the goal is the problem "
        "statement, the reference fix is `patch`, `test_patch` is held out and applied only for the final run; "
        "FAIL_TO_PASS must pass and PASS_TO_PASS keep passing. Instances whose test ids are not pytest node "
        "ids are refused by name.",
        epilog=FROM_SWEBENCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="instances: a JSON array or object, or JSONL")
    p.add_argument("--out", required=True, help="directory for the suite (suite.json, fixes/, hidden_tests/)")
    p.add_argument("--repos", default=None, help="directory holding the repositories as owner__name or name")
    p.add_argument("--ids", default=None, help="comma-separated instance ids (default: all)")
    add_env_flag(p)
    p.set_defaults(func=cmd_from_swebench)
    _register_bugsinpy(suite_sub)


def _register_bugsinpy(suite_sub: argparse._SubParsersAction) -> None:
    p = suite_sub.add_parser(
        "from-bugsinpy",
        help="a suite from a BugsInPy checkout's bugs of one project (hidden tests, per-bug environments)",
        description="Write a suite with one task per BugsInPy bug: the buggy commit is the source, "
        "bug_patch.txt the reference fix, the test file's change up to the fixed commit the hidden test, "
        "the node ids of run_test.sh must fail before and pass after. Bugs that cannot be tasks are "
        "named with the reason.",
        epilog=FROM_BUGSINPY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("bugsinpy", help="a BugsInPy checkout (with projects/NAME/)")
    p.add_argument("--project", required=True, help="the project's name under projects/")
    p.add_argument("--bugs", default=None, help="bug numbers: 1,4-9 (default: all)")
    p.add_argument("--out", required=True, help="directory for the suite")
    p.add_argument("--repos", required=True, help="directory holding the project's clone as owner__name or name")
    add_env_flag(
        p,
        "'auto': a venv per bug from its requirements.txt (pins first, unpinned if they do not install); "
        "'none' (default) or a venv path",
    )
    p.set_defaults(func=cmd_from_bugsinpy)


def cmd_from_bugsinpy(args: argparse.Namespace) -> int:
    from agent.suites.bugsinpy import parse_bugs, suite_from_bugsinpy
    from agent.suites.models import SuiteError

    console = SafeConsole(highlight=False)
    spec = env_spec(args.env)
    start = time.monotonic()
    try:
        bugs = parse_bugs(args.bugs) if args.bugs else None
        with progress_line(console, "from-bugsinpy") as progress:
            progress.add_task("reading bugs, applying patches, building environments", total=None)
            made = suite_from_bugsinpy(
                Path(os.path.expanduser(args.bugsinpy)),
                args.project,
                Path(os.path.expanduser(args.out)),
                bugs=bugs,
                repos=Path(os.path.expanduser(args.repos)),
                env=spec,
            )
    except SuiteError as exc:
        raise UserError(str(exc)) from None
    for bug, why in made.refused:
        console.print(f"[yellow]left out[/] {neutralise(bug)}: {neutralise(why)}")
    out = neutralise(os.path.expanduser(args.out))
    console.print(
        f"[bold]{neutralise(made.suite.name)}[/]: {len(made.suite.tasks)} tasks in {out}/suite.json, "
        f"{len(made.refused)} bugs left out ({time.monotonic() - start:.0f}s)"
    )
    console.print(f"next: repo-agent suite check {out}")
    return 0


def cmd_from_swebench(args: argparse.Namespace) -> int:
    from agent.suites.env import ENV_AUTO
    from agent.suites.models import GitSource, SuiteError
    from agent.suites.swebench import suite_from_swebench

    console = SafeConsole(highlight=False)
    path = Path(os.path.expanduser(args.file))
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    repos = Path(os.path.expanduser(args.repos)) if args.repos else None
    if repos is not None and not repos.is_dir():
        raise UserError(f"--repos {repos}: not a directory")
    ids = [i.strip() for i in args.ids.split(",") if i.strip()] if args.ids else None
    spec = env_spec(args.env)
    start = time.monotonic()
    try:
        with progress_line(console, "from-swebench", elapsed=True) as progress:
            progress.add_task("checking out and applying each instance's patches", total=None)
            made = suite_from_swebench(path, Path(os.path.expanduser(args.out)), repos=repos, env=spec, ids=ids)
    except SuiteError as exc:
        raise UserError(str(exc)) from None
    for iid, why in made.refused:
        console.print(f"[yellow]refused[/] {neutralise(iid)}: {neutralise(why)}")
    named = sum(1 for t in made.suite.tasks if isinstance(t.source, GitSource) and t.source.env_commit)
    if named and spec != ENV_AUTO:
        console.print(
            f"[yellow]note:[/] {named} instances name an environment_setup_commit: only --env auto builds "
            "an environment from it; their tests run in the environment --env gives"
        )
    failed = prepare_envs(console, made.suite)
    out = neutralise(os.path.expanduser(args.out))
    console.print(
        f"[bold]{neutralise(made.suite.name)}[/]: {len(made.suite.tasks)} tasks in {out}/suite.json, "
        f"{len(made.refused)} instances refused, {len(failed)} without an environment "
        f"({time.monotonic() - start:.0f}s)"
    )
    console.print(f"next: repo-agent suite check {out}")
    return 0
