"""OpenHands event lists and evaluation `output.jsonl` rows (made-up values, the source's shapes)."""

from __future__ import annotations

import json
from typing import Any

from tests.agent.import_fixtures.common import GOAL, SYSTEM, patch

OH_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "execute_bash",
            "description": "Run a command.",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "str_replace_editor",
            "description": "Edit files.",
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "string"}, "path": {"type": "string"}},
                "required": ["command", "path"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "finish",
            "description": "Finish.",
            "parameters": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
        },
    },
]


def _resp(rid: str, content: str, calls: list[tuple[str, str, dict]]) -> dict:
    return {
        "id": rid,
        "model": "litellm_proxy/qwen-coder",
        "choices": [
            {
                "finish_reason": "tool_calls",
                "index": 0,
                "message": {
                    "content": content,
                    "role": "assistant",
                    "tool_calls": [
                        {"index": i, "function": {"arguments": json.dumps(a), "name": n}, "id": cid, "type": "function"}
                        for i, (cid, n, a) in enumerate(calls)
                    ],
                    "function_call": None,
                },
            }
        ],
        "usage": {"completion_tokens": 30, "prompt_tokens": 500, "total_tokens": 530},
    }


def openhands_events() -> list:
    two = _resp(
        "r2",
        "Run both.",
        [("c2", "execute_bash", {"command": "cat calc.py"}), ("c3", "execute_bash", {"command": "pytest"})],
    )
    fin = _resp("r3", "Fixed.", [("c4", "finish", {"message": "fixed add"})])
    one = _resp("r1", "Look around.", [("c1", "execute_bash", {"command": "ls"})])

    def tcm(cid: str, fn: str, resp: dict) -> dict:
        return {"function_name": fn, "tool_call_id": cid, "model_response": resp, "total_calls_in_response": 1}

    return [
        {
            "id": 0,
            "timestamp": "2025-01-01T10:00:00",
            "source": "agent",
            "message": SYSTEM,
            "action": "system",
            "args": {"content": SYSTEM, "tools": OH_TOOLS, "agent_class": "CodeActAgent"},
        },
        {
            "id": 1,
            "timestamp": "2025-01-01T10:00:01",
            "source": "user",
            "message": GOAL,
            "action": "message",
            "args": {"content": GOAL, "image_urls": None, "wait_for_response": False},
        },
        {
            "id": 2,
            "timestamp": "2025-01-01T10:00:01",
            "source": "user",
            "action": "recall",
            "args": {"recall_type": "workspace_context", "query": GOAL},
        },
        {
            "id": 3,
            "timestamp": "2025-01-01T10:00:02",
            "source": "environment",
            "cause": 2,
            "observation": "recall",
            "content": "Added workspace context",
            "extras": {},
        },
        {
            "id": 4,
            "timestamp": "2025-01-01T10:00:03",
            "source": "agent",
            "action": "run",
            "tool_call_metadata": tcm("c1", "execute_bash", one),
            "args": {"command": "ls", "thought": "Look around."},
        },
        {
            "id": 5,
            "timestamp": "2025-01-01T10:00:04",
            "source": "agent",
            "cause": 4,
            "observation": "run",
            "content": "calc.py",
            "tool_call_metadata": tcm("c1", "execute_bash", one),
            "extras": {"metadata": {"exit_code": 0}},
        },
        {
            "id": 6,
            "timestamp": "2025-01-01T10:00:05",
            "source": "agent",
            "action": "run",
            "tool_call_metadata": tcm("c2", "execute_bash", two),
            "args": {"command": "cat calc.py"},
        },
        {
            "id": 7,
            "timestamp": "2025-01-01T10:00:05",
            "source": "agent",
            "action": "run",
            "tool_call_metadata": tcm("c3", "execute_bash", two),
            "args": {"command": "pytest"},
        },
        {
            "id": 8,
            "timestamp": "2025-01-01T10:00:06",
            "source": "agent",
            "cause": 6,
            "observation": "run",
            "content": "def add(a, b): ...",
            "tool_call_metadata": tcm("c2", "execute_bash", two),
            "extras": {},
        },
        {
            "id": 9,
            "timestamp": "2025-01-01T10:00:07",
            "source": "agent",
            "cause": 7,
            "observation": "error",
            "content": "pytest: command not found",
            "tool_call_metadata": tcm("c3", "execute_bash", two),
            "extras": {},
        },
        {
            "id": 10,
            "timestamp": "2025-01-01T10:00:08",
            "source": "environment",
            "observation": "agent_state_changed",
            "content": "",
            "extras": {"agent_state": "running"},
        },
        {
            "id": 11,
            "timestamp": "2025-01-01T10:00:10",
            "source": "agent",
            "action": "finish",
            "tool_call_metadata": tcm("c4", "finish", fin),
            "args": {"final_thought": "fixed add", "outputs": {}, "thought": "Fixed."},
        },
    ]


def openhands_output_rows() -> list[dict]:
    def row(iid: str, patch_text: str, resolved: bool | None, where: str = "top") -> dict:
        r: dict[str, Any] = {
            "instance_id": iid,
            "instruction": GOAL,
            "history": openhands_events(),
            "test_result": {"git_patch": patch_text},
            "metadata": {
                "agent_class": "CodeActAgent",
                "llm_config": {"model": "openai/qwen-coder", "api_key": "**********"},
                "dataset": "mini-bench",
            },
            "metrics": {
                "accumulated_cost": 0.125,
                "accumulated_token_usage": {"prompt_tokens": 1500, "completion_tokens": 90},
            },
            "error": None,
        }
        if resolved is not None and where == "top":
            r["report"] = {"resolved": resolved}
        elif resolved is not None:
            r["test_result"]["report"] = {"resolved": resolved, "empty_generation": False}
        return r

    return [
        row("calc__calc-1", patch("1"), True),
        row("calc__calc-1", patch("2"), False, where="test_result"),
        row("calc__calc-2", patch("1"), None),
    ]
