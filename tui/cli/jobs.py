"""`repo-agent jobs DIR [follow|cancel ID]`: the fine-tuning jobs launched from a label store.

A list (status, output model, price) refreshed from Together's job list when a key is set;
``follow`` shows a job's status and events until it ends (Ctrl-C detaches, the job keeps
running); ``cancel`` stops it. `repo-agent finetune` follows through the same `follow_job`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from tui.cli.command import CommandGroup
from tui.cli.errors import UserError, err_console
from tui.cli.store_flag import add_db_flag

console = Console(highlight=False, soft_wrap=True)

EXAMPLES = """\
examples:
  repo-agent jobs runs/                     # every job launched from runs/labels.sqlite
  repo-agent jobs runs/ --json
  repo-agent jobs runs/ follow ft-3f2a9c11  # status and events until it ends (Ctrl-C detaches)
  repo-agent jobs runs/ cancel ft-3f2a9c11
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "jobs",
        help="fine-tuning jobs launched from a label store: list, follow, cancel",
        description="List the fine-tuning jobs recorded in DIR's label store (refreshed from Together "
        "when TOGETHER_API_KEY is set), follow one until it ends, or cancel it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("traces", type=Path, metavar="DIR", help="the traces directory (its labels.sqlite)")
    p.add_argument("action", nargs="?", choices=("follow", "cancel"), help="follow or cancel job ID")
    p.add_argument("job_id", nargs="?", metavar="ID", help="the job (ft-...)")
    add_db_flag(p)
    p.add_argument("--json", action="store_true", help="print the jobs as JSON (with what each was trained on)")
    p.add_argument("--offline", action="store_true", help="show what the store holds; ask Together nothing")
    p.add_argument("--base-url", help="Together API base URL (default: the SDK's, or $TOGETHER_BASE_URL)")
    p.add_argument("--poll-seconds", type=float, default=10.0, help="follow: how often to ask (default 10)")
    p.set_defaults(func=cmd_jobs)


def open_job_store(traces: Path, db):
    from labeling.store import LabelStore

    if db is None and not os.environ.get("REPO_AGENT_DB") and not (traces / "labels.sqlite").is_file():
        raise UserError(f"no label store in {traces} (labels.sqlite): give the traces directory or --db")
    return LabelStore.open(db, traces)


def client_for(args: argparse.Namespace):
    from exports.finetune import FinetuneClient, FinetuneError

    try:
        return FinetuneClient(args.base_url, poll_s=args.poll_seconds)
    except FinetuneError as exc:
        raise UserError(str(exc)) from None


def cmd_jobs(args: argparse.Namespace) -> int:
    from exports.finetune import FinetuneError
    from labeling.errors import NotFound

    if args.action and not args.job_id:
        raise UserError(f"jobs DIR {args.action} needs the job id: repo-agent jobs DIR {args.action} ID")
    if args.poll_seconds < 0:
        raise UserError("--poll-seconds must be 0 or more")
    store = open_job_store(args.traces, args.db)
    try:
        if args.action == "follow":
            store.job(args.job_id)  # a job this store does not know: one line, before any call
            return follow_job(client_for(args), store, args.job_id)
        if args.action == "cancel":
            store.job(args.job_id)
            row = client_for(args).cancel(store, args.job_id)
            console.print(f"cancel requested: {escape(row.job_id)} is {escape(row.status)}")
            return 0
        return list_jobs(args, store)
    except (FinetuneError, NotFound) as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()


