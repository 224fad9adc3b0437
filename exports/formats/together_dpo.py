"""``together-dpo``: ``input`` (messages, tools) and one preferred and one non-preferred output."""

from __future__ import annotations

from typing import Any, ClassVar

from exports.formats.spec import ExportFormat
from exports.layouts import DpoExample, input_dpo_line
from exports.models import Msg, PreferenceInput, Record
from exports.rules import WEIGHTED_MESSAGE_KEYS, FormatRules

DPO_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})

RULES = FormatRules(
    kind="dpo",
    top=(DPO_KEYS, frozenset()),
    message_keys=WEIGHTED_MESSAGE_KEYS,
    input=(frozenset({"messages"}), frozenset({"tools"})),
)


class TogetherDpo(Record):
    FORMAT: ClassVar[str] = "together-dpo"
    RULES: ClassVar[FormatRules] = RULES
    input: PreferenceInput
    preferred_output: list[Msg]
    non_preferred_output: list[Msg]


def line(ex: DpoExample) -> dict[str, Any]:
    return input_dpo_line(ex, parallel_tool_calls=False)


def detect(obj: dict[str, Any]) -> bool:
    return not DPO_KEYS.isdisjoint(obj)


FORMAT = ExportFormat(
    name="together-dpo",
    layout="together",
    kind="dpo",
    rank=20,
    detect_rank=20,
    family="input",
    rules=RULES,
    model=TogetherDpo,
    line=line,
    detect=detect,
    together=True,
    doc="`input` (`messages`, `tools`), `preferred_output` and `non_preferred_output`: one assistant message each",
)
