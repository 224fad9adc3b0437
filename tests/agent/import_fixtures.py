"""Small trajectories of other agents, written for these tests in each source's format.

They follow the shapes of the real files (SWE-agent ``.traj``, mini-swe-agent
``.traj.json``, OpenHands event lists and ``output.jsonl``, Inspect AI ``.eval``/``.json``)
but every value here is made up: no file of those projects is copied.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import zstandard

SYSTEM = "You fix bugs in the repository. Use the tools."
GOAL = "calc.add(2, 2) returns 5. Fix it."
COMMAND_DOCS = (
    "bash:\n  docstring: runs the given command directly in bash\n  signature: <command>\n  arguments:\n"
    "    - command (string) [required]: a command to run directly in the current shell\n\n"
    'open:\n  docstring: opens the file at the given path in the editor\n  signature: open "<path>" [<line_number>]\n'
    "  arguments:\n    - path (string) [required]: the path to the file to open\n"
    "    - line_number (integer) [optional]: the line to show\n\n"
    "edit:\n  docstring: replaces lines <start_line> through <end_line> with the given text.\n\n"
    "  signature: edit <start_line>:<end_line>\n<replacement_text>\nend_of_edit\n\n  arguments:\n"
    "    - start_line (integer) [required]: first line\n    - end_line (integer) [required]: last line\n"
    "    - replacement_text (string) [required]: the new text\n\n"
    "submit:\n  docstring: submits the current file\n  signature: submit\n\n"
)
SWE_TOOLS = ["bash", "open", "edit", "submit"]


def patch(variant: str = "1") -> str:
    return (
        "diff --git a/calc.py b/calc.py\nindex 1111111..2222222 100644\n--- a/calc.py\n+++ b/calc.py\n"
        f"@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a + b + 1\n+    return a + b{'' if variant == '1' else ' + 0'}\n"
    )


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


# --------------------------------------------------------------------------- SWE-agent


def swe_agent_fc(instance: str, *, submission: str | None = None, calls_as_repr: bool = False) -> dict:
    """A newer function-calling run: tool_calls + role tool, replay_config as JSON, dict state."""

    def calls(cid: str, name: str, args: dict) -> Any:
        c = [{"function": {"arguments": json.dumps(args), "name": name}, "id": cid, "type": "function"}]
        return repr(c) if calls_as_repr else c

    history = [
        {"message_type": "system_prompt", "role": "system", "content": SYSTEM, "agent": "main"},
        {"message_type": "observation", "role": "user", "content": GOAL, "agent": "main"},
        {
            "message_type": "action",
            "role": "assistant",
            "content": "Look at the file.",
            "thought": "Look at the file.",
            "action": "open calc.py",
            "agent": "main",
            "tool_calls": calls("call_a", "open", {"path": "calc.py"}),
        },
        {
            "message_type": "observation",
            "role": "tool",
            "content": "[File: calc.py]\n1:def add(a, b):\n2:    return a + b + 1",
            "agent": "main",
            "tool_call_ids": repr(["call_a"]) if calls_as_repr else ["call_a"],
        },
        {
            "message_type": "action",
            "role": "assistant",
            "content": "Edit without the end line.",
            "thought": "Edit without the end line.",
            "action": "edit 2",
            "agent": "main",
            "tool_calls": calls("call_b", "edit", {"start_line": 2, "replacement_text": "    return a + b"}),
        },
        {
            "message_type": "observation",
            "role": "tool",
            "content": "Usage: edit <start>:<end>",
            "agent": "main",
            "tool_call_ids": ["call_b"],
        },
        {
            "message_type": "action",
            "role": "assistant",
            "content": "Submit.",
            "thought": "Submit.",
            "action": "submit",
            "agent": "main",
            "tool_calls": calls("call_c", "submit", {}),
        },
        {
            "message_type": "observation",
            "role": "tool",
            "content": patch(),
            "agent": "main",
            "tool_call_ids": ["call_c"],
        },
    ]
    replay = {
        "agent": {
            "name": instance,
            "tools": {"parse_function": {"type": "function_calling"}, "command_docs": COMMAND_DOCS},
            "model": {"name": "gpt-4o", "temperature": 0.0},
        }
    }
    return {
        "trajectory": [
            {
                "action": "open calc.py",
                "observation": "...",
                "response": "...",
                "thought": "...",
                "execution_time": 0.5,
                "state": {"open_file": "calc.py"},
            },
            {
                "action": "submit",
                "observation": "...",
                "response": "...",
                "thought": "...",
                "execution_time": 1.25,
                "state": {"open_file": "calc.py"},
            },
        ],
        "history": history,
        "info": {
            "submission": patch().replace("\n", "\r\n") if submission is None else submission,
            "exit_status": "submitted",
            "model_stats": {"instance_cost": 0.25, "tokens_sent": 1200, "tokens_received": 80, "api_calls": 3},
        },
        "replay_config": json.dumps(replay),
        "environment": "main",
    }


def swe_agent_text(instance: str, *, submission: str = "") -> dict:
    """An older text-action run: the command is in `action`, state and model_stats are strings."""
    return {
        "environment": "swe_main",
        "trajectory": [
            {
                "action": "cat calc.py\n",
                "observation": "...",
                "response": "...",
                "state": '{"open_file": "n/a"}',
                "thought": "...",
            }
        ],
        "history": [
            {"role": "system", "content": SYSTEM, "agent": "primary"},
            {"role": "user", "content": "Here is a demonstration.", "agent": "primary", "is_demo": True},
            {"role": "user", "content": GOAL, "agent": "primary"},
            {
                "role": "assistant",
                "content": "Read it.\n```\ncat calc.py\n```",
                "thought": "Read it.",
                "action": "cat calc.py\n",
                "agent": "primary",
            },
            {"role": "user", "content": "def add(a, b):\n    return a + b + 1", "agent": "primary"},
            {
                "role": "assistant",
                "content": "Done.\n```\nsubmit\n```",
                "thought": "Done.",
                "action": "submit\n",
                "agent": "primary",
            },
            {"role": "user", "content": "reviewer note", "agent": "reviewer"},
        ],
        "info": {
            "exit_status": "submitted",
            "submission": submission,
            "model_stats": "{'total_cost': 0.5, 'instance_cost': 0.5, 'tokens_sent': 900, 'tokens_received': 40, 'api_calls': 2}",
        },
    }


# --------------------------------------------------------------------------- mini-swe-agent


def mini_toolcall(*, submission: str) -> dict:
    return {
        "info": {
            "model_stats": {"instance_cost": 0.03, "api_calls": 2},
            "config": {
                "model": {"model_name": "anthropic/claude-x"},
                "agent_type": "minisweagent.agents.default.DefaultAgent",
            },
            "mini_version": "2.0.0",
            "exit_status": "Submitted",
            "submission": submission,
        },
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": GOAL},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "bash", "arguments": '{"command": "cat calc.py"}'},
                    }
                ],
                "extra": {
                    "actions": [{"command": "cat calc.py", "tool_call_id": "t1"}],
                    "cost": 0.01,
                    "response": {"usage": {"prompt_tokens": 300, "completion_tokens": 20}},
                    "timestamp": 1700000000.0,
                },
            },
            {
                "role": "tool",
                "tool_call_id": "t1",
                "content": "<returncode>0</returncode>\n<output>def add(a, b): ...</output>",
                "extra": {"returncode": 0, "timestamp": 1700000002.0},
            },
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "t2",
                        "type": "function",
                        "function": {
                            "name": "bash",
                            "arguments": '{"cmd": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"}',
                        },
                    }
                ],
                "extra": {
                    "actions": [],
                    "response": {"usage": {"prompt_tokens": 400, "completion_tokens": 25}},
                    "timestamp": 1700000005.0,
                },
            },
            {"role": "tool", "tool_call_id": "t2", "content": ""},
            {
                "role": "exit",
                "content": "",
                "extra": {"exit_status": "Submitted", "submission": submission, "timestamp": 1700000010.0},
            },
        ],
        "trajectory_format": "mini-swe-agent-1.1",
    }


def mini_text(*, submission: str) -> dict:
    """Text model; the run ends on the docs' variant of the exit message (role user + extra)."""
    return {
        "info": {
            "model_stats": {"instance_cost": 0.02, "api_calls": 1},
            "mini_version": "2.0.0",
            "exit_status": "",
            "submission": "",
        },
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": GOAL},
            {
                "role": "assistant",
                "content": "Fix it.\n\n```mswea_bash_command\nsed -i 's/ + 1//' calc.py\n```",
                "extra": {"actions": [{"command": "sed -i 's/ + 1//' calc.py"}]},
            },
            {"role": "user", "content": "<returncode>0</returncode>\n<output>\n</output>", "extra": {"returncode": 0}},
            {"role": "user", "content": "", "extra": {"exit_status": "Submitted", "submission": submission}},
        ],
        "trajectory_format": "mini-swe-agent-1.1",
    }


