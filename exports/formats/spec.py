"""What a training-file format is: one `ExportFormat` descriptor per file of this package."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from exports.layouts import DpoExample, SftExample
from exports.models import Record, validate_record
from exports.rules import Errors, FormatRules, rule_errors

E = TypeVar("E", DpoExample, SftExample)


@dataclass(frozen=True)
class ExportFormat(Generic[E]):
    """One format: ``layout`` is the ``--format`` choice, ``kind`` the export (sft, dpo).

    ``rank`` orders the formats where they are listed; ``detect_rank`` the order in which
    ``detect`` is asked of a line (the more specific first: the first yes names it).
    ``family`` is the top-level shape (formats of one family are told apart by their
    contents); ``mixes``, the line shapes one file may mix (TRL SFT: whole conversations
    and prompt-completion steps).
    """

    name: str
    layout: str
    kind: Literal["sft", "dpo"]
    rank: int
    detect_rank: int
    family: str
    rules: FormatRules
    model: type[Record]
    # The line of one neutral example; None when this format cannot say it (the export skips it).
    line: Callable[[E], dict[str, Any] | None]
    detect: Callable[[dict[str, Any]], bool]
    doc: str  # one line for the docs table (docs/exports.md)
    mixes: frozenset[str] = field(default_factory=frozenset)
    # Why an example this format cannot say (``line`` gave None) is skipped, as the report counts it.
    cannot_say: str = "cannot_say"
    together: bool = False  # Together's fine-tuning takes this format (upload, finetune)

    def line_family(self, obj: dict[str, Any]) -> str:
        """The shape of one line of this format."""
        return "prompt-completion" if self.rules.prompt_completion and "completion" in obj else self.family

    def errors(self, obj: Any) -> Errors:
        """Every rule ``obj`` breaks as a line of this format."""
        return rule_errors(self.rules, obj)

    def validate(self, data: dict[str, Any]) -> Record:
        """The record model built from ``data``; raises RecordError naming every broken rule."""
        return validate_record(self.model, data)
