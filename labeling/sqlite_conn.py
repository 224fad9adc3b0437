"""The connection a store backend holds: a session (statements, a lock, write transactions),
and `SqlPart`, what each of the backend's SQL parts is built on.

`labeling.sql_db.SqlDb` holds one `Session` and a dialect; its parts (the human log, the
pairs and queue, ingest writes, search, whole tables) each hold the same session. A SQLite
file is `SqliteSession`; a PostgreSQL database is `labeling.pg_db.PgSession`, whose
statements speak the slice of the ``sqlite3`` connection API the parts use.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Statements(Protocol):
    """What the parts run SQL on: ``sqlite3.Connection``, or `labeling.pg_db.PgConn`."""

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Any: ...
    def executemany(self, sql: str, rows: Any, /) -> Any: ...
    def close(self) -> None: ...


class Session(Protocol):
    """One connection, its lock, and how it writes (one transaction at a time)."""

    lock: threading.RLock

    @property
    def conn(self) -> Statements: ...
    def write(self) -> AbstractContextManager[None]: ...
    def batched(self, read: Callable[[], T]) -> T: ...
    def bulk(self) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...


class SqliteSession:
    """A SQLite connection in WAL mode; a lock makes it safe across threads."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.lock = threading.RLock()

    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), serialised with other writers."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def batched(self, read: Callable[[], T]) -> T:
        """Run ``read``, whose statements may all be sent before any result is read (one
        round trip on PostgreSQL, `labeling.pg_db.PgSession.batched`); here, under the lock."""
        with self.lock:
            return read()

    def bulk(self) -> AbstractContextManager[None]:
        return nullcontext()  # the triggers' counters cost nothing extra on SQLite

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class SqlPart:
    """One part of a backend's SQL, on the backend's session (no state of its own)."""

    def __init__(self, session: Session):
        self.session = session

    @property
    def _conn(self) -> Statements:
        return self.session.conn

    @property
    def _lock(self) -> threading.RLock:
        return self.session.lock

    def write(self) -> AbstractContextManager[None]:
        return self.session.write()

    def _batched(self, read: Callable[[], T]) -> T:
        return self.session.batched(read)

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.session.lock:
            return self.session.conn.execute(sql, params).fetchall()
