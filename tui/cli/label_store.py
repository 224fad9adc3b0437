"""What the label commands share: the label store opened from DIR / ``--db`` / ``--labeler``,
the consoles, store errors as one-line user errors, JSON output, flag colours, ingest with a progress bar.

Used by `tui.cli.ingest_stats`, `tui.cli.pairs_steps` and `tui.cli.team`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from agent.untrusted import neutralise as esc  # every value from traces or the store goes through it
from tui.cli.errors import UserError
from tui.cli.safe_console import SafeConsole
from tui.cli.store_flag import add_db_flag

console = SafeConsole(highlight=False)
err = SafeConsole(stderr=True, highlight=False)

FLAG_STYLE = {
    "both_fail": "red",
    "identical_patch": "magenta",
    "tiebreak_only": "yellow",
    "flaky": "yellow",
    "tests_tampered": "bold red",
    "suspect": "bold yellow",
    "non_minimal": "cyan",
    "summary_only": "magenta",
    "unknown_outcome": "dim",
}


def add_store_args(p: argparse.ArgumentParser, *, many: bool = False) -> None:
    if many:
        p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="trace directories (batches or their parent)")
    else:
        p.add_argument("dir", type=Path, metavar="DIR", help="the traces directory (holds labels.sqlite)")
    add_db_flag(p)
    p.add_argument("--labeler", help="who is labeling (default: $REPO_AGENT_LABELER or $USER)")


def _db_path(args: argparse.Namespace) -> Path | str:
    from labeling.store import DB_FILE
    from labeling.store_url import resolve_db

    d = args.dirs[0] if hasattr(args, "dirs") else args.dir
    return resolve_db(args.db, d, file_name=DB_FILE)


def store_from_args(args: argparse.Namespace, *, must_exist: bool = False):
    from labeling.store import LabelStore

    d = args.dirs[0] if hasattr(args, "dirs") else args.dir
    if not Path(d).is_dir():
        raise UserError(f"no such directory: {d}")
    path = _db_path(args)
    if isinstance(path, str):  # PostgreSQL: trace paths are keyed by the traces directory
        return LabelStore(path, labeler=args.labeler, base=Path(d))
    if must_exist and not path.exists():
        raise UserError(f"no label store at {path}: run `repo-agent ingest {d}` first")
    refuse_empty(Path(d), path)
    try:
        return LabelStore(path, labeler=args.labeler)
    except Exception as exc:  # sqlite3.DatabaseError and friends: not a store file
        raise UserError(f"cannot open label store {path}: {exc}") from None


def refuse_empty(d: Path, store_path: Path) -> None:
    """A folder with no trace batches and no store is a mistyped path: say so, create nothing."""
    from agent.trace import find_batches

    if not store_path.exists() and not find_batches(d):
        raise UserError(f"{d} holds no trace batches and no label store (a batch has batch.json or traces/)")


def store_errors(fn):
    """Turn the store's typed errors into one-line user errors."""

    def wrapper(args: argparse.Namespace) -> int:
        from labeling.store import StoreError

        try:
            return fn(args) or 0
        except StoreError as exc:
            raise UserError(str(exc)) from None

    return wrapper


def print_json(obj) -> None:
    sys.stdout.write(obj if isinstance(obj, str) else json.dumps(obj, indent=2))
    sys.stdout.write("\n")


def flags_text(flags: list[str]) -> str:
    return " ".join(f"[{FLAG_STYLE.get(f, 'white')}]{esc(f)}[/]" for f in flags) or "[green]clean[/]"


def ingest_dirs(store, dirs: list[Path], *, quiet: bool = False):
    if quiet or not err.is_terminal:
        return store.ingest(dirs)
    with Progress(
        TextColumn("ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("ingest", total=None)

        def on_progress(p):
            bar.update(task, total=p.bytes_total or 1, completed=p.bytes_done)

        return store.ingest(dirs, progress=on_progress)
