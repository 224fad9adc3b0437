"""Check a training file line by line against its format (``repo-agent check``).

The file must be UTF-8, not empty, one JSON object per line, all lines of one format
(detected from the first line unless given). Every broken rule of every line is named
with its 1-based line number; nothing stops at the first error.
"""

from __future__ import annotations

import json
import os
import stat
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict, computed_field

from agent.trace_io import NotRegularFile, open_regular
from agent.untrusted import neutralise_line
from exports.formats.registry import detect_format, format_named, line_family

MAX_ERRORS = 10_000  # a wholly wrong file stops being listed here (the count goes on)
MAX_LINE_BYTES = 64 * 1024 * 1024  # one example line; a longer one is reported, not read


class CheckError(BaseModel):
    model_config = ConfigDict(frozen=True)
    line: int  # 1-based; 0 for the file as a whole
    rule: str
    detail: str

    def render(self, path: str | Path) -> str:
        # Details quote the file's own keys and values: shown with controls as visible escapes.
        return neutralise_line(f"{path}:{self.line}: {self.rule}: {self.detail}", markup=False)


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


def check_file(path: str | Path, fmt: str | None = None) -> CheckReport:
    """Check ``path`` as ``fmt`` (a name in exports.formats.registry.FORMATS) or as the format its first line names."""
    path = Path(path)
    given = format_named(fmt) if fmt is not None else None  # UnknownFormat names the formats
    report = CheckReport(path=str(path), format=fmt)
    errs = report.errors

    def add(line: int, rule: str, detail: str) -> None:
        report.error_count += 1
        if len(errs) < MAX_ERRORS:
            errs.append(CheckError(line=line, rule=rule, detail=detail))

    fam: str | None = given.family if given else None
    dup_keys: list[str] = []
    decoder = _decoder(dup_keys)
    no = 0
    seen_text = False
    with _open_checked(path) as f:
        while raw_bytes := f.readline(MAX_LINE_BYTES + 1):
            no += 1
            if len(raw_bytes) > MAX_LINE_BYTES and not raw_bytes.endswith(b"\n"):
                add(no, "line-too-long", f"longer than {MAX_LINE_BYTES >> 20} MiB: not read")
                _skip_line(f)
                report.lines += 1
                seen_text = True
                continue
            try:
                raw = raw_bytes.decode("utf-8")
            except UnicodeDecodeError as exc:
                add(no, "utf8", f"byte {exc.start} of the line is not UTF-8 ({exc.reason})")
                return report
            if raw.endswith("\n"):
                raw = raw[:-1]
            if not raw.strip():
                if raw_bytes.endswith(b"\n") or raw:
                    add(no, "blank-line", "blank line")
                continue
            seen_text = True
            report.lines += 1
            dup_keys.clear()
            try:
                obj = decoder.decode(raw)
            except ValueError as exc:
                why = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
                add(no, "json", f"not valid JSON ({why})")
                continue
            except RecursionError:
                add(no, "json", "not valid JSON (nested too deep)")
                continue
            if dup_keys:
                shown = ", ".join(repr(k) for k in dict.fromkeys(dup_keys))
                add(no, "duplicate-key", f"key {shown} appears twice in one object (readers keep only the last)")
            fam = _check_line(report, obj, no, fam, add)
    if not seen_text:
        report.errors.clear()
        report.error_count = 0
        add(0, "empty-file", "the file holds no examples")
    return report


def _check_line(
    report: CheckReport, obj: object, no: int, fam: str | None, add: Callable[[int, str, str], None]
) -> str | None:
    """Check one parsed line; returns the file's family (set by the first line that names a format)."""
    if not isinstance(obj, dict):
        add(no, "not-object", f"a line is a JSON object, got {type(obj).__name__}")
        return fam
    if report.format is None:
        found = detect_format(obj)
        if found is None:
            add(no, "unknown-format", f"keys {sorted(obj)} name no known format")
            return fam
        report.format, report.detected = found, True
        fam = line_family(obj)
    this = line_family(obj)
    fmt = format_named(report.format)
    if this is not None and fam is not None and this != fam and this not in fmt.mixes:
        add(no, "mixed-formats", f"this line is {this!r}-shaped, the file is {report.format}")
        return fam
    for rule, detail in fmt.errors(obj):
        add(no, rule, detail)
    return fam


def _decoder(dup_keys: list[str]) -> json.JSONDecoder:
    """JSON with duplicate keys recorded (a reader keeps the last silently) and no NaN/Infinity."""

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in items:
            if k in out:
                dup_keys.append(k)
            out[k] = v
        return out

    def constant(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.JSONDecoder(object_pairs_hook=pairs, parse_constant=constant)


class UnreadableFile(ValueError):
    """The path is not a regular file (a FIFO, a device, a directory) or cannot be opened."""


def _open_checked(path: Path) -> BinaryIO:
    try:
        return open_regular(path, follow=True)
    except NotRegularFile:
        raise UnreadableFile(f"{neutralise_line(path, markup=False)}: {_kind(path)}, not a file of examples") from None
    except FileNotFoundError:
        raise UnreadableFile(f"no such file: {neutralise_line(path, markup=False)}") from None
    except OSError as exc:
        raise UnreadableFile(f"{neutralise_line(path, markup=False)}: cannot read ({exc.strerror or exc})") from None


def _kind(path: Path) -> str:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "not a regular file"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _skip_line(f: BinaryIO) -> None:
    while block := f.readline(1 << 20):
        if block.endswith(b"\n"):
            return


def render_report(report: CheckReport, *, limit: int | None = None) -> list[str]:
    """One ``FILE:LINE: rule: detail`` line per error (up to ``limit``)."""
    shown = report.errors if limit is None else report.errors[:limit]
    return [e.render(report.path) for e in shown]
