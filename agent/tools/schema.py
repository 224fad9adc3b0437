"""A tool's argument model as the model sees it (the OpenAI ``tools`` entry), and its violations.

A validation error becomes a list of short violations ("rel_dir: missing required
argument ...") that the tool error and the trace both carry.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import ValidationError

from agent.tools.spec import PATH_HINT, Tool, ToolArgs


def _clean_schema(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _clean_schema(v) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_clean_schema(v) for v in node]
    return node


def tool_schema(tool: Tool[Any]) -> dict:
    """The OpenAI ``tools`` entry of ``tool``: its name, its model's docstring and JSON schema."""
    name, model = tool.name, tool.args
    params = _clean_schema(model.model_json_schema())
    params.setdefault("properties", {})
    params["additionalProperties"] = False
    params.pop("description", None)
    return {
        "type": "function",
        "function": {"name": name, "description": (model.__doc__ or "").strip(), "parameters": params},
    }


@functools.cache
def signature(tool: Tool[Any]) -> str:
    """A short form of the schema for error messages: list_dir(rel_dir: string, max_files?: integer)."""
    params = tool_schema(tool)["function"]["parameters"]
    required = set(params.get("required", []))
    parts = []
    for key, spec in params["properties"].items():
        typ = spec.get("type") or "|".join(s.get("type", "?") for s in spec.get("anyOf", [])) or "any"
        parts.append(f"{key}{'' if key in required else '?'}: {typ}")
    return f"{tool.name}({', '.join(parts)})"


def json_type(v: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(v), type(v).__name__)


@functools.cache
def _expected(model: type[ToolArgs], field: str) -> str:
    spec = _clean_schema(model.model_json_schema()).get("properties", {}).get(field, {})
    kinds = [spec] if "type" in spec else spec.get("anyOf", [])
    names = []
    for k in kinds:
        t = k.get("type", "value")
        if t == "array":
            t = f"array of {k.get('items', {}).get('type', 'value')}s"
        names.append(t)
    return " or ".join(names) or "a value"


def violations_of(exc: ValidationError, args: dict, model: type[ToolArgs]) -> list[str]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e.get("loc", ())) or "arguments"
        field = str(e["loc"][0]) if e.get("loc") else ""
        kind = e.get("type", "")
        if kind == "missing":
            hint = f" ({PATH_HINT[field]})" if field in PATH_HINT else ""
            out.append(f"{loc}: missing required argument{hint}")
        elif kind == "extra_forbidden":
            out.append(f"{loc}: unknown argument")
        elif kind.endswith("_type"):
            out.append(f"{field or loc}: expected {_expected(model, field)}, got {json_type(args.get(field))}")
        elif kind == "value_error":
            out.append(f"{loc}: {str(e.get('msg', '')).removeprefix('Value error, ')}")
        else:
            out.append(f"{loc}: {e.get('msg', 'invalid')}")
    # a union (list[str] | str) reports one error per branch: keep the first per field
    seen, unique = set(), []
    for v in out:
        key = v.split(":")[0].split(".")[0]
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return unique
