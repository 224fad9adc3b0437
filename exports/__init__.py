"""exports: the label store -> training files (SFT, DPO) for Together, OpenAI and TRL.

Public API (the studio's Export screen and `repo-agent export/check/upload/prefs` use it):

    export_dpo(store, out, DpoOptions(...), dry_run=False, progress=None) -> ExportReport
    export_sft(store, out, SftOptions(...), dry_run=False, progress=None) -> ExportReport
    check_file(path, fmt=None) -> CheckReport(format, lines, errors=[CheckError(line, rule, detail)])
    upload_command(report_or_path) -> str

A library: it never prints; progress goes to ``progress(stage, done, total)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exports.check import CheckError, CheckReport, check_file, render_report
    from exports.export import export_dpo, export_sft
    from exports.formats.registry import FORMATS, detect_format, validate_record
    from exports.models import RecordError
    from exports.options import DpoOptions, ExportError, ExportReport, SftOptions
    from exports.rules import RULES
    from exports.upload import UploadError, fine_tune_command, upload_command, upload_file

# Where each public name lives. A part is loaded when one of its names is first used, so
# reading exports.formats (the CLI's --format choices, when the parser is built) does not
# load the exporter (start-up time).
_WHERE = {
    "CheckError": "exports.check",
    "CheckReport": "exports.check",
    "check_file": "exports.check",
    "render_report": "exports.check",
    "export_dpo": "exports.export",
    "export_sft": "exports.export",
    "FORMATS": "exports.formats.registry",
    "detect_format": "exports.formats.registry",
    "validate_record": "exports.formats.registry",
    "RecordError": "exports.models",
    "DpoOptions": "exports.options",
    "ExportError": "exports.options",
    "ExportReport": "exports.options",
    "SftOptions": "exports.options",
    "RULES": "exports.rules",
    "UploadError": "exports.upload",
    "fine_tune_command": "exports.upload",
    "upload_command": "exports.upload",
    "upload_file": "exports.upload",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'exports' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "FORMATS",
    "RULES",
    "CheckError",
    "CheckReport",
    "DpoOptions",
    "ExportError",
    "ExportReport",
    "RecordError",
    "SftOptions",
    "UploadError",
    "check_file",
    "detect_format",
    "export_dpo",
    "export_sft",
    "fine_tune_command",
    "render_report",
    "upload_command",
    "upload_file",
    "validate_record",
]
