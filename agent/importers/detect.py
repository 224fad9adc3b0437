"""Which files to read and which format each one is.

Folders are walked recursively for candidate files (``.traj``, ``.json``, ``.jsonl``,
``.eval``); our own batches, hidden folders and the output folder are left out. Each
file's format is decided by its content, never by its name alone.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from agent.importers import inspect_log, mini_swe_agent, openhands, swe_agent
from agent.importers.base import BrokenFile, Importer
from agent.trace import is_batch_dir

# Order matters where shapes overlap: mini-swe-agent's bare list before OpenHands' event list.
# Each module is an Importer (agent.importers.base): name, sniff, read.
IMPORTERS: dict[str, Importer] = {m.name: m for m in (inspect_log, mini_swe_agent, swe_agent, openhands)}
FORMATS = ("auto", *IMPORTERS)
SUFFIXES = (".traj", ".json", ".jsonl", ".eval")
MAX_BYTES = 512 * 1024 * 1024  # a trajectory file this big is not one we can hold in memory


def candidate(path: Path) -> bool:
    return path.name.endswith(SUFFIXES) and path.name != "batch.json"


def walk(paths: Iterable[Path], skip: Iterable[Path] = ()) -> Iterator[Path]:
    """Files named outright, and candidate files under folders, each once, in a stable order."""
    skip_dirs = {p.resolve() for p in skip}
    seen: set[Path] = set()
    for root in paths:
        root = Path(root)
        if root.exists() and not root.is_dir():  # a file named outright, regular or not
            files: Iterable[Path] = [root]
        else:
            files = _walk_dir(root, skip_dirs)
        for f in files:
            r = f.resolve()
            if r not in seen:
                seen.add(r)
                yield f


def _walk_dir(root: Path, skip_dirs: set[Path]) -> Iterator[Path]:
    if root.resolve() in skip_dirs or is_batch_dir(root):
        return
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return
    for p in entries:
        if p.name.startswith("."):
            continue
        if p.is_dir():
            if not p.is_symlink():  # a link back up the tree would walk forever
                yield from _walk_dir(p, skip_dirs)
        elif candidate(p):
            # A FIFO, device or socket with a trajectory's name is yielded too: `load` names
            # it as broken without opening it, rather than passing it over in silence.
            yield p


def load(path: Path) -> Any:
    """The parsed file (a list of rows for JSON lines); None for a ZIP. Raises BrokenFile."""
    if path.suffix == ".eval":
        return None
    try:
        mode = os.stat(path).st_mode  # follows a link: a link to /dev/zero is a device
        if not stat.S_ISREG(mode):
            raise BrokenFile(f"not a regular file ({_kind(mode)}); not opened")
        if path.stat().st_size > MAX_BYTES:
            raise BrokenFile("file too large")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BrokenFile("not UTF-8 text") from None
    except OSError as exc:
        raise BrokenFile(f"cannot read ({exc.strerror or exc})") from None
    if not text.strip():
        raise BrokenFile("empty file")
    if path.suffix == ".jsonl":
        rows = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    raise BrokenFile(f"line {i} is not JSON") from None
        return rows
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BrokenFile(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # e.g. a number too long to convert
        raise BrokenFile(f"not JSON ({exc})") from None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def detect(path: Path, data: Any, fmt: str = "auto") -> str | None:
    """The format name, or None when no importer recognises the file."""
    if fmt != "auto":
        return fmt if IMPORTERS[fmt].sniff(path, data) else None
    for name, imp in IMPORTERS.items():
        if imp.sniff(path, data):
            return name
    return None
