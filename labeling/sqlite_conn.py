"""The SQLite store's connection plumbing: one write transaction at a time, reads under the lock.

The base of the `labeling.sqlite_db.SqliteDb` mixins; `labeling.pg_db.PgDb` overrides `write`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class SqlConn:
    """Holds ``_conn`` and ``_lock`` (set by `labeling.sqlite_db.SqliteDb` when it opens)."""

    _conn: sqlite3.Connection
    _lock: Any

    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), serialised with other writers."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _batched(self, read: Callable[[], T]) -> T:
        """Run ``read``, whose statements may all be sent before any result is read (one
        round trip on PostgreSQL, `labeling.pg_db.PgDb._batched`); here, under the lock."""
        with self._lock:
            return read()

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
