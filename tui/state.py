"""The studio's state: plain classes, no widgets (so tests and screens share one truth)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from labeling.records import PairFilter

if TYPE_CHECKING:
    from agent.executor import RolloutCancels


@dataclass
class SessionRate:
    """Verdicts given in this session, for the "N/h" on the Pairs progress line."""

    started: float = field(default_factory=time.monotonic)
    verdicts: int = 0

    def per_hour(self, now: float | None = None) -> float:
        elapsed = (now if now is not None else time.monotonic()) - self.started
        # Under a minute the rate is noise; show it once there is something to say.
        return self.verdicts * 3600.0 / elapsed if elapsed >= 60 else 0.0


@dataclass
class IngestState:
    running: bool = False
    files_done: int = 0
    files_total: int = 0
    last_error: str | None = None
    passes: int = 0  # completed ingest passes (the first is the initial scan)

    @property
    def label(self) -> str:
        if self.last_error:
            return f"ingest error: {self.last_error}"
        if self.running and self.passes == 0:
            return f"indexing {self.files_done}/{self.files_total} traces…"
        return ""


@dataclass
class StudioState:
    traces_dir: Path
    db_path: Path | str  # a SQLite file or a postgresql:// URL
    labeler: str
    # What the screens are looking at; every screen reads and writes these.
    rollout_uid: str | None = None
    step: int | None = None  # the step to put the Steps screen's cursor on
    # A search hit's (step, place) the Rollout screen opens at, once (tui/screens/search.py).
    rollout_at: tuple[int | None, str] | None = None
    search_line: str = ""  # the last search (ctrl+f opens on it)
    pair_id: str | None = None
    open_pair: str | None = None  # --pair: shown first, whatever the queue's filter holds
    pair_filter: PairFilter = field(default_factory=lambda: PairFilter(verdict="unlabeled"))
    overlap: int | None = None  # --overlap K: verdicts asked per pair (None: the store's team setting)
    diff_view: str = "unified"  # unified | split | ab (A↔B); kept across runs (tui.prefs)
    history: list[str] = field(default_factory=list)  # screens visited, for `escape`
    rate: SessionRate = field(default_factory=SessionRate)
    ingest: IngestState = field(default_factory=IngestState)
    store_version: int = 0  # bumped after each ingest that changed something
    # Batches launched from this studio that are still running: batch_id -> cancel flag.
    running_batches: dict[str, threading.Event] = field(default_factory=dict)
    # The same batches' per-rollout stop flags, for the fleet view.
    rollout_cancels: dict[str, RolloutCancels] = field(default_factory=dict)

    @property
    def split_diff(self) -> bool:
        """Side by side (split or A↔B) rather than unified."""
        return self.diff_view != "unified"

    @split_diff.setter
    def split_diff(self, value: bool) -> None:
        self.diff_view = "split" if value else "unified"

    def visit(self, mode: str) -> None:
        if not self.history or self.history[-1] != mode:
            self.history.append(mode)
        del self.history[:-50]

    def back(self) -> str | None:
        """The screen before the current one, or None."""
        if len(self.history) < 2:
            return None
        self.history.pop()
        return self.history[-1]


def fmt_tokens(n: int | None) -> str:
    n = n or 0
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def fmt_cost(usd: float | None) -> str:
    if usd is None:
        return "—"
    return f"${usd:.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.4f}"


def fmt_duration(seconds: float | None) -> str:
    """A fixed format (snapshot-stable): 0.12s, 3.4s, 2m05s."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s"


def replay_dir(traces_dir: Path) -> Path:
    """Where the studio's replays go: ``<traces dir>-replays`` beside the folder it has open,
    never into it (a replay there would be a copy of its source). The studio indexes it too,
    so a replay shows in Runs, marked by its provider, its rollouts as copies."""
    traces_dir = Path(traces_dir).resolve()
    return traces_dir.parent / f"{traces_dir.name}-replays"
