"""The search index on SQLite: FTS5, contentless (docs/ARCHITECTURE.md, Label store and pairs).

``search_docs`` names each document (rollout, step, place, the event's byte offset);
``search_fts`` indexes its words under the same rowid and keeps no text and no positions
(``detail=none``: a third of the build time and a tenth of the size of a full index), so
a hit's snippet is read back from its trace, and a phrase is checked there
(`labeling.search_query.matches`). Contentless FTS5
cannot forget a document on SQLite before 3.43: a dropped or re-read rollout's
``search_docs`` rows are deleted, and its old words stay in ``search_fts`` under rowids
no document has any more (never reused: AUTOINCREMENT), which the join leaves out.
SQLite's `labeling.sql_dialect.Search`; `labeling.pg_db.PgSearch` is PostgreSQL's (a
tsvector column with a GIN index there).
"""

from __future__ import annotations

from typing import Any

from labeling.search_docs import PART_CHARS, parts
from labeling.search_query import SearchQuery, fts5_match
from labeling.sqlite_conn import SqlPart

SEARCH_DDL = """
CREATE TABLE IF NOT EXISTS search_docs (
    doc INTEGER PRIMARY KEY AUTOINCREMENT, rid INTEGER NOT NULL, step INTEGER, place TEXT NOT NULL,
    offset INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS search_docs_rid ON search_docs(rid);
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
    body, content='', detail=none, columnsize=0, tokenize='unicode61 remove_diacritics 0'
);
"""

# What a hit carries (a search_docs row and its rollout's columns), in this order.
HIT_COLUMNS = (
    "doc", "uid", "rollout_id", "batch_id", "step", "place", "offset", "trace_path", "task_id", "model",
    "state_status", "state_verdict", "state_reason",
)  # fmt: skip
HIT_SELECT = (
    "SELECT d.doc, r.uid, r.rollout_id, r.batch_id, d.step, d.place, d.offset, r.trace_path, r.task_id, r.model, "
    "r.state_status, r.state_verdict, r.state_reason"
)
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
_IN_PAIRS = "r.uid IN (SELECT chosen_uid FROM pairs WHERE {c} UNION SELECT rejected_uid FROM pairs WHERE {c})"


def filter_sql(filters: dict[str, str]) -> tuple[str, list[Any]]:
    """The metadata filters (labeling/search_query.py) as ``AND ...`` SQL both backends run."""
    conds: list[str] = []
    params: list[Any] = []
    for key, value in sorted(filters.items()):
        if key in _COLUMN_FILTERS:
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
    """Writes documents (inside ingest's transaction) and finds hits, newest document first."""

    def write_search_docs(self, rows: list[tuple]) -> None:
        """(rid, step, place, offset, text) per document, inside the caller's write()."""
        if not rows:
            return
        c = self._conn
        (last,) = c.execute("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'search_docs'").fetchone()
        docs: list[tuple] = []
        words: list[tuple] = []
        for rid, step, place, offset, text in rows:
            for part in parts(text) if len(text) > PART_CHARS else (text,):
                last += 1
                docs.append((last, rid, step, place, offset))
                words.append((last, part))
        c.executemany("INSERT INTO search_docs VALUES (?, ?, ?, ?, ?)", docs)
        c.executemany("INSERT INTO search_fts (rowid, body) VALUES (?, ?)", words)

    def search_hits(self, q: SearchQuery, before: int | None, limit: int) -> list[tuple]:
        """Up to ``limit`` documents matching, newest first, with a doc id below ``before``
        (`HIT_COLUMNS` each)."""
        where, params = filter_sql(q.filters)
        if before is not None:
            where += " AND search_fts.rowid < ?"
            params.append(before)
        sql = (
            f"{HIT_SELECT} FROM search_fts JOIN search_docs d ON d.doc = search_fts.rowid "
            f"JOIN rollouts r ON r.rid = d.rid WHERE search_fts MATCH ?{where} "
            "ORDER BY search_fts.rowid DESC LIMIT ?"
        )
        return self._q(sql, [fts5_match(q), *params, limit])
