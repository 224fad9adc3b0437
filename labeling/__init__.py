"""labeling: trace batches -> the label store (SQLite, or PostgreSQL for a team); pairs, noise flags, verdicts, stats.

Public API: `labeling.store.LabelStore` and the rows in `labeling.records`;
`labeling.stats.signal_report`; `labeling.score` (score order).
"""

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
    ToolCallRow,
)
from labeling.store import LabelStore, NotFound, StoreError

__all__ = [
    "BatchRow",
    "IngestProgress",
    "IngestReport",
    "LabelEvent",
    "LabelStore",
    "NotFound",
    "PairBuildReport",
    "PairFilter",
    "PairRow",
    "QueueCounts",
    "RolloutRow",
    "StepMark",
    "StepRow",
    "StoreError",
    "ToolCallRow",
]
