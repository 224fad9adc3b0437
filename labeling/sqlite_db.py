"""All the SQL of the label store, behind `SqliteDb` (the SQLite backend; `labeling.pg_db.PgDb` runs the same SQL).

Nothing outside the ``sqlite_*`` modules sees a connection, a cursor or SQL (docs/ARCHITECTURE.md, Where it
grows). Rows leave as plain tuples/dicts. This module opens the store, checks its schema version and reads
batches and rollouts; the schema is `labeling.sqlite_schema`, ingest writes `labeling.sqlite_ingest`, the human
log `labeling.sqlite_log`, the pairs and review queue `labeling.sqlite_pairs`.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from agent.untrusted import neutralise_line
from labeling.errors import SchemaMismatch, StoreError
from labeling.sql_tables import TableRows
from labeling.sqlite_ingest import IngestWrites
from labeling.sqlite_log import EVENT_COLUMNS, HumanLog
from labeling.sqlite_pairs import SqlitePairs, migrate
from labeling.sqlite_schema import (
    _SCHEMA,
    FILE_COLUMNS,
    JOB_COLUMNS,
    ROLLOUT_COLUMNS,
    SCHEMA_VERSION,
    UPLOAD_COLUMNS,
    _add_missing_columns,
    _split_sql,
    upgrade_rollouts,
)
from labeling.sqlite_trust import expected_schema, foreign_objects
from labeling.trace_rows import ARGS_SAME, CALL_COLUMNS

# Importable from here as before the split.
__all__ = ["EVENT_COLUMNS", "FILE_COLUMNS", "ROLLOUT_COLUMNS", "SCHEMA_VERSION", "SqliteDb", "_SCHEMA", "_split_sql"]


class SqliteDb(SqlitePairs, IngestWrites, HumanLog, TableRows):
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
        # A shared file's triggers and views may call no function with side effects.
        c.execute("PRAGMA trusted_schema=OFF")
        try:
            self._refuse_foreign_schema()
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

    def _refuse_foreign_schema(self) -> None:
        """Refuse a store holding schema objects it did not create (labeling/sqlite_trust.py),
        before anything is written: a foreign trigger would run on our first write."""

        def own_ddl(mem: sqlite3.Connection) -> None:
            # The store's own creation, on an empty database (what this version writes).
            blank = object.__new__(SqliteDb)
            blank._conn = mem
            blank._make_schema(None)

        foreign = foreign_objects(self._conn, expected_schema(own_ddl))
        if foreign:
            names = ", ".join(neutralise_line(f, markup=False) for f in foreign[:10])
            more = f" and {len(foreign) - 10} more" if len(foreign) > 10 else ""
            raise StoreError(
                f"label store {self._where()} holds schema objects repo-agent did not create ({names}{more}): "
                "not opened, as they could change what is stored; use a store you trust, or ingest again into a new one"
            )

    def _make_schema(self, stored: int | None) -> None:
        c = self._conn
        # Creates what is missing; each version so far only added tables, indexes and
        # columns, so a store of an older version is migrated by this alone.
        for stmt in _split_sql(_SCHEMA):
            c.execute(stmt)
        _add_missing_columns(c)  # version 3 added rollout columns (loops, loop_steps, stalls), 5 the state
        upgrade_rollouts(c, stored)
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

    # ------------------------------------------------------------------ settings
    def get_meta(self) -> dict[str, str]:
        return dict(self._q("SELECT key, value FROM meta"))

    def set_meta(self, items: dict[str, str]) -> None:
        with self.write():
            self._conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(items.items()))

    # ------------------------------------------------------------------ fine-tuning
    def save_upload(self, row: dict[str, Any]) -> None:
        with self.write():
            self._conn.execute(_upsert("finetune_uploads", "sha256", tuple(row)), tuple(row.values()))

    def upload_rows(self, sha256: str) -> list[dict[str, Any]]:
        return self._dicts("finetune_uploads", UPLOAD_COLUMNS, "WHERE sha256 = ?", (sha256,))

    def save_job(self, row: dict[str, Any]) -> None:
        with self.write():
            self._conn.execute(_upsert("finetune_jobs", "job_id", tuple(row)), tuple(row.values()))

    def job_rows(self, job_id: str | None = None) -> list[dict[str, Any]]:
        if job_id is not None:
            return self._dicts("finetune_jobs", JOB_COLUMNS, "WHERE job_id = ?", (job_id,))
        return self._dicts("finetune_jobs", JOB_COLUMNS, "ORDER BY created_at DESC, job_id")

    def _dicts(self, table: str, cols: tuple[str, ...], tail: str, params: tuple = ()) -> list[dict[str, Any]]:
        return [dict(zip(cols, r)) for r in self._q(f"SELECT {', '.join(cols)} FROM {table} {tail}", params)]

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

    def batch_ends(self) -> list[tuple[str, str, str | None]]:
        """(batch id, path key, finished_at) of every batch: what liveness needs."""
        return self._q("SELECT batch_id, path, finished_at FROM batches")

    def has_copies(self) -> bool:
        """Is any rollout a copy of another's content? (One index probe.)"""
        return bool(self._q("SELECT 1 FROM rollouts WHERE copy_of IS NOT NULL LIMIT 1"))

    def state_groups(self) -> list[tuple]:
        """(batch id, task id, state status, verdict, reason, is a copy, count): every figure's input."""
        return self._q(
            "SELECT batch_id, task_id, state_status, state_verdict, state_reason, "
            "CASE WHEN copy_of IS NULL THEN 0 ELSE 1 END, count(*) FROM rollouts GROUP BY 1, 2, 3, 4, 5, 6"
        )

    def rollouts(self, where: dict[str, Any] | None = None, *, with_patch: bool = True) -> list[dict[str, Any]]:
        cols = ["uid", "batch_id", "rollout_id", "trace_path", *ROLLOUT_COLUMNS]
        if not with_patch:
            cols.remove("patch")
        conds, params = [], []
        for k, v in (where or {}).items():
            if v is None:
                continue
            if k == "evidence":  # judged, copies left out (labeling/rollout_states.py)
                conds.append("state_status = 'judged' AND copy_of IS NULL")
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


def _upsert(table: str, key: str, cols: tuple[str, ...]) -> str:
    """INSERT or, on ``key``, overwrite the given columns (the same SQL on SQLite and PostgreSQL)."""
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
    marks = ", ".join("?" * len(cols))
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {sets}"
