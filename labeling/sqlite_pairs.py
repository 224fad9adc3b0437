"""The pair table and the review queue in SQLite: keyset pages, counts, positions.

The review queue's order is `labeling.pairs.queue_key`: (labeled, contrast rank, noisy,
flag set, task id, pair id). Each pair row carries those as columns, with the current
verdict derived from the append-only human log (`refresh_verdicts` runs in the same
transaction as each verdict, undo or redo), so an index matches the queue order and every
queue operation is a range scan that starts at a key: a page after a key, the pair before
a key, the position of a key. Totals come from ``pair_counts``, kept by triggers as pairs
and verdicts change, so counting the whole queue costs the same at 500 and 50,000 pairs.

The SQL is plain (row values, LIKE ... ESCAPE, no SQLite-only functions in the queue
path) so a PostgreSQL backend can reuse it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from labeling.pairs import CONTRAST_RANK
from labeling.records import NARROWING_FIELDS
from labeling.sql_dialect import Dialect
from labeling.sqlite_conn import Session, SqlPart, Statements
from labeling.team_sql import (
    count_votes,
    fold_pair_votes,
    rebuild_votes,
    send_team_queue_size,
    team_conds,
    team_queue,
    votes_read,
)

PAIR_COLUMNS = (
    "pair_id",
    "task_id",
    "kind",
    "chosen_uid",
    "rejected_uid",
    "strategy",
    "contrast",
    "decided_by",
    "flags",
    "at_step",
    "prefix_messages",
    "stale",
    "created_at",
    "updated_at",
)
# Derived columns: the queue order and the current verdict (from the human log).
KEY_COLUMNS = ("labeled", "crank", "noisy", "flag_key", "task_id", "pair_id")
VERDICT_COLUMNS = ("verdict", "note", "labeler", "labeled_at")
_READ = (*PAIR_COLUMNS, *VERDICT_COLUMNS, "labeled", "crank", "noisy", "flag_key")
_ORDER = ", ".join(KEY_COLUMNS)
_ORDER_DESC = ", ".join(f"{c} DESC" for c in KEY_COLUMNS)

BULK_ROWS = 1000  # a pair rebuild this large counts in bulk
_COUNT_BUCKETS = [(v, s) for v in ("", "confirm", "flip", "discard") for s in (0, 1)]


def key_values(contrast: str | None, flags: list[str]) -> tuple[int, int, str]:
    """(contrast rank, noisy, flag key): the derived queue-order columns of a pair."""
    return CONTRAST_RANK.get(contrast or "", 9), int(bool(flags)), ",".join(flags)


def fill_derived(conn: Statements, present: dict[str, set[str]]) -> None:
    """Fill what an older store lacks, in the schema transaction, after its tables gained the
    declared columns (``present``: each table's columns before, labeling/sqlite_schema.py
    `make_schema`): the queue's derived pair columns from the pair rows and the log, each
    labeler's vote from the log, and the counters kept by triggers from then on."""
    had = present.get("pairs", set())
    if had and "crank" not in had:  # before schema 3: the queue's derived columns
        rows = conn.execute("SELECT pair_id, contrast, flags FROM pairs").fetchall()
        conn.executemany(
            "UPDATE pairs SET crank = ?, noisy = ?, flag_key = ? WHERE pair_id = ?",
            [(*key_values(c, json.loads(f or "[]")), pid) for pid, c, f in rows],
        )
        conn.executemany(
            "UPDATE pairs SET verdict = ?, note = ?, labeler = ?, labeled_at = ?, labeled = 1 WHERE pair_id = ?",
            [(*v[1:], v[0]) for v in _current_verdicts(conn)],
        )
    fresh_votes = "vote_counts" not in present
    if fresh_votes:
        count_votes(conn)  # then the triggers keep it
    if (had and "votes" not in had) or fresh_votes:  # before schema 4 (team review)
        rebuild_votes(conn)  # each labeler's vote, from the log
    if "pair_counts" not in present:
        conn.executemany("INSERT OR IGNORE INTO pair_counts VALUES (?, ?, 0)", _COUNT_BUCKETS)
        conn.executemany(
            "UPDATE pair_counts SET n = ? WHERE verdict = ? AND stale = ?",
            conn.execute("SELECT count(*), coalesce(verdict, ''), stale FROM pairs GROUP BY 2, 3").fetchall(),
        )