def mini_bare() -> list:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": GOAL},
        {"role": "assistant", "content": "Look.\n\n```bash\nls\n```"},
        {"role": "user", "content": "<returncode>0</returncode>\n<output>\ncalc.py\n</output>"},
        {"role": "assistant", "content": "Done.\n\n```bash\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```"},
        {"role": "user", "content": ""},
    ]


# --------------------------------------------------------------------------- OpenHands

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


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# --------------------------------------------------------------------------- Inspect AI

INSPECT_TOOLS = [
    {
        "name": "bash",
        "description": "Run bash.",
        "parameters": {
            "type": "object",
            "properties": {"cmd": {"type": "string"}},
            "required": ["cmd"],
            "additionalProperties": False,
        },
    },
]


def inspect_sample(sid: Any, epoch: int, value: Any, *, pooled: bool = False) -> dict:
    msgs = [
        {"id": "m1", "content": SYSTEM, "role": "system"},
        {"id": "m2", "content": GOAL, "source": "input", "role": "user"},
        {
            "id": "m3",
            "content": [{"type": "text", "text": "Check."}],
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "b1",
                    "function": "bash",
                    "arguments": {"cmd": "cat calc.py"},
                    "type": "function",
                    "view": {"format": "markdown", "content": "cat calc.py"},
                }
            ],
        },
        {"id": "m4", "content": "def add(a, b): ...", "role": "tool", "tool_call_id": "b1", "function": "bash"},
    ]
    answer = {"id": "m5", "content": "ANSWER: 4", "role": "assistant", "source": "generate"}
    model_event = {
        "event": "model",
        "model": "openai/gpt-4o-mini",
        "tools": INSPECT_TOOLS,
        "tool_choice": "auto",
        "input": [] if pooled else msgs,
        "output": {"choices": [{"message": answer, "stop_reason": "stop"}]},
    }
    if pooled:
        model_event["input_refs"] = [[0, 4]]
    sample = {
        "id": sid,
        "epoch": epoch,
        "input": GOAL,
        "target": "4",
        "messages": [] if pooled else [*msgs, answer],
        "output": {
            "model": "gpt-4o-mini",
            "choices": [{"message": answer, "stop_reason": "stop"}],
            "completion": "ANSWER: 4",
        },
        "scores": {"match": {"value": value, "answer": "4"}},
        "events": [{"event": "sample_init"}, model_event],
        "model_usage": {"openai/gpt-4o-mini": {"input_tokens": 210, "output_tokens": 12, "total_tokens": 222}},
        "total_time": 3.5,
    }
    if pooled:
        sample["message_pool"] = msgs
    return sample


