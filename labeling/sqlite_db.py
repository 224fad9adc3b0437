"""All the SQL of the label store, behind `SqliteDb` (the one storage backend today).

A PostgreSQL backend would implement the same methods (docs/ARCHITECTURE.md, Where it grows); nothing outside
this module sees a connection, a cursor or SQL. Rows leave as plain tuples/dicts.

Human work lives in ``label_events``: append-only (triggers refuse UPDATE and DELETE).
Its current state is derived by views: an event is *active* unless an ``undo`` event
references it and that undo has not itself been reversed by a ``redo``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.trace_io import clean_text
from labeling.errors import SchemaMismatch, StoreError
from labeling.sql_tables import TableRows
from labeling.sqlite_pairs import SqlitePairs, migrate
from labeling.trace_rows import ARGS_SAME, CALL_COLUMNS, ROLLOUT_DEFAULTS

# 2: index on rollouts.status (Rollout/Steps pick running rollouts; stats filter on it).
# 3: rollout columns for loops and stalls; the review queue's derived pair columns, indexes
#    and pair_counts (labeling/sqlite_pairs.py).
# 4: team review: pair_votes (each labeler's verdict) and pairs.votes / pairs.disagree,
#    derived from the log (labeling/team_sql.py).
SCHEMA_VERSION = 4

ROLLOUT_COLUMNS = tuple(ROLLOUT_DEFAULTS)
FILE_COLUMNS = ("size", "mtime_ns", "ino", "head", "offset", "line_no")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY, path TEXT NOT NULL, suite TEXT, model TEXT, provider TEXT,
    planned INTEGER DEFAULT 0, started TEXT, finished_at TEXT, stop_reason TEXT,
    meta_size INTEGER, meta_mtime_ns INTEGER, dir_mtime_ns INTEGER
);
CREATE TABLE IF NOT EXISTS rollouts (
    rid INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE, batch_id TEXT NOT NULL, rollout_id TEXT NOT NULL, trace_path TEXT NOT NULL,
    size INTEGER, mtime_ns INTEGER, ino INTEGER, head TEXT, offset INTEGER, line_no INTEGER,
    {", ".join(ROLLOUT_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS rollouts_task ON rollouts(task_id);
CREATE INDEX IF NOT EXISTS rollouts_batch ON rollouts(batch_id);
CREATE INDEX IF NOT EXISTS rollouts_status ON rollouts(status);
CREATE TABLE IF NOT EXISTS steps (
    rid INTEGER NOT NULL, step INTEGER NOT NULL, offset INTEGER, tokens_in INTEGER,
    tokens_out INTEGER, latency_s REAL, PRIMARY KEY (rid, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bad_lines (
    rid INTEGER NOT NULL, line_no INTEGER NOT NULL, offset INTEGER NOT NULL, reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bad_lines_rid ON bad_lines(rid);
CREATE TABLE IF NOT EXISTS tool_calls (rid INTEGER NOT NULL, {", ".join(CALL_COLUMNS)});
CREATE INDEX IF NOT EXISTS tool_calls_rid ON tool_calls(rid);
CREATE TABLE IF NOT EXISTS pairs (
    pair_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, kind TEXT NOT NULL, chosen_uid TEXT NOT NULL,
    rejected_uid TEXT NOT NULL, strategy TEXT, contrast TEXT, decided_by TEXT, flags TEXT,
    at_step INTEGER, prefix_messages INTEGER, stale INTEGER DEFAULT 0, created_at TEXT, updated_at TEXT
);
CREATE TABLE IF NOT EXISTS label_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, target TEXT NOT NULL, value TEXT,
    note TEXT, labeler TEXT NOT NULL, at TEXT NOT NULL, ref INTEGER REFERENCES label_events(id)
);
CREATE INDEX IF NOT EXISTS label_events_ref ON label_events(ref);
CREATE INDEX IF NOT EXISTS label_events_target ON label_events(kind, target, id);
CREATE INDEX IF NOT EXISTS label_events_labeler ON label_events(labeler, id);
CREATE TRIGGER IF NOT EXISTS label_events_no_update BEFORE UPDATE ON label_events
    BEGIN SELECT RAISE(ABORT, 'label_events is append-only'); END;
CREATE TRIGGER IF NOT EXISTS label_events_no_delete BEFORE DELETE ON label_events
    BEGIN SELECT RAISE(ABORT, 'label_events is append-only'); END;
CREATE VIEW IF NOT EXISTS active_events AS
    SELECT e.* FROM label_events e
    WHERE e.kind NOT IN ('undo', 'redo') AND NOT EXISTS (
        SELECT 1 FROM label_events u WHERE u.ref = e.id AND u.kind = 'undo' AND NOT EXISTS (
            SELECT 1 FROM label_events r WHERE r.ref = u.id AND r.kind = 'redo'));
CREATE VIEW IF NOT EXISTS current_verdicts AS
    SELECT target AS pair_id, value AS verdict, note, labeler, at, id FROM (
        SELECT *, row_number() OVER (PARTITION BY target ORDER BY id DESC) AS rn
        FROM active_events WHERE kind = 'verdict') WHERE rn = 1 AND verdict IS NOT NULL;
CREATE VIEW IF NOT EXISTS current_marks AS
    SELECT target, value AS reason, note AS text, labeler, at, id FROM (
        SELECT *, row_number() OVER (PARTITION BY target ORDER BY id DESC) AS rn
        FROM active_events WHERE kind IN ('mark', 'unmark')) WHERE rn = 1 AND kind = 'mark';
CREATE VIEW IF NOT EXISTS current_tags AS
    SELECT target AS pair_id, value AS tag FROM (
        SELECT *, row_number() OVER (PARTITION BY target, value ORDER BY id DESC) AS rn
        FROM active_events WHERE kind IN ('tag', 'untag')) WHERE rn = 1 AND kind = 'tag';
"""

