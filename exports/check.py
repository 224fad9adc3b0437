"""Check a training file line by line against its format (``repo-agent check``).

The file must be UTF-8, not empty, one JSON object per line, all lines of one format
(detected from the first line unless given). Every broken rule of every line is named
with its 1-based line number; nothing stops at the first error.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, computed_field

from exports.formats import FORMATS, detect_format, family, line_family
from exports.rules import rule_errors

MAX_ERRORS = 10_000  # a wholly wrong file stops being listed here (the count goes on)


class CheckError(BaseModel):
    model_config = ConfigDict(frozen=True)
    line: int  # 1-based; 0 for the file as a whole
    rule: str
    detail: str

    def render(self, path: str | Path) -> str:
        return f"{path}:{self.line}: {self.rule}: {self.detail}"


class CheckReport(BaseModel):
    path: str
    format: str | None = None  # the format checked against (given or detected)
    detected: bool = False  # True when the format came from the first line
    lines: int = 0  # non-blank lines read
    errors: list[CheckError] = []
    error_count: int = 0  # may exceed len(errors) past MAX_ERRORS

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def by_rule(self) -> dict[str, int]:
        return dict(Counter(e.rule for e in self.errors))

    def bad_lines(self) -> int:
        return len({e.line for e in self.errors if e.line})


class UnknownFormat(ValueError):
    pass


def check_file(path: str | Path, fmt: str | None = None) -> CheckReport:
    """Check ``path`` as ``fmt`` (one of FORMATS) or as the format its first line names."""
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise UnknownFormat(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    report = CheckReport(path=str(path), format=fmt)
    errs = report.errors

    def add(line: int, rule: str, detail: str) -> None:
        report.error_count += 1
        if len(errs) < MAX_ERRORS:
            errs.append(CheckError(line=line, rule=rule, detail=detail))

    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        add(line, "utf8", f"byte {exc.start} is not UTF-8 ({exc.reason})")
        return report
    if not text.strip():
        add(0, "empty-file", "the file holds no examples")
        return report
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    fam: str | None = family(fmt) if fmt else None
    for no, raw in enumerate(lines, start=1):
        if not raw.strip():
            add(no, "blank-line", "blank line")
            continue
        report.lines += 1
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            why = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
            add(no, "json", f"not valid JSON ({why})")
            continue
        if not isinstance(obj, dict):
            add(no, "not-object", f"a line is a JSON object, got {type(obj).__name__}")
            continue
        if report.format is None:
            found = detect_format(obj)
            if found is None:
                add(no, "unknown-format", f"keys {sorted(obj)} name no known format")
                continue
            report.format, report.detected = found, True
            fam = line_family(obj)
        this = line_family(obj)
        if this is not None and fam is not None and this != fam and not _same_family(report.format, this):
            add(no, "mixed-formats", f"this line is {this!r}-shaped, the file is {report.format}")
            continue
        for rule, detail in rule_errors(report.format, obj):
            add(no, rule, detail)
    return report


def _same_family(fmt: str | None, this: str) -> bool:
    # trl-sft files may mix whole conversations and prompt/completion steps.
    return fmt == "trl-sft" and this in ("messages", "prompt-completion")


def render_report(report: CheckReport, *, limit: int | None = None) -> list[str]:
    """One ``FILE:LINE: rule: detail`` line per error (up to ``limit``)."""
    shown = report.errors if limit is None else report.errors[:limit]
    return [e.render(report.path) for e in shown]
