"""Pydantic models of the training-file formats (one per format, ``extra="forbid"``).

Each model runs the rule walker (exports.rules.rule_errors) before field validation,
so a record the exporter builds obeys exactly the rules ``repo-agent check`` enforces.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from exports.rules import Errors, rule_errors


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

    @model_validator(mode="before")
    @classmethod
    def _rules(cls, data: Any) -> Any:
        errs = rule_errors(cls.FORMAT, data)
        if errs:
            raise RecordError(cls.FORMAT, errs)
        return data

    def line(self) -> str:
        return json.dumps(self.model_dump(exclude_none=True), ensure_ascii=False, separators=(",", ":"))


Msg = dict[str, Any]


class TogetherSft(Record):
    FORMAT: ClassVar[str] = "together-sft"
    messages: list[Msg]
    tools: list[Msg] | None = None


class OpenAISft(Record):
    FORMAT: ClassVar[str] = "openai-sft"
    messages: list[Msg]
    tools: list[Msg] | None = None
    parallel_tool_calls: bool | None = None


class TrlSft(Record):
    """Either ``messages`` (whole conversation) or ``prompt`` + ``completion`` (loss on the
    completion only: how TRL trains one step without weights)."""

    FORMAT: ClassVar[str] = "trl-sft"
    messages: list[Msg] | None = None
    prompt: list[Msg] | None = None
    completion: list[Msg] | None = None
    tools: list[Msg] | None = None


class PreferenceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[Msg]
    tools: list[Msg] | None = None
    parallel_tool_calls: bool | None = None


class TogetherDpo(Record):
    FORMAT: ClassVar[str] = "together-dpo"
    input: PreferenceInput
    preferred_output: list[Msg]
    non_preferred_output: list[Msg]


class OpenAIDpo(TogetherDpo):
    FORMAT: ClassVar[str] = "openai-dpo"


class TrlDpo(Record):
    FORMAT: ClassVar[str] = "trl-dpo"
    prompt: list[Msg]
    chosen: list[Msg]
    rejected: list[Msg]
    tools: list[Msg] | None = None


MODELS: dict[str, type[Record]] = {
    m.FORMAT: m for m in (TogetherSft, OpenAISft, TrlSft, TogetherDpo, OpenAIDpo, TrlDpo)
}


def validate_record(fmt: str, data: dict) -> Record:
    """Build the format's model from ``data``; raises RecordError naming every broken rule."""
    try:
        return MODELS[fmt].model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            err = (e.get("ctx") or {}).get("error")
            if isinstance(err, RecordError):
                raise err from None
        raise RecordError(fmt, [("type", str(exc).splitlines()[0])]) from None
