"""Every training-file format, found in the `exports.formats` package rather than listed.

Each module of the package that declares ``FORMAT`` (an `ExportFormat`) is one format.
The names (``FORMATS``), the ``--format`` choices (``LAYOUTS``), telling a line's format,
the checker's rules and models, and the docs table (docs/exports.md) all read them.
"""

from __future__ import annotations

from typing import Any

from agent.descriptors import discover
from exports.formats.spec import ExportFormat
from exports.models import Record


class UnknownFormat(ValueError):
    """A format name no module of exports/formats/ declares."""


def discover_formats(package: str = "exports.formats") -> tuple[ExportFormat[Any], ...]:
    """The formats declared in ``package``'s modules, by rank (a shared name or rank: an error)."""
    return discover(package, "FORMAT", ExportFormat, "format")


ALL: tuple[ExportFormat[Any], ...] = discover_formats()
FORMATS: tuple[str, ...] = tuple(f.name for f in ALL)
LAYOUTS: tuple[str, ...] = tuple(dict.fromkeys(f.layout for f in ALL))  # the --format choices, in order
_BY_NAME = {f.name: f for f in ALL}
_DETECT_ORDER = sorted(ALL, key=lambda f: f.detect_rank)
MODELS: dict[str, type[Record]] = {f.name: f.model for f in ALL}
TOGETHER_FORMATS: tuple[str, ...] = tuple(f.name for f in ALL if f.together)  # what Together fine-tunes on


def format_named(name: str) -> ExportFormat[Any]:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownFormat(f"unknown format {name!r} (use {', '.join(FORMATS)})") from None


def format_for(layout: str, kind: str) -> ExportFormat[Any]:
    """The format of a ``--format`` choice and an export kind (sft, dpo)."""
    return format_named(f"{layout}-{kind}")


def kind_of(fmt: str) -> str:
    """The kind (sft, dpo) of a format name; a name from elsewhere (a sidecar) is read as LAYOUT-KIND."""
    known = _BY_NAME.get(fmt)
    return known.kind if known else fmt.split("-")[1]


def detect_format(obj: Any) -> str | None:
    """The format a line's top-level keys name, or None."""
    if not isinstance(obj, dict):
        return None
    for fmt in _DETECT_ORDER:
        if fmt.detect(obj):
            return fmt.name
    return None


def line_family(obj: dict) -> str | None:
    """The shape of one line, as the format it names says it (None: it names none)."""
    name = detect_format(obj)
    return format_named(name).line_family(obj) if name else None


def validate_record(fmt: str, data: dict) -> Record:
    """Build format ``fmt``'s model from ``data``; raises RecordError naming every broken rule."""
    return format_named(fmt).validate(data)


def format_table() -> str:
    """The formats as the Markdown table of docs/exports.md (a test keeps the page in step)."""
    rows = ["| `--format` | kind | `check --format` | a line holds |", "|---|---|---|---|"]
    rows += [f"| `{f.layout}` | {f.kind.upper()} | `{f.name}` | {f.doc} |" for f in ALL]
    return "\n".join(rows)
