"""``together-sft``: weighted ``messages`` and ``tools``, Together's conversational SFT format."""

from __future__ import annotations

from typing import Any, ClassVar

from exports.formats.spec import ExportFormat
from exports.layouts import SftExample, messages_sft_line
from exports.models import Msg, Record
from exports.rules import WEIGHTED_MESSAGE_KEYS, FormatRules

RULES = FormatRules(kind="sft", top=(frozenset({"messages"}), frozenset({"tools"})), message_keys=WEIGHTED_MESSAGE_KEYS)


class TogetherSft(Record):
    FORMAT: ClassVar[str] = "together-sft"
    RULES: ClassVar[FormatRules] = RULES
    messages: list[Msg]
    tools: list[Msg] | None = None


def line(ex: SftExample) -> dict[str, Any]:
    return messages_sft_line(ex, parallel_tool_calls=False)


def detect(obj: dict[str, Any]) -> bool:
    return "messages" in obj


FORMAT = ExportFormat(
    name="together-sft",
    layout="together",
    kind="sft",
    rank=10,
    detect_rank=60,
    family="messages",
    rules=RULES,
    model=TogetherSft,
    line=line,
    detect=detect,
    together=True,
    doc="`messages` (assistant turns carry `weight` 0 or 1) and `tools`; `arguments` JSON strings",
)
