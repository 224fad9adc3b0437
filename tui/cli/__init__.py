"""`repo-agent`: every studio action as a headless command.

The parser lives here; each group of commands registers itself from its own module
(`agent`, `labels`, `exports`, `studio` in this package) so no module grows past one idea.
Errors a user can cause are one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse

from rich.markup import escape

from labeling.errors import SchemaMismatch
from tui.cli.errors import UserError, err_console

__all__ = ["UserError", "build_parser", "err_console", "main"]


def build_parser() -> argparse.ArgumentParser:
    from tui.cli import agent, exports, importing, labels, sandbox_flags, studio

    parser = argparse.ArgumentParser(
        prog="repo-agent",
        description=(
            "Run a repo-fixing agent, review its rollouts, and export SFT/DPO training data.\n"
            "Start with:  repo-agent studio sample_traces/"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (agent, importing, labels, exports, studio):
        module.register(sub)
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
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 2
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130
