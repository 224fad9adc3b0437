"""The model comparison from the label store (the studio's Stats > Models view).

The store holds every model's rollouts of every suite; the comparison takes one suite and
two of its models: A, the model whose first batch is oldest (the base, run first), and B
(by default the next one). Rollouts pair by seed: only seeds both models ran on a task
count, so a half-finished `repo-agent compare` still compares like with like. Model A's
rollouts at seeds from NOISE_SEED_OFFSET on are its noise block (labeling/compare_batches.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from labeling.compare import Comparison, compare, run_figures, summarize
from labeling.compare_batches import NOISE_SEED_OFFSET
from labeling.records import RolloutRow
from labeling.rollout_states import StateCounts

if TYPE_CHECKING:
    from labeling.store import LabelStore


@dataclass
class StoreComparison:
    suite: str
    models: list[str]  # every model with finished rollouts of the suite, oldest first
    comparison: Comparison
    uids: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (model, task) -> rollout uids
    # the suite's rollouts of A and B the rates leave out, by reason (cancelled, error, copy...)
    left_out: dict[str, int] = field(default_factory=dict)


def _figures(rows: list[RolloutRow]) -> dict:
    return run_figures(rows, sum(r.stop_reason in ("error", "diverged") for r in rows))


def _passed(r: RolloutRow) -> bool:
    return r.state.verdict == "pass"


def store_comparison(store: LabelStore, *, b_index: int = 1) -> StoreComparison | None:
    """The comparison of the suite with the most rollouts among those two models or more
    ran; ``b_index`` picks model B among the others (wrapping). None when no suite has two."""
    started = {b.batch_id: b.started or "" for b in store.batches()}
    every = [r for r in store.rollouts(with_patch=False) if r.seed is not None and r.model]
    # Only judged originals make a pass rate (labeling/rollout_states.py); the rest are counted.
    rows = [r for r in every if r.evidence]
    by_suite: dict[str, dict[str, list[RolloutRow]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_suite[r.suite][r.model].append(r)
    candidates = [(sum(map(len, ms.values())), s) for s, ms in by_suite.items() if len(ms) >= 2]
    if not candidates:
        return None
    suite = max(candidates)[1]
    per_model = by_suite[suite]
    models = sorted(per_model, key=lambda m: (min(started.get(r.batch_id, "") for r in per_model[m]), m))
    a = models[0]
    b = models[1 + (b_index - 1) % (len(models) - 1)]
    main_a = {(r.task_id, r.seed): r for r in per_model[a] if (r.seed or 0) < NOISE_SEED_OFFSET}
    main_b = {(r.task_id, r.seed): r for r in per_model[b] if (r.seed or 0) < NOISE_SEED_OFFSET}
    shared = sorted(set(main_a) & set(main_b))
    noise_rows = [r for r in per_model[a] if (r.seed or 0) >= NOISE_SEED_OFFSET]
    if not shared:
        return None
    verdicts: dict[str, dict[str, list[bool]]] = {a: defaultdict(list), b: defaultdict(list)}
    uids: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in shared:
        for m, side in ((a, main_a), (b, main_b)):
            verdicts[m][key[0]].append(_passed(side[key]))
            uids[(m, key[0])].append(side[key].uid)
    noise: dict[str, list[bool]] = defaultdict(list)
    for r in sorted(noise_rows, key=lambda r: r.seed or 0):
        if r.task_id in verdicts[a]:
            noise[r.task_id].append(_passed(r))
    c = compare(
        summarize(a, verdicts[a], figures=_figures([main_a[k] for k in shared])),
        verdicts[a],
        summarize(b, verdicts[b], figures=_figures([main_b[k] for k in shared])),
        verdicts[b],
        noise_verdicts=dict(noise) or None,
    )
    left = StateCounts()
    for r in every:
        if r.suite == suite and r.model in (a, b):
            left.add(r.state, r.copy_of is not None)
    return StoreComparison(suite=suite, models=models, comparison=c, uids=dict(uids), left_out=left.left_out)
