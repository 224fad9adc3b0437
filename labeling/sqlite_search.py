"""Search on a SQLite store (docs/ARCHITECTURE.md, Label store and pairs): SQLite's
`labeling.sql_dialect.Search`.

The index is its own file beside the store (`labeling.search_index`), filled from the rows
ingest wrote by `labeling.search_fill`, so ingest writes no document: it only stamps each
trace read from its start with a new ``rollouts.read_gen`` (in its own transaction), which
tells the filler to start that rollout's documents over. `labeling.pg_db.PgSearch` is
PostgreSQL's (a tsvector column the ingest fills in its own writes, as before).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from labeling import search_fill, search_index
from labeling.errors import StoreError
from labeling.records import IndexProgress
from labeling.search_query import SearchQuery
from labeling.sqlite_conn import Session, SqlPart

_COLUMN_FILTERS = {
    "model": "r.model = ?",
    "task": "r.task_id = ?",
    "batch": "r.batch_id = ?",
    "rollout": "r.rollout_id = ?",
    "stop": "r.stop_reason = ?",
    "verdict": "r.state_verdict = ?",
    "state": "r.state_status = ?",
    "reason": "r.state_reason = ?",
    "in": "d.place = ?",
}
# A running rollout of a dead batch reads as not_judged/interrupted (labeling/rollout_states.py
# `live_state`): these filters choose every running one, and the search keeps those that are
# (labeling/search.py `find`).
_DEAD_RUNNING = {("state", "not_judged"), ("reason", "interrupted")}
_IN_PAIRS = "r.uid IN (SELECT chosen_uid FROM pairs WHERE {c} UNION SELECT rejected_uid FROM pairs WHERE {c})"
# A new store's key, which its index file records (labeling/search_index.py).
NEW_SEARCH_KEY = "INSERT OR IGNORE INTO meta VALUES ('search_key', lower(hex(randomblob(8))))"


def filter_sql(filters: dict[str, str]) -> tuple[str, list[Any]]:
    """The metadata filters (labeling/search_query.py) as ``AND ...`` SQL both backends run."""
    conds: list[str] = []
    params: list[Any] = []
    for key, value in sorted(filters.items()):
        if (key, value) in _DEAD_RUNNING:  # what a running rollout reads as once its batch is gone
            conds.append(f"({_COLUMN_FILTERS[key]} OR r.state_status = 'running')")
            params.append(value)
        elif key in _COLUMN_FILTERS:
            conds.append(_COLUMN_FILTERS[key])
            params.append(value)
        elif key == "tag":
            conds.append(_IN_PAIRS.format(c="pair_id IN (SELECT pair_id FROM current_tags WHERE tag = ?)"))
            params += [value, value]
        elif key == "flag":
            conds.append(_IN_PAIRS.format(c="(',' || flag_key || ',') LIKE ? ESCAPE '\\'"))
            like = "%," + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ",%"
            params += [like, like]
    return "".join(f" AND {c}" for c in conds), params


class SqliteSearch(SqlPart):
    """Stamps reads for the filler (inside ingest's transaction); reads the index file."""

    in_ingest = False

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._reader_ino: int | None = None  # the index file it has open
        self._path: Path | None | bool = False  # (False: not looked up yet)
        # Both files' data_version when the index was last seen whole: while neither changed,
        # it still is (a search or a re-ingest pays no count over every rollout).
        self._whole_at: tuple[int, int] | None = None

    def _store_path(self) -> Path | None:
        if self._path is False:
            self._path = None  # an in-memory store: no index beside it
            for _seq, name, file in self._q("PRAGMA database_list"):
                if name == "main" and file:
                    self._path = Path(file)
        assert self._path is not True
        return self._path

    def write_search_docs(self, rows: list[tuple]) -> None:
        """Nothing: the filler reads the documents from the traces (labeling/search_fill.py)."""

    def forget(self, rids: list[int]) -> None:
        """Nothing: the filler drops the documents of rollouts gone from the store."""

    def restarted(self, rids: list[int]) -> None:
        """These rollouts' traces were read from their start (new, or replaced): a new read
        generation, inside the caller's write()."""
        if not rids:
            return
        c = self._conn
        (gen,) = c.execute(
            "INSERT INTO meta (key, value) VALUES ('read_gen', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value"
        ).fetchone()
        c.executemany("UPDATE rollouts SET read_gen = ? WHERE rid = ?", [(int(gen), rid) for rid in rids])

    def needs_refill(self) -> bool:
        return False  # a copied store has no index file: the filler makes one from its rows

    def catch_up(self, base: str) -> None:
        path = self._store_path()
        if path is not None and self.progress() is not None:
            search_fill.catch_up(path, base)

    def progress(self) -> IndexProgress | None:
        """How much of the store the index holds; None when all of it."""
        path = self._store_path()
        if path is None:
            return None
        with self._reader_lock:
            conn = self._reader_conn(path)
            versions = None
            try:
                if conn is not None:
                    versions = (
                        conn.execute("PRAGMA main.data_version").fetchone()[0],
                        conn.execute("PRAGMA store.data_version").fetchone()[0],
                    )
                    if versions == self._whole_at:
                        return None
                done, total = (0, -1) if conn is None else search_index.progress(conn)
            except sqlite3.OperationalError:  # a filler is making the file's tables now
                done, total = 0, -1
            if done >= total >= 0:
                self._whole_at = versions
                return None
        if total < 0:
            (total,) = self._q("SELECT count(*) FROM rollouts")[0]
        if done >= total:
            return None
        return IndexProgress(done=done, total=total, filling=search_fill.filling(path))

    def search_hits(self, q: SearchQuery, before: int | None, limit: int) -> list[tuple]:
        """Up to ``limit`` documents matching, newest first, with a doc id below ``before``
        (`labeling.search_index.HIT_COLUMNS` each)."""
        path = self._store_path()
        where, params = filter_sql(q.filters)
        with self._reader_lock:
            conn = None if path is None else self._reader_conn(path)
            if conn is None or path is None:
                return []
            try:
                return search_index.search_hits(conn, q, where, params, before, limit)
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []  # a filler is making the file's tables now
                raise
            except sqlite3.DatabaseError as exc:  # a damaged file: one line, never a traceback
                raise StoreError(
                    f"search index {search_index.index_path(path)} is unreadable ({exc}): delete it, "
                    "and the next ingest or search makes it again"
                ) from None

    def _reader_conn(self, path: Path) -> sqlite3.Connection | None:
        try:
            ino = os.stat(search_index.index_path(path)).st_ino
        except OSError:
            ino = None
        if self._reader is not None and ino != self._reader_ino:  # deleted, or made again
            self._reader.close()
            self._reader, self._whole_at = None, None
        if self._reader is None and ino is not None:
            try:
                self._reader = search_index.connect(path, create=False)
            except sqlite3.Error:
                return None  # no usable index file (yet): nothing found, and progress says so
            if self._reader is not None:
                self._reader.execute("PRAGMA query_only=ON")
                self._reader_ino = ino
        return self._reader

    def close(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
