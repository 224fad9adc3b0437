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
from agent.trace_io import MAX_JSON_VALUES, NotRegularFile, file_kind, loads_bounded, open_regular, too_many_values

# Order matters where shapes overlap: mini-swe-agent's bare list before OpenHands' event list.
# Each module is an Importer (agent.importers.base): name, sniff, read.
IMPORTERS: dict[str, Importer] = {m.name: m for m in (inspect_log, mini_swe_agent, swe_agent, openhands)}
FORMATS = ("auto", *IMPORTERS)
SUFFIXES = (".traj", ".json", ".jsonl", ".eval")
# A trajectory file bigger than this is refused: parsed JSON takes a few times its size in memory,
# and an import stays under 512 MB (docs/hostile-files.md).
MAX_BYTES = 64 * 1024 * 1024


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
    """The parsed file (a list of rows for JSON lines); None for a ZIP. Raises BrokenFile.

    Only a regular file is opened (a link to one is followed: files are named outright),
    without blocking, and read up to ``MAX_BYTES``; nesting and numbers are bounded
    (agent/trace_io.py), so one hostile file is reported broken and the rest go on.
    """
    try:
        mode = os.stat(path).st_mode  # follows a link: a link to /dev/zero is a device
        if not stat.S_ISREG(mode):
            raise BrokenFile(f"not a regular file ({file_kind(mode)}); not opened")
        if path.suffix == ".eval":
            return None  # a ZIP: inspect_log opens it the same way, entry by entry
        with open_regular(path, follow=True) as f:
            if os.fstat(f.fileno()).st_size > MAX_BYTES:
                raise BrokenFile(f"file larger than {MAX_BYTES >> 20} MB; not read")
            raw = f.read(MAX_BYTES + 1)
    except NotRegularFile:
        raise BrokenFile("not a regular file; not opened") from None
    except OSError as exc:
        raise BrokenFile(f"cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_BYTES:  # it grew while read
        raise BrokenFile(f"file larger than {MAX_BYTES >> 20} MB; not read")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BrokenFile("not UTF-8 text") from None
    del raw
    if not text.strip():
        raise BrokenFile("empty file")
    if too_many_values(text):  # (JSON lines: counted over the whole file, whose rows are all kept)
        raise BrokenFile(f"more than {MAX_JSON_VALUES:,} JSON values; not read")
    if path.suffix == ".jsonl":
        rows = []
        for i, line in enumerate(text.split("\n"), 1):  # not splitlines: JSON may hold U+2028 as it is
            if line.strip():
                try:
                    rows.append(loads_bounded(line))
                except ValueError as exc:
                    raise BrokenFile(f"line {i} is not JSON we can read ({_why(exc)})") from None
        return rows
    try:
        return loads_bounded(text)
    except ValueError as exc:
        raise BrokenFile(f"not JSON we can read ({_why(exc)})") from None


def _why(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}"
    return str(exc)


def detect(path: Path, data: Any, fmt: str = "auto") -> str | None:
    """The format name, or None when no importer recognises the file."""
    if fmt != "auto":
        return fmt if IMPORTERS[fmt].sniff(path, data) else None
    for name, imp in IMPORTERS.items():
        if imp.sniff(path, data):
            return name
    return None
