"""``trl-sft``: TRL's conversational SFT: ``messages``, or ``prompt`` + ``completion`` for one trained turn."""

from __future__ import annotations

from typing import Any, ClassVar

from exports.formats.spec import ExportFormat
from exports.layouts import SftExample, has_object_arguments, trl_message
from exports.models import Msg, Record
from exports.rules import TRL_MESSAGE_KEYS, FormatRules

RULES = FormatRules(
    kind="sft",
    top=(frozenset({"messages"}), frozenset({"tools"})),
    message_keys=TRL_MESSAGE_KEYS,
    prompt_completion=True,
    arguments_object=True,
)


class TrlSft(Record):
    """Either ``messages`` (whole conversation) or ``prompt`` + ``completion`` (loss on the
    completion only: how TRL trains one step without weights)."""

    FORMAT: ClassVar[str] = "trl-sft"
    RULES: ClassVar[FormatRules] = RULES
    messages: list[Msg] | None = None
    prompt: list[Msg] | None = None
    completion: list[Msg] | None = None
    tools: list[Msg] | None = None


def line(ex: SftExample) -> dict[str, Any] | None:
    # TRL has no per-message weight: a fully trained conversation is `messages`; one
    # trained turn is prompt-completion (loss on the completion only); more than one
    # trained turn beside masked ones cannot be written (None: the caller skips it).
    weights = [m.get("weight", 1) for m in ex.messages if m["role"] == "assistant"]
    target = ex.meta.get("target_index") if ex.style == "trajectory" else len(ex.messages) - 1
    if ex.style == "trajectory" and all(w == 1 for w in weights):
        out: dict[str, Any] = {"messages": [trl_message(m) for m in ex.messages]}
    elif target is not None:
        out = {
            "prompt": [trl_message(m) for m in ex.messages[:target]],
            "completion": [trl_message(ex.messages[target])],
        }
    else:
        return None
    if ex.tools:
        out["tools"] = ex.tools
    return out


def detect(obj: dict[str, Any]) -> bool:
    if "completion" in obj:
        return True
    return "messages" in obj and "parallel_tool_calls" not in obj and has_object_arguments(obj.get("messages"))


FORMAT = ExportFormat(
    name="trl-sft",
    layout="trl",
    kind="sft",
    rank=50,
    detect_rank=40,
    family="messages",
    rules=RULES,
    model=TrlSft,
    line=line,
    detect=detect,
    doc="`messages` + `tools` with `arguments` as objects; one trained turn as `prompt` + `completion`",
    mixes=frozenset({"messages", "prompt-completion"}),
    cannot_say="trl_no_weights",
)
