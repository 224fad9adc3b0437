"""The trace format: the one contract every package reads (docs/ARCHITECTURE.md, Batches and traces).

A batch is a directory: ``BATCH/batch.json`` and ``BATCH/traces/<rollout_id>.jsonl``,
one pydantic-validated event per line, appended and flushed per line so another
process can tail the file while the rollout runs.

This module is the contract's one import; the parts live beside it:

- ``agent/trace_events.py``: the event models (one per line kind) and the conversation;
- ``agent/batch_meta.py``: ``batch.json`` (``BatchMeta``) and finding batch directories;
- ``agent/trace_file.py``: ``TraceWriter`` and the tolerant readers (a torn last line or a
  line that fails validation is a warning, never an exception, and never loses the good
  lines around it).
"""

from __future__ import annotations

from agent.batch_meta import (
    BatchMeta,
    BatchParams,
    PlannedRollout,
    find_batches,
    is_batch_dir,
    new_batch_id,
    now_iso,
    read_batch_meta,
    rollout_id_for,
    write_batch_meta,
)
from agent.trace_events import (
    BATCH_FILE,
    EVENT_ADAPTER,
    NOT_JUDGED_REASONS,
    TRACE_VERSION,
    TRACES_DIR,
    VERDICTS,
    BranchInfo,
    ErrorEvent,
    Event,
    FinalEvent,
    LlmCall,
    LoopEvent,
    MessageEvent,
    NotJudgedReason,
    Outcome,
    RolloutEnd,
    RolloutStart,
    RolloutState,
    RolloutStatus,
    Savings,
    StallEvent,
    StopReason,
    TestCounts,
    TestRun,
    ToolCallEvent,
    ToolResultEvent,
    Usage,
    Verdict,
    conversation,
    derive_state,
    judged,
    not_judged,
    rollout_state,
    trace_path,
)
from agent.trace_file import (
    MAX_EVENT_CHARS,
    TraceRead,
    TraceWarning,
    TraceWriter,
    iter_lines,
    read_events_from,
    read_trace,
)

__all__ = [
    "BATCH_FILE",
    "BatchMeta",
    "BatchParams",
    "BranchInfo",
    "EVENT_ADAPTER",
    "ErrorEvent",
    "Event",
    "FinalEvent",
    "LlmCall",
    "LoopEvent",
    "MAX_EVENT_CHARS",
    "MessageEvent",
    "Outcome",
    "PlannedRollout",
    "RolloutEnd",
    "RolloutStart",
    "Savings",
    "StallEvent",
    "StopReason",
    "TRACES_DIR",
    "TRACE_VERSION",
    "TestCounts",
    "TestRun",
    "ToolCallEvent",
    "ToolResultEvent",
    "TraceRead",
    "TraceWarning",
    "TraceWriter",
    "Usage",
    "conversation",
    "NOT_JUDGED_REASONS",
    "NotJudgedReason",
    "RolloutState",
    "RolloutStatus",
    "VERDICTS",
    "Verdict",
    "derive_state",
    "judged",
    "not_judged",
    "rollout_state",
    "find_batches",
    "is_batch_dir",
    "iter_lines",
    "new_batch_id",
    "now_iso",
    "read_batch_meta",
    "read_events_from",
    "read_trace",
    "rollout_id_for",
    "trace_path",
    "write_batch_meta",
]