def list_jobs(args: argparse.Namespace, store) -> int:
    from exports.finetune import FinetuneError

    note = ""
    if not args.offline and os.environ.get("TOGETHER_API_KEY") and store.jobs():
        try:
            client_for(args).sync(store)
        except FinetuneError as exc:
            note = f"shown as last recorded (refresh failed: {exc})"
    elif not args.offline:
        note = "shown as last recorded (set TOGETHER_API_KEY to refresh from Together)"
    jobs = store.jobs()
    if args.json:
        print(json.dumps([j.model_dump(mode="json") for j in jobs]))
        return 0
    if not jobs:
        console.print(
            f"no fine-tuning jobs in {escape(store.location)} (launch one: repo-agent finetune FILE --model BASE)"
        )
        return 0
    # One line a job, never cut: ids and model names get copied into other commands.
    for j in jobs:
        price = price_text(j.estimate.get("price_usd"))
        console.print(
            f"{escape(j.job_id)}  {_status_text(j.status)}  {j.method}  {escape(j.base_model)} -> "
            f"{escape(j.output_model or '(no model yet)')}  est. {price}  "
            f"{j.verdicts.get('examples', '?')} examples  {escape(j.created_at.replace('T', ' ')[:16])}"
        )
    if note:
        err_console.print(f"[dim]{escape(note)}[/]")
    return 0


def price_text(price) -> str:
    return "-" if price is None else f"${price:,.2f}"


def _status_text(status: str) -> str:
    style = {"completed": "green", "error": "red", "cancelled": "yellow"}.get(status, "cyan")
    return f"[{style}]{escape(status)}[/]"


def jobs_command(store) -> str:
    """`repo-agent jobs DIR` for this store (``--db`` when it is not DIR/labels.sqlite)."""
    if store.path is None:  # a PostgreSQL store: $REPO_AGENT_DB names it (its password is never printed)
        return f"repo-agent jobs {shlex.quote(str(store.base or '.'))}"
    path = Path(store.path)
    if path.name == "labels.sqlite":
        return f"repo-agent jobs {shlex.quote(str(path.parent))}"
    return f"repo-agent jobs {shlex.quote(str(path.parent))} --db {shlex.quote(str(path))}"


def compare_command(store, job) -> str:
    """The exact `repo-agent compare` of the base model and the fine-tune on the held-out suite."""
    from exports.provenance import held_out_suite

    parts = ["repo-agent", "compare", "--job", job.job_id]
    if store.path is not None:
        path = Path(store.path)
        parts += ["--trace-dir", str(path.parent)]
        if path.name != "labels.sqlite":
            parts += ["--db", str(path)]
    suite = held_out_suite(job.sidecar)
    parts += ["--suite", suite] if suite else ["--suite", "HELDOUT_SUITE"]
    parts += ["--llm-provider", "together"]
    return " ".join(p if p == "HELDOUT_SUITE" else shlex.quote(p) for p in parts)


def follow_job(client, store, job_id: str) -> int:
    """Status and events until the job ends; Ctrl-C detaches (the job keeps running).
    0 when it completed, 1 when it failed or was cancelled, 130 when detached."""
    job = store.job(job_id)
    status = None
    last_error = ""
    console.print(f"following {escape(job_id)} (Ctrl-C detaches; the job keeps running)")
    try:
        with console.status(f"{job_id}: asking Together…") as spinner:
            for progress in client.follow(store, job_id):
                job = progress.job
                for e in progress.events:
                    style = "red" if e.level == "error" or e.type == "job_error" else "dim"
                    console.print(f"  [{style}]{escape(e.at)}[/]  {escape(e.type)}: {escape(e.message)}")
                    if style == "red":
                        last_error = e.message
                if job.status != status:
                    status = job.status
                    console.print(f"status: {_status_text(status)}")
                spinner.update(f"{job_id}: {job.status}")
    except KeyboardInterrupt:
        console.print(
            f"\ndetached: {escape(job_id)} keeps running on Together. Follow it again: "
            f"{escape(jobs_command(store))} follow {escape(job_id)}"
        )
        return 130
    if job.status == "completed":
        console.print(f"[green]completed[/]: the fine-tuned model is [bold]{escape(job.output_model or '?')}[/]")
        console.print(f"compare it with its base on the held-out tasks:\n  {escape(compare_command(store, job))}")
        return 0
    if job.status == "error":
        why = f": {last_error}" if last_error else ""
        console.print(f"[red]the job ended in error[/]{escape(why)}")
        return 1
    console.print(f"[yellow]the job was {escape(job.status)}[/]")
    return 1


COMMANDS = CommandGroup(rank=90, register=register)
