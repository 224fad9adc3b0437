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


def _suite_files(spec: str, batch_dir: Path) -> list[tuple[str, Path]]:
    """Where ``spec`` may name a suite, in the order tried: (as given to load_suite, its file)."""
    from agent.suites.loading import SUITE_FILE

    tries = [spec]
    if not Path(spec).expanduser().is_absolute():
        tries += [str(p / spec) for p in (batch_dir, *batch_dir.parents[:3])]
    out = []
    for where in tries:
        path = Path(where).expanduser()
        out.append((where, path / SUITE_FILE if path.is_dir() else path))
    return out


def _stamp(path: Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of a file, None when it is not there: what says it changed."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _suite_kinds(spec: str, batch_dir: Path) -> dict[str, str] | None:
    """Task id -> kind for the suite ``spec`` names, or None when it cannot be read."""
    from agent.suites.loading import load_suite, parse_suite_file

    for where, file in _suite_files(spec, batch_dir):
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


# Stats recompute on every store change while a batch runs: a batch.json and a suite (up to
# 64 MB) are read again only when their (path, mtime, size) changed. A few entries a batch.
_BATCH_CACHE: dict[Path, tuple[tuple[int, int] | None, tuple[bool, str]]] = {}
_SUITE_CACHE: dict[tuple[str, Path], tuple[tuple, dict[str, str] | None]] = {}


def _batch_suite(batch_dir: Path) -> tuple[bool, str] | None:
    """(imported, suite spec) from the batch's batch.json, or None when it cannot be read."""
    from agent.batch_meta import read_batch_meta
    from agent.trace import BATCH_FILE

    stamp = _stamp(batch_dir / BATCH_FILE)
    cached = _BATCH_CACHE.get(batch_dir)
    if cached is not None and stamp is not None and cached[0] == stamp:
        return cached[1]
    try:
        meta = read_batch_meta(batch_dir)
    except (OSError, ValueError):
        return None
    _BATCH_CACHE[batch_dir] = (stamp, (bool(meta.imported), meta.suite_path or meta.suite))
    return _BATCH_CACHE[batch_dir][1]


def batch_kinds(batch_dir: Path) -> tuple[bool, dict[str, str] | None]:
    """(imported, task id -> kind) for one batch directory; read again only when its batch.json
    or a file its suite may be read from changed."""
    where = batch_dir.resolve()
    read = _batch_suite(where)
    if read is None:
        return False, None
    imported, spec = read
    if imported:
        return True, None
    stamp = tuple(_stamp(file) for _, file in _suite_files(spec, where))
    cached = _SUITE_CACHE.get((spec, where))
    if cached is None or cached[0] != stamp:
        cached = _SUITE_CACHE[spec, where] = (stamp, _suite_kinds(spec, where))
    return False, cached[1]


def pairs_by_verdict_kind(
    store: LabelStore, pairs: Iterable[PairRow], rollouts: Iterable[RolloutRow]
) -> dict[str, int]:
    """Pairs (``store.pairs()``) by the kind of verdict their chosen side's task got."""
    batch_of = {r.uid: r.batch_id for r in rollouts}
    kinds = {b.batch_id: batch_kinds(Path(b.path)) for b in store.batches()}
    out: Counter[str] = Counter()
    for p in pairs:
        imported, tasks = kinds.get(batch_of.get(p.chosen_uid, ""), (False, None))
        out["imported" if imported else (tasks or {}).get(p.task_id, "unknown")] += 1
    return dict(out)
