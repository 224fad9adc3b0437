"""The ingest writes of the label store: batches, rollouts, steps, tool calls and skipped lines.

A part of `labeling.sql_db.SqlDb` (both databases); `labeling.indexer`
reads the stored file states and writes what it read, one transaction per group of files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from labeling.sql_dialect import Search
from labeling.sqlite_conn import Session, SqlPart
from labeling.sqlite_schema import FILE_COLUMNS, ROLLOUT_COLUMNS
from labeling.trace_rows import CALL_COLUMNS


class IngestWrites(SqlPart):
    """What ingest reads back (file states, offsets, skipped lines) and writes; each rollout's
    search documents go to ``search`` in the same transaction (PostgreSQL), or are filled from
    these rows later (SQLite: labeling/search_fill.py)."""

    def __init__(self, session: Session, search: Search):
        super().__init__(session)
        self.search = search

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
            self.search.forget(rids)

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
        docs: list[tuple] = []
        restarted: list[int] = []  # read from byte 0: new, or replaced (reset)
        replaced: list[int] = []
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
                    replaced.append(rid)
                if reset or fs["_base"] is None:
                    restarted.append(rid)
                bad.extend((rid, *b) for b in acc.invalid)
                step_rows.extend((rid, s, *v) for s, v in acc.new_steps.items())
                step_updates.extend((*u[:3], rid, u[3]) for u in acc.step_updates)
                call_rows.extend((rid, *row) for row in acc.calls)
                late.extend((*u[:5], rid, *u[5:]) for u in acc.late_results)
                if acc.docs:
                    docs.extend((rid, *d) for d in acc.docs)
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
            if replaced:
                self.search.forget(replaced)
            self.search.restarted(restarted)
            self.search.write_search_docs(docs)

    def mark_copies(self, uids: list[str] | None = None) -> None:
        """Name each rollout's original (the first indexed with its content key) in ``copy_of``;
        NULL for an original or a rollout not finished yet. ``uids``: only the rollouts sharing
        a content key with these (the ones an ingest changed); None: all (after a drop)."""
        sql = (
            "UPDATE rollouts SET copy_of = CASE WHEN content_key = '' THEN NULL ELSE nullif(("
            "SELECT o.uid FROM rollouts o WHERE o.content_key = rollouts.content_key ORDER BY o.rid LIMIT 1"
            "), uid) END"
        )
        with self.write():
            if uids is None:
                self._conn.execute(sql)
                return
            for i in range(0, len(uids), 500):
                chunk = uids[i : i + 500]
                marks = ", ".join("?" * len(chunk))
                self._conn.execute(
                    f"{sql} WHERE uid IN ({marks}) OR content_key IN "
                    f"(SELECT content_key FROM rollouts WHERE uid IN ({marks}) AND content_key != '')",
                    [*chunk, *chunk],
                )

    def touch_files(self, rows: list[tuple[int, int, int]]) -> None:
        """Record (size, mtime_ns) for files whose bytes were not read (rid last)."""
        if rows:
            with self.write():
                self._conn.executemany("UPDATE rollouts SET size = ?, mtime_ns = ? WHERE rid = ?", rows)
