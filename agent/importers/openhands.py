"""OpenHands: the event list of ``save_trajectory_path`` and evaluation ``output.jsonl`` rows.

Events are actions (``action`` + ``args``) and observations (``observation`` + ``content`` +
``extras``, ``cause`` the action's id). Function-calling agents attach ``tool_call_metadata``
with the model response, from which the assistant message (content and native tool calls)
is taken as sent; the observation answering a call becomes its ``tool`` message. The
``system`` action carries the system prompt and the tools. Older histories (no tool
metadata, flat fields) keep the command as a text action and observations as user
messages. ``output.jsonl`` rows add instance_id, ``test_result.git_patch`` and, once
evaluated, ``report.resolved`` (top level or under test_result); the resolver's ``success``
is an LLM's judgement, not an evaluation, and is not taken as a verdict.
"""

from __future__ import annotations

import json
from datetime import datetime
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
    clean_tools,
    dict_at,
    list_at,
    message,
    repair_tool_answers,
    text_of,
)

name = "openhands"

# Observations that never reach the model as a message of their own.
_SILENT = {"agent_state_changed", "null", "recall", "condensation", "user_rejected", "", None}
_SKIP_ACTIONS = {"recall", "change_agent_state", "condensation", "null", "think_summary", None}


def _is_event(e: Any) -> bool:
    return isinstance(e, dict) and ("action" in e or "observation" in e)


def sniff(path: Path, data: Any) -> bool:
    if not isinstance(data, list) or not data:
        return False
    if all(isinstance(r, dict) and isinstance(r.get("history"), list) for r in data):
        return True  # output.jsonl rows
    return all(_is_event(e) for e in data)


def read(path: Path, data: Any, verdicts: Verdicts) -> ImportedFile:
    if all(isinstance(r, dict) and "history" in r for r in data):
        return _read_output(path, data, verdicts)
    task_id = path.stem
    r = _rollout(data, task_id, task_id)
    r.passed = verdicts.lookup(path.parent, task_id)
    return ImportedFile(path, name, path.parent, path.parent.name, [r])


def _read_output(path: Path, rows: list[dict[str, Any]], verdicts: Verdicts) -> ImportedFile:
    out, notes = [], []
    seen: dict[str, int] = {}
    suite = path.parent.name
    for i, row in enumerate(rows, 1):
        iid = row.get("instance_id")
        if not isinstance(iid, str):
            issue = dict_at(row, "issue")
            iid = f"{issue.get('owner', '')}__{issue.get('repo', '')}-{issue.get('number', i)}".strip("_")
        try:
            r = _rollout(row["history"], iid, f"{iid}__{seen.get(iid, 0)}" if iid in seen else iid)
        except BrokenFile as exc:
            notes.append(f"row {i} ({iid}): {exc}")
            continue
        seen[iid] = seen.get(iid, 0) + 1
        test_result = dict_at(row, "test_result")
        r.patch = clean_patch(test_result.get("git_patch") or row.get("git_patch")) or r.patch
        r.passed = _resolved(row)
        if r.passed is None:
            r.passed = verdicts.lookup(path.parent, iid)
        meta = dict_at(row, "metadata")
        llm = dict_at(meta, "llm_config")
        r.model = str(llm.get("model") or r.model)
        metrics = dict_at(row, "metrics")
        usage = metrics.get("accumulated_token_usage")
        if isinstance(usage, dict):
            r.tokens_in, r.tokens_out = as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens"))
        if metrics.get("accumulated_cost") is not None:
            r.cost_usd = as_float(metrics.get("accumulated_cost"))
        if row.get("error"):
            r.exit_status = "error"
        suite = str(meta.get("dataset") or suite)
        out.append(r)
    if not out:
        raise BrokenFile("; ".join(notes) or "no rows")
    return ImportedFile(path, name, path, suite, out, notes)


def _resolved(row: dict[str, Any]) -> bool | None:
    for holder in (row.get("report"), (row.get("test_result") or {}).get("report")):
        if isinstance(holder, dict) and isinstance(holder.get("resolved"), bool):
            return holder["resolved"]
    return None