EVENT_COLUMNS = ("id", "kind", "target", "value", "note", "labeler", "at", "ref")


class SqliteDb(SqlitePairs, TableRows):
    """One SQLite file in WAL mode; a lock makes one connection safe across threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._open()
        except sqlite3.Error as exc:
            # A garbage or truncated file: one clear line for every command and the studio.
            try:
                self._conn.close()
            except Exception:
                pass
            raise StoreError(
                f"{self.path} is not a usable label store ({exc}); move it aside and ingest again"
            ) from None

    def _open(self) -> None:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so each write is one
        # explicit transaction that is committed before the method returns.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        c = self._conn
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a committed txn survives a process kill
        c.execute("PRAGMA busy_timeout=30000")
        c.execute("PRAGMA foreign_keys=OFF")
        try:
            self._create_or_migrate()
        except BaseException:
            c.close()
            raise

    # What the schema-version errors add after "upgrade repo-agent" / "unreadable ...".
    _newer_hint = ", or pass --db for another store file"
    _unreadable_hint = ": move it aside (it will be rebuilt from the traces; its labels stay in the old file)"

    def _where(self) -> str:
        return str(self.path)

    def _create_or_migrate(self) -> None:
        """Check the stored schema version, then create or migrate (one transaction)."""
        with self.write():
            stored = self.migrated_from = self._stored_version()
            if stored is not None and stored > SCHEMA_VERSION:
                raise SchemaMismatch(
                    f"label store {self._where()} has schema version {stored}, newer than this repo-agent's "
                    f"({SCHEMA_VERSION}): upgrade repo-agent{self._newer_hint}"
                )
            self._make_schema(stored)
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._check_readable()

    def _make_schema(self, stored: int | None) -> None:
        c = self._conn
        # Creates what is missing; each version so far only added tables, indexes and
        # columns, so a store of an older version is migrated by this alone.
        for stmt in _split_sql(_SCHEMA):
            c.execute(stmt)
        _add_missing_columns(c)  # version 3 added rollout columns (loops, loop_steps, stalls)
        migrate(c)  # and columns to pairs, filled from the pairs and the log

    def _check_readable(self) -> None:
        # Reading every table once finds a file that has SQLite's header but garbage pages.
        for table in ("meta", "batches", "rollouts", "pairs", "label_events"):
            self._conn.execute(f"SELECT count(*) FROM {table}").fetchone()

    def _has_meta(self) -> bool:
        return bool(self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchall())

    def _stored_version(self) -> int | None:
        """The schema version the store was written with; None for a new store."""
        if not self._has_meta():
            return None
        rows = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        try:
            return int(rows[0][0]) if rows else None
        except (TypeError, ValueError):
            raise SchemaMismatch(
                f"label store {self._where()} has an unreadable schema version {rows[0][0]!r}{self._unreadable_hint}"
            ) from None

    # ------------------------------------------------------------------ plumbing
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

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ settings
    def get_meta(self) -> dict[str, str]:
        return dict(self._q("SELECT key, value FROM meta"))

    def set_meta(self, items: dict[str, str]) -> None:
        with self.write():
            self._conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(items.items()))

    # ------------------------------------------------------------------ ingest state
    def batch_state(self, batch_id: str) -> tuple | None:
        """(meta_size, meta_mtime_ns, finished_at, path) of batch.json as last read, or None."""
        rows = self._q(
            "SELECT meta_size, meta_mtime_ns, finished_at, path FROM batches WHERE batch_id = ?", (batch_id,)
        )
        return rows[0] if rows else None

    def upsert_batch(self, row: dict[str, Any]) -> None:
        cols = list(row)
        sql = (
            f"INSERT INTO batches ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT(batch_id) DO UPDATE SET {', '.join(f'{c}=excluded.{c}' for c in cols[1:])}"
        )
        with self.write():
            self._conn.execute(sql, [row[c] for c in cols])

    def file_states(self, batch_id: str) -> dict[str, tuple]:
        """rollout_id -> (rid, size, mtime_ns, ino, head, offset, line_no, trace_path)."""
        rows = self._q(
            "SELECT rollout_id, rid, size, mtime_ns, ino, head, offset, line_no, trace_path FROM rollouts "
            "WHERE batch_id = ?",
            (batch_id,),
        )
        return {r[0]: r[1:] for r in rows}

    def set_trace_paths(self, rows: list[tuple[str, int]]) -> None:
        """(trace_path, rid): the same rollouts, now known under their canonical path."""
        with self.write():
            self._conn.executemany("UPDATE rollouts SET trace_path = ? WHERE rid = ?", rows)

    def drop_rollouts(self, rids: list[int]) -> None:
        """Forget rollouts whose trace file is gone (their pairs go stale at the next build)."""
        with self.write():
            for table in ("rollouts", "steps", "tool_calls", "bad_lines"):
                self._conn.executemany(f"DELETE FROM {table} WHERE rid = ?", [(r,) for r in rids])

    def bad_lines(self) -> dict[str, list[tuple[int, int, str]]]:
        """trace_path -> [(line_no, offset, reason)]: the lines ingest skipped."""
        out: dict[str, list[tuple[int, int, str]]] = {}
        for path, ln, off, reason in self._q(
            "SELECT r.trace_path, b.line_no, b.offset, b.reason FROM bad_lines b JOIN rollouts r ON r.rid = b.rid "
            "ORDER BY b.rid, b.line_no"
        ):
            out.setdefault(path, []).append((ln, off, reason))
        return out

    def ingested_offsets(self) -> dict[str, int]:
        """trace_path -> bytes indexed (the exporters read no further)."""
        return dict(self._q("SELECT trace_path, offset FROM rollouts"))

    def rollout_values(self, rid: int) -> tuple[dict[str, Any], set[int]]:
        """A rollout's event-derived columns and the steps already stored (to resume a read)."""
        with self._lock:
            cur = self._conn.execute(f"SELECT {', '.join(ROLLOUT_COLUMNS)} FROM rollouts WHERE rid = ?", (rid,))
            row = cur.fetchone()
            steps = {s for (s,) in self._conn.execute("SELECT step FROM steps WHERE rid = ?", (rid,))}
        return dict(zip(ROLLOUT_COLUMNS, row)), steps

    def write_rollouts(self, items: Iterable[tuple[Any, dict[str, Any], bool]]) -> None:
        """One transaction for a group of read files.

        Each item: (accum, file_state, reset). ``reset`` drops the rollout's steps and
        tool calls first (its file was replaced and re-read from the start).
        ``file_state["_base"]`` is the (offset, mtime_ns) the read started from (None for
        a new file); an item whose stored state moved on meanwhile is skipped.
        """
        upsert_cols = ("uid", "batch_id", "rollout_id", "trace_path", *FILE_COLUMNS, *ROLLOUT_COLUMNS)
        upsert = (
            f"INSERT INTO rollouts ({', '.join(upsert_cols)}) VALUES ({', '.join('?' * len(upsert_cols))}) "
            f"ON CONFLICT(uid) DO UPDATE SET {', '.join(f'{c}=excluded.{c}' for c in upsert_cols[1:])} "
            "RETURNING rid"
        )
        step_rows: list[tuple] = []
        step_updates: list[tuple] = []
        call_rows: list[tuple] = []
        late: list[tuple] = []
        bad: list[tuple] = []
        with self.write():
            c = self._conn
            for acc, fs, reset in items:
                # Optimistic check: another process may have indexed these same bytes since
                # we stat'ed the file; then its rows stand and ours are dropped (no duplicates).
                now = c.execute("SELECT offset, mtime_ns FROM rollouts WHERE uid = ?", (acc.uid,)).fetchone()
                if now != fs["_base"]:
                    continue
                (rid,) = c.execute(
                    upsert,
                    (
                        acc.uid,
                        acc.batch_id,
                        acc.rollout_id,
                        fs["trace_path"],
                        *(fs[k] for k in FILE_COLUMNS),
                        *(acc.values[k] for k in ROLLOUT_COLUMNS),
                    ),
                ).fetchone()
                if reset:
                    c.execute("DELETE FROM steps WHERE rid = ?", (rid,))
                    c.execute("DELETE FROM tool_calls WHERE rid = ?", (rid,))
                    c.execute("DELETE FROM bad_lines WHERE rid = ?", (rid,))
                bad.extend((rid, *b) for b in acc.invalid)
                step_rows.extend((rid, s, *v) for s, v in acc.new_steps.items())
                step_updates.extend((*u[:3], rid, u[3]) for u in acc.step_updates)
                call_rows.extend((rid, *row) for row in acc.calls)
                late.extend((*u[:5], rid, *u[5:]) for u in acc.late_results)
            c.executemany("INSERT OR IGNORE INTO steps VALUES (?, ?, ?, ?, ?, ?)", step_rows)
            if bad:
                c.executemany("INSERT INTO bad_lines VALUES (?, ?, ?, ?)", bad)
            if step_updates:
                c.executemany(
                    "UPDATE steps SET tokens_in = tokens_in + ?, tokens_out = tokens_out + ?, latency_s = ? "
                    "WHERE rid = ? AND step = ?",
                    step_updates,
                )
            c.executemany(f"INSERT INTO tool_calls VALUES ({', '.join('?' * (len(CALL_COLUMNS) + 1))})", call_rows)
            if late:
                c.executemany(
                    "UPDATE tool_calls SET ok = ?, duration_s = ?, output_chars = ?, truncated = ?, error = ? "
                    "WHERE rid = ? AND step = ? AND call_id = ?",
                    late,
                )

    def touch_files(self, rows: list[tuple[int, int, int]]) -> None:
        """Record (size, mtime_ns) for files whose bytes were not read (rid last)."""
        if rows:
            with self.write():
                self._conn.executemany("UPDATE rollouts SET size = ?, mtime_ns = ? WHERE rid = ?", rows)

    # ------------------------------------------------------------------ reads
    def batches(self) -> list[dict[str, Any]]:
        sql = """
            SELECT b.batch_id, b.path, b.suite, b.model, b.provider, b.planned, b.started, b.finished_at,
                   b.stop_reason, count(r.rid), coalesce(sum(CASE WHEN r.status = 'finished' THEN 1 ELSE 0 END), 0),
                   coalesce(sum(CASE WHEN r.status = 'finished' AND r.tests_passed != 0 AND r.tests_tampered = 0
                                THEN 1 ELSE 0 END), 0),
                   coalesce(sum(r.tokens_in), 0), coalesce(sum(r.tokens_out), 0),
                   sum(r.cost_usd)
            FROM batches b LEFT JOIN rollouts r ON r.batch_id = b.batch_id
            GROUP BY b.batch_id ORDER BY b.batch_id"""
        keys = (
            "batch_id",
            "path",
            "suite",
            "model",
            "provider",
            "planned",
            "started",
            "finished_at",
            "stop_reason",
            "rollouts",
            "finished",
            "passed",
            "tokens_in",
            "tokens_out",
            "cost_usd",
        )
        return [dict(zip(keys, r)) for r in self._q(sql)]

    def rollouts(self, where: dict[str, Any] | None = None, *, with_patch: bool = True) -> list[dict[str, Any]]:
        cols = ["uid", "batch_id", "rollout_id", "trace_path", *ROLLOUT_COLUMNS]
        if not with_patch:
            cols.remove("patch")
        conds, params = [], []
        for k, v in (where or {}).items():
            if v is None:
                continue
            if k in ("uids", "task_ids"):
                conds.append(f"{k[:-1]} IN ({', '.join('?' * len(v))})")
                params.extend(v)
            else:
                conds.append(f"{k} = ?")
                params.append(v)
        sql = f"SELECT {', '.join(cols)} FROM rollouts"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY task_id, uid"
        return [dict(zip(cols, r)) for r in self._q(sql, params)]

    def rollout_rid(self, uid: str) -> int | None:
        rows = self._q("SELECT rid FROM rollouts WHERE uid = ?", (uid,))
        return rows[0][0] if rows else None

    def neighbour_uid(self, uid: str, delta: int) -> str | None:
        """The rollout after (delta > 0) or before ``uid`` in its batch, ordered by task id
        then uid; one index range, no patch read."""
        op, order = (">", "ASC") if delta > 0 else ("<", "DESC")
        rows = self._q(
            f"SELECT r.uid FROM rollouts r JOIN rollouts me ON me.uid = ? AND r.batch_id = me.batch_id "
            f"WHERE (r.task_id, r.uid) {op} (me.task_id, me.uid) "
            f"ORDER BY r.task_id {order}, r.uid {order} LIMIT 1",
            (uid,),
        )
        return rows[0][0] if rows else None

    def uids_for_rollout_id(self, rollout_id: str) -> list[str]:
        return [r[0] for r in self._q("SELECT uid FROM rollouts WHERE rollout_id = ? LIMIT 2", (rollout_id,))]

    def steps(self, rid: int) -> tuple[list[tuple], list[dict[str, Any]]]:
        """(step rows (step, offset, tokens_in, tokens_out, latency_s), tool call dicts in order)."""
        with self._lock:
            steps = self._conn.execute(
                "SELECT step, offset, tokens_in, tokens_out, latency_s FROM steps WHERE rid = ? ORDER BY step",
                (rid,),
            ).fetchall()
            calls = self._conn.execute(
                f"SELECT {', '.join(CALL_COLUMNS)} FROM tool_calls WHERE rid = ? ORDER BY seq", (rid,)
            ).fetchall()
        out = [dict(zip(CALL_COLUMNS, r)) for r in calls]
        for c in out:
            if c["args"] == ARGS_SAME:
                c["args"] = c["arguments"]
        return steps, out

    def tasks(self) -> list[str]:
        return [r[0] for r in self._q("SELECT DISTINCT task_id FROM rollouts WHERE task_id != '' ORDER BY task_id")]

    def validity_by_model(self) -> list[tuple[str, int, int]]:
        """(model, tool calls, invalid tool calls) over all rollouts."""
        return self._q(
            "SELECT model, coalesce(sum(tool_calls), 0), coalesce(sum(invalid_tool_calls), 0) "
            "FROM rollouts GROUP BY model ORDER BY model"
        )

    # ------------------------------------------------------------------ human log
    def insert_event(
        self, kind: str, target: str, value: str | None, note: str | None, labeler: str, at: str, ref: int | None = None
    ) -> int:
        """Append one event; call inside `write()`."""
        # Text from argv or a terminal may hold lone surrogates (undecodable bytes): escaped.
        text = [None if x is None else clean_text(x) for x in (kind, target, value, note, labeler)]
        (eid,) = self._conn.execute(
            "INSERT INTO label_events (kind, target, value, note, labeler, at, ref) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "RETURNING id",
            (*text, at, ref),
        ).fetchone()
        return int(eid)

    def events(self, *, labeler: str | None = None, ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM label_events"
        params: list[Any] = []
        if labeler is not None:
            sql += " WHERE labeler = ?"
            params.append(labeler)
        elif ids is not None:
            sql += f" WHERE id IN ({', '.join('?' * len(ids))})"
            params.extend(ids)
        sql += " ORDER BY id"
        return [dict(zip(EVENT_COLUMNS, r)) for r in self._q(sql, params)]

    def last_action(self, labeler: str, kinds: Sequence[str]) -> dict[str, Any] | None:
        """The labeler's latest action that no undo currently cancels (what `u` undoes).

        Walks the labeler's log backwards over its index: the cost is the number of
        undone actions on top, not the size of the log."""
        rows = self._q(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM label_events e WHERE labeler = ? "
            f"AND kind IN ({', '.join('?' * len(kinds))}) AND NOT EXISTS ("
            "SELECT 1 FROM label_events u WHERE u.ref = e.id AND u.kind = 'undo' AND NOT EXISTS ("
            "SELECT 1 FROM label_events r WHERE r.ref = u.id AND r.kind = 'redo')) ORDER BY id DESC LIMIT 1",
            (labeler, *kinds),
        )
        return dict(zip(EVENT_COLUMNS, rows[0])) if rows else None

    def last_undo(self, labeler: str, kinds: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(undo, the action it cancels) that `r` redoes: the labeler's latest undo not yet
        redone, if no new action came after it. Index walks, as `last_action`."""
        marks = ", ".join("?" * len(kinds))
        rows = self._q(
            f"SELECT {', '.join('u.' + c for c in EVENT_COLUMNS)} FROM label_events u WHERE u.labeler = ? "
            "AND u.kind = 'undo' AND u.id > coalesce((SELECT max(id) FROM label_events "
            f"WHERE labeler = ? AND kind IN ({marks})), 0) AND NOT EXISTS ("
            "SELECT 1 FROM label_events r WHERE r.ref = u.id AND r.kind = 'redo') ORDER BY u.id DESC LIMIT 1",
            (labeler, labeler, *kinds),
        )
        if not rows:
            return None
        undo = dict(zip(EVENT_COLUMNS, rows[0]))
        action = self.events(ids=[undo["ref"]])
        return (undo, action[0]) if action else None

    def step_marks(self, uid: str) -> list[tuple]:
        """(step target, reason, text, labeler, at) for the rollout's currently marked steps."""
        esc = uid.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._q(
            "SELECT target, reason, text, labeler, at FROM current_marks WHERE target LIKE ? ESCAPE '\\'",
            (esc + "#%",),
        )

    def all_step_marks(self) -> list[tuple]:
        return self._q("SELECT target, reason, text, labeler, at FROM current_marks")

    def loop_steps(self, uid: str | None = None) -> list[tuple[str, str]]:
        """(uid, JSON list of loop steps) for rollouts with loop steps (one rollout's, with uid)."""
        if uid is not None:
            return self._q("SELECT uid, loop_steps FROM rollouts WHERE uid = ? AND loop_steps != '[]'", (uid,))
        return self._q("SELECT uid, loop_steps FROM rollouts WHERE loop_steps != '[]'")


def _add_missing_columns(c: sqlite3.Connection) -> None:
    """A store made before a rollout column existed gets it (additive trace kinds add columns)."""
    have = {row[1] for row in c.execute("PRAGMA table_info(rollouts)")}
    for col in ROLLOUT_COLUMNS:
        if col not in have:
            default = ROLLOUT_DEFAULTS[col]
            c.execute(f"ALTER TABLE rollouts ADD COLUMN {col} DEFAULT {_sql_literal(default)}")


def _sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _split_sql(script: str) -> list[str]:
    """Split the schema into statements (triggers contain ';' inside BEGIN ... END)."""
    out, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            out.append(joined)
            buf = []
    return out
