"""``trl-dpo``: TRL's conversational preference format: ``prompt``, ``chosen``, ``rejected``."""

from __future__ import annotations

from typing import Any, ClassVar

from exports.formats.spec import ExportFormat
from exports.layouts import DpoExample, dpo_output, trl_message
from exports.models import Msg, Record
from exports.rules import TRL_MESSAGE_KEYS, FormatRules

RULES = FormatRules(
    kind="dpo",
    top=(frozenset({"prompt", "chosen", "rejected"}), frozenset({"tools"})),
    message_keys=TRL_MESSAGE_KEYS,
    outputs=("chosen", "rejected"),
    arguments_object=True,
)


class TrlDpo(Record):
    FORMAT: ClassVar[str] = "trl-dpo"
    RULES: ClassVar[FormatRules] = RULES
    prompt: list[Msg]
    chosen: list[Msg]
    rejected: list[Msg]
    tools: list[Msg] | None = None


def line(ex: DpoExample) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt": [trl_message(m) for m in ex.prompt],
        "chosen": [trl_message(dpo_output(ex.chosen))],
        "rejected": [trl_message(dpo_output(ex.rejected))],
    }
    if ex.tools:
        out["tools"] = ex.tools
    return out


def detect(obj: dict[str, Any]) -> bool:
    return "chosen" in obj or "rejected" in obj


FORMAT = ExportFormat(
    name="trl-dpo",
    layout="trl",
    kind="dpo",
    rank=60,
    detect_rank=30,
    family="prompt",
    rules=RULES,
    model=TrlDpo,
    line=line,
    detect=detect,
    doc="`prompt`, `chosen`, `rejected` (one assistant message each) and `tools`; `arguments` as objects",
)