def _rollout(events: Any, task_id: str, key: str) -> ImportedRollout:
    if not isinstance(events, list) or not events:
        raise BrokenFile("empty event list")
    messages: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    text_actions: dict[int, list[TextAction]] = {}
    failed: set[str] = set()
    responses: set[str] = set()
    summary, model, exit_status = "", "", ""
    tokens_in = tokens_out = 0
    stamps: list[float] = []
    step_usage: dict[int, tuple[int, int]] = {}
    step = 0
    for e in events:
        if not _is_event(e):
            raise BrokenFile("an event has neither action nor observation")
        args = dict_at(e, "args", e)  # older histories are flat
        meta = dict_at(e, "tool_call_metadata", None)
        if ts := _ts(e.get("timestamp")):
            stamps.append(ts)
        if "observation" in e:
            if meta and meta.get("tool_call_id"):
                messages.append(message("tool", e.get("content"), tool_call_id=meta["tool_call_id"]))
                if e["observation"] == "error":
                    failed.add(str(meta["tool_call_id"]))
            elif e["observation"] not in _SILENT and step:
                messages.append(message("user", e.get("content") or e.get("message")))
            continue
        action = e.get("action")
        if action == "system":
            messages.append(message("system", args.get("content") or e.get("message")))
            tools = clean_tools(args.get("tools"))
            continue
        if action in _SKIP_ACTIONS:
            continue
        if action == "finish":
            summary = str(args.get("final_thought") or args.get("thought") or e.get("message") or "")
            exit_status = "finished"
        if e.get("source", "agent") == "user" and action == "message":
            messages.append(message("user", args.get("content") or e.get("message")))
            continue
        if meta:
            resp = dict_at(meta, "model_response")
            rid = str(resp.get("id") or meta.get("tool_call_id"))
            if rid in responses:
                continue  # one model response, several actions: its message is already in
            responses.add(rid)
            step += 1
            model = str(resp.get("model") or model)
            usage = dict_at(resp, "usage")
            step_usage[step] = (as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens")))
            tokens_in += step_usage[step][0]
            tokens_out += step_usage[step][1]
            choices = list_at(resp, "choices")
            msg = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
            if isinstance(msg, dict) and (msg.get("tool_calls") or msg.get("content")):
                messages.append(message("assistant", msg.get("content"), tool_calls=msg.get("tool_calls")))
            else:  # no stored response: the call as OpenHands recorded it
                call_args = {k: v for k, v in args.items() if k != "thought"}
                call = {
                    "id": meta.get("tool_call_id"),
                    "function": {"name": meta.get("function_name"), "arguments": json.dumps(call_args)},
                }
                messages.append(message("assistant", args.get("thought"), tool_calls=[call]))
            continue
        # an agent message, or an older text action (the command the model wrote, parsed)
        step += 1
        content = args.get("content") if action == "message" else (args.get("thought") or e.get("message"))
        messages.append(message("assistant", content if content is not None else ""))
        cmd = args.get("command") or args.get("code")
        if action not in ("message", "finish") and isinstance(cmd, str) and cmd.strip():
            text_actions[step] = [TextAction(str(action), cmd.strip())]
    if not any(m["role"] == "assistant" for m in messages):
        raise BrokenFile("no agent turn")
    for m in messages:  # the training format needs string content on an assistant turn without calls
        if m["role"] == "assistant" and m["content"] is None and not m.get("tool_calls"):
            m["content"] = ""
    return ImportedRollout(
        task_id=task_id,
        rollout_key=key,
        messages=repair_tool_answers(_user_first(messages)),
        tools=tools,
        model=model,
        summary=summary or text_of(None),
        exit_status=exit_status,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        duration_s=round(max(stamps) - min(stamps), 4) if stamps else 0.0,
        started_ts=min(stamps) if stamps else None,
        text_actions=text_actions,
        failed_calls=failed,
        step_usage=step_usage,
    )


def _user_first(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the system message first, as OpenHands sends it, even if an event came earlier."""
    sys = [m for m in messages if m["role"] == "system"][:1]
    return sys + [m for m in messages if m["role"] != "system"] if sys else messages


def _ts(v: Any) -> float | None:
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return datetime.fromisoformat(v).timestamp()
        except ValueError:
            return None
    return None
