"""The base of the training-file formats' pydantic models (``extra="forbid"``; each format's own is in its file).

Each model runs the rule walker (exports.rules.rule_errors) over its format's rules before
field validation, so a record the exporter builds obeys exactly the rules ``repo-agent
check`` enforces.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from exports.rules import Errors, FormatRules, rule_errors


class RecordError(ValueError):
    """A record breaks its format's rules; ``errors`` names them."""

    def __init__(self, fmt: str, errors: Errors):
        self.fmt = fmt
        self.errors = errors
        shown = "; ".join(f"{r}: {d}" for r, d in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{fmt} record breaks {len(errors)} rule(s): {shown}{more}")


class Record(BaseModel):
    """Base of the format models: unknown keys are refused; the rule walker runs first."""

    model_config = ConfigDict(extra="forbid")
    FORMAT: ClassVar[str]
    RULES: ClassVar[FormatRules]

    @model_validator(mode="before")
    @classmethod
    def _rules(cls, data: Any) -> Any:
        errs = rule_errors(cls.RULES, data)
        if errs:
            raise RecordError(cls.FORMAT, errs)
        return data

    def line(self) -> str:
        return json.dumps(self.model_dump(exclude_none=True), ensure_ascii=False, separators=(",", ":"))


Msg = dict[str, Any]


class PreferenceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[Msg]
    tools: list[Msg] | None = None
    parallel_tool_calls: bool | None = None


def validate_record(model: type[Record], data: dict) -> Record:
    """Build ``model`` from ``data``; raises RecordError naming every broken rule."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            err = (e.get("ctx") or {}).get("error")
            if isinstance(err, RecordError):
                raise err from None
        raise RecordError(model.FORMAT, [("type", str(exc).splitlines()[0])]) from None
