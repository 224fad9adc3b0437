"""``read_file``: a text file of the workspace."""

from __future__ import annotations

from pydantic import Field

from agent.tools.spec import NonEmpty, StepCounts, Tool, ToolArgs, ToolRun
from agent.trace_io import NotRegularFile, read_regular

MAX_READ_BYTES = 2_000_000


class ReadFileArgs(ToolArgs):
    """Read a text file of the workspace."""

    rel_path: NonEmpty = Field(description="File path relative to the workspace root, e.g. 'src/app.py'.")


def read_file(run: ToolRun, a: ReadFileArgs) -> tuple[bool, str]:
    path = run.workspace.resolve(a.rel_path)
    if not path.exists():
        return False, f"Error: no such file: {a.rel_path}"
    if path.is_dir():
        return False, f"Error: {a.rel_path} is a directory (use list_dir)"
    try:
        data = read_regular(path, MAX_READ_BYTES + 1, follow=True)
    except NotRegularFile as exc:
        return False, f"Error: {a.rel_path} is {exc.what}, not a regular file; it cannot be read"
    if b"\x00" in data[:8192]:
        return False, f"Error: {a.rel_path} is a binary file"
    text = data[:MAX_READ_BYTES].decode("utf-8", errors="replace")
    if not text:
        return True, f"({a.rel_path} is empty)"
    return True, text


TOOL = Tool(name="read_file", rank=20, args=ReadFileArgs, run=read_file, counts=StepCounts(reads="rel_path"))