def _current_verdicts(conn: Statements) -> list[tuple]:
    """(pair_id, verdict, note, labeler, at) of every pair with a current verdict in the log."""
    return conn.execute("SELECT pair_id, verdict, note, labeler, at FROM current_verdicts").fetchall()


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_sql(f: dict[str, Any]) -> tuple[list[str], list[Any], dict[str, Any]]:
    """WHERE conditions for a `labeling.records.PairFilter` (as a dict), and the queue-key
    columns they pin to one value."""
    conds: list[str] = []
    params: list[Any] = []
    pinned: dict[str, Any] = {}
    if not f.get("include_stale"):
        conds.append("(stale = 0 OR labeled = 1)")
    if f.get("task_id"):
        pinned["task_id"] = f["task_id"]
        conds.append("task_id = ?")
        params.append(f["task_id"])
    if f.get("batch_id"):
        conds.append("(chosen_uid LIKE ? ESCAPE '\\' OR rejected_uid LIKE ? ESCAPE '\\')")
        params += [_like(f["batch_id"]) + "/%"] * 2
    if f.get("contrast"):
        conds.append("crank = ? AND contrast = ?")
        params += [CONTRAST_RANK.get(f["contrast"], 9), f["contrast"]]
    flag = f.get("flag")
    if flag == "noisy":
        conds.append("noisy = 1")
    elif flag == "clean":
        conds.append("noisy = 0")
    elif flag:
        conds.append("noisy = 1 AND (',' || flag_key || ',') LIKE ? ESCAPE '\\'")
        params.append(f"%,{_like(flag)},%")
    verdict = f.get("verdict")
    team, team_params = team_conds(f)  # a labeler's queue with overlap K > 1; the adjudication queue
    conds += team
    params += team_params
    if verdict and not team_queue(f):
        pinned["labeled"] = int(verdict != "unlabeled")
    if verdict == "unlabeled":
        if not team_queue(f):
            conds.append("labeled = 0")
    elif verdict == "labeled":
        conds.append("labeled = 1")
    elif verdict:
        conds.append("labeled = 1 AND verdict = ?")
        params.append(verdict)
    if f.get("tag"):
        conds.append("pair_id IN (SELECT pair_id FROM current_tags WHERE tag = ?)")
        params.append(f["tag"])
    if f.get("text"):
        like = "%" + _like(f["text"].lower()) + "%"
        conds.append(
            "(lower(pair_id || ' ' || task_id || ' ' || chosen_uid || ' ' || rejected_uid || ' ' || "
            "coalesce(note, '')) LIKE ? ESCAPE '\\' "
            "OR pair_id IN (SELECT pair_id FROM current_tags WHERE lower(tag) LIKE ? ESCAPE '\\'))"
        )
        params += [like, like]
    return conds, params, pinned


def key_sql(key: tuple, pinned: dict[str, Any], op: str) -> tuple[str, list[Any]]:
    """``(columns) op (key)`` over the queue-key columns the filter does not pin: with an
    equality on a leading column (labeled, task id) a row value that repeats it is not
    used as an index range, so the range starts after the pinned ones. A key outside the
    pinned values (a pair labeled since) compares on the first column that differs."""
    if "labeled" in pinned and key[0] != pinned["labeled"]:
        before = key[0] < pinned["labeled"]  # the key sorts before every pair of the filter
        return ("1 = 1" if before == (op == ">") else "1 = 0"), []
    if any(v != pinned[c] for c, v in zip(KEY_COLUMNS, key) if c in pinned):
        pinned = {}  # another task's key: compare on every column (no shortcut)
    cols = [(c, v) for c, v in zip(KEY_COLUMNS, key) if c not in pinned]
    return f"({', '.join(c for c, _ in cols)}) {op} ({', '.join('?' * len(cols))})", [v for _, v in cols]


