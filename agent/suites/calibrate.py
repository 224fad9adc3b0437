"""Calibration: each task's pass rate, with its uncertainty, and the learnable band.

DPO needs tasks a model passes sometimes (about 20-60% of the time): those give pass/fail
pairs. ``pass_rates`` counts judged rollouts per task from existing batches, each content
once (branches and other suites' batches are left out; not judged ones and copies are
counted by reason); the command line runs k pilot rollouts per task
first when asked. The uncertainty is a Wilson score interval: honest for the few
rollouts per task a budget allows (3 of 5 is not "60%", it is 23%-88%).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from agent.suites.loading import SUITE_FILE
from agent.suites.models import Suite
from agent.trace import (
    batch_running,
    content_key,
    conversation_digest,
    find_batches,
    read_batch_meta,
    read_trace,
    rollout_state,
)

Z95 = 1.959964


@dataclass
class TaskRate:
    task_id: str
    passes: int = 0
    rollouts: int = 0  # judged, each content once (docs/ARCHITECTURE.md, Rollout state)
    # what the rate leaves out: not judged by reason (cancelled, error...), "copy", "running"
    left_out: dict[str, int] = field(default_factory=dict)

    def leave_out(self, reason: str) -> None:
        self.left_out[reason] = self.left_out.get(reason, 0) + 1

    @property
    def rate(self) -> float | None:
        return self.passes / self.rollouts if self.rollouts else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.passes, self.rollouts)


def wilson(passes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion; (0, 1) with no data."""
    if n <= 0:
        return 0.0, 1.0
    p = passes / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def parse_band(text: str) -> tuple[float, float]:
    """'0.2-0.6' -> (0.2, 0.6); raises ValueError with a readable message."""
    try:
        lo_s, hi_s = text.split("-", 1)
        lo, hi = float(lo_s), float(hi_s)
    except ValueError:
        raise ValueError(f"band {text!r}: give LOW-HIGH pass rates, e.g. 0.2-0.6") from None
    if not 0 <= lo <= hi <= 1:
        raise ValueError(f"band {text!r}: need 0 <= LOW <= HIGH <= 1")
    return lo, hi


def pass_rates(suite: Suite, batch_roots: list[Path]) -> dict[str, TaskRate]:
    """Per task of ``suite``: passes and ended rollouts over the batches under ``batch_roots``."""
    rates = {t.id: TaskRate(t.id) for t in suite.tasks}
    seen: set[Path] = set()
    contents: set[str] = set()
    for root in batch_roots:
        for batch in find_batches(Path(root)):
            if batch.resolve() in seen:
                continue
            seen.add(batch.resolve())
            try:
                meta = read_batch_meta(batch)
            except (OSError, ValueError):
                meta = None
            if meta is not None and (meta.suite != suite.name or meta.params.allocation == "branch"):
                continue  # another suite's batch, or branches (they start mid-way: not a pass rate)
            alive = batch_running(batch)
            for path in sorted((batch / "traces").glob("*.jsonl")):
                read = read_trace(path)
                start, end = read.start, read.end
                if start is None or start.branch is not None:
                    continue
                if start.suite != suite.name or start.task_id not in rates:
                    continue
                r = rates[start.task_id]
                state = rollout_state(end, alive=alive)
                if end is None or not state.judged:
                    r.leave_out(state.reason or state.status)  # only judged rollouts make a pass rate
                    continue
                digest = conversation_digest(path.read_text(encoding="utf-8", errors="replace"))
                key = content_key(start.task_id, digest, end.outcome.patch, "#", state, start.model, start.seed)
                if key in contents:
                    r.leave_out("copy")  # a copied or replayed rollout is one observation, not two
                    continue
                contents.add(key)
                r.rollouts += 1
                r.passes += state.verdict == "pass"
    return rates


def in_band(rate: TaskRate, band: tuple[float, float]) -> bool:
    return rate.rate is not None and band[0] <= rate.rate <= band[1]


def write_selected(suite: Suite, rates: dict[str, TaskRate], band: tuple[float, float], out: Path) -> Path:
    """Write the tasks whose pass rate lies in ``band`` as a suite file at ``out`` (a .json
    file, or a directory that gets suite.json): a selection of ``suite`` (its paths stay in
    its own folder, where the loader confines them) with each task's measured pass rate."""
    out = Path(out)
    path = out if out.suffix == ".json" else out / "suite.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    base = Path(suite.base_dir or ".").resolve()
    spec = base / SUITE_FILE if (base / SUITE_FILE).is_file() else base  # a suite.json, or a QuixBugs checkout
    chosen: list[str] = []
    features: dict[str, dict] = {}
    for t in suite.tasks:
        r = rates.get(t.id)
        if r is None or not in_band(r, band):
            continue
        rate = r.rate
        assert rate is not None  # in_band() is False for a task without rollouts
        lo, hi = r.interval
        chosen.append(t.id)
        features[t.id] = {
            "pass_rate": round(rate, 4),
            "pass_rate_low": round(lo, 4),
            "pass_rate_high": round(hi, 4),
            "calibration_rollouts": r.rollouts,
        }
    body = {
        "name": f"{suite.name}-band-{band[0]:g}-{band[1]:g}",
        "description": f"tasks of {suite.name} whose pass rate is in {band[0]:g}-{band[1]:g}",
        "from": {"suite": str(spec), "tasks": chosen},
        "features": features,
    }
    path.write_text(json.dumps(body, indent=1), encoding="utf-8")
    return path
