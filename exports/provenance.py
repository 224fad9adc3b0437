"""What a training file was made from: its export sidecar, checked against the file's bytes.

A fine-tuning job records this (exports/finetune.py), so every fine-tuned model can be
traced to the label store, the verdicts and the rollouts that made its training file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exports.writer import meta_path_for


class ProvenanceError(Exception):
    """The file cannot be traced to its labels; the message is one line."""


@dataclass(frozen=True)
class Provenance:
    file: Path
    file_sha256: str
    sidecar: Path
    sidecar_sha256: str
    kind: str  # sft | dpo
    format: str  # together-sft | together-dpo | ...
    label_store: str  # where it was exported from (a path, or a URL without its password)
    holdout_suite: str | None  # the held-out suite the export wrote, if any
    verdicts: dict[str, Any] = field(default_factory=dict)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_provenance(path: Path) -> Provenance:
    """The sidecar of ``path`` (NAME.meta.json), refused when missing or when the file changed since."""
    path = Path(path)
    sidecar = meta_path_for(path)
    if not sidecar.is_file():
        raise ProvenanceError(
            f"{path} has no export sidecar ({sidecar.name}): only files written by `repo-agent export` "
            "can be fine-tuned here, so the model can be traced to its labels"
        )
    raw = sidecar.read_bytes()
    try:
        meta = json.loads(raw)
        if not isinstance(meta, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise ProvenanceError(f"{sidecar} is not a readable sidecar ({exc})") from None
    file_sha = sha256_of(path)
    if meta.get("sha256") != file_sha:
        raise ProvenanceError(
            f"{path} changed since it was exported (its sha256 is not the sidecar's): export it again"
        )
    holdout = (meta.get("holdout") or {}).get("suite")
    return Provenance(
        file=path,
        file_sha256=file_sha,
        sidecar=sidecar,
        sidecar_sha256=hashlib.sha256(raw).hexdigest(),
        kind=str(meta.get("kind") or ""),
        format=str(meta.get("format") or ""),
        label_store=str(meta.get("label_store") or ""),
        holdout_suite=str(holdout) if holdout else None,
        verdicts=trained_on(meta),
    )


def trained_on(meta: dict[str, Any]) -> dict[str, Any]:
    """The verdict counts, and per line the pair (with its verdict and who decided) or the rollouts."""
    keep = ("pair_id", "verdict", "decided_by", "uids", "task_id")
    lines = [{k: m[k] for k in keep if k in m} for m in meta.get("lines") or [] if isinstance(m, dict)]
    counts = (meta.get("counts") or {}).get("verdicts") or {}
    return {"counts": counts, "examples": len(lines), "lines": lines}


def held_out_suite(sidecar: str | Path) -> str | None:
    """The held-out suite an export wrote beside its file (its sidecar says), if it is there."""
    try:
        meta = json.loads(Path(sidecar).read_text(encoding="utf-8"))
        suite = (meta.get("holdout") or {}).get("suite")
    except (OSError, ValueError, AttributeError):
        return None
    return str(suite) if suite and Path(suite).is_file() else None
