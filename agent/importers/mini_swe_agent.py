"""mini-swe-agent ``.traj.json`` files.

v2 (``trajectory_format: mini-swe-agent-1.1``): ``{info, messages, trajectory_format}``.
Messages are OpenAI-shaped plus an ``extra`` dict: an assistant's parsed ``actions`` (text
models write a fenced command; tool-call models send native ``bash`` calls answered by
role ``tool`` messages), the raw response with its usage, and the cost. The run ends with
an exit message (role ``exit`` in the code, ``user`` with ``extra.exit_status`` in the docs)
holding the exit status and submission. Older files are the bare message list. Patches
may also sit in ``preds.json`` beside the run; verdicts come from ``--results``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agent.importers.base import (
    BrokenFile,
    ImportedFile,
    ImportedRollout,
    TextAction,
    Verdicts,
    as_float,
    as_int,
    clean_patch,
    dict_at,
    function_tool,
    message,
    repair_tool_answers,
    text_of,
)
from agent.importers.swe_agent import run_dir_of

name = "mini-swe-agent"

# The one tool a mini-swe-agent tool-call model is given (minisweagent.models.utils.actions_toolcall).
BASH_TOOL = function_tool(
    "bash",
    "Execute a bash command",
    {
        "type": "object",
        "properties": {"command": {"type": "string", "description": "The bash command to execute"}},
        "required": ["command"],
    },
)
# Text models: the fenced command the model is told to write (mini's action_regex, old and new).
_FENCE = re.compile(r"```(?:mswea_bash_command|bash)\s*\n(.*?)\n```", re.S)


def sniff(path: Path, data: Any) -> bool:
    if isinstance(data, dict):
        info = dict_at(data, "info")
        return isinstance(data.get("messages"), list) and (
            str(data.get("trajectory_format", "")).startswith("mini-swe-agent") or "mini_version" in info
        )
    return (
        isinstance(data, list)
        and path.name.endswith(".traj.json")
        and bool(data)
        and all(isinstance(m, dict) and "role" in m for m in data)
    )


def read(path: Path, data: Any, verdicts: Verdicts) -> ImportedFile:
    stem = path.name.removesuffix(".traj.json").removesuffix(".json")
    info = dict_at(data, "info")
    raw = data.get("messages") if isinstance(data, dict) else data
    if not raw:
        raise BrokenFile("no messages")
    run_dir = run_dir_of(path, stem)

    messages: list[dict[str, Any]] = []
    text_actions: dict[int, list[TextAction]] = {}
    exit_status, submission = str(info.get("exit_status") or ""), info.get("submission")
    tokens_in = tokens_out = 0
    stamps: list[float] = []
    step = 0
    step_usage: dict[int, tuple[int, int]] = {}
    native = False
    for m in raw:
        if not isinstance(m, dict):
            raise BrokenFile("a message is not an object")
        m = _from_responses_api(m)
        role = m.get("role")
        extra = dict_at(m, "extra")
        if isinstance(ts := as_float(extra.get("timestamp")), float):
            stamps.append(ts)
        if role == "exit" or (role == "user" and "exit_status" in extra):
            exit_status = str(extra.get("exit_status") or exit_status)
            submission = extra.get("submission", submission)
            continue  # the run's closing record, not a message the model saw
        if role not in ("system", "user", "assistant", "tool"):
            raise BrokenFile(f"a message has role {role!r}")
        if role == "assistant":
            step += 1
            calls = m.get("tool_calls")
            native |= bool(calls)
            messages.append(message("assistant", m.get("content"), tool_calls=calls))
            if not calls:
                acts = [a.get("command") for a in extra.get("actions") or [] if isinstance(a, dict)]
                if not acts and isinstance(m.get("content"), str):
                    acts = _FENCE.findall(m["content"])
                cmds = [a.strip() for a in acts if isinstance(a, str) and a.strip()]
                if cmds:
                    text_actions[step] = [TextAction(c.split()[0], c) for c in cmds]
            usage = (extra.get("response") or {}).get("usage") if isinstance(extra.get("response"), dict) else None
            usage = m.get("usage") if usage is None else usage
            if isinstance(usage, dict):
                usage = {
                    "prompt_tokens": usage.get("prompt_tokens", usage.get("input_tokens")),
                    "completion_tokens": usage.get("completion_tokens", usage.get("output_tokens")),
                }
                step_usage[step] = (as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens")))
                tokens_in += step_usage[step][0]
                tokens_out += step_usage[step][1]
        elif role == "tool":
            messages.append(message("tool", m.get("content"), tool_call_id=m.get("tool_call_id")))
        else:
            messages.append(message(role, m.get("content")))
    # Older runs end on an empty user message where the submission went: not a turn the model saw.
    while messages and messages[-1]["role"] == "user" and not messages[-1]["content"]:
        messages.pop()
    if not any(m["role"] == "assistant" for m in messages):
        raise BrokenFile("no assistant message")

    config = dict_at(info, "config")
    model = dict_at(config, "model")
    stats = dict_at(info, "model_stats")
    patch = clean_patch(submission) or clean_patch(verdicts.patch(run_dir, stem))
    rollout = ImportedRollout(
        task_id=stem,
        rollout_key=stem,
        messages=repair_tool_answers(messages),
        tools=[BASH_TOOL] if native else [],
        model=str(model.get("model_name") or ""),
        passed=verdicts.lookup(run_dir, stem),
        patch=patch,
        exit_status=exit_status,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost_usd=as_float(stats.get("instance_cost")),
        duration_s=round(max(stamps) - min(stamps), 4) if stamps else 0.0,
        started_ts=min(stamps) if stamps else None,
        text_actions=text_actions,
        step_usage=step_usage,
    )
    return ImportedFile(path, name, run_dir, run_dir.name, [rollout])


def _from_responses_api(m: dict[str, Any]) -> dict[str, Any]:
    """Responses-API models store the whole response as the assistant's turn (``output`` items:
    messages and ``function_call``s) and answer calls with ``function_call_output`` items: the
    same turns in chat shape, ``extra`` kept."""
    if m.get("type") == "function_call_output":
        return {"role": "tool", "tool_call_id": m.get("call_id"), "content": m.get("output"), "extra": m.get("extra")}
    if "role" in m or not isinstance(m.get("output"), list):
        return m
    texts, calls = [], []
    for item in m["output"]:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            texts.append(text_of(item.get("content")))
        elif item.get("type") == "function_call":
            calls.append(
                {
                    "id": item.get("call_id") or item.get("id"),
                    "function": {"name": item.get("name"), "arguments": item.get("arguments")},
                }
            )
    out = {
        "role": "assistant",
        "content": "\n".join(t for t in texts if t) or None,
        "extra": m.get("extra"),
        "usage": m.get("usage"),
    }
    if calls:
        out["tool_calls"] = calls
    return out
