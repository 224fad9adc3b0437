"""Neutral examples, and what the formats' line builders share (each format's own is in exports/formats/).

Messages are cleaned to the keys the formats allow (role, content, tool_calls,
tool_call_id, weight). A tool call whose recorded arguments do not parse to a JSON
object (the model sent broken JSON; the agent answered with an error) cannot be written
as Together requires, so its arguments become ``{"_unparsed_arguments": "<raw>"}``: the
conversation keeps its shape, the call stays visibly wrong, and such a step is never a
trained target (it is invalid). ``Repairs`` counts these.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

UNPARSED_KEY = "_unparsed_arguments"


@dataclass
class Repairs:
    unparsed_arguments: int = 0


@dataclass
class DpoExample:
    task_id: str
    prompt: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    chosen: dict[str, Any]  # one assistant message
    rejected: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SftExample:
    task_id: str
    messages: list[dict[str, Any]]  # assistant messages carry "weight" (0 or 1)
    tools: list[dict[str, Any]]
    style: str = "trajectory"  # trajectory | step
    meta: dict[str, Any] = field(default_factory=dict)


def clean_message(m: dict[str, Any], repairs: Repairs | None = None) -> dict[str, Any]:
    role = m.get("role")
    out: dict[str, Any] = {"role": role}
    content = m.get("content")
    if isinstance(content, list):  # content parts: keep the text
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content is not None:
        out["content"] = content if isinstance(content, str) else str(content)
    elif role != "assistant":
        out["content"] = ""
    if role == "assistant" and m.get("tool_calls"):
        out["tool_calls"] = [_clean_call(tc, repairs) for tc in m["tool_calls"]]
    if role == "tool":
        out["tool_call_id"] = m.get("tool_call_id")
    if "weight" in m and role == "assistant":
        out["weight"] = m["weight"]
    return out


def _clean_call(tc: dict[str, Any], repairs: Repairs | None) -> dict[str, Any]:
    fn = tc.get("function") or {}
    args = fn.get("arguments")
    if not isinstance(args, str):
        args = json.dumps(args if args is not None else {})
    try:
        ok = isinstance(json.loads(args), dict)
    except ValueError:
        ok = False
    if not ok:
        args = json.dumps({UNPARSED_KEY: args}, ensure_ascii=False)
        if repairs is not None:
            repairs.unparsed_arguments += 1
    return {"id": tc.get("id") or "", "type": "function", "function": {"name": fn.get("name") or "", "arguments": args}}


def cut(text: str, limit: int | None) -> str:
    if limit is None or limit <= 0 or len(text) <= limit:
        return text
    return text[:limit] + f"\n[... cut {len(text) - limit} chars]"


def trl_message(m: dict[str, Any]) -> dict[str, Any]:
    """TRL (Hugging Face chat templates) wants arguments as objects and no weights."""
    out = {k: v for k, v in m.items() if k != "weight"}
    if "tool_calls" in out:
        out["tool_calls"] = [
            {**tc, "function": {"name": tc["function"]["name"], "arguments": json.loads(tc["function"]["arguments"])}}
            for tc in out["tool_calls"]
        ]
    return out


def dpo_output(m: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in m.items() if k != "weight"}
    out.setdefault("content", "")  # DPO outputs carry a content string (former Together checker)
    return out


def input_dpo_line(ex: DpoExample, *, parallel_tool_calls: bool) -> dict[str, Any]:
    """A DPO line with the prompt in ``input`` (Together; OpenAI adds ``parallel_tool_calls``)."""
    inp: dict[str, Any] = {"messages": ex.prompt}
    if ex.tools:
        inp["tools"] = ex.tools
    if parallel_tool_calls:
        inp["parallel_tool_calls"] = True
    return {
        "input": inp,
        "preferred_output": [dpo_output(ex.chosen)],
        "non_preferred_output": [dpo_output(ex.rejected)],
    }


def messages_sft_line(ex: SftExample, *, parallel_tool_calls: bool) -> dict[str, Any]:
    """An SFT line of weighted ``messages`` (Together; OpenAI adds ``parallel_tool_calls``)."""
    line: dict[str, Any] = {"messages": ex.messages}
    if ex.tools:
        line["tools"] = ex.tools
    if parallel_tool_calls:
        line["parallel_tool_calls"] = True
    return line


def has_object_arguments(messages: Any) -> bool:
    """Some tool call's arguments are an object, not a JSON string (how TRL's messages look)."""
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
