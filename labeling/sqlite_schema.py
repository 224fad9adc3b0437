"""The label store's SQLite schema: tables, indexes, the append-only triggers and the views
that derive the current state of human work, and how an older store is brought up to date.

Human work lives in ``label_events``: append-only (triggers refuse UPDATE and DELETE).
Its current state is derived by views: an event is *active* unless an ``undo`` event
references it and that undo has not itself been reversed by a ``redo``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from labeling.sqlite_conn import Statements
from labeling.sqlite_search import SEARCH_DDL
from labeling.trace_rows import CALL_COLUMNS, ROLLOUT_DEFAULTS

# 2: index on rollouts.status (Rollout/Steps pick running rollouts; stats filter on it).
# 3: rollout columns for loops and stalls; the review queue's derived pair columns, indexes
#    and pair_counts (labeling/sqlite_pairs.py).
# 4: team review: pair_votes (each labeler's verdict) and pairs.votes / pairs.disagree,
#    derived from the log (labeling/team_sql.py).
# 6: fine-tuning: finetune_uploads (a training file's Together file id, by sha256) and
#    finetune_jobs (each job launched on Together and the labels it was trained on).
# 7: rollouts.suspect (a SUSPECT verdict, agent/suspect.py) for the pairs' suspect flag, and
#    rollouts.probe (a cheat probe's rollout, agent/probes.py) for the cheat rate.
# 8: the rollout state (state_status/verdict/reason/detail) and content identity (conv_digest,
#    content_key, copy_of) per rollout; an older store's rollouts get their state from their
#    columns here and are read again from their traces at the next ingest (content keys).
#    (5 was never released: three branches of one round were merged as 6, 7 and 8.)
# 9: the search index (labeling/sqlite_search.py: search_docs, search_fts); an older store's
#    rollouts are read again from their traces at the next ingest to fill it.
SCHEMA_VERSION = 9

ROLLOUT_COLUMNS = tuple(ROLLOUT_DEFAULTS)
FILE_COLUMNS = ("size", "mtime_ns", "ino", "head", "offset", "line_no")
UPLOAD_COLUMNS = ("sha256", "file_id", "filename", "bytes", "uploaded_at")
JOB_COLUMNS = (
    "job_id", "created_at", "updated_at", "status", "base_model", "method", "output_model", "training_file",
    "file_sha256", "training_file_id", "validation_file_id", "sidecar", "sidecar_sha256", "options", "estimate",
    "verdicts", "labeler",
)  # fmt: skip

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
CREATE TABLE IF NOT EXISTS finetune_uploads (
    sha256 TEXT PRIMARY KEY, file_id TEXT NOT NULL, filename TEXT, bytes INTEGER, uploaded_at TEXT
);
CREATE TABLE IF NOT EXISTS finetune_jobs (
    job_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT, status TEXT NOT NULL,
    base_model TEXT NOT NULL, method TEXT NOT NULL, output_model TEXT, training_file TEXT,
    file_sha256 TEXT, training_file_id TEXT, validation_file_id TEXT, sidecar TEXT, sidecar_sha256 TEXT,
    options TEXT, estimate TEXT, verdicts TEXT, labeler TEXT
);
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
{SEARCH_DDL}"""


def _add_missing_columns(c: Statements) -> None:
    """A store made before a rollout column existed gets it (additive trace kinds add columns)."""
    have = {row[1] for row in c.execute("PRAGMA table_info(rollouts)")}
    for col in ROLLOUT_COLUMNS:
        if col not in have:
            default = ROLLOUT_DEFAULTS[col]
            c.execute(f"ALTER TABLE rollouts ADD COLUMN {col} DEFAULT {_sql_literal(default)}")


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
    """Version 9: every trace read again (the search index). Version 8: state from the old
    columns now; ``ino = -1`` makes the next ingest read each
    trace again from its start (its content key, and its state from the trace itself)."""
    c.execute("CREATE INDEX IF NOT EXISTS rollouts_content ON rollouts(content_key)")
    if stored is not None and stored < 8:
        c.execute(_DERIVE_STATE)
    if stored is not None and stored < 9:
        c.execute("UPDATE rollouts SET ino = -1")  # re-read: the search index is filled from the traces


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
