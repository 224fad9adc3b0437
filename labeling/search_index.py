"""The search index of a SQLite store: its own SQLite file beside the store (docs/studio.md, Search).

``labels.sqlite`` has ``labels.sqlite.search``: FTS5 over the rollouts' messages, tool
arguments, outputs and patches, filled by `labeling.search_fill` from the rows ingest wrote
(each rollout's trace path and how far it was read), never inside the store's writes, so
ingest never waits for the index and the index never holds the store's write lock.

``search_docs`` names each document (rollout, step, place, the event's byte offset);
``search_fts`` indexes its words under the same rowid and keeps no text and no positions
(``detail=none``), so a hit's snippet is read back from its trace and a phrase is checked
there (`labeling.search_query.matches`). ``indexed`` says, per rollout, which read of its
trace (``rollouts.read_gen``) the documents come from and up to which byte: a rollout read
again from its start, or gone, has its documents dropped and filled again. Contentless
FTS5 cannot forget a document: a dropped document's words stay under a rowid no document
has any more (never reused: AUTOINCREMENT), which the join leaves out.

Every connection here is the index file as ``main`` and the store attached as ``store``:
the hits join the store's rollouts (their metadata filters) without a second query.
``index_meta.store_key`` is the store's ``meta.search_key``: an index left by another store
at this path (deleted and made again, copied over) is emptied, never mixed in.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from labeling.search_docs import PART_CHARS, parts
from labeling.search_query import SearchQuery, fts5_match, index_text
from labeling.sqlite_trust import Schema, foreign_objects, read_schema

INDEX_SUFFIX = ".search"
# The tables version 9 kept in the store itself (dropped when a store is upgraded).
STORE_SEARCH_TABLES = ("search_fts", "search_docs")
STORE_SEARCH_DDL = """
CREATE TABLE IF NOT EXISTS search_docs (
    doc INTEGER PRIMARY KEY AUTOINCREMENT, rid INTEGER NOT NULL, step INTEGER, place TEXT NOT NULL,
    offset INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS search_docs_rid ON search_docs(rid);
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
    body, content='', detail=none, columnsize=0, tokenize='unicode61 remove_diacritics 0'
);
"""
INDEX_DDL = (
    """
CREATE TABLE IF NOT EXISTS index_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS indexed (rid INTEGER PRIMARY KEY, gen INTEGER NOT NULL, offset INTEGER NOT NULL);
"""
    + STORE_SEARCH_DDL
)

# What a hit carries (a search_docs row and its rollout's columns), in this order.
HIT_COLUMNS = (
    "doc", "uid", "rollout_id", "batch_id", "step", "place", "offset", "trace_path", "task_id", "model",
    "state_status", "state_verdict", "state_reason",
)  # fmt: skip
HIT_SELECT = (
    "SELECT d.doc, r.uid, r.rollout_id, r.batch_id, d.step, d.place, d.offset, r.trace_path, r.task_id, r.model, "
    "r.state_status, r.state_verdict, r.state_reason"
)


def index_path(store: Path) -> Path:
    return store.with_name(store.name + INDEX_SUFFIX)


def _uri(path: Path, mode: str) -> str:
    return f"file:{quote(str(path))}?mode={mode}"


_EXPECTED: Schema | None = None


def _expected() -> Schema:
    global _EXPECTED
    if _EXPECTED is None:
        mem = sqlite3.connect(":memory:")
        try:
            mem.executescript(INDEX_DDL)
            _EXPECTED = read_schema(mem)
        finally:
            mem.close()
    return _EXPECTED


def connect(store: Path, *, create: bool) -> sqlite3.Connection | None:
    """The index file of ``store`` with the store attached; None when it does not exist and
    ``create`` is False. A file holding objects this module did not make (foreign triggers,
    views) is made again: the index is a cache of the traces, never trusted."""
    path = index_path(store)
    if not create and not path.exists():
        return None
    for attempt in range(2):
        conn = sqlite3.connect(
            _uri(path, "rwc" if create else "rw"), uri=True, isolation_level=None, check_same_thread=False, timeout=30
        )
        try:
            conn.execute("PRAGMA trusted_schema=OFF")
            if not foreign_objects(conn, _expected()):
                break
        except sqlite3.DatabaseError:
            pass  # not a database: made again below
        conn.close()
        if attempt or not create:
            return None
        remove(store)
    try:
        if create:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(INDEX_DDL)
        conn.execute("ATTACH DATABASE ? AS store", (_uri(store, "rw"),))
    except BaseException:
        conn.close()
        raise
    return conn


@dataclass(frozen=True)
class Work:
    """One rollout's trace bytes not indexed yet: ``[start, end)`` of read ``gen``; ``restart``:
    its documents from an earlier read go first."""

    rid: int
    trace_path: str
    start: int
    end: int
    gen: int
    restart: bool


def store_key(conn: sqlite3.Connection) -> str:
    rows = conn.execute("SELECT value FROM store.meta WHERE key = 'search_key'").fetchall()
    return str(rows[0][0]) if rows else ""


def index_key(conn: sqlite3.Connection) -> str | None:
    rows = conn.execute("SELECT value FROM index_meta WHERE key = 'store_key'").fetchall()
    return str(rows[0][0]) if rows else None


def progress(conn: sqlite3.Connection) -> tuple[int, int]:
    """(rollouts indexed as far as ingest read them, rollouts in the store)."""
    (total, done) = conn.execute(
        "SELECT count(*), coalesce(sum(i.rid IS NOT NULL), 0) FROM store.rollouts r "
        "LEFT JOIN indexed i ON i.rid = r.rid AND i.gen = r.read_gen AND i.offset = coalesce(r.offset, 0)"
    ).fetchone()
    if index_key(conn) not in (None, store_key(conn)):
        done = 0  # another store's index: emptied by the next fill
    return int(done), int(total)


def pending(conn: sqlite3.Connection) -> list[Work]:
    """What the index lacks of the rows ingest wrote, in the order they were first read."""
    out = []
    for rid, path, end, gen, i_gen, i_offset in conn.execute(
        "SELECT r.rid, r.trace_path, coalesce(r.offset, 0), r.read_gen, i.gen, i.offset FROM store.rollouts r "
        "LEFT JOIN indexed i ON i.rid = r.rid "
        "WHERE i.rid IS NULL OR i.gen != r.read_gen OR i.offset != coalesce(r.offset, 0) ORDER BY r.rid"
    ):
        restart = i_gen is not None and (i_gen != gen or i_offset > end)
        start = 0 if i_gen is None or restart else i_offset
        out.append(Work(rid, path, start, end, gen, restart))
    return out


def bad_offsets(conn: sqlite3.Connection, w: Work) -> set[int]:
    """Where in ``w``'s bytes ingest found lines that are not events (their words are not indexed)."""
    rows = conn.execute(
        "SELECT offset FROM store.bad_lines WHERE rid = ? AND offset >= ? AND offset < ?", (w.rid, w.start, w.end)
    )
    return {off for (off,) in rows}


