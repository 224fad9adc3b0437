"""Imported rollouts -> trace batches, through the project's own trace models and writer.

One batch per source run (folder or log file). Ids and bytes are derived from the source
only (never the clock), and a file whose bytes would not change is not rewritten, so a
re-import is a no-op the label store's incremental ingest does not even notice.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.importers.base import ImportedRollout, patch_files
from agent.suspect import judge_suspect, scan_patch
from agent.trace import (
    BatchMeta,
    BatchParams,
    FinalEvent,
    LlmCall,
    MessageEvent,
    Outcome,
    PlannedRollout,
    RolloutEnd,
    RolloutStart,
    ToolCallEvent,
    ToolResultEvent,
    TraceWriter,
    Usage,
    derive_state,
    trace_path,
    write_batch_meta,
)


@dataclass
class WrittenBatch:
    batch_id: str
    path: Path
    rollouts: int
    changed: int  # trace files written (new or different); 0 on a repeated import


def slug(s: str, limit: int = 60) -> str:
    out = "".join(c if c.isalnum() or c in "._-" else "-" for c in s).strip("-.")
    return out[:limit] or "x"


def batch_id_for(fmt: str, run_dir: Path) -> str:
    digest = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:8]
    name = run_dir.stem if run_dir.suffix in (".json", ".jsonl", ".eval") else run_dir.name  # a log file is a run
    return f"import-{fmt}-{slug(name, 28)}-{digest}"


def stop_reason(exit_status: str) -> str:
    """The source's exit status in our stop reasons (SWE-agent: submitted, exit_cost, exit_format...)."""
    s = exit_status.lower()
    if not s or "submit" in s or s in ("finished", "success", "completed"):
        return "finished"
    if "time" in s:
        return "timeout"
    if any(k in s for k in ("cost", "limit", "context", "max", "step")):
        return "max_iters"
    if any(k in s for k in ("error", "exception", "format", "fail")):
        return "error"
    return "finished"


class BatchWriter:
    """One source run's batch, written a source file at a time: only the file being imported is
    held in memory, whatever the size of the run."""

    def __init__(self, out: Path, fmt: str, run_dir: Path, suite: str):
        self.fmt, self.run_dir, self.suite = fmt, run_dir, suite
        self.batch_id = batch_id_for(fmt, run_dir)
        self.dir = Path(out) / self.batch_id
        self.planned: list[PlannedRollout] = []
        self.ids: set[str] = set()
        self.models: Counter[str] = Counter()
        self.sources: list[str] = []
        self.max_steps = 0
        self.first_ts: float | None = None
        self.changed = 0

    def add(self, path: Path, rollouts: list[ImportedRollout]) -> int:
        """Write the traces of one source file's rollouts; returns how many changed on disk."""
        self.sources.append(str(path.resolve()))
        default_ts = float(int(os.stat(path).st_mtime))  # no timestamps in the source: its file's
        ids = self.ids
        changed = 0
        for r in rollouts:
            rid, n = slug(r.rollout_key), 2
            while rid in ids:  # two source files of one instance in one run
                rid, n = f"{slug(r.rollout_key)}-{n}", n + 1
            ids.add(rid)
            ts = r.started_ts if r.started_ts is not None else default_ts
            self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
            self.planned.append(PlannedRollout(rollout_id=rid, task_id=r.task_id, seed=0))
            self.models.update([r.model] if r.model else [])
            self.max_steps = max(self.max_steps, _steps(r))
            changed += _write_if_changed(
                trace_path(self.dir, rid), _trace_events(r, rid, self.batch_id, self.suite, self.fmt, ts)
            )
        self.changed += changed
        return changed

    def finish(self) -> WrittenBatch:
        """Write batch.json (only if it differs)."""
        when = datetime.fromtimestamp(self.first_ts or 0.0, UTC).isoformat(timespec="seconds")
        meta = BatchMeta(
            id=self.batch_id,
            suite=self.suite,
            provider=self.fmt,
            model=self.models.most_common(1)[0][0] if self.models else "unknown",
            params=BatchParams(rollouts=1, max_iters=self.max_steps),
            planned=self.planned,
            started=when,
            finished=when,
            stop_reason="finished",
            imported={"format": self.fmt, "path": str(self.run_dir.resolve()), "files": sorted(self.sources)},
        )
        meta_path = self.dir / "batch.json"
        if not meta_path.is_file() or meta_path.read_text() != meta.model_dump_json(indent=2):
            write_batch_meta(self.dir, meta)
        return WrittenBatch(self.batch_id, self.dir, len(self.planned), self.changed)


def _steps(r: ImportedRollout) -> int:
    return sum(1 for m in r.messages if m.get("role") == "assistant")


def _write_if_changed(path: Path, events: list[Any]) -> int:
    if path.is_file():
        # Compare with what TraceWriter.write would put down, byte for byte.
        data = "".join(e.model_dump_json(exclude_none=False) + "\n" for e in events)
        if path.read_text(encoding="utf-8") == data:
            return 0
    tmp = path.with_name(path.name + ".tmp")
    with TraceWriter(tmp, path.stem, truncate=True) as w:  # the project's own writer
        for e in events:
            w.write(e)
    os.replace(tmp, path)  # a reader never sees half a re-imported trace
    return 1


