"""``openai-dpo``: Together's DPO records plus ``input.parallel_tool_calls``."""

from __future__ import annotations

from typing import Any, ClassVar

from exports.formats.spec import ExportFormat
from exports.formats.together_dpo import DPO_KEYS, TogetherDpo
from exports.layouts import DpoExample, input_dpo_line
from exports.rules import WEIGHTED_MESSAGE_KEYS, FormatRules

RULES = FormatRules(
    kind="dpo",
    top=(DPO_KEYS, frozenset()),
    message_keys=WEIGHTED_MESSAGE_KEYS,
    input=(frozenset({"messages"}), frozenset({"tools", "parallel_tool_calls"})),
)


class OpenAIDpo(TogetherDpo):
    FORMAT: ClassVar[str] = "openai-dpo"
    RULES: ClassVar[FormatRules] = RULES


def line(ex: DpoExample) -> dict[str, Any]:
    return input_dpo_line(ex, parallel_tool_calls=True)


def detect(obj: dict[str, Any]) -> bool:
    inp = obj.get("input")
    return not DPO_KEYS.isdisjoint(obj) and isinstance(inp, dict) and "parallel_tool_calls" in inp


FORMAT = ExportFormat(
    name="openai-dpo",
    layout="openai",
    kind="dpo",
    rank=40,
    detect_rank=10,
    family="input",
    rules=RULES,
    model=OpenAIDpo,
    line=line,
    detect=detect,
    doc="as `together-dpo`, plus `input.parallel_tool_calls`",
)