def inspect_header(task: str = "calc_fix", version: int = 2) -> dict:
    return {
        "version": version,
        "status": "success",
        "eval": {
            "task": task,
            "model": "openai/gpt-4o-mini",
            "created": "2025-05-12T20:27:36-04:00",
            "dataset": {"samples": 2},
        },
        "plan": {},
        "results": {"total_samples": 2},
        "stats": {},
    }


def inspect_json(samples: list[dict]) -> dict:
    return {**inspect_header(), "samples": samples, "reductions": []}


def write_zip(path: Path, entries: dict[str, tuple[bytes, int]]) -> Path:
    """A ZIP written by hand so entries can use method 93 (zstd), which zipfile before 3.14
    cannot write: 0 stored, 8 deflate, 93 zstd (several frames, as Inspect writes them)."""
    out, central = bytearray(), bytearray()
    for name, (data, method) in entries.items():
        if method == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            body = c.compress(data) + c.flush()
        elif method == 93:
            half = len(data) // 2
            z = zstandard.ZstdCompressor()
            body = z.compress(data[:half]) + z.compress(data[half:])
        else:
            body = data
        crc, fname, offset = zlib.crc32(data), name.encode(), len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 63, 0, method, 0, 0, crc, len(body), len(data), len(fname), 0)
        out += fname + body
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            63,
            63,
            0,
            method,
            0,
            0,
            crc,
            len(body),
            len(data),
            len(fname),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += fname
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out + central + end))
    return path


def inspect_eval(path: Path, samples: list[dict], *, method: int = 8, version: int = 2, header: bool = True) -> Path:
    entries: dict[str, tuple[bytes, int]] = {}
    for s in samples:
        entries[f"samples/{s['id']}_epoch_{s['epoch']}.json"] = (json.dumps(s).encode(), method)
    if header:
        entries["header.json"] = (json.dumps(inspect_header(version=version)).encode(), method)
    return write_zip(path, entries)
