"""The label store: the public face of labeling/ (DESIGN §3.4).

`LabelStore` indexes trace batches (incrementally), builds scored pairs with noise
flags, and keeps the human work (pair verdicts, step marks, tags) as an append-only
event log whose current state is derived, so undo/redo is exact across restarts.

Everything here returns rows from `labeling.records`; all SQL lives in
`labeling.sqlite_db` behind a small backend class so a PostgreSQL backend can be added
without touching callers. Every write commits before the method returns.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from labeling.records import (
    BatchRow,
    IngestProgress,
    IngestReport,
    LabelEvent,
    PairBuildReport,
    PairFilter,
    PairRow,
    QueueCounts,
    RolloutRow,
    StepMark,
    StepRow,
)

DB_FILE = "labels.sqlite"


class StoreError(Exception):
    """A mistake a caller can make: unknown pair id, ambiguous prefix, bad verdict..."""


class NotFound(StoreError, KeyError):
    def __str__(self) -> str:  # KeyError's str() adds quotes
        return str(self.args[0]) if self.args else "not found"


def default_labeler() -> str:
    for var in ("REPO_AGENT_LABELER", "USER", "LOGNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser() or "anon"
    except Exception:
        return "anon"


class LabelStore:
    """One label store file. Usable as a context manager; safe to share across threads.

    >>> with LabelStore(LabelStore.default_path(traces)) as store:
    ...     store.ingest([traces])
    ...     for pair in store.pairs(PairFilter(verdict="unlabeled")): ...
    """

    def __init__(self, db_path: Path, *, labeler: str | None = None):
        """Open (creating the schema if needed) the store at ``db_path``. WAL mode."""
        raise NotImplementedError

    @staticmethod
    def default_path(traces_dir: Path) -> Path:
        """``<traces dir>/labels.sqlite``."""
        return Path(traces_dir) / DB_FILE

    # ------------------------------------------------------------------ ingest
    def ingest(
        self,
        roots: Iterable[Path],
        *,
        progress: Callable[[IngestProgress], None] | None = None,
        rebuild: bool = True,
    ) -> IngestReport:
        """Index every batch under ``roots`` (agent.trace.find_batches).

        Incremental per trace file: an unchanged file is only stat'ed; a grown one is
        read from its last complete line; a shrunk or replaced one is re-read from 0.
        A partial last line is left for next time. Torn/invalid lines are counted and
        reported in ``warnings``, never raised. With ``rebuild`` the pairs are rebuilt
        (current strategy and score order) when any rollout changed.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ reads
    def batches(self) -> list[BatchRow]:
        raise NotImplementedError

    def rollouts(
        self, *, task_id: str | None = None, batch_id: str | None = None, status: str | None = None
    ) -> list[RolloutRow]:
        """Rollouts ordered by task id then uid."""
        raise NotImplementedError

    def rollout(self, uid: str) -> RolloutRow:
        """Raises NotFound."""
        raise NotImplementedError

    def steps(self, uid: str) -> list[StepRow]:
        """The rollout's steps with their tool calls, auto flags and current human mark."""
        raise NotImplementedError

    def tasks(self) -> list[str]:
        raise NotImplementedError

    # ------------------------------------------------------------------ pairs
    def rebuild_pairs(
        self, *, strategy: str | None = None, score_order: str | list[str] | None = None
    ) -> PairBuildReport:
        """(Re)select pairs over finished rollouts; new pairs are added, old ones kept.

        ``strategy`` and ``score_order`` default to the last ones used with this store
        (initially ``best-worst`` and ``labeling.score.DEFAULT_ORDER``) and are remembered.
        """
        raise NotImplementedError

    def pairs(self, filt: PairFilter | None = None) -> list[PairRow]:
        """Pairs in review-queue order (see labeling.pairs.queue_key)."""
        raise NotImplementedError

    def pair(self, pair_id: str) -> PairRow:
        """By full id or unique prefix. Raises NotFound / StoreError (ambiguous)."""
        raise NotImplementedError

    def resolve_pair_id(self, prefix: str) -> str:
        raise NotImplementedError

    def counts(self, filt: PairFilter | None = None) -> QueueCounts:
        raise NotImplementedError

    def queue_position(self, pair_id: str, filt: PairFilter | None = None) -> tuple[int, int]:
        """(0-based index of the pair in the queue, queue length); index -1 if absent."""
        raise NotImplementedError

    def settings(self) -> dict[str, str]:
        raise NotImplementedError

    # ------------------------------------------------------------------ human work
    def set_verdict(self, pair_id: str, verdict: str | None, note: str | None = None) -> LabelEvent:
        """Record confirm | flip | discard (None clears). Committed on return."""
        raise NotImplementedError

    def tag_pair(self, pair_id: str, tag: str) -> LabelEvent:
        raise NotImplementedError

    def untag_pair(self, pair_id: str, tag: str) -> LabelEvent:
        raise NotImplementedError

    def mark_step(self, uid: str, step: int, reason: str, text: str | None = None) -> LabelEvent:
        raise NotImplementedError

    def unmark_step(self, uid: str, step: int) -> LabelEvent:
        raise NotImplementedError

    def step_marks(self, uid: str) -> dict[int, StepMark]:
        raise NotImplementedError

    def undo(self) -> LabelEvent | None:
        """Undo this labeler's latest effective action (appends an ``undo`` event).

        Returns the undo event (its ``target`` and ``value`` name what was undone), or
        None when there is nothing to undo.
        """
        raise NotImplementedError

    def redo(self) -> LabelEvent | None:
        """Re-apply this labeler's latest undone action, if no new action came since."""
        raise NotImplementedError

    def events(self, *, labeler: str | None = None) -> list[LabelEvent]:
        """The human log, oldest first."""
        raise NotImplementedError

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "DB_FILE",
    "LabelStore",
    "NotFound",
    "StoreError",
    "default_labeler",
    "BatchRow",
    "IngestReport",
    "LabelEvent",
    "PairBuildReport",
    "PairFilter",
    "PairRow",
    "QueueCounts",
    "RolloutRow",
    "StepMark",
    "StepRow",
]
