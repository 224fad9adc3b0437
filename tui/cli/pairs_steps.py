"""`repo-agent pairs list|set|undo|redo|tag|untag|rebuild` and `repo-agent steps list|mark|unmark`."""

from __future__ import annotations

import argparse

from agent.untrusted import neutralise
from agent.untrusted import neutralise as esc  # every value from traces or the store goes through it
from tui.cli.errors import UserError
from tui.cli.fit_table import Col, print_table
from tui.cli.label_store import console, flags_text, ingest_dirs, print_json, store_errors, store_from_args
from tui.cli.team_view import votes_cell
from tui.words import count


def _filter(args: argparse.Namespace):
    from labeling.records import CONTRASTS, PAIR_FLAGS, VERDICTS, PairFilter

    if args.contrast and args.contrast not in CONTRASTS:
        raise UserError(f"unknown contrast {args.contrast!r} (use {', '.join(CONTRASTS)})")
    if args.flag and args.flag not in (*PAIR_FLAGS, "noisy", "clean"):
        raise UserError(f"unknown flag {args.flag!r} (use {', '.join(PAIR_FLAGS)}, noisy or clean)")
    if args.verdict and args.verdict not in (*VERDICTS, "unlabeled", "labeled"):
        raise UserError(f"unknown verdict {args.verdict!r} (use {', '.join(VERDICTS)}, unlabeled or labeled)")
    return PairFilter(
        task_id=args.task,
        batch_id=args.batch,
        contrast=args.contrast,
        flag=args.flag,
        verdict=args.verdict,
        tag=args.tag,
        text=args.text,
        include_stale=args.all,
        disagree=args.disagree,
    )


def _note_tags(note: str | None, tags: list[str]) -> str:
    parts = [neutralise(note)] if note else []
    if tags:
        parts.append("[cyan]" + neutralise(" ".join(f"#{t}" for t in tags)) + "[/]")
    return " ".join(parts)


# How `pairs list` gives way on a narrow terminal (tui/cli/fit_table.py): the note goes first,
# then the contrast's "by", then the contrast and the flags are cut; pair id and verdict stay whole.
PAIR_COLUMNS = (
    Col("pair"),
    Col("task", give=5, min_width=8, middle=True),
    Col("contrast", give=3, min_width=5),
    Col("by", give=2, min_width=5),
    Col("chosen > rejected", "ch > rej", give=6, min_width=7),
    Col("flags", give=4, min_width=7),
    Col("verdict"),
    Col("note / tags", "note", give=1, min_width=12, wrap=True),
)
# `steps list`: the mark's text is cut first, then the auto flags, then the calls; the step number stays.
STEP_COLUMNS = (
    Col("step", justify="right"),
    Col("calls", give=3, min_width=10),
    Col("auto flags", give=2, min_width=6),
    Col("mark", give=1, min_width=12, wrap=True),
)


def _left_out(columns: list[str]) -> None:
    if columns:
        console.print(f"[dim]left out: {', '.join(columns)} (too narrow; --json has all)[/]")


@store_errors
def cmd_pairs_list(args: argparse.Namespace) -> int:
    filt = _filter(args)
    with store_from_args(args, must_exist=args.no_ingest) as store:
        if not args.no_ingest:
            ingest_dirs(store, [args.dir], quiet=True)
        filt = store.team_filter(filt, args.overlap)  # team review: your queue, the adjudicator (tui/cli/team.py)
        pairs = store.pairs(filt)
        counts = store.counts(filt)
    shown = pairs[: args.limit] if args.limit else pairs
    if args.json:
        print_json([p.model_dump() | {"preferred_uid": p.preferred_uid} for p in shown])
        return 0
    mine = "" if counts.mine is None else f"; {counts.mine} waiting for your verdict"
    # The title on its own line: a table narrower than it would fold it.
    console.print(
        f"{count(len(pairs), 'pair')} ({counts.labeled} labeled, {counts.remaining} remaining{mine})",
        style="table.title",
    )

    def short(uid: str, task: str) -> str:  # "batch/task__s3" -> "s3" (--json has the full uids)
        rid = uid.split("/", 1)[-1]
        return rid[len(task) + 2 :] if rid.startswith(task + "__") else rid

    rows = []
    for p in shown:
        verdict = esc(p.verdict) if p.verdict else "[dim]-[/]"
        if len(p.verdicts) > 1:  # team review: each labeler's verdict
            verdict = votes_cell(p.verdicts)
        if p.stale:
            verdict += " [dim](stale)[/]"
        rows.append(
            [
                esc(p.pair_id),
                esc(p.task_id),
                esc(p.contrast or ""),
                f"[dim]{esc(p.decided_by or '')}[/]",
                esc(f"{short(p.chosen_uid, p.task_id)} > {short(p.rejected_uid, p.task_id)}"),
                flags_text(p.flags),
                verdict,
                _note_tags(p.note, p.tags),
            ]
        )
    fitted = print_table(console, PAIR_COLUMNS, rows)
    _left_out(fitted.left_out(PAIR_COLUMNS))
    if len(shown) < len(pairs):
        console.print(f"[dim]... {len(pairs) - len(shown)} more (--limit 0 shows all)[/]")
    return 0


