"""The label store in a SQLite file: `open_sqlite`, and `SQLITE`, the SQLite dialect.

The store's SQL is `labeling.sql_db.SqlDb`'s parts, the same on PostgreSQL; what is SQLite's
own is here: opening the file (WAL mode, refusing a foreign schema object), its part of
the schema (`labeling.sqlite_schema`), refreshing a pair's verdict in Python
(`labeling.team_sql.refresh_pair`), reading an event's id at once, and FTS5 search.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.untrusted import neutralise_line
from labeling.errors import NotFound, StoreError
from labeling.search_index import STORE_SEARCH_DDL
from labeling.sql_db import SqlDb
from labeling.sql_dialect import Search
from labeling.sqlite_conn import Session, SqliteSession, Statements
from labeling.sqlite_schema import SCHEMA_VERSION, make_schema
from labeling.sqlite_search import NEW_SEARCH_KEY, SqliteSearch
from labeling.sqlite_trust import expected_schema, foreign_objects
from labeling.team_sql import refresh_pair

__all__ = ["SCHEMA_VERSION", "SQLITE", "open_sqlite"]


class SqliteDialect:
    name = "sqlite"
    newer_hint = ", or pass --db for another store file"
    unreadable_hint = ": move it aside (it will be rebuilt from the traces; its labels stay in the old file)"

    def has_meta(self, session: Session) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        return bool(session.conn.execute(sql).fetchall())

    def make_schema(self, session: Session, stored: int | None) -> None:
        make_schema(session.conn, stored, "sqlite", session.conn.execute)
        session.conn.execute(NEW_SEARCH_KEY)

    def check_readable(self, session: Session) -> None:
        # Reading every table once finds a file that has SQLite's header but garbage pages.
        for table in ("meta", "batches", "rollouts", "pairs", "label_events"):
            session.conn.execute(f"SELECT count(*) FROM {table}").fetchone()

    def refresh_verdicts(self, conn: Statements, pair_ids: list[str], must_exist: bool) -> None:
        for pid in pair_ids:
            if not refresh_pair(conn, pid) and must_exist:
                raise NotFound(f"no pair {pid!r}")

    def event_id(self, cursor: Any) -> Callable[[], int]:
        (eid,) = cursor.fetchone()  # read inside the write: SQLite finishes the statement here
        return lambda: int(eid)

    def search(self, session: Session) -> Search:
        return SqliteSearch(session)

    def copy_rows(self, session: Session, table: str, cols: list[str], rows: list[tuple]) -> bool:
        return False  # plain INSERTs (labeling/sql_tables.py)

    def after_copy(self, session: Session) -> None:
        pass

    def drop_tables(self, session: Session) -> bool:
        return False  # a file store is replaced instead (labeling/store_copy.py)


SQLITE = SqliteDialect()


def open_sqlite(path: Path) -> SqlDb:
    """The store in ``path`` (made, or migrated, if needed); one clear `StoreError` for a file
    that is not a usable store or holds schema objects it did not create."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn: sqlite3.Connection | None = None
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so each write is one
        # explicit transaction that is committed before the method returns.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a committed txn survives a process kill
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=OFF")
        # A shared file's triggers and views may call no function with side effects.
        conn.execute("PRAGMA trusted_schema=OFF")
        db = SqlDb(SqliteSession(conn), SQLITE, str(path))
        _refuse_foreign_schema(conn, db.where)
        db.create_or_migrate()
        return db
    except sqlite3.Error as exc:
        # A garbage or truncated file: one clear line for every command and the studio.
        _close(conn)
        raise StoreError(f"{path} is not a usable label store ({exc}); move it aside and ingest again") from None
    except BaseException:
        _close(conn)
        raise


def _close(conn: sqlite3.Connection | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass


def _own_schema(mem: sqlite3.Connection) -> None:
    """What a store of this version makes, and the index version 9 kept in the store (dropped
    by the upgrade, which runs after this check)."""
    make_schema(mem, None, "sqlite", mem.execute)
    mem.executescript(STORE_SEARCH_DDL)


def _refuse_foreign_schema(conn: sqlite3.Connection, where: str) -> None:
    """Refuse a store holding schema objects it did not create (labeling/sqlite_trust.py),
    before anything is written: a foreign trigger would run on our first write."""
    foreign = foreign_objects(conn, expected_schema(_own_schema))
    if foreign:
        names = ", ".join(neutralise_line(f, markup=False) for f in foreign[:10])
        more = f" and {len(foreign) - 10} more" if len(foreign) > 10 else ""
        raise StoreError(
            f"label store {where} holds schema objects repo-agent did not create ({names}{more}): "
            "not opened, as they could change what is stored; use a store you trust, or ingest again into a new one"
        )
