"""`repo-agent db migrate|copy`: bring a label store's schema up to date; copy a store
between SQLite and PostgreSQL (a team moving its labels to one shared server, and back).

  repo-agent db copy runs/labels.sqlite postgresql://me@dbhost/labels
  repo-agent db copy postgresql://me@dbhost/labels backup.sqlite --force
  repo-agent db migrate --db postgresql://me@dbhost/labels
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.untrusted import neutralise
from tui.cli.command import CommandGroup
from tui.cli.errors import UserError
from tui.cli.safe_console import SafeConsole
from tui.cli.store_flag import add_db_flag, db_arg

console = SafeConsole(highlight=False, soft_wrap=True)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "db",
        help="label store upkeep: migrate its schema, copy it between SQLite and PostgreSQL",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    m = dsub.add_parser("migrate", help="bring the store's schema up to date (opening it does the same)")
    m.add_argument("dir", type=Path, nargs="?", default=Path("."), metavar="DIR", help="traces directory (default: .)")
    add_db_flag(m)
    m.set_defaults(func=cmd_migrate)
    c = dsub.add_parser("copy", help="copy a whole store (log with its ids, pairs, rollouts) into an empty one")
    c.add_argument("source", type=db_arg, metavar="FROM", help="a SQLite file or a postgresql:// URL")
    c.add_argument("target", type=db_arg, metavar="TO", help="a SQLite file or a postgresql:// URL")
    c.add_argument("--force", action="store_true", help="replace what the target holds (it is emptied first)")
    c.set_defaults(func=cmd_copy)


def cmd_migrate(args: argparse.Namespace) -> int:
    from labeling.errors import StoreError
    from labeling.store import DB_FILE
    from labeling.store_copy import describe, migrate_store
    from labeling.store_url import resolve_db

    db = resolve_db(args.db, args.dir, file_name=DB_FILE)
    if isinstance(db, Path) and not db.is_file():
        raise UserError(f"no label store at {db} (pass --db, or set REPO_AGENT_DB)")
    try:
        before, now = migrate_store(db)
    except StoreError as exc:
        raise UserError(str(exc)) from None
    was = "new" if before is None else f"was {before}"
    console.print(f"{neutralise(describe(db))}: schema version {now} ({was})")
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    from labeling.errors import StoreError
    from labeling.store_copy import copy_store, describe

    progress_console = SafeConsole(stderr=True)  # stdout keeps the one result line
    with Progress(
        TextColumn("{task.description:<13}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=progress_console,
        transient=True,
        disable=not progress_console.is_terminal,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def on_progress(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=done)

        try:
            copied = copy_store(args.source, args.target, force=args.force, progress=on_progress)
        except StoreError as exc:
            raise UserError(str(exc)) from None
    rows = ", ".join(f"{n} {t}" for t, n in copied.items() if t != "meta")
    console.print(f"copied {neutralise(describe(args.source))} -> {neutralise(describe(args.target))}: {rows}")
    return 0


COMMANDS = CommandGroup(rank=140, register=register)
