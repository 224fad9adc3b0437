"""Move a label store between SQLite and PostgreSQL (`repo-agent db copy` / `db migrate`).

A copy is the whole store as it is: the append-only log with its ids (undo refers to
them), pairs with their derived verdict columns, the rollouts index and ingest state.
The target's ``pair_counts`` are kept by its own triggers as the pairs go in.
Trace paths are copied as stored: relative ones resolve against the SQLite file's
directory, or, on PostgreSQL, the traces directory each command is given (the same
thing for a store in its traces directory, the default).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from labeling.errors import StoreError
from labeling.sql_db import SqlDb
from labeling.sqlite_db import SCHEMA_VERSION, open_sqlite
from labeling.store_schema import COPIED_TABLES
from labeling.store_url import is_db_url, redact


def open_backend(db: str | Path) -> SqlDb:
    """The backend for a SQLite path or a ``postgresql://`` URL (schema made or migrated)."""
    if isinstance(db, str) and is_db_url(db):
        from labeling.pg_db import open_pg

        return open_pg(db)
    return open_sqlite(Path(db))


def describe(db: str | Path) -> str:
    return redact(db) if isinstance(db, str) and is_db_url(db) else str(db)


def migrate_store(db: str | Path) -> tuple[int | None, int]:
    """Bring a store's schema up to date: (version before, or None for a new store; now)."""
    backend = open_backend(db)
    try:
        return backend.migrated_from, SCHEMA_VERSION
    finally:
        backend.close()


def copy_store(
    src: str | Path,
    dst: str | Path,
    *,
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Copy every table of ``src`` into ``dst``; returns rows copied per table.

    Refuses a target that already holds batches, rollouts, pairs or label events unless
    ``force``, which empties it first (a SQLite file is replaced, PostgreSQL tables are
    dropped and made again). ``progress(table, rows done, rows in table)`` follows along.
    """
    if describe(src) == describe(dst) or (
        not is_db_url(str(src)) and not is_db_url(str(dst)) and Path(src).resolve() == Path(dst).resolve()
    ):
        raise StoreError("db copy: the source and the target are the same store")
    if not is_db_url(str(src)) and not Path(src).is_file():
        raise StoreError(f"db copy: no label store at {src}")
    source = open_backend(src)
    try:
        target = _open_target(dst, force)
        try:
            return _copy(source, target, progress)
        finally:
            target.close()
    finally:
        source.close()


def _open_target(dst: str | Path, force: bool) -> SqlDb:
    target = open_backend(dst)
    if not target.has_work():
        return target
    if not force:
        target.close()
        raise StoreError(f"db copy: {describe(dst)} already holds labels or rollouts (--force replaces them)")
    if target.drop_all():  # PostgreSQL: its tables dropped and made again
        return target
    target.close()
    path = Path(dst)
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass
    return open_backend(path)


def _copy(source: SqlDb, target: SqlDb, progress: Callable[[str, int, int], None] | None) -> dict[str, int]:
    copied: dict[str, int] = {}
    for table in COPIED_TABLES:
        cols = source.table_columns(table)
        missing = [c for c in cols if c not in set(target.table_columns(table))]
        if missing:
            raise StoreError(f"db copy: the target's {table} table lacks columns {', '.join(missing)}")
        total, done = source.table_size(table), 0
        if progress:
            progress(table, 0, total)
        for rows in source.read_table(table, cols):
            if rows:
                target.append_rows(table, cols, rows)
                done += len(rows)
                if progress:
                    progress(table, done, total)
        copied[table] = done
    target.after_copy()
    return copied
