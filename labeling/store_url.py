"""Where a label store lives: a SQLite file (the default) or a PostgreSQL URL.

``--db`` on every command, else ``REPO_AGENT_DB``, else ``<traces dir>/labels.sqlite``.
"""

from __future__ import annotations

import os
import re
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
