"""Training-file formats: Together, OpenAI and TRL, SFT and DPO (docs/ARCHITECTURE.md, Exports).

The format names, and telling a line's format from its keys. What each format allows is
in exports/rules.py (the named rules and the one walker that checks them); the pydantic
models that run the walker are in exports/models.py.
"""

from __future__ import annotations

from typing import Any, Literal

FORMATS: tuple[str, ...] = (
    "together-sft",
    "together-dpo",
    "openai-sft",
    "openai-dpo",
    "trl-sft",
    "trl-dpo",
)
Layout = Literal["together", "openai", "trl"]


def layout_of(fmt: str) -> str:
    return fmt.split("-")[0]


def kind_of(fmt: str) -> str:
    return fmt.split("-")[1]


def fmt_name(layout: str, kind: str) -> str:
    return f"{layout}-{kind}"


def detect_format(obj: Any) -> str | None:
    """The format a line's top-level keys name, or None."""
    if not isinstance(obj, dict):
        return None
    keys = set(obj)
    if "input" in keys or "preferred_output" in keys or "non_preferred_output" in keys:
        inp = obj.get("input")
        return "openai-dpo" if isinstance(inp, dict) and "parallel_tool_calls" in inp else "together-dpo"
    if "chosen" in keys or "rejected" in keys:
        return "trl-dpo"
    if "completion" in keys:
        return "trl-sft"
    if "messages" in keys:
        if "parallel_tool_calls" in keys:
            return "openai-sft"
        return "trl-sft" if _has_object_arguments(obj.get("messages")) else "together-sft"
    return None


def family(fmt: str) -> str:
    """The top-level shape: formats of one family can only be told apart by their contents."""
    return {
        "together-sft": "messages",
        "openai-sft": "messages",
        "trl-sft": "messages",
        "together-dpo": "input",
        "openai-dpo": "input",
        "trl-dpo": "prompt",
    }[fmt]


def line_family(obj: dict) -> str | None:
    fmt = detect_format(obj)
    if fmt is None:
        return None
    if fmt == "trl-sft" and "completion" in obj:
        return "prompt-completion"
    return family(fmt)


def _has_object_arguments(messages: Any) -> bool:
    if not isinstance(messages, list):
        return False
    for m in messages:
        if isinstance(m, dict) and isinstance(m.get("tool_calls"), list):
            for tc in m["tool_calls"]:
                if (
                    isinstance(tc, dict)
                    and isinstance(tc.get("function"), dict)
                    and isinstance(tc["function"].get("arguments"), dict)
                ):
                    return True
    return False
