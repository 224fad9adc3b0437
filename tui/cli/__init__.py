"""`repo-agent`: every studio action as a headless command.

The parser lives here; each group of commands is declared in its own module of this package
(``COMMANDS``, a `tui.cli.command.CommandGroup`) and found there (`tui.cli.registry`), so a new
command is a new file, never an edit to a shared list.
Errors a user can cause are one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys

from agent.untrusted import neutralise
from labeling.errors import SchemaMismatch
from tui.cli.errors import UserError, err_console

__all__ = ["UserError", "build_parser", "err_console", "main"]


def build_parser() -> argparse.ArgumentParser:
    from tui.cli import sandbox_flags
    from tui.cli.registry import command_groups

    parser = argparse.ArgumentParser(
        prog="repo-agent",
        description=(
            "Run a repo-fixing agent, review its rollouts, and export SFT/DPO training data.\n"
            "Start with:  repo-agent studio sample_traces/"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in command_groups():
        group.register(sub)
    sandbox_flags.add_unsafe_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from tui.cli import sandbox_flags

    try:
        with sandbox_flags.active(args):
            return int(args.func(args) or 0)
    except (UserError, SchemaMismatch) as exc:
        err_console.print(f"[bold red]error:[/] {neutralise(str(exc))}")
        return 2
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130
    except BrokenPipeError:
        # `repo-agent pairs list --json | head`: the reader left; stop quietly, as SIGPIPE would.
        _silence_stdout()
        return 141
    except Exception as exc:
        from labeling.errors import StoreError

        # psycopg's errors (a shared store's server went away mid-command) without importing it.
        if isinstance(exc, (StoreError, sqlite3.DatabaseError)) or type(exc).__module__.startswith("psycopg"):
            # A corrupt or foreign label store found mid-command: one line, like any user error.
            what = "" if isinstance(exc, StoreError) else "label store: "
            err_console.print(f"[bold red]error:[/] {what}{neutralise(str(exc).splitlines()[0])}")
            return 2
        raise


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