def begin_fill(conn: sqlite3.Connection) -> None:
    """Empty an index another store left here; drop what belongs to rollouts gone from the store."""
    key = store_key(conn)
    with _write(conn):
        if index_key(conn) != key:
            conn.execute("DELETE FROM search_docs")
            conn.execute("DELETE FROM indexed")
            conn.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
            conn.execute("INSERT OR REPLACE INTO index_meta VALUES ('store_key', ?)", (key,))
        gone = "SELECT rid FROM indexed WHERE rid NOT IN (SELECT rid FROM store.rollouts)"
        conn.execute(f"DELETE FROM search_docs WHERE rid IN ({gone})")
        conn.execute(f"DELETE FROM indexed WHERE rid IN ({gone})")


class _write:
    """One write transaction on the index file."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def write_group(conn: sqlite3.Connection, done: list[tuple[Work, list[tuple]]], *, commit: bool = True) -> None:
    """The documents of a group of rollouts and how far each is indexed, in one transaction
    (a kill before its commit leaves none of it: nothing lost, nothing doubled). Each item:
    a `Work` and its documents, (step, place, offset, text)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        restarted = [(w.rid,) for w, _ in done if w.restart]
        if restarted:
            conn.executemany("DELETE FROM search_docs WHERE rid = ?", restarted)
        (last,) = conn.execute(
            "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'search_docs'"
        ).fetchone()
        docs: list[tuple] = []
        words: list[tuple] = []
        for w, rows in done:
            for step, place, offset, text in rows:
                for part in parts(text) if len(text) > PART_CHARS else (text,):
                    last += 1
                    docs.append((last, w.rid, step, place, offset))
                    words.append((last, index_text(part)))
        conn.executemany("INSERT INTO search_docs VALUES (?, ?, ?, ?, ?)", docs)
        conn.executemany("INSERT INTO search_fts (rowid, body) VALUES (?, ?)", words)
        conn.executemany("INSERT OR REPLACE INTO indexed VALUES (?, ?, ?)", [(w.rid, w.gen, w.end) for w, _ in done])
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if commit:
        conn.execute("COMMIT")


def search_hits(
    conn: sqlite3.Connection, q: SearchQuery, where: str, params: list, before: int | None, limit: int
) -> list[tuple]:
    """Up to ``limit`` documents matching, newest first, below doc id ``before`` (`HIT_COLUMNS`
    each); ``where``/``params``: the metadata filters (`labeling.sqlite_search.filter_sql`).
    Only documents of the read of each trace the store holds now are found."""
    if index_key(conn) != store_key(conn):
        return []
    if before is not None:
        where += " AND search_fts.rowid < ?"
        params = [*params, before]
    sql = (
        f"{HIT_SELECT} FROM search_fts JOIN search_docs d ON d.doc = search_fts.rowid "
        "JOIN indexed i ON i.rid = d.rid JOIN store.rollouts r ON r.rid = d.rid AND r.read_gen = i.gen "
        f"WHERE search_fts MATCH ?{where} ORDER BY search_fts.rowid DESC LIMIT ?"
    )
    return conn.execute(sql, [fts5_match(q), *params, limit]).fetchall()


def remove(store: Path) -> None:
    """Delete the index of ``store`` (its files), if any."""
    path = index_path(store)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
