"""The export pipeline: examples -> format lines -> checked atomic file + sidecar + report.

``export_dpo`` / ``export_sft`` decide the hold-out first, build neutral examples
(exports.dpo / exports.sft), lay each one out in the chosen format and validate it with
the format's model (an example that breaks a rule is skipped and counted, never written),
count tokens, and, unless ``dry_run``, write the file atomically (checked again as a
whole before the rename), the held-out suite, and the ``NAME.meta.json`` sidecar.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from exports.dpo import build_dpo
from exports.formats.registry import format_for
from exports.formats.spec import ExportFormat
from exports.holdout import (
    choose_holdout,
    default_holdout_path,
    holdout_suite,
    write_suite,
)
from exports.layouts import DpoExample, Repairs, SftExample
from exports.models import RecordError
from exports.options import DpoOptions, ExportError, ExportReport, SftOptions
from exports.sft import build_sft
from exports.tokens import TokenCounter, TokenizerError, cost_per_epoch
from exports.traces import TraceCache
from exports.writer import meta_path_for, write_json_atomic, write_lines_atomic

if TYPE_CHECKING:
    from labeling.store import LabelStore

Progress = Callable[[str, int, int], None]


def tool_version() -> str:
    try:
        from importlib.metadata import version

        return version("repo-agent-studio")
    except Exception:
        return "0+unknown"


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _counter(options: DpoOptions | SftOptions) -> TokenCounter:
    try:
        return TokenCounter(options.tokenizer_path)
    except TokenizerError as exc:
        raise ExportError(str(exc)) from None


def _holdout(store: LabelStore, options: DpoOptions | SftOptions) -> tuple[list[str], Any]:
    held = choose_holdout(store.tasks(), options)
    suite = holdout_suite(store, options, held) if held else None
    return held, suite


def dpo_tokens(counter: TokenCounter, ex: DpoExample) -> int:
    """Prompt (with tool schemas) once, plus both outputs."""
    return counter.messages(ex.prompt) + counter.tools(ex.tools) + counter.messages([ex.chosen, ex.rejected])


def sft_tokens(counter: TokenCounter, ex: SftExample) -> int:
    return counter.messages(ex.messages) + counter.tools(ex.tools)


@dataclass
class _Setup:
    """What both exports decide before building examples."""

    fmt: str
    spec: ExportFormat[Any]  # the format named fmt: its line builder and record model
    counter: TokenCounter
    held: list[str]
    suite: Any
    skipped: Counter = field(default_factory=Counter)
    repairs: Repairs = field(default_factory=Repairs)
    cache: TraceCache = field(default_factory=TraceCache)


def _setup(store: LabelStore, options: DpoOptions | SftOptions, kind: str) -> _Setup:
    spec = format_for(options.format, kind)
    counter = _counter(options)
    held, suite = _holdout(store, options)
    cache = TraceCache(*store.accepted_lines())  # read only what ingest accepted
    return _Setup(spec.name, spec, counter, held, suite, cache=cache)


def _collect(
    examples: list[Any], spec: ExportFormat[Any], count: Callable[[Any], int], skipped: Counter
) -> tuple[list[str], list, int]:
    """Each example as a checked line: (lines, their metas, tokens); what fails is counted in ``skipped``."""
    lines, metas, tokens = [], [], 0
    seen: set[str] = set()
    for ex in examples:
        line = spec.line(ex)
        if line is None:  # a format that cannot say it (TRL has no per-message weights)
            skipped[spec.cannot_say] += 1
            continue
        if not _valid(spec, line, skipped):
            continue
        text = _dumps(line)
        if text in seen:  # two rollouts that say the same thing teach it twice: one line
            skipped["duplicate_line"] += 1
            continue
        seen.add(text)
        lines.append(text)
        metas.append(ex.meta)
        tokens += count(ex)
    return lines, metas, tokens


def export_dpo(
    store: LabelStore,
    out: str | Path,
    options: DpoOptions | None = None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ExportReport:
    options = options or DpoOptions()
    out = Path(out)
    st = _setup(store, options, "dpo")
    examples = build_dpo(store, options, set(st.held), st.cache, st.repairs, st.skipped, progress)
    lines, metas, tokens = _collect(examples, st.spec, lambda ex: dpo_tokens(st.counter, ex), st.skipped)
    report = _report(st, "dpo", options.mode, lines, tokens, options, dry_run)
    report.warnings = st.cache.warnings
    return _finish(store, out, st.fmt, options, report, lines, metas, st.held, st.suite, dry_run)


def export_sft(
    store: LabelStore,
    out: str | Path,
    options: SftOptions | None = None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ExportReport:
    options = options or SftOptions()
    out = Path(out)
    st = _setup(store, options, "sft")
    counter = st.counter
    built = build_sft(store, options, set(st.held), st.cache, st.repairs, st.skipped, progress)
    lines, metas, tokens = _collect(
        built[options.style],
        st.spec,
        lambda ex: sft_tokens(counter, ex),
        st.skipped,
    )
    report = _report(st, "sft", options.style, lines, tokens, options, dry_run)
    report.warnings = st.cache.warnings
    other = "step" if options.style == "trajectory" else "trajectory"
    both = {options.style: tokens, other: sum(sft_tokens(counter, ex) for ex in built[other])}
    report.sft_trajectory_tokens, report.sft_step_tokens = both["trajectory"], both["step"]
    report.sft_trajectory_examples = len(built["trajectory"]) if options.style != "trajectory" else len(lines)
    report.sft_step_examples = len(built["step"]) if options.style != "step" else len(lines)
    return _finish(store, out, st.fmt, options, report, lines, metas, st.held, st.suite, dry_run)


def _valid(spec: ExportFormat[Any], line: dict[str, Any], skipped: Counter) -> bool:
    try:
        spec.validate(line)
    except RecordError as exc:
        skipped[f"invalid_record:{exc.errors[0][0]}"] += 1
        return False
    return True


def _report(
    st: _Setup,
    kind: Literal["dpo", "sft"],
    mode: str,
    lines: list[str],
    tokens: int,
    options: DpoOptions | SftOptions,
    dry_run: bool,
) -> ExportReport:
    fmt, counter, skipped, repairs, held = st.fmt, st.counter, st.skipped, st.repairs, st.held
    n = len(lines)
    notes = {"unparsed_arguments_wrapped": repairs.unparsed_arguments} if repairs.unparsed_arguments else {}
    return ExportReport(
        format=fmt,
        kind=kind,
        mode=mode,
        examples=n,
        tokens=tokens,
        tokens_are_estimate=counter.is_estimate,
        token_counter=counter.label,
        tokens_per_example=round(tokens / n, 1) if n else 0.0,
        price_per_mtok=options.price_per_mtok,
        cost_per_epoch=cost_per_epoch(tokens, options.price_per_mtok),
        skipped=dict(sorted(skipped.items())),
        notes=notes,
        holdout_tasks=list(held),
        dry_run=dry_run,
        preview=json.loads(lines[0]) if lines else None,
    )


def _finish(
    store: LabelStore,
    out: Path,
    fmt: str,
    options: DpoOptions | SftOptions,
    report: ExportReport,
    lines: list[str],
    metas: list[dict],
    held: list[str],
    suite: Any,
    dry_run: bool,
) -> ExportReport:
    leaked = sorted({m["task_id"] for m in metas} & set(held))
    if leaked:  # builders skip held-out tasks; this is the guarantee, not the mechanism
        raise ExportError(f"internal error: held-out task(s) {', '.join(leaked)} reached the training file")
    holdout_path = Path(options.holdout_out) if options.holdout_out else default_holdout_path(out)
    if suite is not None:
        report.holdout_suite_path = str(holdout_path)
    if dry_run:
        return report
    if not lines:
        why = ", ".join(f"{k} {v}" for k, v in report.skipped.items()) or "the store holds nothing to export"
        raise ExportError(f"nothing to export (skipped: {why})")
    sha, _ = write_lines_atomic(out, lines, fmt)
    if suite is not None:
        write_suite(holdout_path, suite)
    meta_path = meta_path_for(out)
    report.path, report.meta_path, report.sha256 = str(out), str(meta_path), sha
    write_json_atomic(meta_path, _sidecar(store, out, options, report, metas))
    return report


def _sidecar(
    store: LabelStore, out: Path, options: DpoOptions | SftOptions, report: ExportReport, metas: list[dict]
) -> dict[str, Any]:
    batches = sorted({u.split("/", 1)[0] for m in metas for u in m.get("uids", [])})
    verdicts = Counter(m.get("verdict") or "unlabeled" for m in metas if "pair_id" in m)
    return {
        "tool": "repo-agent",
        "version": tool_version(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "file": out.name,
        "sha256": report.sha256,
        "format": report.format,
        "kind": report.kind,
        "mode": report.mode,
        "options": options.model_dump(mode="json"),
        "label_store": store.location,  # a URL without its password
        "source_batches": batches,
        "counts": {
            "examples": report.examples,
            "skipped": report.skipped,
            "notes": report.notes,
            "verdicts": dict(verdicts),
        },
        "tokens": {
            "total": report.tokens,
            "estimate": report.tokens_are_estimate,
            "counter": report.token_counter,
            "per_example": report.tokens_per_example,
            "sft_trajectory": report.sft_trajectory_tokens,
            "sft_step": report.sft_step_tokens,
        },
        "cost_per_epoch_usd": report.cost_per_epoch,
        "price_per_mtok": report.price_per_mtok,
        "holdout": {"tasks": report.holdout_tasks, "suite": report.holdout_suite_path},
        "lines": [dict(line=i, **m) for i, m in enumerate(metas, start=1)],
    }
