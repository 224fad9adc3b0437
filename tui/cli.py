"""`repo-agent`: every studio action as a headless command (DESIGN §6b).

The parser lives here; each group of commands registers itself from its own module
(`cli_agent`, `cli_labels`, `cli_exports`, `cli_studio`) so no module grows past one idea.
Errors a user can cause are one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console


class UserError(Exception):
    """A mistake the user can fix (bad path, missing key, malformed file): one line, exit 2."""


err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    from tui import cli_agent, cli_exports, cli_labels, cli_studio

    parser = argparse.ArgumentParser(
        prog="repo-agent",
        description=(
            "Run a repo-fixing agent, review its rollouts, and export SFT/DPO training data.\n"
            "Start with:  repo-agent studio sample_traces/"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (cli_agent, cli_labels, cli_exports, cli_studio):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return 2
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
