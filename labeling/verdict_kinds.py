"""How many pairs rest on each kind of verdict (issue 26's agent/verdict_kind.py), for `stats`.

A pair's kind is its task's, read from the suite its batch ran (``batch.json``'s suite path,
as given to `run`: a builtin name, or a path resolved from the working directory, then from
the batch's own directory). An imported batch's pairs rest on the verdict its source gave;
a batch whose suite is gone counts as ``unknown``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from agent.suites.models import Suite, Task
from agent.verdict_kind import verdict_kind
from labeling.records import PairRow, RolloutRow

if TYPE_CHECKING:
    from labeling.store import LabelStore

# The task's kinds (agent/verdict_kind.py), strongest first, then what only the store knows.
KIND_LABEL: dict[str, str] = {
    "differential+hidden": "held-out inputs and hidden tests",
    "differential": "held-out inputs",
    "hidden": "hidden tests only",
    "tests": "pytest records only",
    "imported": "the imported run's own verdict",
    "unknown": "unknown (the batch's suite is gone)",
}
VERDICT_KINDS: tuple[str, ...] = tuple(KIND_LABEL)


def task_kind(suite: Suite, task: Task) -> str:
    """What every final run of ``task`` rests on: agent/verdict_kind.py's rule."""
    return str(verdict_kind(suite, task))


MAX_SUITE_BYTES = 64 * 1024 * 1024


def _suite_kinds(spec: str, batch_dir: Path) -> dict[str, str] | None:
    """Task id -> kind for the suite ``spec`` names, or None when it cannot be read."""
    from agent.suites.loading import SUITE_FILE, load_suite, parse_suite_file

    tries = [spec]
    if not Path(spec).expanduser().is_absolute():
        tries += [str(p / spec) for p in (batch_dir, *batch_dir.parents[:3])]
    for where in tries:
        path = Path(where).expanduser()
        file = path / SUITE_FILE if path.is_dir() else path
        if file.is_file() and file.stat().st_size > MAX_SUITE_BYTES:
            continue  # a batch.json someone handed over names a huge file: not worth reading for a count
        try:
            suite = load_suite(where)
        except (ValueError, OSError):
            # A suite whose sources are gone does not load; its tasks still say their kind.
            if not file.is_file():  # regular files only: a FIFO named by a batch.json would block
                continue
            try:
                suite = parse_suite_file(file)
            except (ValueError, OSError):
                continue
        return {t.id: task_kind(suite, t) for t in suite.tasks}
    return None


def batch_kinds(
    batch_dir: Path, seen: dict[tuple[str, Path], dict[str, str] | None] | None = None
) -> tuple[bool, dict[str, str] | None]:
    """(imported, task id -> kind) for one batch directory; ``seen`` keeps suites read once."""
    from agent.batch_meta import read_batch_meta

    try:
        meta = read_batch_meta(batch_dir)
    except (OSError, ValueError):
        return False, None
    if meta.imported:
        return True, None
    spec, where = meta.suite_path or meta.suite, batch_dir.resolve()
    seen = {} if seen is None else seen
    if (spec, where.parent) not in seen:  # a suite's batches sit side by side
        seen[spec, where.parent] = _suite_kinds(spec, where)
    return False, seen[spec, where.parent]


def pairs_by_verdict_kind(
    store: LabelStore, pairs: Iterable[PairRow], rollouts: Iterable[RolloutRow]
) -> dict[str, int]:
    """Pairs (``store.pairs()``) by the kind of verdict their chosen side's task got."""
    batch_of = {r.uid: r.batch_id for r in rollouts}
    seen: dict[tuple[str, Path], dict[str, str] | None] = {}
    kinds = {b.batch_id: batch_kinds(Path(b.path), seen) for b in store.batches()}
    out: Counter[str] = Counter()
    for p in pairs:
        imported, tasks = kinds.get(batch_of.get(p.chosen_uid, ""), (False, None))
        out["imported" if imported else (tasks or {}).get(p.task_id, "unknown")] += 1
    return dict(out)
