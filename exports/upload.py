"""Upload a checked file to Together and say what to run next.

The Together SDK's own check (``files.upload(check=True)``) only verifies that each line
is a JSON object; the schema is checked on their server after upload. So the file is
checked here first, with the full rules (exports.check), and never uploaded if it fails.
The key is read from the environment (TOGETHER_API_KEY) by the SDK; never stored.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

from exports.check import CheckReport, check_file
from exports.formats.registry import TOGETHER_FORMATS, detect_format, kind_of
from exports.options import ExportReport
from exports.writer import meta_path_for

MODEL_PLACEHOLDER = "MODEL"


class UploadError(Exception):
    """Upload refused or failed; the message is one line."""


def _kind_of_file(path: Path) -> str | None:
    meta = meta_path_for(path)
    if meta.is_file():
        try:
            return json.loads(meta.read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError):
            pass
    try:
        with open(path, encoding="utf-8") as f:
            first = json.loads(f.readline())
    except (OSError, ValueError):
        return None
    fmt = detect_format(first)
    return kind_of(fmt) if fmt else None


def fine_tune_command(training_file: str, kind: str | None, model: str | None = None) -> str:
    """The `together fine-tuning create` command (flags of the installed together CLI)."""
    parts = [
        "together",
        "fine-tuning",
        "create",
        "--training-file",
        training_file,
        "--model",
        model or MODEL_PLACEHOLDER,
    ]
    if kind == "dpo":
        parts += ["--training-method", "dpo"]
    return " ".join(shlex.quote(p) if p != MODEL_PLACEHOLDER else p for p in parts)


def upload_command(report_or_path: ExportReport | str | Path) -> str:
    """The command that uploads this export: ``repo-agent upload FILE``."""
    if isinstance(report_or_path, ExportReport):
        path = report_or_path.path
        if path is None:
            return "repo-agent upload FILE  (write the file first: this was a dry run)"
    else:
        path = str(report_or_path)
    return f"repo-agent upload {shlex.quote(path)}"


def upload_file(path: str | Path, *, base_url: str | None = None, check: CheckReport | None = None) -> dict[str, Any]:
    """Check ``path`` (unless a passing ``check`` is given) and upload it with the Together SDK.

    Returns {"id", "filename", "bytes", "kind", "format", "next"}. Raises UploadError.
    """
    path = Path(path)
    if not path.is_file():
        raise UploadError(f"no such file: {path}")
    if path.suffix != ".jsonl":
        raise UploadError(f"Together takes .jsonl files; rename {path.name} to end in .jsonl")
    report = check or check_file(path)
    if not report.ok:
        raise UploadError(f"{path} fails the check ({report.error_count} error(s)); run `repo-agent check {path}`")
    if report.format and report.format not in TOGETHER_FORMATS:
        raise UploadError(f"{path} is {report.format}; Together takes {' or '.join(TOGETHER_FORMATS)} files")
    if not os.environ.get("TOGETHER_API_KEY"):
        raise UploadError("TOGETHER_API_KEY is not set: export TOGETHER_API_KEY=... and run again")
    try:
        from together import Together

        client = Together(base_url=base_url) if base_url else Together()
        resp = client.files.upload(file=path, purpose="fine-tune", check=True)
    except Exception as exc:  # the SDK raises many types; say what happened in one line
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UploadError(f"upload failed: {type(exc).__name__}: {msg[:300]}") from None
    kind = kind_of(report.format) if report.format else _kind_of_file(path)
    return {
        "id": resp.id,
        "filename": resp.filename,
        "bytes": resp.bytes,
        "kind": kind,
        "format": report.format,
        "next": fine_tune_command(resp.id, kind),
    }
