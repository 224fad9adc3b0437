"""The one small interface every importer implements, and what they hand the batch writer.

An importer reads one source file into `ImportedRollout`s: the conversation in OpenAI
message shape, the tools the source model saw, and the source's own verdict (or none).
Nothing here writes; `agent.importers.writer` turns rollouts into trace batches.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class BrokenFile(ValueError):
    """A file of a known format that cannot be read; the message says why, in a few words."""


class NothingToImport(BrokenFile):
    """A well-formed file with no trajectory in it (an Inspect log without samples)."""


@dataclass
class TextAction:
    """A command an agent wrote as text (no native tool call), parsed by the source itself."""

    name: str
    command: str


@dataclass
class ImportedRollout:
    task_id: str
    rollout_key: str  # unique and stable within its run: part of the rollout id
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    model: str = ""
    # The source's verdict: True resolved/correct, False evaluated and not, None never evaluated.
    passed: bool | None = None
    patch: str = ""
    summary: str = ""
    exit_status: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    duration_s: float = 0.0
    started_ts: float | None = None
    # step (1-based) -> text actions the source parsed from that assistant message
    text_actions: dict[int, list[TextAction]] = field(default_factory=dict)
    # tool_call ids the source reports as failed
    failed_calls: set[str] = field(default_factory=set)
    # step -> (prompt tokens, completion tokens) where the source keeps each response's usage
    step_usage: dict[int, tuple[int, int]] = field(default_factory=dict)
    # step -> the model's reasoning for that assistant message, where the source kept it apart
    step_reasoning: dict[int, str] = field(default_factory=dict)


@dataclass
class ImportedFile:
    """One source file's rollouts and the run (batch) they belong to."""

    path: Path
    format: str
    run_dir: Path  # the source run folder or log file: one batch each
    suite: str
    rollouts: list[ImportedRollout]
    notes: list[str] = field(default_factory=list)  # e.g. rows skipped inside the file


class Importer(Protocol):
    name: str

    def sniff(self, path: Path, data: Any) -> bool:
        """Whether ``data`` (the parsed file, or None for a non-JSON file) is this format."""
        ...

    def read(self, path: Path, data: Any, verdicts: Verdicts) -> ImportedFile:
        """Rollouts of one file; raises BrokenFile."""
        ...


# --------------------------------------------------------------------------- helpers


class Verdicts(Protocol):
    def lookup(self, run_dir: Path, instance_id: str) -> bool | None: ...

    def patch(self, run_dir: Path, instance_id: str) -> str: ...


def loose_json(value: Any) -> Any:
    """A value some sources store as a JSON string or a Python repr (older SWE-agent files)."""
    if not isinstance(value, str):
        return value
    s = value.strip()
    if not s or s[0] not in "[{":
        return value
    try:
        return json.loads(s)
    except ValueError:
        pass
    try:
        return ast.literal_eval(s)  # literals only: never evaluates code
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


