"""The rules of the training-file formats, and the walker that checks them (docs/ARCHITECTURE.md, Exports).

Each format (one file in exports/formats/) is a pydantic model (``extra="forbid"``) and
its `FormatRules`: its keys and its shape. The rules are one walker,
``rule_errors(rules, obj)``, that returns *every* broken rule of a line
(``(rule, detail)`` pairs), so ``repo-agent check`` can name them all; the models call
the same walker, so the exporter cannot build a record the checker would reject.

Together's rules, from its data-preparation docs and its SDK's former local checker:
one format per file; no keys beyond the format's own; roles system/user/assistant/tool;
an assistant message has ``content`` or ``tool_calls``; ``arguments`` a JSON string that
parses to an object; ``weight`` only 0 or 1; every SFT example has an assistant message;
a DPO ``input.messages`` does not end with an assistant message; each DPO output is a
list of exactly one assistant message (with a ``content`` string, as the former checker
required). Where we are stricter than Together, the rule says so ("stricter" in RULES).
The pydantic models that run these rules are declared beside each format (base: exports.models).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ROLES = ("system", "user", "assistant", "tool")

# Every rule a line can break, with what it means (shown by `repo-agent check --rules`).
RULES: dict[str, str] = {
    "utf8": "the file is UTF-8",
    "empty-file": "the file holds at least one example",
    "blank-line": "no blank lines (stricter: Together skips them)",
    "json": "each line is valid JSON",
    "not-object": "each line is a JSON object",
    "unknown-format": "the line's keys name a known format",
    "mixed-formats": "one format per file",
    "missing-key": "the format's required keys are present",
    "extra-key": "no keys beyond the format's own (top level, input, messages, tool calls)",
    "type": "each value has its type (list, object, string...)",
    "messages-empty": "a message list is not empty",
    "role": "roles are system, user, assistant, tool",
    "first-role": "a conversation starts with system or user (stricter for DPO input)",
    "system-position": "a system message only comes first (stricter)",
    "content": "system, user and tool messages have string content",
    "assistant-empty": "an assistant message has content or tool_calls",
    "tool-calls-role": "only assistant messages carry tool_calls",
    "tool-call": 'a tool call has id, type "function" and function.name',
    "arguments-json": "arguments is a JSON string that parses to an object (TRL: an object)",
    "tool-unknown": "a tool call names a function in `tools` (when `tools` is given)",
    "tool-call-id": "a tool message answers a call made in the assistant message before it",
    "tools": "`tools` is a non-empty list of {type: function, function: {name, ...}}",
    "weight": "weight is 0 or 1",
    "weight-role": "weight only on assistant messages (stricter)",
    "no-assistant": "an SFT example has an assistant message",
    "no-trained-assistant": "an SFT example trains at least one assistant message (stricter)",
    "input-ends-assistant": "a DPO prompt does not end with an assistant message",
    "output-count": "each DPO output is a list of exactly one message",
    "output-role": "a DPO output message is an assistant message",
    "output-content": "a DPO output message has a `content` string (may be empty beside tool_calls)",
    "same-outputs": "preferred and non-preferred outputs differ (stricter)",
    "empty-output": "a trained assistant message (weight 1) or DPO output is not blank without tool_calls",
}

# The keys a message may carry: Together's and OpenAI's (with a training weight), TRL's (no weight, a name).
WEIGHTED_MESSAGE_KEYS = frozenset({"role", "content", "tool_calls", "tool_call_id", "weight"})
TRL_MESSAGE_KEYS = frozenset({"role", "content", "tool_calls", "tool_call_id", "name"})
Keys = tuple[frozenset[str], frozenset[str]]  # (required, optional)


@dataclass(frozen=True)
class FormatRules:
    """What the walker needs to know of one format: its keys and its shape.

    ``input`` set: a DPO prompt inside an ``input`` object (Together, OpenAI); unset, at the
    top level as ``prompt``. ``prompt_completion``: an SFT line may be prompt + completion
    instead of messages (TRL). ``arguments_object``: tool-call arguments are objects, not
    JSON strings (TRL).
    """

    kind: str  # sft | dpo
    top: Keys
    message_keys: frozenset[str]
    input: Keys | None = None
    outputs: tuple[str, str] = ("preferred_output", "non_preferred_output")
    prompt_completion: bool = False
    arguments_object: bool = False


Errors = list[tuple[str, str]]


def rule_errors(rules: FormatRules, obj: Any) -> Errors:
    """Every rule ``obj`` (one parsed line) breaks as a line of the format of ``rules``; [] when it is valid."""
    errs: Errors = []
    if not isinstance(obj, dict):
        return [("not-object", f"a line is a JSON object, got {type(obj).__name__}")]
    if rules.prompt_completion:
        if "completion" in obj or "prompt" in obj:
            _keys(obj, {"prompt", "completion"}, {"tools"}, "", errs)
            tools = _tools(obj, errs)
            prompt = _messages(obj.get("prompt"), "prompt", rules, tools, errs, first=True)
            if prompt and prompt[-1].get("role") == "assistant":
                errs.append(("input-ends-assistant", "prompt ends with an assistant message"))
            _outputs(obj.get("completion"), "completion", rules, tools, errs, prompt, need_content=False)
        else:
            _keys(obj, {"messages"}, {"tools"}, "", errs)
            tools = _tools(obj, errs)
            msgs = _messages(obj.get("messages"), "messages", rules, tools, errs, first=True)
            _sft_trains(msgs, errs)
        return errs
    required, optional = rules.top
    _keys(obj, required, optional, "", errs)
    if rules.kind == "sft":
        tools = _tools(obj, errs)
        if "parallel_tool_calls" in obj and not isinstance(obj["parallel_tool_calls"], bool):
            errs.append(("type", "parallel_tool_calls is a boolean"))
        msgs = _messages(obj.get("messages"), "messages", rules, tools, errs, first=True)
        _sft_trains(msgs, errs)
        return errs
    if rules.input is None:
        tools = _tools(obj, errs)
        prompt = _messages(obj.get("prompt"), "prompt", rules, tools, errs, first=True)
    else:
        inp = obj.get("input")
        prompt = []
        tools = None
        if inp is not None and not isinstance(inp, dict):
            errs.append(("type", "input is an object"))
        elif isinstance(inp, dict):
            r, o = rules.input
            _keys(inp, r, o, "input.", errs)
            tools = _tools(inp, errs, "input.tools")
            if "parallel_tool_calls" in inp and not isinstance(inp["parallel_tool_calls"], bool):
                errs.append(("type", "input.parallel_tool_calls is a boolean"))
            prompt = _messages(inp.get("messages"), "input.messages", rules, tools, errs, first=True)
    out_names = rules.outputs
    if prompt and prompt[-1].get("role") == "assistant":
        errs.append(
            (
                "input-ends-assistant",
                f"{'prompt' if rules.input is None else 'input.messages'} ends with an assistant message",
            )
        )
    outs = [_outputs(obj.get(name), name, rules, tools, errs, prompt) for name in out_names]
    if outs[0] is not None and outs[0] == outs[1]:
        errs.append(("same-outputs", f"{out_names[0]} and {out_names[1]} are identical"))
    return errs


def _keys(
    obj: dict, required: set[str] | frozenset[str], optional: set[str] | frozenset[str], where: str, errs: Errors
) -> None:
    for k in sorted(required - set(obj)):
        errs.append(("missing-key", f"{where}{k} is required"))
    for k in sorted(set(obj) - required - optional):
        errs.append(("extra-key", f"{where}{k} is not a key of this format"))


def _tools(obj: dict, errs: Errors, where: str = "tools") -> set[str] | None:
    tools = obj.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list) or not tools:
        errs.append(("tools", f"{where} is a non-empty list"))
        return None
    names = set()
    for i, t in enumerate(tools):
        fn = t.get("function") if isinstance(t, dict) else None
        if (
            not isinstance(t, dict)
            or t.get("type") != "function"
            or not isinstance(fn, dict)
            or not isinstance(fn.get("name"), str)
        ):
            errs.append(("tools", f"{where}[{i}] is {{type: function, function: {{name, ...}}}}"))
            continue
        names.add(fn["name"])
    return names


def _messages(
    msgs: Any, where: str, rules: FormatRules, tools: set[str] | None, errs: Errors, *, first: bool
) -> list[dict]:
    """Check a conversation; returns its messages that are objects (for later rules)."""
    if msgs is None:
        return []
    if not isinstance(msgs, list):
        errs.append(("type", f"{where} is a list"))
        return []
    if not msgs:
        errs.append(("messages-empty", f"{where} is empty"))
        return []
    good: list[dict] = []
    open_calls: set[str | None] = set()  # call ids of the last assistant message, not yet answered
    for i, m in enumerate(msgs):
        at = f"{where}[{i}]"
        if not isinstance(m, dict):
            errs.append(("type", f"{at} is an object"))
            continue
        good.append(m)
        role = _message(m, at, rules, tools, errs)
        if i == 0 and first and role not in ("system", "user", None):
            errs.append(("first-role", f"{at} is {role!r}: a conversation starts with system or user"))
        if role == "system" and i > 0:
            errs.append(("system-position", f"{at} is a system message after the first message"))
        if role == "assistant":
            open_calls = {tc.get("id") for tc in m.get("tool_calls") or [] if isinstance(tc, dict)}
        elif role == "tool":
            tcid = m.get("tool_call_id")
            if not isinstance(tcid, str):
                errs.append(("tool-call-id", f"{at} has no tool_call_id"))
            elif tcid not in open_calls:
                errs.append(
                    ("tool-call-id", f"{at} answers {tcid!r}, which the assistant message before it did not call")
                )
            else:
                open_calls.discard(tcid)
        elif role is not None:
            open_calls = set()
    return good


def _message(m: dict, at: str, rules: FormatRules, tools: set[str] | None, errs: Errors) -> str | None:
    for k in sorted(set(m) - rules.message_keys):
        errs.append(("extra-key", f"{at}.{k} is not a message key"))
    role = m.get("role")
    if role is None:
        errs.append(("missing-key", f"{at}.role is required"))
        return None
    if role not in ROLES:
        errs.append(("role", f"{at}.role is {role!r} (use system, user, assistant, tool)"))
        return None
    content = m.get("content")
    calls = m.get("tool_calls")
    if "weight" in m:
        if m["weight"] not in (0, 1) or isinstance(m["weight"], bool):
            errs.append(("weight", f"{at}.weight is {m['weight']!r} (only 0 or 1)"))
        if role != "assistant":
            errs.append(("weight-role", f"{at} is a {role} message with a weight"))
    if content is not None and not isinstance(content, str):
        errs.append(("type", f"{at}.content is a string"))
    if role == "assistant":
        if content is None and not calls:
            errs.append(("assistant-empty", f"{at} has neither content nor tool_calls"))
        elif isinstance(content, str) and not content.strip() and not calls and m.get("weight", 1) != 0:
            errs.append(("empty-output", f"{at} is trained on blank content and calls no tool"))
        if calls is not None:
            _tool_calls(calls, at, rules, tools, errs)
    else:
        if not isinstance(content, str):
            errs.append(("content", f"{at} ({role}) has no string content"))
        if calls is not None:
            errs.append(("tool-calls-role", f"{at} is a {role} message with tool_calls"))
        if role != "tool" and "tool_call_id" in m:
            errs.append(("extra-key", f"{at}.tool_call_id only belongs on a tool message"))
    return role


def _tool_calls(calls: Any, at: str, rules: FormatRules, tools: set[str] | None, errs: Errors) -> None:
    if not isinstance(calls, list) or not calls:
        errs.append(("type", f"{at}.tool_calls is a non-empty list"))
        return
    for j, tc in enumerate(calls):
        w = f"{at}.tool_calls[{j}]"
        if not isinstance(tc, dict):
            errs.append(("tool-call", f"{w} is an object"))
            continue
        for k in sorted(set(tc) - {"id", "type", "function"}):
            errs.append(("extra-key", f"{w}.{k} is not a tool-call key"))
        fn = tc.get("function")
        if not isinstance(tc.get("id"), str) or not tc.get("id"):
            errs.append(("tool-call", f"{w}.id is a non-empty string"))
        if tc.get("type") != "function":
            errs.append(("tool-call", f'{w}.type is "function"'))
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            errs.append(("tool-call", f"{w}.function has a name"))
            continue
        for k in sorted(set(fn) - {"name", "arguments"}):
            errs.append(("extra-key", f"{w}.function.{k} is not a function key"))
        if tools is not None and fn["name"] not in tools:
            errs.append(("tool-unknown", f"{w} calls {fn['name']!r}, not in tools"))
        args = fn.get("arguments")
        if rules.arguments_object:
            if not isinstance(args, dict):
                errs.append(("arguments-json", f"{w}.function.arguments is an object (TRL)"))
            continue
        if not isinstance(args, str):
            errs.append(("arguments-json", f"{w}.function.arguments is a JSON string"))
            continue
        try:
            parsed = json.loads(args)
        except ValueError:
            errs.append(("arguments-json", f"{w}.function.arguments does not parse as JSON"))
            continue
        if not isinstance(parsed, dict):
            errs.append(("arguments-json", f"{w}.function.arguments parses to {type(parsed).__name__}, not an object"))


def _sft_trains(msgs: list[dict], errs: Errors) -> None:
    assistants = [m for m in msgs if m.get("role") == "assistant"]
    if not assistants:
        if msgs:
            errs.append(("no-assistant", "messages hold no assistant message"))
        return
    if all(m.get("weight", 1) == 0 for m in assistants):
        errs.append(("no-trained-assistant", "every assistant message has weight 0: the example trains nothing"))


def _outputs(
    out: Any,
    name: str,
    rules: FormatRules,
    tools: set[str] | None,
    errs: Errors,
    prompt: list[dict],
    *,
    need_content: bool = True,
) -> Any:
    if out is None:
        return None
    if not isinstance(out, list) or len(out) != 1:
        n = len(out) if isinstance(out, list) else type(out).__name__
        errs.append(("output-count", f"{name} is a list of exactly one message (got {n})"))
        return None
    m = out[0]
    if not isinstance(m, dict):
        errs.append(("type", f"{name}[0] is an object"))
        return None
    if "weight" in m:
        errs.append(("extra-key", f"{name}[0].weight: outputs carry no weight"))
        m = {k: v for k, v in m.items() if k != "weight"}
    role = _message(m, f"{name}[0]", rules, tools, errs)
    if role is not None and role != "assistant":
        errs.append(("output-role", f"{name}[0] is {role!r}, not assistant"))
    if need_content and role == "assistant" and not isinstance(m.get("content"), str):
        errs.append(("output-content", f"{name}[0] has no content string"))
    return m
