"""What a batch runs (`BatchSpec`), how its caller steers it (`BatchControls`) and who watches it
(`BatchObserver`): the three objects `agent.batch.run_batch` takes instead of 22 keywords.

The same controls and observer serve `agent.branch.run_branches` and `exports.prefs.run_prefs`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.allocation import AllocationConfig
from agent.batch_meta import PlannedRollout
from agent.budget import DollarBudget
from agent.executor import Executor, RolloutCancels
from agent.loop import RolloutConfig, RolloutResult
from agent.providers import ProviderFactory
from agent.suites.models import Suite


@dataclass(frozen=True)
class BatchSpec:
    """A batch: a suite's tasks (all, or ``task_ids``) run ``rollouts`` times each from ``seed``
    with the provider ``provider_factory`` makes, written to ``batch_dir``.

    ``allocation="adaptive"`` needs ``allocation_config`` (its ``budget_rollouts`` is the
    batch's budget; ``rollouts`` is then unused). With ``fixed``, an ``allocation_config``
    only caps the batch at its ``budget_rollouts``."""

    suite: Suite
    provider_factory: ProviderFactory
    batch_dir: Path
    rollouts: int = 1
    seed: int = 0
    max_workers: int = 1
    config: RolloutConfig | None = None
    task_ids: Iterable[str] | None = None
    provider_name: str = "openai"
    model: str = ""
    base_url: str | None = None
    suite_path: str | None = None
    workspace_root: Path | None = None
    allocation: str = "fixed"
    allocation_config: AllocationConfig | None = None


@dataclass(frozen=True)
class BatchControls:
    """What the caller keeps to steer a running batch: ``cancel`` ends it (a resume goes on),
    ``rollout_cancels.cancel(rollout_id)`` ends one rollout alone, ``budget`` (agent/budget.py)
    refuses a rollout the dollars left cannot cover; ``executor`` runs the rollouts (default: a
    local thread pool of the spec's ``max_workers``)."""

    cancel: threading.Event | None = None
    executor: Executor | None = None
    rollout_cancels: RolloutCancels | None = None
    budget: DollarBudget | None = None


class BatchObserver(Protocol):
    """Told of a batch as it runs, from the rollouts' threads."""

    def on_event(self, rollout_id: str, event: Any) -> None: ...

    def on_rollout_start(self, planned: PlannedRollout) -> None: ...

    def on_rollout_end(self, result: RolloutResult, done: int, total: int) -> None: ...


@dataclass(frozen=True)
class BatchCallbacks:
    """A `BatchObserver` from plain functions; one left out is not called. ``event`` set means
    every trace event is forwarded (the studio's live view); unset, none is."""

    event: Callable[[str, Any], None] | None = None
    rollout_start: Callable[[PlannedRollout], None] | None = None
    rollout_end: Callable[[RolloutResult, int, int], None] | None = None

    def on_event(self, rollout_id: str, event: Any) -> None:
        if self.event is not None:
            self.event(rollout_id, event)

    def on_rollout_start(self, planned: PlannedRollout) -> None:
        if self.rollout_start is not None:
            self.rollout_start(planned)

    def on_rollout_end(self, result: RolloutResult, done: int, total: int) -> None:
        if self.rollout_end is not None:
            self.rollout_end(result, done, total)


def wants_events(observer: BatchObserver | None) -> bool:
    """Whether forwarding each trace event is worth its call (a `BatchCallbacks` without ``event``: no)."""
    return observer is not None and not (isinstance(observer, BatchCallbacks) and observer.event is None)
