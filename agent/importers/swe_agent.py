"""SWE-agent ``.traj`` files: one JSON object per instance.

``history`` is the conversation (role, content, message_type, is_demo; function-calling runs
add ``tool_calls`` and role ``tool`` messages with ``tool_call_ids``; older runs write the
command as text and keep it in ``action``). ``info`` holds submission, exit_status and
model_stats (a dict, or its Python repr in older files). ``replay_config`` (a dict, or its
JSON) names the model and, for function-calling runs, the tools' ``command_docs``, from
which the schemas SWE-agent sent are rebuilt. Resolved status is not in the file: it is
read from ``results.json`` beside the run or ``--results``.
"""

from __future__ import annotations

import re
from functools import lru_cache
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
    loose_json,
    message,
    reasoning_in,
    repair_tool_answers,
    text_of,
)

name = "swe-agent"


def sniff(path: Path, data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("history"), list)
        and ("trajectory" in data or "info" in data or path.suffix == ".traj")
        and "trajectory_format" not in data
    )


def run_dir_of(path: Path, stem: str) -> Path:
    """Newer runs keep each instance in its own folder (run/<id>/<id>.traj): the run is above it."""
    return path.parent.parent if path.parent.name == stem else path.parent


def read(path: Path, data: Any, verdicts: Verdicts) -> ImportedFile:
    stem = path.name.removesuffix(".traj").removesuffix(".json")
    history = [m for m in data["history"] if isinstance(m, dict)]
    # Only the main agent's turns ("main", "primary" in older runs): a helper agent has its own name.
    main_agent = history[0].get("agent") if history else None
    history = [m for m in history if m.get("agent") == main_agent]
    if not history:
        raise BrokenFile("empty history")
    info = dict_at(data, "info")
    replay = loose_json(data.get("replay_config"))
    replay = replay if isinstance(replay, dict) else {}
    agent = dict_at(replay, "agent")
    run_dir = run_dir_of(path, stem)

    messages: list[dict[str, Any]] = []
    text_actions: dict[int, list[TextAction]] = {}
    step_reasoning: dict[int, str] = {}
    step = 0
    for m in history:
        role = m.get("role")
        if role not in ("system", "user", "assistant", "tool"):
            raise BrokenFile(f"history has a message with role {role!r}")
        if role == "assistant":
            step += 1
            calls = loose_json(m.get("tool_calls"))
            messages.append(message("assistant", m.get("content"), tool_calls=calls))
            thought = m.get("thought")
            reasoning = reasoning_in(m)
            if not reasoning and isinstance(thought, str) and thought.strip() not in text_of(m.get("content")):
                reasoning = thought  # a thought the message text does not already hold
            if reasoning:
                step_reasoning[step] = reasoning
            action = m.get("action")
            if not calls and isinstance(action, str) and action.strip():
                cmd = action.strip()
                text_actions[step] = [TextAction(cmd.split()[0], cmd)]
        elif role == "tool":
            ids = loose_json(m.get("tool_call_ids"))
            cid = ids[0] if isinstance(ids, list) and ids else m.get("tool_call_id")
            messages.append(message("tool", m.get("content"), tool_call_id=cid))
        else:
            messages.append(message(role, m.get("content")))

    stats = loose_json(info.get("model_stats"))
    stats = stats if isinstance(stats, dict) else {}
    model = dict_at(agent, "model")
    submission = info.get("submission")
    patch = clean_patch(submission) or clean_patch(verdicts.patch(run_dir, stem))
    duration = sum(
        as_float(t.get("execution_time")) or 0.0 for t in data.get("trajectory") or [] if isinstance(t, dict)
    )
    rollout = ImportedRollout(
        task_id=stem,
        rollout_key=stem,
        messages=repair_tool_answers(messages),
        tools=tools_of(agent),
        model=str(model.get("name") or ""),
        passed=verdicts.lookup(run_dir, stem),
        patch=patch,
        exit_status=str(info.get("exit_status") or ""),
        tokens_in=as_int(stats.get("tokens_sent")),
        tokens_out=as_int(stats.get("tokens_received")),
        cost_usd=as_float(stats.get("instance_cost")),
        duration_s=round(duration, 4),
        text_actions=text_actions,
        step_reasoning=step_reasoning,
    )
    if not patch and isinstance(submission, str) and submission.strip():
        rollout.summary = submission.strip()  # a submitted answer that is not a diff (a CTF flag)
    return ImportedFile(path, name, run_dir, run_dir.name, [rollout])


def tools_of(agent: dict[str, Any]) -> list[dict[str, Any]]:
    """The function schemas a function-calling run sent; [] for text-action runs (no native tools)."""
    tools = dict_at(agent, "tools")
    parse = dict_at(tools, "parse_function")
    if parse.get("type") != "function_calling":
        return []
    docs = tools.get("command_docs")
    return list(_cached_docs(docs)) if isinstance(docs, str) else []


@lru_cache(maxsize=32)
def _cached_docs(docs: str) -> tuple[dict[str, Any], ...]:
    return tuple(parse_command_docs(docs))  # one run's files all carry the same docs


_CMD = re.compile(r"^([A-Za-z_][\w-]*):\s*$")
_ARG = re.compile(r"^\s*-\s*([\w-]+)\s*\(([^)]*)\)\s*\[(required|optional)\]:\s*(.*)$")


def parse_command_docs(docs: str) -> list[dict[str, Any]]:
    """SWE-agent's ``command_docs`` text back into the OpenAI schemas it was made from
    (``sweagent.tools.commands.Command.get_function_calling_tool``)."""
    out = []
    for block in _blocks(docs):
        cmd, lines = block
        doc, props, required, section = [], {}, [], ""
        for line in lines:
            s = line.strip()
            if s.startswith("docstring:"):
                section = "doc"
                doc.append(s.removeprefix("docstring:").strip())
            elif s.startswith("signature:"):
                section = "sig"
            elif s == "arguments:":
                section = "args"
            elif section == "args" and (a := _ARG.match(line)):
                arg, typ, req, desc = a.groups()
                props[arg] = {"type": typ.strip() or "string", "description": desc.strip()}
                if req == "required":
                    required.append(arg)
            elif section == "doc" and s:
                doc.append(s)
        params = {"type": "object", "properties": props, "required": required} if props else {"type": "object"}
        out.append(function_tool(cmd, " ".join(doc).strip(), params))
    return out


def _blocks(docs: str) -> list[tuple[str, list[str]]]:
    blocks: list[tuple[str, list[str]]] = []
    for line in docs.splitlines():
        m = _CMD.match(line)
        if m and not line.startswith(" "):
            blocks.append((m.group(1), []))
        elif blocks:
            blocks[-1][1].append(line)
    return blocks
