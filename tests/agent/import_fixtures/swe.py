"""SWE-agent `.traj` and mini-swe-agent `.traj.json` fixtures (made-up values, the sources' shapes)."""

from __future__ import annotations

import json
from typing import Any

from tests.agent.import_fixtures.common import GOAL, SYSTEM, patch

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


def mini_responses_api(*, submission: str) -> dict:
    """A Responses-API model: the assistant turn is the response object, calls answered by
    function_call_output items."""
    return {
        "info": {
            "model_stats": {"instance_cost": 0.01, "api_calls": 1},
            "mini_version": "2.1.0",
            "exit_status": "Submitted",
            "submission": submission,
        },
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": GOAL}]},
            {
                "id": "resp_1",
                "object": "response",
                "output": [
                    {"type": "reasoning", "summary": []},
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Patch it."}]},
                    {
                        "type": "function_call",
                        "call_id": "fc_1",
                        "name": "bash",
                        "arguments": '{"command": "sed -i s/+1// calc.py"}',
                    },
                ],
                "usage": {"input_tokens": 320, "output_tokens": 18},
                "extra": {"actions": [{"command": "sed -i s/+1// calc.py", "tool_call_id": "fc_1"}], "cost": 0.01},
            },
            {
                "type": "function_call_output",
                "call_id": "fc_1",
                "output": "<returncode>0</returncode>",
                "extra": {"returncode": 0},
            },
            {"role": "exit", "content": "", "extra": {"exit_status": "Submitted", "submission": submission}},
        ],
        "trajectory_format": "mini-swe-agent-1.1",
    }
