"""Verdicts and patches kept beside trajectories: ``results.json``, ``preds.json``, ``all_preds.jsonl``.

A verdict is only ever read from an evaluation the user ran (SWE-bench's harness report,
sb-cli, SWE-agent's ``results.json``, a per-instance ``report.json``, or ``--results``); an
instance no evaluation mentions stays unknown. Nothing is inferred from exit statuses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.importers.base import BrokenFile

RESULTS_NAMES = ("results.json",)
PREDS_NAMES = ("preds.json", "all_preds.jsonl")
# Companion files: read beside trajectories, never imported on their own.
COMPANION_NAMES = frozenset(
    {*RESULTS_NAMES, *PREDS_NAMES, "report.json", "tmppreds.json", "run_batch_exit_statuses.yaml"}
)

_PASS_KEYS = ("resolved_ids", "resolved")
# Lists of instances an evaluation ran (or was given) and that did not resolve: submitted but
# not resolved is FAIL (SWE-bench's report and mini-swe-agent v2 list every prediction under
# submitted_ids); an instance in no list was never evaluated and stays not judged.
_FAIL_KEYS = (
    "submitted_ids",
    "unresolved_ids",
    "completed_ids",
    "error_ids",
    "empty_patch_ids",
    "unresolved",
    "failed",
)


def parse_results(data: Any) -> dict[str, bool]:
    """instance id -> resolved, from any of the shapes above; {} when the shape is not one."""
    out: dict[str, bool] = {}
    if isinstance(data, list):  # JSONL rows or a list of reports
        for row in data:
            if isinstance(row, dict):
                iid = row.get("instance_id")
                v = _resolved_of(row)
                if isinstance(iid, str) and v is not None:
                    out[iid] = v
        return out
    if not isinstance(data, dict):
        return out
    if any(isinstance(data.get(k), list) for k in (*_PASS_KEYS, *_FAIL_KEYS)):
        for k in _FAIL_KEYS:
            for iid in data.get(k) or []:
                out[str(iid)] = False
        for k in _PASS_KEYS:
            for iid in data.get(k) or []:
                out[str(iid)] = True
        return out
    for iid, row in data.items():  # {instance_id: {"resolved": bool, ...}}
        v = _resolved_of(row) if isinstance(row, dict) else None
        if v is not None:
            out[str(iid)] = v
    return out


def _resolved_of(row: dict[str, Any]) -> bool | None:
    for holder in (row, row.get("report"), (row.get("test_result") or {}).get("report")):
        if isinstance(holder, dict) and isinstance(holder.get("resolved"), bool):
            return holder["resolved"]
    return None


def read_results_file(path: Path) -> dict[str, bool]:
    """A user-named results file (``--results``); raises BrokenFile when it holds no verdicts."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BrokenFile(f"cannot read: {exc.strerror or exc}") from None
    try:
        data: Any = json.loads(text)
    except ValueError:
        try:
            data = [json.loads(line) for line in text.split("\n") if line.strip()]  # (U+2028 may stand in a string)
        except ValueError:
            raise BrokenFile("not JSON or JSON lines") from None
    out = parse_results(data)
    if not out:
        raise BrokenFile("no verdicts in it (expected resolved_ids/resolved lists or {id: {resolved}})")
    return out


def _read_preds(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in text.split("\n") if line.strip()]
        else:
            data = json.loads(text)
            rows = list(data.values()) if isinstance(data, dict) else data
    except (OSError, ValueError):
        return {}
    out = {}
    for r in rows if isinstance(rows, list) else []:
        if isinstance(r, dict) and isinstance(r.get("instance_id"), str) and isinstance(r.get("model_patch"), str):
            out[r["instance_id"]] = r["model_patch"]
    return out


class VerdictBook:
    """Verdicts and patches by (run folder, instance id), read once per folder.

    ``given`` (from ``--results``) wins over a ``results.json`` found beside the trajectories.
    """

    def __init__(self, given: dict[str, bool] | None = None):
        self.given = given or {}
        self._results: dict[Path, dict[str, bool]] = {}
        self._preds: dict[Path, dict[str, str]] = {}

    def _dirs(self, run_dir: Path) -> list[Path]:
        return [run_dir, run_dir.parent] if run_dir.parent != run_dir else [run_dir]

    def lookup(self, run_dir: Path, instance_id: str) -> bool | None:
        if instance_id in self.given:
            return self.given[instance_id]
        for d in self._dirs(run_dir):
            if d not in self._results:
                found: dict[str, bool] = {}
                for name in RESULTS_NAMES:
                    p = d / name
                    if p.is_file():
                        try:
                            found = parse_results(json.loads(p.read_text(encoding="utf-8")))
                        except (OSError, ValueError):
                            found = {}
                        break
                self._results[d] = found
            if instance_id in self._results[d]:
                return self._results[d][instance_id]
        return None

    def patch(self, run_dir: Path, instance_id: str) -> str:
        for d in self._dirs(run_dir):
            if d not in self._preds:
                preds: dict[str, str] = {}
                for name in PREDS_NAMES:
                    if (d / name).is_file():
                        preds.update(_read_preds(d / name))
                self._preds[d] = preds
            if instance_id in self._preds[d]:
                return self._preds[d][instance_id]
        return ""
