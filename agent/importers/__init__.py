"""Other agents' trajectories -> our trace batches, so nothing downstream knows where a batch came from.

``import_paths`` reads files and folders, detects each file's format, and writes one batch
per source run with `agent.importers.writer`. It never prints: every file gets a
`FileResult` (imported, unchanged, skipped, broken) for the caller to show. A broken file
never stops the others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agent.importers.base import BrokenFile, NothingToImport
from agent.importers.detect import FORMATS, IMPORTERS, candidate, detect, load, walk
from agent.importers.results import COMPANION_NAMES, VerdictBook, read_results_file
from agent.importers.writer import BatchWriter, WrittenBatch

__all__ = [
    "FORMATS",
    "BrokenFile",
    "FileResult",
    "ImportReport",
    "find_foreign",
    "import_paths",
    "read_results_file",
]


@dataclass
class FileResult:
    path: Path
    status: str  # imported | unchanged | skipped | broken
    reason: str = ""
    format: str | None = None
    rollouts: int = 0
    batch_id: str | None = None
    notes: list[str] = field(default_factory=list)  # rows or samples inside the file left out, and why


@dataclass
class ImportReport:
    files: list[FileResult] = field(default_factory=list)
    batches: list[WrittenBatch] = field(default_factory=list)

    @property
    def rollouts(self) -> int:
        return sum(f.rollouts for f in self.files if f.status in ("imported", "unchanged"))

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)


def import_paths(
    paths: Iterable[Path],
    out: Path,
    *,
    fmt: str = "auto",
    results: dict[str, bool] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> ImportReport:
    """Import every trajectory under ``paths`` into batches under ``out``; ``on_file`` hears of
    each file as soon as it is done (a long import shows its progress)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    out = Path(out)
    report = ImportReport()
    book = VerdictBook(results)
    writers: dict[tuple[str, Path], BatchWriter] = {}
    for path in walk(paths, skip=[out]):
        res = FileResult(path, "skipped")
        report.files.append(res)
        _import_file(path, res, fmt, book, out, writers)
        if on_file is not None:
            on_file(res)
    report.batches = [writers[k].finish() for k in sorted(writers, key=lambda k: (k[0], str(k[1])))]
    return report


def _import_file(
    path: Path, res: FileResult, fmt: str, book: VerdictBook, out: Path, writers: dict[tuple[str, Path], BatchWriter]
) -> None:
    """Read one file and write its rollouts' traces (its data is freed on return: one source file
    in memory at a time)."""
    if path.name in COMPANION_NAMES:
        res.reason = "verdicts/patches file, read beside the trajectories"
        return
    try:
        data = load(path)
        res.format = detect(path, data, fmt)
        if res.format is None:
            res.reason = f"not a {fmt} file" if fmt != "auto" else "not a known trajectory format"
            return
        imported = IMPORTERS[res.format].read(path, data, book)
    except NothingToImport as exc:
        res.reason = str(exc)
        return
    except BrokenFile as exc:
        res.status, res.reason = "broken", str(exc)
        return
    # A shape no importer expected, or a value none can use: this file is broken, the rest go on.
    except (KeyError, TypeError, AttributeError, IndexError, ValueError, OverflowError, RecursionError) as exc:
        res.status, res.reason = "broken", f"unexpected {res.format} structure ({type(exc).__name__}: {exc})"
        return
    key = (imported.format, imported.run_dir)
    if key not in writers:
        writers[key] = BatchWriter(out, imported.format, imported.run_dir, imported.suite)
    changed = writers[key].add(path, imported.rollouts)
    res.status = "imported" if changed else "unchanged"
    res.rollouts, res.notes, res.batch_id = len(imported.rollouts), imported.notes, writers[key].batch_id


def find_foreign(root: Path, limit: int = 200) -> dict[str, int]:
    """Formats of the trajectories under ``root`` (outside our own batches), counted; reads at
    most ``limit`` candidate files so a huge folder does not stall the caller."""
    counts: dict[str, int] = defaultdict(int)
    for i, path in enumerate(walk([root])):
        if i >= limit:
            break
        if path.name in COMPANION_NAMES or not candidate(path):
            continue
        try:
            found = detect(path, load(path))
        except BrokenFile:
            continue
        if found:
            counts[found] += 1
    return dict(counts)
