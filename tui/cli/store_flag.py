"""`--db` for every command that opens the label store: a SQLite file (the default,
``<traces dir>/labels.sqlite``) or a ``postgresql://`` URL; ``REPO_AGENT_DB`` when absent."""

from __future__ import annotations

import argparse
from pathlib import Path

from labeling.store_url import ENV, is_db_url


def db_arg(value: str) -> str | Path:
    """argparse type: a URL stays a string (Path would fold its '//')."""
    return value if is_db_url(value) else Path(value)


def add_db_flag(p: argparse.ArgumentParser, default: str = "DIR/labels.sqlite") -> None:
    p.add_argument(
        "--db",
        type=db_arg,
        default=None,
        metavar="FILE|URL",
        help=f"label store: a SQLite file or a postgresql:// URL (default: ${ENV}, else {default})",
    )
