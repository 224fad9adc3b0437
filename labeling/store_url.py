"""Where a label store lives: a SQLite file (the default) or a PostgreSQL URL.

``--db`` on every command, else ``REPO_AGENT_DB``, else ``<traces dir>/labels.sqlite``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ENV = "REPO_AGENT_DB"
URL_SCHEMES = ("postgresql://", "postgres://")


def is_db_url(db: str | Path | None) -> bool:
    return isinstance(db, str) and db.startswith(URL_SCHEMES)


def redact(url: str) -> str:
    """The URL without its password (safe to print or record)."""
    url = re.sub(r"^(\w+://[^:/@?]*):[^@/?]*@", r"\1:***@", url)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


def resolve_db(db: str | Path | None, traces_dir: Path, *, file_name: str = "labels.sqlite") -> str | Path:
    """The store a command opens: ``db`` (a URL stays a string), else $REPO_AGENT_DB, else the default file."""
    chosen: str | Path | None = db if db not in (None, "") else (os.environ.get(ENV) or None)
    if chosen is None:
        return Path(traces_dir) / file_name
    if is_db_url(str(chosen)):
        return str(chosen)
    return Path(os.path.expanduser(str(chosen)))


@dataclass(frozen=True)
class Location:
    url: str | None  # a PostgreSQL store
    path: Path | None  # a SQLite file
    shown: str  # what messages and export metadata show (no password)
    base: Path | None  # trace paths are stored relative to it (None: absolute)


def locate(db: str | Path, base: Path | None = None) -> Location:
    """Where a store lives and what its trace paths are relative to: by default a SQLite
    file's directory. A PostgreSQL store has no directory: callers pass the traces
    directory, so machines holding the same traces tree at different paths all open the
    traces (without a base, absolute paths are stored)."""
    if isinstance(db, str) and is_db_url(db):
        return Location(db, None, redact(db), Path(base) if base is not None else None)
    path = Path(db)
    return Location(None, path, str(path), Path(base) if base is not None else path.parent)
