"""The label store's schema as made on open: the declared tables (labeling/store_schema.py),
SQLite's append-only triggers and the views that derive the current state of human work, and
how an older store is brought up to date (`make_schema`, on SQLite and PostgreSQL alike).

Human work lives in ``label_events``: append-only (triggers refuse UPDATE and DELETE).
Its current state is derived by views: an event is *active* unless an ``undo`` event
references it and that undo has not itself been reversed by a ``redo``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from labeling.patches import patch_digest
from labeling.pg_schema import pg_code
from labeling.search_index import STORE_SEARCH_TABLES
from labeling.sqlite_conn import Statements
from labeling.sqlite_pairs import fill_derived
from labeling.store_schema import (
    COUNTER_TRIGGERS,
    SCHEMA_VERSION,
    TABLES,
    DialectName,
    add_columns,
    columns,
    create_indexes,
    create_tables,
)
from labeling.trace_rows import ROLLOUT_DEFAULTS

__all__ = ["FILE_COLUMNS", "JOB_COLUMNS", "ROLLOUT_COLUMNS", "SCHEMA_VERSION", "UPLOAD_COLUMNS", "make_schema"]

ROLLOUT_COLUMNS = tuple(ROLLOUT_DEFAULTS)
FILE_COLUMNS = ("size", "mtime_ns", "ino", "head", "offset", "line_no")
UPLOAD_COLUMNS = columns("finetune_uploads")
JOB_COLUMNS = columns("finetune_jobs")

# What SQLite's store has besides the declared tables (labeling/store_schema.py): the human
# log's append-only triggers and the views deriving its current state. (The search index is
# its own file beside the store: labeling/search_index.py.)
_CODE = """
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


def sqlite_code() -> list[str]:
    return [*_split_sql(_CODE), *COUNTER_TRIGGERS]


def make_schema(conn: Statements, stored: int | None, dialect: DialectName, run: Callable[[str], object]) -> None:
    """Create what is missing and bring an older store up to date, on either database, in the
    caller's transaction: the declared tables (labeling/store_schema.py), the columns an older
    table lacks, the indexes, then ``run`` each of the dialect's own statements (triggers,
    views, search: `sqlite_code`, `labeling.pg_schema.pg_code`), then the data an older store
    lacks (rollout states, the queue's derived columns and counters, team votes)."""
    present: dict[str, set[str]] = {}
    for t in TABLES:
        if cols := {str(r[1]) for r in conn.execute(f"PRAGMA table_info({t.name})").fetchall()}:
            present[t.name] = cols
    for stmt in (*create_tables(dialect), *add_columns(present, dialect), *create_indexes(dialect)):
        run(stmt)
    for stmt in sqlite_code() if dialect == "sqlite" else pg_code():
        run(stmt)
    upgrade_rollouts(conn, stored)
    if dialect == "sqlite" and stored is not None and stored < 10:
        for table in STORE_SEARCH_TABLES:  # version 9's index in the store: now its own file
            run(f"DROP TABLE IF EXISTS {table}")
    fill_derived(conn, present)


# agent.trace_events.derive_state in SQL, for rows indexed before the state columns existed.
_DERIVE_STATE = """
UPDATE rollouts SET
    state_status = CASE
        WHEN status != 'finished' THEN 'running'
        WHEN stop_reason IN ('cancelled', 'diverged', 'error') OR tests_passed IS NULL THEN 'not_judged'
        ELSE 'judged' END,
    state_verdict = CASE
        WHEN status != 'finished' OR stop_reason IN ('cancelled', 'diverged', 'error') OR tests_passed IS NULL
            THEN NULL
        WHEN tests_tampered != 0 THEN 'tampered' WHEN tests_passed != 0 THEN 'pass' ELSE 'fail' END,
    state_reason = CASE
        WHEN status != 'finished' THEN NULL
        WHEN stop_reason IN ('cancelled', 'diverged', 'error') THEN stop_reason
        WHEN tests_passed IS NULL THEN 'no_verdict' ELSE NULL END,
    ino = -1
"""


def upgrade_rollouts(c: Any, stored: int | None) -> None:
    """Version 11: each patch's digest computed again (labeling/patches.py). Version 9: every
    trace read again (the search index). Version 8: state from the old
    columns now; ``ino = -1`` makes the next ingest read each
    trace again from its start (its content key, and its state from the trace itself)."""
    if stored is not None and stored < 8:
        c.execute(_DERIVE_STATE)
    if stored is not None and stored < 9:
        c.execute("UPDATE rollouts SET ino = -1")  # re-read: the search index is filled from the traces
    if stored is not None and stored < 11:  # the digest keeps indentation now: equal patches compare equal again
        # A few hundred patches at a time: a store of tens of thousands holds gigabytes of them.
        # Pairs keep their flags until `repo-agent pairs rebuild` (the old rule flagged more
        # pairs identical_patch, never fewer: a stale flag drops a pair, it adds no wrong row).
        last, page = "", "SELECT uid, patch FROM rollouts WHERE uid > ? ORDER BY uid LIMIT 500"
        while rows := c.execute(page, (last,)).fetchall():
            c.executemany(
                "UPDATE rollouts SET patch_digest = ? WHERE uid = ?", [(patch_digest(p or ""), u) for u, p in rows]
            )
            last = rows[-1][0]


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
