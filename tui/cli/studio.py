"""`repo-agent studio [TRACES_DIR] [--db PATH] [--labeler NAME]`: open the studio."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rich.prompt import Confirm

from tui.cli.command import CommandGroup
from tui.cli.safe_console import SafeConsole
from tui.cli.serve import add_serve_flags
from tui.cli.store_flag import add_db_flag
from tui.screens.registry import MODES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "studio",
        help="open the studio (Textual) on a directory of trace batches",
        description="Review, label and export rollouts in a terminal app. Keys: ? for help, ctrl+p for commands.",
    )
    p.add_argument(
        "traces_dir",
        nargs="?",
        default="sample_traces",
        type=Path,
        metavar="TRACES_DIR",
        help="directory of batches (default: sample_traces)",
    )
    add_db_flag(p, "TRACES_DIR/labels.sqlite")
    p.add_argument("--labeler", default=None, help="your name on verdicts and marks (default: $USER)")
    p.add_argument(
        "--keymap",
        type=Path,
        default=None,
        help="your keymap, a TOML file rebinding actions (default: $REPO_AGENT_KEYMAP; see docs/labeling-and-team.md, keymaps)",
    )
    p.add_argument(
        "--screen",
        default="pairs",
        choices=MODES,
        help="screen to open on (default: pairs)",
    )
    p.add_argument(
        "--rollout",
        metavar="ID",
        help="open the Rollout screen on this rollout (BATCH/ROLLOUT, as `repo-agent search` and `pairs list` print)",
    )
    p.add_argument("--pair", metavar="ID", help="open the Pairs screen on this pair (its id, as `pairs list` prints)")
    p.add_argument(
        "--import",
        dest="import_foreign",
        choices=["ask", "yes", "no"],
        default="ask",
        help="TRACES_DIR holds other agents' trajectories and no batches: import them first (default: ask)",
    )
    p.add_argument(
        "--overlap",
        type=int,
        metavar="K",
        help="team review: verdicts asked per pair (default: the store's, see `repo-agent team`)",
    )
    p.add_argument(
        "--no-bell", action="store_true", help="no terminal bell when a rollout loops, stalls or errors (Runs: fleet)"
    )
    add_serve_flags(p)
    p.set_defaults(func=run)


IMPORTED_DIR = "imported"


def offer_import(traces: Path, answer: str, ask: Callable[[str], bool], console: SafeConsole) -> bool:
    """When ``traces`` has no batches but holds other agents' trajectories, offer to import them
    into ``traces/imported`` (the studio then opens on them). Returns whether it imported."""
    from agent.importers import find_foreign, import_paths
    from agent.trace import find_batches

    if answer == "no" or find_batches(traces):
        return False
    found = find_foreign(traces)
    if not found:
        return False
    what = ", ".join(f"{n} {fmt}" for fmt, n in sorted(found.items()))
    out = traces / IMPORTED_DIR
    question = f"{traces} has no trace batches but holds other agents' trajectories ({what}). Import them into {out}?"
    if answer == "ask" and not ask(question):
        console.print(f"not imported; to do it later: repo-agent import {traces} --out {out}", markup=False)
        return False
    report = import_paths([traces], out)
    console.print(
        f"imported {report.rollouts} rollouts into {len(report.batches)} batches under {out} "
        f"({report.count('broken')} broken, {report.count('skipped')} skipped files; "
        f"details: repo-agent import {traces} --out {out})",
        markup=False,
    )
    return True


def check_opened(traces: Path, db: Path | str, rollout: str | None, pair: str | None) -> None:
    """--rollout / --pair name something the store holds, once TRACES_DIR is ingested (an id
    from a note may predate the store): else one clear line, before the app starts."""
    from labeling.store import LabelStore, NotFound
    from tui.cli.errors import UserError

    store = LabelStore(db, labeler="-", base=traces if isinstance(db, str) else None)

    def missing() -> str | None:
        for flag, value, look in (("--rollout", rollout, store.rollout), ("--pair", pair, store.pair)):
            try:
                if value:
                    look(value)
            except NotFound:
                return f"{flag}: no {flag[2:]} {value!r}"
        return None

    try:
        if missing() is not None:
            store.ingest([traces])
        problem = missing()
    finally:
        store.close()
    if problem:
        raise UserError(
            f"{problem} in {traces} (a pair id as `repo-agent pairs list` prints it; a rollout id is BATCH/ROLLOUT)"
        )


def run(args: argparse.Namespace) -> int:
    from tui.cli.errors import UserError

    traces = Path(args.traces_dir)
    if not traces.is_dir():
        raise UserError(f"{traces} is not a directory of trace batches")
    if args.overlap is not None and not 1 <= args.overlap <= 50:
        raise UserError(f"--overlap must be between 1 and 50 labelers per pair, not {args.overlap}")
    from labeling.store_url import resolve_db

    args.db = resolve_db(args.db, traces)  # --db, else $REPO_AGENT_DB, else TRACES_DIR/labels.sqlite
    if isinstance(args.db, Path) and not args.db.parent.is_dir():
        raise UserError(f"--db: directory {args.db.parent} does not exist")
    if args.serve:
        from tui.cli.serve import run_serve

        return run_serve(args, traces, args.db)
    from tui.app import Opening, StudioApp
    from tui.keymap import KeymapError, load_keymap

    keymap_path = args.keymap or (
        Path(os.environ["REPO_AGENT_KEYMAP"]) if os.environ.get("REPO_AGENT_KEYMAP") else None
    )
    try:
        keymap = load_keymap(keymap_path) if keymap_path else None
    except KeymapError as exc:
        raise UserError(str(exc)) from None

    console = SafeConsole(highlight=False, soft_wrap=True)
    answer = args.import_foreign
    if answer == "ask" and not sys.stdin.isatty():
        answer = "hint"  # nobody to ask: say how, open as is
    if answer == "hint":
        from agent.importers import find_foreign
        from agent.trace import find_batches

        if not find_batches(traces) and (found := find_foreign(traces)):
            console.print(
                f"{traces} holds {sum(found.values())} trajectories of other agents and no batches; "
                f"import them with: repo-agent import {traces} --out {traces / IMPORTED_DIR}",
                markup=False,
            )
    else:
        offer_import(traces, answer, lambda q: Confirm.ask(q, default=True, console=console), console)

    if args.rollout or args.pair:
        check_opened(traces, args.db, args.rollout, args.pair)
    StudioApp(
        traces,
        db_path=args.db,
        labeler=args.labeler,
        opening=Opening(screen=args.screen, rollout=args.rollout, pair=args.pair),
        bell=not args.no_bell,
        keymap=keymap,
        overlap=args.overlap,
    ).run()
    return 0


COMMANDS = CommandGroup(rank=100, register=register)
