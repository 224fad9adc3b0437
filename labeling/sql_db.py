"""The label store's backend: one class for SQLite and PostgreSQL (docs/ARCHITECTURE.md, Where it grows).

`SqlDb` implements `labeling.backend.Backend` by holding a session (a connection, its lock and
write transactions: `labeling.sqlite_conn`) and a dialect (`labeling.sql_dialect`), and the
SQL parts both databases share, each on the same session: the human log
(`labeling.sqlite_log.EventLog`), the pairs and review queue (`labeling.sqlite_pairs.PairsSql`),
ingest writes (`labeling.sqlite_ingest.IngestWrites`), the dialect's search index and whole
tables for a copy (`labeling.sql_tables.TableRows`). The reads of batches and rollouts are
here. Open one with `labeling.sqlite_db.open_sqlite` or `labeling.pg_db.open_pg`. Nothing
outside these modules sees a connection, a cursor or SQL; rows leave as plain tuples/dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from labeling.errors import SchemaMismatch
from labeling.records import IndexProgress
from labeling.search_query import SearchQuery
from labeling.sql_dialect import Dialect
from labeling.sql_tables import TableRows
from labeling.sqlite_conn import Session
from labeling.sqlite_ingest import IngestWrites
from labeling.sqlite_log import EventLog
from labeling.sqlite_pairs import PairsSql
from labeling.sqlite_schema import JOB_COLUMNS, ROLLOUT_COLUMNS, SCHEMA_VERSION, UPLOAD_COLUMNS
from labeling.trace_rows import ARGS_SAME, CALL_COLUMNS


class SqlDb:
    """One label store database: a session, a dialect and the SQL parts on them."""

    def __init__(self, session: Session, dialect: Dialect, where: str):
        self.session = session
        self.dialect = dialect
        self.where = where  # the store as a message names it (a path, a URL without password)
        self.log = EventLog(session, dialect)
        self.search = dialect.search(session)
        self.ingest = IngestWrites(session, self.search)
        self.pair_sql = PairsSql(session, dialect)
        self.tables = TableRows(session, dialect)
        self.migrated_from: int | None = None

    # ------------------------------------------------------------------ schema
    def create_or_migrate(self) -> None:
        """Check the stored schema version, then create or migrate (one transaction)."""
        with self.write():
            stored = self.migrated_from = self._stored_version()
            if stored is not None and stored > SCHEMA_VERSION:
                raise SchemaMismatch(
                    f"label store {self.where} has schema version {stored}, newer than this repo-agent's "
                    f"({SCHEMA_VERSION}): upgrade repo-agent{self.dialect.newer_hint}"
                )
            self.dialect.make_schema(self.session, stored)
            self.session.conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        self.dialect.check_readable(self.session)

    def _stored_version(self) -> int | None:
        """The schema version the store was written with; None for a new store."""
        if not self.dialect.has_meta(self.session):
            return None
        rows = self._q("SELECT value FROM meta WHERE key = 'schema_version'")
        try:
            return int(rows[0][0]) if rows else None
        except (TypeError, ValueError):
            raise SchemaMismatch(
                f"label store {self.where} has an unreadable schema version {rows[0][0]!r}{self.dialect.unreadable_hint}"
            ) from None

    # ------------------------------------------------------------------ plumbing
    def write(self) -> AbstractContextManager[None]:
        return self.session.write()

    def close(self) -> None:
        self.search.close()
        self.session.close()

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.session.lock:
            return self.session.conn.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ settings
    def get_meta(self) -> dict[str, str]:
        return dict(self._q("SELECT key, value FROM meta"))

    def set_meta(self, items: dict[str, str]) -> None:
        with self.write():
            self.session.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(items.items()))

    # ------------------------------------------------------------------ fine-tuning
    def save_upload(self, row: dict[str, Any]) -> None:
        with self.write():
            self.session.conn.execute(_upsert("finetune_uploads", "sha256", tuple(row)), tuple(row.values()))

    def upload_rows(self, sha256: str) -> list[dict[str, Any]]:
        return self._dicts("finetune_uploads", UPLOAD_COLUMNS, "WHERE sha256 = ?", (sha256,))

    def save_job(self, row: dict[str, Any]) -> None:
        with self.write():
            self.session.conn.execute(_upsert("finetune_jobs", "job_id", tuple(row)), tuple(row.values()))

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
        with self.session.lock:
            steps = self.session.conn.execute(
                "SELECT step, offset, tokens_in, tokens_out, latency_s FROM steps WHERE rid = ? ORDER BY step",
                (rid,),
            ).fetchall()
            calls = self.session.conn.execute(
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

    # ------------------------------------------------------------------ ingest (self.ingest)
    def batch_state(self, batch_id: str) -> tuple | None:
        return self.ingest.batch_state(batch_id)

    def upsert_batch(self, row: dict[str, Any]) -> None:
        self.ingest.upsert_batch(row)

    def file_states(self, batch_id: str) -> dict[str, tuple]:
        return self.ingest.file_states(batch_id)

    def rollout_values(self, rid: int) -> tuple[dict[str, Any], set[int]]:
        return self.ingest.rollout_values(rid)

    def write_rollouts(self, items: Iterable[tuple[Any, dict[str, Any], bool]]) -> None:
        self.ingest.write_rollouts(items)

    def set_trace_paths(self, rows: list[tuple[str, int]]) -> None:
        self.ingest.set_trace_paths(rows)

    def drop_rollouts(self, rids: list[int]) -> None:
        self.ingest.drop_rollouts(rids)

    def mark_copies(self, uids: list[str] | None = None) -> None:
        self.ingest.mark_copies(uids)

    def bad_lines(self) -> dict[str, list[tuple[int, int, str]]]:
        return self.ingest.bad_lines()

    def ingested_offsets(self) -> dict[str, int]:
        return self.ingest.ingested_offsets()

    # ------------------------------------------------------------------ search (the dialect's)
    def write_search_docs(self, rows: list[tuple]) -> None:
        self.search.write_search_docs(rows)

    def fill_search_index(self) -> bool:
        """A store with rollouts and no documents (a `repo-agent db copy` to PostgreSQL, which
        copies no index) has every trace read again at this ingest to fill it; True if so."""
        if not self.search.needs_refill():
            return False
        with self.write():
            self.session.conn.execute("UPDATE rollouts SET ino = -1")
        return True

    def search_hits(self, q: SearchQuery, before: int | None, limit: int) -> list[tuple]:
        return self.search.search_hits(q, before, limit)

    @property
    def search_in_ingest(self) -> bool:
        """Whether ingest writes the documents (PostgreSQL), or they are filled apart (SQLite)."""
        return self.search.in_ingest

    def search_catch_up(self, base: str) -> None:
        self.search.catch_up(base)

    def search_progress(self) -> IndexProgress | None:
        return self.search.progress()

    # ------------------------------------------------------------------ pairs and the queue (self.pair_sql)
    def pair_ids(self, task_ids: list[str] | None = None) -> dict[str, tuple[int, str]]:
        return self.pair_sql.pair_ids(task_ids)

    def save_pairs(
        self, upserts: list[dict[str, Any]], stale_ids: list[str], now: str, new_ids: list[str] | None = None
    ) -> int:
        return self.pair_sql.save_pairs(upserts, stale_ids, now, new_ids)

    def pairs(self, pair_id: str | None = None) -> list[dict[str, Any]]:
        return self.pair_sql.pairs(pair_id)

    def pair_ids_with_prefix(self, prefix: str) -> list[str]:
        return self.pair_sql.pair_ids_with_prefix(prefix)

    def queue_page(
        self, filt: dict[str, Any], after: tuple | None = None, limit: int | None = 100, backward: bool = False
    ) -> list[dict[str, Any]]:
        return self.pair_sql.queue_page(filt, after, limit, backward)

    def queue_counts(self, filt: dict[str, Any]) -> dict[str, int]:
        return self.pair_sql.queue_counts(filt)

    def queue_position(self, filt: dict[str, Any], key: tuple) -> int:
        return self.pair_sql.queue_position(filt, key)

    def queue_size(self, filt: dict[str, Any]) -> int:
        return self.pair_sql.queue_size(filt)

    def review_reads(
        self, pair_id: str, counted: list[dict[str, Any]], sized: list[dict[str, Any]], at: tuple[dict, tuple] | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, int]], list[int], int | None]:
        return self.pair_sql.review_reads(pair_id, counted, sized, at)

    def refresh_verdicts(self, pair_ids: list[str], must_exist: bool = False) -> None:
        self.pair_sql.refresh_verdicts(pair_ids, must_exist)

    # ------------------------------------------------------------------ the human log (self.log)
    def insert_event(
        self, kind: str, target: str, value: str | None, note: str | None, labeler: str, at: str, ref: int | None = None
    ) -> int:
        return self.log.insert_event(kind, target, value, note, labeler, at, ref)

    def send_event(
        self, kind: str, target: str, value: str | None, note: str | None, labeler: str, at: str, ref: int | None = None
    ) -> Callable[[], int]:
        return self.log.send_event(kind, target, value, note, labeler, at, ref)

    def events(self, *, labeler: str | None = None, ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        return self.log.events(labeler=labeler, ids=ids)

    def last_action(self, labeler: str, kinds: Sequence[str]) -> dict[str, Any] | None:
        return self.log.last_action(labeler, kinds)

    def last_undo(self, labeler: str, kinds: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        return self.log.last_undo(labeler, kinds)

    def step_marks(self, uid: str) -> list[tuple]:
        return self.log.step_marks(uid)

    def all_step_marks(self) -> list[tuple]:
        return self.log.all_step_marks()

    def loop_steps(self, uid: str | None = None) -> list[tuple[str, str]]:
        return self.log.loop_steps(uid)

    def cleared_rollouts(self, uids: Sequence[str] | None = None) -> list[tuple]:
        return self.log.cleared_rollouts(uids)

    # ------------------------------------------------------------------ whole tables (self.tables)
    def table_columns(self, table: str) -> list[str]:
        return self.tables.table_columns(table)

    def table_size(self, table: str) -> int:
        return self.tables.table_size(table)

    def read_table(self, table: str, cols: list[str], step: int = 500) -> Iterator[list[tuple]]:
        return self.tables.read_table(table, cols, step)

    def append_rows(self, table: str, cols: list[str], rows: list[tuple]) -> None:
        self.tables.append_rows(table, cols, rows)

    def has_work(self) -> bool:
        return self.tables.has_work()

    def after_copy(self) -> None:
        self.tables.after_copy()

    def drop_all(self) -> bool:
        """Drop the store's tables and make the schema again (`repo-agent db copy --force` on
        PostgreSQL); False where the store is a file to replace instead (SQLite)."""
        if not self.dialect.drop_tables(self.session):
            return False
        self.create_or_migrate()
        return True


def _upsert(table: str, key: str, cols: tuple[str, ...]) -> str:
    """INSERT or, on ``key``, overwrite the given columns (the same SQL on SQLite and PostgreSQL)."""
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
    marks = ", ".join("?" * len(cols))
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {sets}"
