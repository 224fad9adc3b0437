"""Typed messages the studio's workers post (tests assert on them via message_hook)."""

from __future__ import annotations

from textual.message import Message

from labeling.records import IngestReport


class IngestProgressed(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total


class StoreChanged(Message):
    """An ingest pass finished; ``changed`` when it read anything new."""

    def __init__(self, report: IngestReport | None, changed: bool, error: str | None = None) -> None:
        super().__init__()
        self.report = report
        self.changed = changed
        self.error = error


class BatchProgress(Message):
    """A batch launched from the studio: a rollout started or ended, or the batch ended."""

    def __init__(
        self,
        batch_id: str,
        done: int,
        total: int,
        *,
        rollout_id: str | None = None,
        started: bool = False,
        finished: bool = False,
        error: str | None = None,
    ) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.done = done
        self.total = total
        self.rollout_id = rollout_id
        self.started = started
        self.finished = finished
        self.error = error


class TracesChanged(Message):
    """Trace files under the traces directory changed (tui.live_trace.TraceWatcher)."""

    def __init__(self, paths: set) -> None:
        super().__init__()
        self.paths = paths
