"""The test files a judged run reads, as they were put in place, checked after it (docs/sandbox-and-verdicts.md).

Code under test runs inside pytest's process before every test module is collected: at
import it can rewrite a test file pytest has not read yet (the hidden one the final run
just wrote) and nothing after the run would see it, since the protected files are put back
(round 13, r13-3). Each file's bytes are noted before the run and compared after: a file
the run changed, replaced by another or removed is tampering.

Only the bytes: the host's sandbox changes the files' modes (their change time) and may run
on a copy (new inodes), so a file written and written back as it was before the session
ended is not seen here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from agent.trace_io import open_regular

# (size, sha256); None: not a regular file before the run.
FileState = tuple[int, str] | None


def _state(path: Path) -> FileState:
    try:
        with open_regular(path) as f:  # never a link, a FIFO or a device
            digest = hashlib.sha256()
            while chunk := f.read(1 << 16):
                digest.update(chunk)
            return (os.fstat(f.fileno()).st_size, digest.hexdigest())
    except OSError:
        return None


def note(root: Path, rels: Iterable[str]) -> dict[str, FileState]:
    """The state of each regular file ``rels`` names under ``root``, before a run."""
    return {rel: _state(root / rel) for rel in sorted(set(rels))}


def rewritten(root: Path, before: dict[str, FileState]) -> list[str]:
    """The files noted as regular files whose bytes are not, after the run, the same
    (or that are no regular file any more)."""
    return [rel for rel, state in before.items() if state is not None and _state(root / rel) != state]


def tamper_line(files: list[str]) -> str:
    more = f" (+{len(files) - 5} more)" if len(files) > 5 else ""
    return f"the tests' process rewrote test files: {', '.join(files[:5])}{more}"