def text_of(content: Any) -> str:
    """Message content as one string: OpenAI/Inspect content parts are joined by their text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for p in content:
            if isinstance(p, str):
                parts.append(p)
            elif isinstance(p, dict) and isinstance(p.get("text"), str):
                parts.append(p["text"])
        return "\n".join(parts)
    return str(content)


def _part_reasoning(part: Any) -> str:
    if not isinstance(part, dict) or part.get("type") not in ("reasoning", "thinking"):
        return ""
    text = part.get("reasoning") if part.get("type") == "reasoning" else part.get("thinking")
    return text if isinstance(text, str) and not part.get("redacted") else ""


def reasoning_in(raw: dict[str, Any]) -> str | None:
    """The reasoning a source message kept apart from its text: ``reasoning_content`` /
    ``reasoning`` (OpenAI-compatible APIs), content parts of type reasoning (Inspect) or
    thinking, and ``thinking_blocks`` (litellm, SWE-agent). None when there is none."""
    for key in ("reasoning_content", "reasoning"):
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return value
    parts: list[Any] = []
    for key in ("content", "thinking_blocks"):
        value = raw.get(key)
        parts += value if isinstance(value, list) else []
    text = "\n".join(t for t in map(_part_reasoning, parts) if t.strip())
    return text or None


def clean_tool_calls(calls: Any) -> list[dict[str, Any]]:
    """Tool calls in OpenAI shape: {id, type: function, function: {name, arguments: JSON string}}."""
    calls = loose_json(calls)
    out = []
    for i, c in enumerate(calls if isinstance(calls, list) else []):
        if not isinstance(c, dict):
            continue
        fn = c.get("function")
        if isinstance(fn, dict):  # OpenAI shape
            name, args = fn.get("name"), fn.get("arguments")
        else:  # Inspect shape: function is the name, arguments a dict
            name, args = fn, c.get("arguments")
        if not isinstance(args, str):
            args = json.dumps(args if args is not None else {}, ensure_ascii=False)
        cid = c.get("id") or f"call_{i}"
        out.append({"id": str(cid), "type": "function", "function": {"name": str(name or ""), "arguments": args}})
    return out


def message(role: str, content: Any, *, tool_calls: Any = None, tool_call_id: Any = None) -> dict[str, Any]:
    """One message with only the keys training files accept (role, content, tool_calls, tool_call_id)."""
    m: dict[str, Any] = {"role": role, "content": text_of(content)}
    calls = clean_tool_calls(tool_calls) if tool_calls else []
    if role == "assistant" and calls:
        m["tool_calls"] = calls
        if not m["content"]:
            m["content"] = None
    if role == "tool":
        m["tool_call_id"] = str(tool_call_id or "")
    return m


def repair_tool_answers(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A tool message must answer a call of the assistant message before it; one that does not
    (a source that dropped or reordered a turn) is kept as a user message, content unchanged."""
    out = []
    open_calls: set[str] = set()
    for m in messages:
        role = m.get("role")
        if role == "assistant":
            open_calls = {c["id"] for c in m.get("tool_calls") or []}
        elif role == "tool":
            if m.get("tool_call_id") in open_calls:
                open_calls.discard(m["tool_call_id"])
            else:
                m = {"role": "user", "content": m.get("content") or ""}
        else:
            open_calls = set()
        out.append(m)
    return out


def function_tool(name: str, description: str = "", parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description or "",
            "parameters": parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}},
        },
    }


def clean_tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI tool schemas from OpenAI-shaped or bare {name, description, parameters} entries."""
    tools = loose_json(tools)
    out = []
    seen = set()
    for t in tools if isinstance(tools, list) else []:
        if not isinstance(t, dict):
            continue
        fn = dict_at(t, "function", t)
        name = fn.get("name")
        if not isinstance(name, str) or not name or name in seen:
            continue
        seen.add(name)
        out.append(function_tool(name, fn.get("description") or "", fn.get("parameters")))
    return out


_DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.M)
_PLUS_FILE = re.compile(r"^\+\+\+ (?:b/)?(\S+)", re.M)


def clean_patch(text: Any) -> str:
    """A unified diff, or "" when the text is not one (a CTF flag, an answer, nothing)."""
    if not isinstance(text, str):
        return ""
    s = text.replace("\r\n", "\n").lstrip("\n")
    if not (s.startswith("diff --git") or s.startswith("--- ") or "\ndiff --git " in s):
        return ""
    return s if s.endswith("\n") else s + "\n"


def patch_files(patch: str) -> list[str]:
    files = [b for _, b in _DIFF_FILE.findall(patch)]
    if not files:
        files = [f for f in _PLUS_FILE.findall(patch) if f != "/dev/null"]
    return list(dict.fromkeys(files))


def as_int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def as_float(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


_ABSENT: Any = object()


def dict_at(obj: Any, key: str, default: Any = _ABSENT) -> Any:
    """``obj[key]`` when it is an object, else ``default`` (``{}``): sources' JSON is never trusted to have a shape."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, dict):
        return value
    return {} if default is _ABSENT else default


def list_at(obj: Any, key: str, default: Any = _ABSENT) -> Any:
    """``obj[key]`` when it is a list, else ``default`` (``[]``)."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, list):
        return value
    return [] if default is _ABSENT else default
