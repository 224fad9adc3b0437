"""Held-out tasks: chosen by id or by fraction, written as an eval suite, kept out of training.

The held-out set is decided once per export, before any example is built; every builder
skips a held-out task's rollouts and pairs, and the exporter checks again, example by
example, before writing (a leak raises instead of writing).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING

from agent.trace import read_batch_meta
from exports.options import ExportError, OptionsBase
from exports.writer import write_json_atomic

if TYPE_CHECKING:
    from labeling.store import LabelStore


def choose_holdout(all_tasks: list[str], options: OptionsBase) -> list[str]:
    """Held-out task ids, sorted. By id (must exist), or a seeded fraction of the tasks."""
    tasks = sorted(set(all_tasks))
    if options.holdout_tasks:
        unknown = [t for t in options.holdout_tasks if t not in tasks]
        if unknown:
            raise ExportError(f"hold-out task(s) not in the store: {', '.join(unknown)}")
        held = set(options.holdout_tasks)
    else:
        held = set()
    if options.holdout_fraction:
        rest = [t for t in tasks if t not in held]
        n = min(len(rest), max(1, round(options.holdout_fraction * len(tasks))))
        held |= set(random.Random(options.seed).sample(rest, n))
    return sorted(held)


def default_holdout_path(out: Path) -> Path:
    name = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return out.with_name(name + ".holdout.suite.json")


def _suite_spec(store: LabelStore, options: OptionsBase) -> str | None:
    if options.suite:
        return options.suite
    for b in store.batches():
        try:
            meta = read_batch_meta(Path(b.path))
        except (OSError, ValueError):
            continue
        if meta.suite_path:
            return meta.suite_path
    return None


def holdout_suite(store: LabelStore, options: OptionsBase, held: list[str]) -> dict:
    """The held-out tasks as a suite file of their own: a selection of the suite they come
    from (agent/suites/loading.py), which keeps its paths in its own folder."""
    from agent.suites.loading import BUILTIN, SuiteError, load_suite

    spec = _suite_spec(store, options)
    if spec is None:
        raise ExportError("hold-out needs the suite the tasks come from: pass --suite (batch.json names none)")
    try:
        suite = load_suite(spec)
    except (SuiteError, OSError) as exc:
        raise ExportError(f"cannot load suite {spec!r} for the hold-out: {exc}") from None
    known = {t.id for t in suite.tasks}
    missing = [t for t in held if t not in known]
    if missing:
        raise ExportError(f"hold-out task(s) not in suite {suite.name}: {', '.join(missing)}")
    return {
        "name": f"{suite.name}-holdout",
        "description": f"Held out of training from {suite.name}: {', '.join(held)}",
        "from": {
            "suite": spec if spec in BUILTIN else str(Path(spec).expanduser().resolve()),
            "tasks": [t.id for t in suite.tasks if t.id in held],
        },
    }


def write_suite(path: Path, suite: dict) -> None:
    write_json_atomic(path, suite)
