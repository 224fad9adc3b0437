"""The task's goal as the agent was given it: the first user message of a rollout's trace.

Read from the head of the file only (the goal comes before the first model call), so a
pair's goal costs a few kilobytes whatever the rollout's size. Plain code: no widgets.
"""

from __future__ import annotations

import json
from functools import lru_cache

from agent.prompts import GOAL_TEMPLATE
from agent.trace_io import open_regular

HEAD_BYTES = 1 << 20  # a goal (an imported issue text) past the first megabyte is not looked for
_TAIL = GOAL_TEMPLATE.split("{goal}", 1)[1]  # what this agent appends to every goal


@lru_cache(maxsize=256)
def task_goal(trace_path: str) -> str | None:
    """The goal text, or None when the trace holds no user message before its first answer."""
    try:
        with open_regular(trace_path) as f:  # never a FIFO's reader on the UI thread
            head = f.read(HEAD_BYTES)
    except OSError:
        return None
    for raw in head.split(b"\n"):
        if b'"message"' not in raw:
            continue
        try:
            event = json.loads(raw)
        except ValueError:
            continue  # a line cut at HEAD_BYTES, or a broken one
        if not isinstance(event, dict):  # a line that is JSON but no event (["message"])
            continue
        message = event.get("message")
        if event.get("kind") != "message" or not isinstance(message, dict):
            continue
        if message.get("role") == "assistant":
            return None
        if message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            return text.removesuffix(_TAIL).strip()
    return None