def _unfiltered(f: dict[str, Any]) -> bool:
    return not any(f.get(k) for k in NARROWING_FIELDS)


class PairsSql(SqlPart):
    """The pair table and the review queue, a part of `labeling.sql_db.SqlDb` (both databases)."""

    def __init__(self, session: Session, dialect: Dialect):
        super().__init__(session)
        self.dialect = dialect

    def pair_ids(self, task_ids: list[str] | None = None) -> dict[str, tuple[int, str]]:
        """pair_id -> (stale, flags json), of every pair or of these tasks' pairs."""
        sql, params = "SELECT pair_id, stale, flags FROM pairs", list(task_ids or [])
        if task_ids is not None:
            sql += f" WHERE task_id IN ({', '.join('?' * len(task_ids))})"
        return {r[0]: (r[1], r[2]) for r in self._q(sql, params)}

    def save_pairs(
        self, upserts: list[dict[str, Any]], stale_ids: list[str], now: str, new_ids: list[str] | None = None
    ) -> int:
        """Upsert the selected pairs, mark ``stale_ids`` stale and prune the stale pairs that
        have no verdict (their history, if any, stays in the log). Returns how many were pruned."""
        cols = (*PAIR_COLUMNS, "crank", "noisy", "flag_key")
        sql = (
            f"INSERT INTO pairs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            "ON CONFLICT(pair_id) DO UPDATE SET strategy=excluded.strategy, contrast=excluded.contrast, "
            "decided_by=excluded.decided_by, flags=excluded.flags, at_step=excluded.at_step, "
            "prefix_messages=excluded.prefix_messages, stale=0, updated_at=excluded.updated_at, "
            "crank=excluded.crank, noisy=excluded.noisy, flag_key=excluded.flag_key"
        )
        rows = []
        for p in upserts:
            flags = json.loads(p.get("flags") or "[]")
            rows.append([*(p.get(c) for c in PAIR_COLUMNS), *key_values(p.get("contrast"), flags)])
        # A large rebuild recounts the triggers' counters once at commit (PostgreSQL: pg_schema BULK_COUNTERS).
        with self.session.bulk() if len(upserts) + len(stale_ids) >= BULK_ROWS else nullcontext(), self.write():
            c = self._conn
            if new_ids is None:
                known = {r[0] for r in c.execute("SELECT pair_id FROM pairs")}
                new_ids = [p["pair_id"] for p in upserts if p["pair_id"] not in known]
            c.executemany(sql, rows)
            c.executemany(
                "UPDATE pairs SET stale = 1, updated_at = ? WHERE pair_id = ? AND stale = 0",
                [(now, pid) for pid in stale_ids],
            )
            # A pair any labeler still has a verdict on is kept (team review: `votes`).
            # Counted from the rows returned: a pipelined statement (PostgreSQL) has no rowcount yet.
            pruned = len(
                c.execute("DELETE FROM pairs WHERE stale = 1 AND labeled = 0 AND votes = 0 RETURNING 1").fetchall()
            )
            new = new_ids
            if new:
                # A pair pruned earlier and selected again gets back what the log says of it.
                if len(new) < 1000:
                    self.refresh_verdicts(new)
                else:
                    self._apply_verdicts(_current_verdicts(c), set(new))
                    rebuild_votes(c)
        return pruned

    def _apply_verdicts(self, verdicts: list[tuple], only: set[str] | None = None) -> None:
        self._conn.executemany(
            "UPDATE pairs SET verdict = ?, note = ?, labeler = ?, labeled_at = ?, labeled = 1 WHERE pair_id = ?",
            [(*v[1:], v[0]) for v in verdicts if only is None or v[0] in only],
        )

    def refresh_verdicts(self, pair_ids: list[str], must_exist: bool = False) -> None:
        """Re-derive these pairs' current verdict and each labeler's vote from the log; call
        inside `write()`. One read of a pair's log serves both (the verdict key's hot path).
        A pair not in the table is left (a pruned pair's log stays), or with ``must_exist``
        raises NotFound, which rolls the write back. SQLite runs `labeling.team_sql.refresh_pair`,
        PostgreSQL the same logic in the server (the dialect's ``refresh_verdicts``)."""
        self.dialect.refresh_verdicts(self._conn, pair_ids, must_exist)

    def pairs(self, pair_id: str | None = None) -> list[dict[str, Any]]:
        """Every pair (or one) with its current verdict and tags, in queue order."""
        if pair_id:
            return self._read("WHERE pair_id = ?", [pair_id], ids=[pair_id])
        return self._read(f"ORDER BY {_ORDER}", [])

    def queue_page(
        self, filt: dict[str, Any], after: tuple | None = None, limit: int | None = 100, backward: bool = False
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` pairs the filter selects, in queue order, strictly after the key
        ``after`` (or, ``backward``, strictly before it, nearest first)."""
        conds, params, pinned = filter_sql(filt)
        if after is not None:
            cond, values = key_sql(after, pinned, "<" if backward else ">")
            conds.append(cond)
            params += values
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        tail = f"{where} ORDER BY {_ORDER_DESC if backward else _ORDER}"
        if limit is not None:
            tail += " LIMIT ?"
            params.append(limit)
        return self._read(tail, params)

    def queue_counts(self, filt: dict[str, Any]) -> dict[str, int]:
        """verdict ('' for none) -> pairs the filter selects (its verdict part ignored)."""
        with self._lock:
            return self._send_counts(filt)()

    def queue_size(self, filt: dict[str, Any]) -> int:
        """How many pairs the filter selects, its verdict part included (a labeler's team queue)."""
        with self._lock:
            return self._send_size(filt)()

    def queue_position(self, filt: dict[str, Any], key: tuple) -> int:
        """How many pairs the filter selects that come before ``key`` in queue order."""
        with self._lock:
            return self._send_position(filt, key)()

    def review_reads(
        self, pair_id: str, counted: list[dict[str, Any]], sized: list[dict[str, Any]], at: tuple[dict, tuple] | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, int]], list[int], int | None]:
        """A pair's row (as `pairs`) and the queue figures a review screen shows beside it,
        sent together (one round trip on PostgreSQL): `queue_counts` of each filter in
        ``counted``, `queue_size` of each in ``sized``, and ``at`` = (filter, key): the
        `queue_position` of the key."""

        def read() -> tuple[list[dict[str, Any]], list[dict[str, int]], list[int], int | None]:
            rows = self._send_read("WHERE pair_id = ?", [pair_id], ids=[pair_id])
            counts = [self._send_counts(f) for f in counted]
            sizes = [self._send_size(f) for f in sized]
            pos = self._send_position(*at) if at is not None else None
            return rows(), [c() for c in counts], [n() for n in sizes], pos() if pos is not None else None

        return self._batched(read)

    # Each _send_* sends its statements and returns what reads and folds the result: sent
    # together, several reads share one round trip on PostgreSQL (`_batched`).
    def _send_counts(self, filt: dict[str, Any]) -> Callable[[], dict[str, int]]:
        f = {**filt, "verdict": None}
        if _unfiltered(f):  # the whole queue: the counters kept by triggers
            cur = self._conn.execute(
                "SELECT verdict, sum(n) FROM pair_counts WHERE stale = 0 OR verdict != '' OR ? = 1 GROUP BY verdict",
                (1 if f.get("include_stale") else 0,),
            )
        else:
            conds, params, _ = filter_sql(f)
            where = ("WHERE " + " AND ".join(conds)) if conds else ""
            cur = self._conn.execute(f"SELECT coalesce(verdict, ''), count(*) FROM pairs {where} GROUP BY 1", params)
        return lambda: {v: int(n or 0) for v, n in cur.fetchall()}

    def _send_size(self, filt: dict[str, Any]) -> Callable[[], int]:
        if team_queue(filt) and _unfiltered(filt) and not filt.get("include_stale"):
            return send_team_queue_size(self._conn, int(filt["overlap"]), filt["labeler"])  # from counters
        conds, params, _ = filter_sql(filt)
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        cur = self._conn.execute(f"SELECT count(*) FROM pairs {where}", params)
        return lambda: int(cur.fetchone()[0])

    def _send_position(self, filt: dict[str, Any], key: tuple) -> Callable[[], int]:
        conds, params, pinned = filter_sql(filt)
        cond, values = key_sql(key, pinned, "<")
        conds.append(cond)
        params += values
        # Counted walking back from the key (ORDER BY ... DESC): PostgreSQL before 18 ends a
        # forward scan only on a row bound's first column, so it would read every pair of that rank.
        sql = f"SELECT count(*) FROM (SELECT 1 FROM pairs WHERE {' AND '.join(conds)} ORDER BY {_ORDER_DESC}) AS b"
        cur = self._conn.execute(sql, params)
        return lambda: int(cur.fetchone()[0])

    def pair_ids_with_prefix(self, prefix: str) -> list[str]:
        """Up to two ids starting with ``prefix`` (an exact id first); index range scans only."""
        exact = self._q("SELECT pair_id FROM pairs WHERE pair_id = ?", (prefix,))
        if exact:
            return [exact[0][0]]
        return [
            r[0]
            for r in self._q(
                "SELECT pair_id FROM pairs WHERE pair_id >= ? AND pair_id < ? ORDER BY pair_id LIMIT 2",
                (prefix, prefix + "\U0010ffff"),
            )
        ]

    # ------------------------------------------------------------------ rows
    def _read(self, tail: str, params: list[Any], ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Pairs with their tags and votes. ``ids``: their ids, when known before the read
        (one pair): then the three reads are sent together (one round trip on PostgreSQL)."""
        return self._batched(lambda: self._send_read(tail, params, ids)())

    def _send_read(self, tail: str, params: list[Any], ids: list[str] | None) -> Callable[[], list[dict[str, Any]]]:
        cur = self._conn.execute(f"SELECT {', '.join(_READ)} FROM pairs {tail}", params)
        sent = (self._tags_read(ids), votes_read(self._conn, ids)) if ids is not None else None

        def finish() -> list[dict[str, Any]]:
            rows = [dict(zip(_READ, r)) for r in cur]
            if sent is not None:
                tags_rows, votes_rows = sent
            else:  # the ids come with the rows: a second round trip
                known = [r["pair_id"] for r in rows] if len(rows) <= 500 else None
                tags_rows, votes_rows = self._tags_read(known), votes_read(self._conn, known)
            tags, votes = fold_tags(tags_rows), fold_pair_votes(votes_rows)
            for r in rows:
                r["flags"] = json.loads(r["flags"] or "[]")
                r["tags"] = tags.get(r["pair_id"], [])
                r["verdicts"] = votes.get(r["pair_id"], {})
            return rows

        return finish

    def _tags_read(self, pair_ids: list[str] | None) -> Any:
        """The tag events of these pairs (None: of every pair): a cursor, not yet read."""
        sql = "SELECT target, kind, value FROM active_events WHERE kind IN ('tag', 'untag')"
        params: list[Any] = []
        if pair_ids is not None:
            if not pair_ids:
                return ()
            sql += f" AND target IN ({', '.join('?' * len(pair_ids))})"
            params = pair_ids
        return self._conn.execute(sql + " ORDER BY id", params)


def fold_tags(rows: Any) -> dict[str, list[str]]:
    """pair_id -> its current tags, from its tag and untag events in log order."""
    state: dict[tuple[str, str], bool] = {}
    for target, kind, value in rows:
        state[(target, value)] = kind == "tag"
    out: dict[str, list[str]] = {}
    for (target, value), on in sorted(state.items()):
        if on:
            out.setdefault(target, []).append(value)
    return out
