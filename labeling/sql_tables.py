"""Whole tables in and out of a store, for `labeling.store_copy` (SQLite <-> PostgreSQL).

A part of `labeling.sql_db.SqlDb`: the same portable SQL reads and writes both databases
(PostgreSQL appends through COPY: its dialect's ``copy_rows``). Rows are read in id ranges, so a large store is
copied in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator

from labeling.sql_dialect import Dialect
from labeling.sqlite_conn import Session, SqlPart

# Tables read in ranges of this integer key (the others are small, or keyed by text).
_RANGE_KEY = {"rollouts": "rid", "steps": "rid", "bad_lines": "rid", "tool_calls": "rid", "label_events": "id"}


class TableRows(SqlPart):
    """Whole tables, for a copy between stores."""

    def __init__(self, session: Session, dialect: Dialect):
        super().__init__(session)
        self.dialect = dialect

    def table_columns(self, table: str) -> list[str]:
        with self._lock:
            cur = self._conn.execute(f"SELECT * FROM {table} LIMIT 0")
            cols = [d[0] for d in cur.description]
            cur.fetchall()
        return cols

    def table_size(self, table: str) -> int:
        return int(self._q(f"SELECT count(*) FROM {table}")[0][0])

    def read_table(self, table: str, cols: list[str], step: int = 500) -> Iterator[list[tuple]]:
        """The table's rows in chunks (by id where it has one, ids ascending)."""
        sel = f"SELECT {', '.join(cols)} FROM {table}"
        if table == "pairs":  # keyed by text: keyset pages (each one a transaction, a progress step)
            after = ""
            while rows := self._q(f"{sel} WHERE pair_id > ? ORDER BY pair_id LIMIT ?", (after, step * 10)):
                yield rows
                after = rows[-1][cols.index("pair_id")]
            return
        key = _RANGE_KEY.get(table)
        if key is None:
            yield self._q(sel)
            return
        lo, hi = self._q(f"SELECT min({key}), max({key}) FROM {table}")[0]
        if lo is None:
            return
        for start in range(int(lo), int(hi) + 1, step):
            yield self._q(f"{sel} WHERE {key} >= ? AND {key} < ? ORDER BY {key}", (start, start + step))

    def append_rows(self, table: str, cols: list[str], rows: list[tuple]) -> None:
        """Insert rows as they are (ids included), in one transaction."""
        if self.dialect.copy_rows(self.session, table, cols, rows):
            return
        verb = "INSERT OR REPLACE INTO" if table == "meta" else "INSERT INTO"  # the new store has schema_version
        sql = f"{verb} {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        with self.write():
            self._conn.executemany(sql, rows)

    def has_work(self) -> bool:
        """Whether the store holds anything a copy would overwrite."""
        return any(self._q(f"SELECT 1 FROM {t} LIMIT 1") for t in ("batches", "rollouts", "pairs", "label_events"))

    def after_copy(self) -> None:
        """After rows were copied in with their ids (PostgreSQL moves its sequences)."""
        self.dialect.after_copy(self.session)
