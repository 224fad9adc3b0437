"""``write_file``: create or overwrite a text file of the workspace."""

from __future__ import annotations

import os
import stat

from pydantic import Field

from agent.tools.spec import NonEmpty, StepCounts, Tool, ToolArgs, ToolRun
from agent.trace_io import NotRegularFile, file_kind, open_regular_fd

MAX_WRITE_CHARS = 1_000_000


class WriteFileArgs(ToolArgs):
    """Write (create or overwrite) a text file of the workspace with the full new content."""

    rel_path: NonEmpty = Field(description="File path relative to the workspace root.")
    content: str = Field(description="The complete new content of the file.")


def write_file(run: ToolRun, a: WriteFileArgs) -> tuple[bool, str]:
    ws = run.workspace
    if ws.is_hidden(a.rel_path):
        return False, f"Error: {a.rel_path} is not writable (a hidden path of this task)"
    path = ws.resolve(a.rel_path)
    if len(a.content) > MAX_WRITE_CHARS:
        return False, f"Error: content too large ({len(a.content)} chars; limit {MAX_WRITE_CHARS})"
    if path.is_dir():
        return False, f"Error: {a.rel_path} is a directory"
    if path.is_symlink():
        # resolve() already proved it stays inside; write the file it points to.
        path = path.resolve()
    created = not os.path.lexists(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not created and not stat.S_ISREG(os.lstat(path).st_mode):
        return False, f"Error: {a.rel_path} is {file_kind(os.lstat(path).st_mode)}; it cannot be written"
    try:
        fd = open_regular_fd(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, follow=True) if not created else None
    except NotRegularFile as exc:
        return False, f"Error: {a.rel_path} is {exc.what}, not a regular file; it cannot be written"
    if fd is None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(a.content)
    lines = a.content.count("\n") + (1 if a.content and not a.content.endswith("\n") else 0)
    verb = "Created" if created else "Wrote"
    return True, f"{verb} {a.rel_path} ({lines} lines, {len(a.content)} chars)"


TOOL = Tool(name="write_file", rank=30, args=WriteFileArgs, run=write_file, counts=StepCounts(writes="rel_path"))