def _tool_names(tools: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {t["function"]["name"]: t["function"].get("parameters") or {} for t in tools}


def _check_call(name: str, arguments: str, schemas: dict[str, dict[str, Any]]) -> tuple[Any, str | None, list[str]]:
    """(parsed args, parse error, violations) of one native call against the tools the model saw."""
    try:
        args = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as exc:
        return None, f"arguments are not JSON: {exc.msg}", []
    if not isinstance(args, dict):
        return None, "arguments are not a JSON object", []
    violations = []
    if schemas and name not in schemas:
        violations.append(f"unknown tool {name!r}")
    elif name in schemas:
        for req in schemas[name].get("required") or []:
            if req not in args:
                violations.append(f"missing required argument {req!r}")
    return args, None, violations


def _trace_events(r: ImportedRollout, rid: str, batch_id: str, suite: str, fmt: str, ts: float) -> list[Any]:
    events: list[Any] = []

    def add(cls: type, **fields: Any) -> None:
        # ts from the source, not the clock: a re-import writes the same bytes
        events.append(cls(rollout_id=rid, seq=len(events), ts=ts, **fields))

    schemas = _tool_names(r.tools)
    add(
        RolloutStart,
        task_id=r.task_id,
        suite=suite,
        seed=None,
        provider=fmt,
        model=r.model or "unknown",
        max_iters=_steps(r),
        tools=r.tools,
        batch_id=batch_id,
    )
    step = calls = invalid = 0
    pending_text: list[str] = []  # text-action call ids waiting for their observation
    for m in r.messages:
        role = m["role"]
        if role == "assistant":
            step += 1
            tin, tout = r.step_usage.get(step, (0, 0))
            # one model call per assistant turn; its latency is not in any source
            add(LlmCall, step=step, latency_s=0.0, usage=Usage(prompt_tokens=tin, completion_tokens=tout))
            add(MessageEvent, message=m, step=step, reasoning=r.step_reasoning.get(step))
            for c in m.get("tool_calls") or []:
                fn = c["function"]
                args, err, viol = _check_call(fn["name"], fn["arguments"], schemas)
                valid = err is None and not viol
                calls, invalid = calls + 1, invalid + (not valid)
                add(
                    ToolCallEvent,
                    step=step,
                    call_id=c["id"],
                    name=fn["name"],
                    arguments=fn["arguments"],
                    args=args,
                    parse_error=err,
                    valid=valid,
                    violations=viol,
                )
            pending_text = []
            for i, a in enumerate(r.text_actions.get(step, [])):
                cid = f"text-{step}-{i}"
                calls += 1
                arguments = json.dumps({"command": a.command}, ensure_ascii=False)
                add(
                    ToolCallEvent,
                    step=step,
                    call_id=cid,
                    name=a.name,
                    arguments=arguments,
                    args={"command": a.command},
                    valid=True,
                    from_text=True,
                )
                pending_text.append(cid)
            continue
        s = step or None
        if role == "tool" and s is not None:
            cid = m.get("tool_call_id") or ""
            add(
                ToolResultEvent,
                step=s,
                call_id=cid,
                ok=cid not in r.failed_calls,
                duration_s=0.0,
                output_chars=len(m.get("content") or ""),
            )
        elif role == "user" and s is not None and pending_text:
            for cid in pending_text:  # a text action's observation comes back as the next user message
                add(
                    ToolResultEvent,
                    step=s,
                    call_id=cid,
                    ok=True,
                    duration_s=0.0,
                    output_chars=len(m.get("content") or ""),
                )
            pending_text = []
        add(MessageEvent, message=m, step=s)
    if r.summary:
        add(FinalEvent, summary=r.summary)
    files = patch_files(r.patch)
    outcome = Outcome(
        tests_passed=bool(r.passed),
        verdict_known=r.passed is not None,
        steps=step,
        tool_calls=calls,
        invalid_tool_calls=invalid,
        files_touched=len(files),
        files=files,
        patch=r.patch,
        tokens_in=r.tokens_in,
        tokens_out=r.tokens_out,
        cost_usd=r.cost_usd,
    )
    stop = stop_reason(r.exit_status)
    if outcome.verdict_known and outcome.tests_passed:
        # The user's evaluation passed it; the SUSPECT scan reads its patch as it reads ours
        # (no task source here: the line rules, and the whole text of files the patch makes).
        # An imported gaming patch was exported as an example (round 9 vrd9-19).
        hits = scan_patch(r.patch)
        if hits:
            state = judge_suspect(derive_state(stop, outcome), hits, probe=False)
            outcome = outcome.model_copy(update={"suspect": hits, "state": state})
    add(RolloutEnd, outcome=outcome, stop_reason=stop, duration_s=r.duration_s)
    return events
