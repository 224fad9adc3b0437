"""What the Pairs screen shows, as one value: the pair on screen (or why there is none)
and the figures around it. The screen reads the store and builds one; its header, A/B
cards and progress line (tui/widgets/pair_*.py) render themselves from it."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from labeling.records import PairFilter, PairRow, QueueCounts, RolloutRow, StepRow


@dataclass(frozen=True)
class Progress:
    """The progress line's figures."""

    counts: QueueCounts  # the whole queue's
    mine: int | None  # team review: pairs still wanting this labeler's verdict
    session: int  # verdicts given in this session
    per_hour: float  # their rate


@dataclass(frozen=True)
class PairView:
    pair: PairRow | None  # None: ``empty`` says why
    filter: PairFilter
    diff_view: str  # unified | split | ab
    progress: Progress
    empty: Text | None = None
    sides: tuple[RolloutRow | None, RolloutRow | None] = (None, None)  # A (chosen) and B
    # Step pairs: each side's step where they diverge (None: not read, or no such step).
    actions: tuple[StepRow | None, StepRow | None] = (None, None)
    position: int | None = None  # 0-based in the filter's queue, -1 if not in it; None: counting
    total: int | None = None  # the filter's queue length; None: counting
    gone: bool = False  # pruned from the store by a rebuild; kept on screen, marked
    pending_note: str | None = None  # typed before the verdict, saved with it
    labeler: str = ""  # who is reviewing (team review: their verdict is bold)
    cleared: tuple[str | None, str | None] = (None, None)  # who cleared each SUSPECT side (`C` on Rollout)

    @property
    def suspect_cleared(self) -> bool:
        """Every SUSPECT side of the pair was cleared by a person: its `suspect` flag no longer holds it."""
        suspects = [i for i, r in enumerate(self.sides) if r is not None and "SUSPECT" in r.standing]
        return bool(suspects) and all(self.cleared[i] is not None for i in suspects)
