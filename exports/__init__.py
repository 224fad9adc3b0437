"""exports: the label store -> training files (SFT, DPO) for Together, OpenAI and TRL.

Public API (the studio's Export screen and `repo-agent export/check/upload/prefs` use it):

    export_dpo(store, out, DpoOptions(...), dry_run=False, progress=None) -> ExportReport
    export_sft(store, out, SftOptions(...), dry_run=False, progress=None) -> ExportReport
    check_file(path, fmt=None) -> CheckReport(format, lines, errors=[CheckError(line, rule, detail)])
    upload_command(report_or_path) -> str

A library: it never prints; progress goes to ``progress(stage, done, total)``.
"""

from exports.check import CheckError, CheckReport, check_file, render_report
from exports.export import export_dpo, export_sft
from exports.formats.registry import FORMATS, detect_format, validate_record
from exports.models import RecordError
from exports.options import DpoOptions, ExportError, ExportReport, SftOptions
from exports.rules import RULES
from exports.upload import UploadError, fine_tune_command, upload_command, upload_file

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
