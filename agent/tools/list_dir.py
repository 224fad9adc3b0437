"""``list_dir``: the files under a directory of the workspace."""

from __future__ import annotations

import time

from pydantic import Field

from agent.tools.spec import NonEmpty, Tool, ToolArgs, ToolRun
from agent.tree_walk import walk

LIST_HARD_CAP = 50_000


class ListDirArgs(ToolArgs):
    """List the files under a directory of the workspace (recursively, caches skipped)."""

    rel_dir: NonEmpty = Field(description="Directory relative to the workspace root; use '.' for the root.")
    max_files: int = Field(200, ge=1, le=2000, description="At most this many entries are listed.")


def list_dir(run: ToolRun, a: ListDirArgs) -> tuple[bool, str]:
    # Imported here: the step flags (labeling/) read this module without loading the sandbox.
    from agent.workspace import is_cache

    ws = run.workspace
    base = ws.resolve(a.rel_dir)
    if not base.exists():
        return False, f"Error: no such directory: {a.rel_dir}"
    if not base.is_dir():
        return False, f"Error: {a.rel_dir} is a file, not a directory (use read_file)"
    entries: list[str] = []
    for dirpath, dirnames, filenames in walk(base):  # iterative: a 1,100-deep tree is no RecursionError
        dirnames[:] = [d for d in dirnames if not is_cache(d)]
        rel_dir = ws.rel(dirpath)
        prefix = "" if rel_dir == "." else rel_dir + "/"
        entries.extend(prefix + d + "/" for d in dirnames)
        entries.extend(prefix + f for f in filenames if not is_cache(f))
        if len(entries) > LIST_HARD_CAP or time.monotonic() > run.deadline:
            break
    if not entries:
        return True, f"{a.rel_dir} is empty"
    entries.sort()
    more = len(entries) - a.max_files
    text = "\n".join(entries[: a.max_files])
    if more > 0:
        text += f"\n[... {more} more entries not shown; raise max_files or list a subdirectory]"
    return True, text


TOOL = Tool(name="list_dir", rank=10, args=ListDirArgs, run=list_dir)
