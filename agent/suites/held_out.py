"""Hidden tests: lines of a test-data file held out of the workspace and put back for the
final run (docs/sandbox-and-verdicts.md, "The verdict").

SWE-bench's way: the rollout sees part of the tests, the final run all of them. Which lines
are held out is drawn from suite name, suite version, task id and path, so every rollout of
a task sees the same part and a re-judge meets the same hidden part.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from agent.suites.models import Suite, Task


def held_out_indices(suite: Suite, task: Task, rel: str, n_lines: int) -> list[int]:
    """The line numbers (0-based) of ``rel`` held out of the workspace; at least one line is
    always left visible."""
    share = task.hold_out_lines.get(rel, 0.0)
    k = min(n_lines - 1, int(round(n_lines * share)))
    if k <= 0:
        return []
    seed = hashlib.sha256(f"{suite.name}\0{suite.version}\0{task.id}\0{rel}".encode()).digest()
    return sorted(random.Random(int.from_bytes(seed[:8], "big")).sample(range(n_lines), k))


def split_lines(suite: Suite, task: Task, rel: str, data: bytes) -> tuple[bytes, list[bytes]]:
    """(the file as the workspace holds it, the held-out lines)."""
    lines = [line for line in data.splitlines(keepends=True) if line.strip()]
    held = set(held_out_indices(suite, task, rel, len(lines)))
    visible = b"".join(line for i, line in enumerate(lines) if i not in held)
    return visible, [lines[i] for i in sorted(held)]


def visible_files(suite: Suite, task: Task, source: Path) -> dict[str, bytes]:
    """Workspace path -> the content the workspace holds, for each file with held-out lines."""
    out: dict[str, bytes] = {}
    for rel in task.hold_out_lines:
        path = Path(source) / rel
        if path.is_file():
            visible, held = split_lines(suite, task, rel, path.read_bytes())
            if held:
                out[rel] = visible
    return out
