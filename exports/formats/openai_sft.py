"""``openai-sft``: Together's SFT records plus ``parallel_tool_calls``."""

from __future__ import annotations

from typing import Any, ClassVar

from exports.formats.spec import ExportFormat
from exports.layouts import SftExample, messages_sft_line
from exports.models import Msg, Record
from exports.rules import WEIGHTED_MESSAGE_KEYS, FormatRules

RULES = FormatRules(
    kind="sft",
    top=(frozenset({"messages"}), frozenset({"tools", "parallel_tool_calls"})),
    message_keys=WEIGHTED_MESSAGE_KEYS,
)


class OpenAISft(Record):
    FORMAT: ClassVar[str] = "openai-sft"
    RULES: ClassVar[FormatRules] = RULES
    messages: list[Msg]
    tools: list[Msg] | None = None
    parallel_tool_calls: bool | None = None


def line(ex: SftExample) -> dict[str, Any]:
    return messages_sft_line(ex, parallel_tool_calls=True)


def detect(obj: dict[str, Any]) -> bool:
    return "messages" in obj and "parallel_tool_calls" in obj


FORMAT = ExportFormat(
    name="openai-sft",
    layout="openai",
    kind="sft",
    rank=30,
    detect_rank=50,
    family="messages",
    rules=RULES,
    model=OpenAISft,
    line=line,
    detect=detect,
    doc="as `together-sft`, plus `parallel_tool_calls`",
)
