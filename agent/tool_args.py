"""The agent's tool argument models and what is derived from them (docs/ARCHITECTURE.md, Add a tool).

Each tool's arguments are a strict pydantic model (no coercion, no unknown keys); its JSON
schema is the OpenAI ``tools`` entry the model is given, and a validation error becomes a
list of short violations ("rel_dir: missing required argument ...") that the tool error
and the trace both carry.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo

_PATH_HINT = {
    "rel_dir": "must be a non-empty path, use '.' for the workspace root",
    "rel_path": "must be a non-empty file path relative to the workspace root",
}


class _Args(BaseModel):
    # strict: a number is not a path, "5" is not an int; forbid: an unknown key is an error.
    model_config = ConfigDict(extra="forbid", strict=True)


def _non_empty(v: str, info: ValidationInfo) -> str:
    if not v.strip():
        raise ValueError(_PATH_HINT.get(info.field_name or "", "must not be empty"))
    return v


# A string argument that must not be blank (a path, a pattern); the schema the model sees is a plain string.
NonEmpty = Annotated[str, AfterValidator(_non_empty)]


class ListDirArgs(_Args):
    """List the files under a directory of the workspace (recursively, caches skipped)."""

    rel_dir: NonEmpty = Field(description="Directory relative to the workspace root; use '.' for the root.")
    max_files: int = Field(200, ge=1, le=2000, description="At most this many entries are listed.")


class ReadFileArgs(_Args):
    """Read a text file of the workspace."""

    rel_path: NonEmpty = Field(description="File path relative to the workspace root, e.g. 'src/app.py'.")


class WriteFileArgs(_Args):
    """Write (create or overwrite) a text file of the workspace with the full new content."""

    rel_path: NonEmpty = Field(description="File path relative to the workspace root.")
    content: str = Field(description="The complete new content of the file.")


class GrepArgs(_Args):
    """Search the files under a directory for a Python regular expression."""

    pattern: NonEmpty = Field(description="Python regular expression, searched line by line.")
    rel_dir: NonEmpty = Field(description="Directory (or file) relative to the workspace root; '.' for all.")


class RunTestsArgs(_Args):
    """Run the task's test command on the workspace and return the results."""


class FinishArgs(_Args):
    """Finish the task: call this once, when you are done."""

    summary: NonEmpty = Field(description="What was wrong and how you fixed it, in a few sentences.")
    changes: list[str] | str = Field(description="The changes you made, one entry per file or edit.")


TOOL_ARGS: dict[str, type[_Args]] = {
    "list_dir": ListDirArgs,
    "read_file": ReadFileArgs,
    "write_file": WriteFileArgs,
    "grep": GrepArgs,
    "run_tests": RunTestsArgs,
    "finish": FinishArgs,
}


def _clean_schema(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _clean_schema(v) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_clean_schema(v) for v in node]
    return node


def tool_schema(name: str) -> dict:
    model = TOOL_ARGS[name]
    params = _clean_schema(model.model_json_schema())
    params.setdefault("properties", {})
    params["additionalProperties"] = False
    params.pop("description", None)
    return {
        "type": "function",
        "function": {"name": name, "description": (model.__doc__ or "").strip(), "parameters": params},
    }


@functools.cache
def signature(name: str) -> str:
    """A short form of the schema for error messages: list_dir(rel_dir: string, max_files?: integer)."""
    params = tool_schema(name)["function"]["parameters"]
    required = set(params.get("required", []))
    parts = []
    for key, spec in params["properties"].items():
        typ = spec.get("type") or "|".join(s.get("type", "?") for s in spec.get("anyOf", [])) or "any"
        parts.append(f"{key}{'' if key in required else '?'}: {typ}")
    return f"{name}({', '.join(parts)})"


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
def _expected(model: type[_Args], field: str) -> str:
    spec = _clean_schema(model.model_json_schema()).get("properties", {}).get(field, {})
    kinds = [spec] if "type" in spec else spec.get("anyOf", [])
    names = []
    for k in kinds:
        t = k.get("type", "value")
        if t == "array":
            t = f"array of {k.get('items', {}).get('type', 'value')}s"
        names.append(t)
    return " or ".join(names) or "a value"


def violations_of(exc: ValidationError, args: dict, model: type[_Args]) -> list[str]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e.get("loc", ())) or "arguments"
        field = str(e["loc"][0]) if e.get("loc") else ""
        kind = e.get("type", "")
        if kind == "missing":
            hint = f" ({_PATH_HINT[field]})" if field in _PATH_HINT else ""
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
