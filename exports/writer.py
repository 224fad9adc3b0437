"""Atomic training files: temp file in the same directory, fsync, check, rename.

An export never leaves a half-written file where the previous one was: the lines go to
``.NAME.tmp-PID`` beside the target, are fsync'ed, checked with the same checker as
``repo-agent check``, and only then renamed over the target (``os.replace`` is atomic
on one filesystem). The sidecar ``NAME.meta.json`` is written the same way after it and
records the data file's sha256, so a sidecar that does not match its file is detectable.
Temp files left by a killed export are removed by the next export to the same target.

Test hook: env ``REPO_AGENT_EXPORT_KILL_AFTER=N`` makes the process SIGKILL itself after
writing N lines (what a crash, OOM kill or power cut looks like to the file system).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from exports.check import CheckReport, check_file

KILL_AFTER_ENV = "REPO_AGENT_EXPORT_KILL_AFTER"


class ExportCheckFailed(ValueError):
    """The written lines failed the checker; nothing was renamed into place."""

    def __init__(self, report: CheckReport):
        self.report = report
        first = "; ".join(f"line {e.line}: {e.rule}: {e.detail}" for e in report.errors[:3])
        super().__init__(f"export refused: {report.error_count} error(s) in the checked file: {first}")


def meta_path_for(path: Path) -> Path:
    path = Path(path)
    name = path.name[: -len(".jsonl")] if path.name.endswith(".jsonl") else path.name
    return path.with_name(name + ".meta.json")


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


def clean_stale_temps(path: Path) -> list[Path]:
    """Remove temp files of earlier exports to ``path`` whose process is gone."""
    removed = []
    for p in path.parent.glob(_tmp_prefix(path) + "*"):
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_lines_atomic(path: Path, lines: Iterable[str], fmt: str) -> tuple[str, int]:
    """Write ``lines`` to ``path`` atomically after checking them as ``fmt``.

    Returns (sha256 hex of the file, lines written). Raises ExportCheckFailed (the old
    file, if any, is untouched and the temp file removed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path)
    tmp = path.with_name(f"{_tmp_prefix(path)}{os.getpid()}")
    kill_after = int(os.environ.get(KILL_AFTER_ENV) or 0)
    digest = hashlib.sha256()
    n = 0
    try:
        with open(tmp, "wb") as f:
            for line in lines:
                # backslashreplace: a lone surrogate that got this far is written as text, never raised
                data = (line + "\n").encode("utf-8", "backslashreplace")
                digest.update(data)
                f.write(data)
                n += 1
                if kill_after and n >= kill_after:
                    f.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
            f.flush()
            os.fsync(f.fileno())
        report = check_file(tmp, fmt)
        if not report.ok:
            raise ExportCheckFailed(report)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return digest.hexdigest(), n


def write_json_atomic(path: Path, obj: Any) -> None:
    path = Path(path)
    tmp = path.with_name(f"{_tmp_prefix(path)}{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