@store_errors
def cmd_pairs_set(args: argparse.Namespace) -> int:
    with store_from_args(args, must_exist=True) as store:
        ev = store.set_verdict(args.pair_id, args.verdict, note=args.note)
        p = store.pair(ev.target)
    if args.json:
        print_json(ev.model_dump_json())
        return 0
    console.print(
        f"{esc(ev.target)}: [bold]{esc(args.verdict)}[/] (prefers {esc(p.preferred_uid or 'neither')}) "
        f"by {esc(ev.labeler)}"
    )
    return 0


@store_errors
def cmd_pairs_undo_redo(args: argparse.Namespace) -> int:
    with store_from_args(args, must_exist=True) as store:
        ev = store.undo() if args.action == "undo" else store.redo()
    if ev is None:
        console.print(f"nothing to {args.action} for {store.labeler}", markup=False)
        return 1
    console.print(f"{args.action}: {ev.value} on {ev.target} (event {ev.ref})", markup=False)
    return 0


@store_errors
def cmd_pairs_tag(args: argparse.Namespace) -> int:
    with store_from_args(args, must_exist=True) as store:
        ev = (
            store.tag_pair(args.pair_id, args.tag) if args.action == "tag" else store.untag_pair(args.pair_id, args.tag)
        )
    console.print(f"{ev.target}: {args.action} {ev.value}", markup=False)
    return 0


@store_errors
def cmd_pairs_rebuild(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        ingest_dirs(store, [args.dir], quiet=True)
        rep = store.rebuild_pairs(strategy=args.strategy, score_order=args.order)
    if args.json:
        print_json(rep.model_dump_json(indent=2))
        return 0
    console.print(
        f"{rep.strategy} ({','.join(rep.score_order)}): {count(rep.pairs, 'pair')}, {rep.new_pairs} new, "
        f"{rep.stale_pairs} now stale; by contrast {rep.by_contrast}; flags {rep.by_flag}; "
        f"no contrast: {', '.join(rep.no_contrast_tasks) or '-'}",
        markup=False,
    )
    return 0


@store_errors
def cmd_steps_mark(args: argparse.Namespace) -> int:
    with store_from_args(args, must_exist=True) as store:
        uid = store.resolve_uid(args.uid)
        if args.action == "mark":
            ev = store.mark_step(uid, args.step, args.reason, args.text)
        else:
            ev = store.unmark_step(uid, args.step)
    console.print(f"{ev.target}: {args.action}{' ' + ev.value if ev.value else ''}", markup=False)
    return 0


@store_errors
def cmd_steps_list(args: argparse.Namespace) -> int:
    with store_from_args(args, must_exist=True) as store:
        uid = store.resolve_uid(args.uid)
        steps = store.steps(uid)
    if args.json:
        print_json([s.model_dump() for s in steps])
        return 0
    console.print(esc(uid), style="table.title")
    rows = []
    for s in steps:
        calls = (
            ", ".join(f"{esc(c.name)}{'' if c.valid else ' [red](invalid)[/]'}" for c in s.calls) or "[dim]no call[/]"
        )
        mark = f"[red]{esc(s.mark.reason)}[/] {esc(s.mark.text or '')}" if s.mark else ""
        rows.append([str(s.step), calls, esc(" ".join(s.auto_flags)), mark])
    fitted = print_table(console, STEP_COLUMNS, rows)
    _left_out(fitted.left_out(STEP_COLUMNS))
    return 0
