"""`prefs` as a library: run a batch, index it, pair with auto verdicts, export DPO.

This is what people ran before the studio existed (rollouts -> auto-scored pairs ->
Together preference JSONL), kept as one call. What is new: the pairs' contrast kinds and
noise flags are reported, and noisy auto pairs (both_fail, identical_patch,
tests_tampered by default) are dropped unless ``keep_noisy``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.probes import is_probe
from exports.export import export_dpo
from exports.options import DpoOptions, ExportError, ExportReport

if TYPE_CHECKING:
    from agent.batch_spec import BatchControls, BatchObserver, BatchSpec
    from labeling.store import LabelStore


@dataclass
class PrefsSummary:
    batch_dir: Path
    tasks: int
    rollouts: int
    report: ExportReport  # a dry run's when nothing could be exported (``error`` says why)
    no_contrast_tasks: list[str] = field(default_factory=list)
    by_contrast: dict[str, int] = field(default_factory=dict)  # of the exported pairs
    noisy_dropped: dict[str, int] = field(default_factory=dict)  # flag -> pairs dropped
    error: str | None = None  # why nothing was exported
    batch: Any = None  # agent.batch.BatchSummary


def run_prefs(
    spec: BatchSpec,
    store: LabelStore,
    options: DpoOptions,
    out: Path,
    *,
    observer: BatchObserver | None = None,
    controls: BatchControls | None = None,
    pair_strategy: str | None = None,
) -> PrefsSummary:
    """Run the batch ``spec`` describes (see ``agent.batch.run_batch``: adaptive allocation spends
    a rollout budget where pass/fail contrast is), pair it, export DPO to ``out``.
    ``pair_strategy``: the store's pair strategy from now on (None: the store's current one)."""
    from agent.batch import run_batch

    batch = run_batch(spec, observer, controls)
    suite, batch_dir, task_ids = spec.suite, spec.batch_dir, spec.task_ids
    store.ingest([batch_dir])
    built = store.rebuild_pairs(strategy=pair_strategy)
    batch_id = Path(batch_dir).name
    options = options.model_copy(update={"auto": True, "batches": [batch_id]})  # this batch's pairs only
    tasks = [t for t in (task_ids or [t.id for t in suite.tasks]) if not is_probe(suite.task(t))]  # probes aside
    error = None
    try:
        report = export_dpo(store, out, options)
    except ExportError as exc:
        error = str(exc)
        report = export_dpo(store, out, options, dry_run=True)
    summary = PrefsSummary(
        batch_dir=Path(batch_dir),
        tasks=len(tasks),
        rollouts=len(batch.results),
        report=report,
        no_contrast_tasks=[t for t in built.no_contrast_tasks if t in set(tasks)],
        error=error,
        batch=batch,
    )
    skipped = summary.report.skipped
    summary.noisy_dropped = {k.split(":", 1)[1]: v for k, v in skipped.items() if k.startswith("noisy:")}
    if summary.report.path and summary.report.meta_path:
        meta = json.loads(Path(summary.report.meta_path).read_text(encoding="utf-8"))
        summary.by_contrast = dict(Counter(line.get("contrast") for line in meta["lines"]))
    return summary
