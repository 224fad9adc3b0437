"""The label store's tables, declared once: SQLite and PostgreSQL DDL and the migrations come from here.

Each `Table` lists its columns (name, type, default, not null, the schema version that added
it) and its indexes. From this one declaration:

- `create_tables` / `create_indexes`: ``CREATE TABLE`` / ``CREATE INDEX IF NOT EXISTS`` for
  a dialect (PostgreSQL: ``BIGINT``, ``DOUBLE PRECISION``, text sorting bytewise with
  ``COLLATE "C"``, identity columns);
- `add_columns`: ``ALTER TABLE ... ADD COLUMN`` for each declared column an older store's
  table lacks (SQLite and PostgreSQL alike).

Rollout columns filled from trace events are `labeling.trace_rows.ROLLOUT_DEFAULTS`, one
entry each (their type, where the default does not say it, in `_ROLLOUT_TYPES`). Triggers,
views and the search index are SQL of their own (labeling/sqlite_schema.py, pg_schema.py);
the triggers that keep the queue's counters are written once here in SQLite's syntax and
ported to plpgsql (`labeling.pg_schema.port_ddl`). tests/labeling/test_declared_schema.py
holds both databases' schema as the hand-written DDL of version 9 made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from labeling.trace_rows import CALL_COLUMNS, ROLLOUT_DEFAULTS

# The schema version a store records (meta.schema_version); a new column or table bumps it.
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
# 10: the search index moved to its own file beside a SQLite store (labeling/search_index.py),
#    filled from the rows ingest wrote; rollouts.read_gen says which read of a trace those rows
#    are (a new value each time a trace is read from its start), so the index knows to start over.
# 11: rollouts.patch_digest keeps indentation and context (labeling/patches.py: a line moved
#    into a loop is another fix); an older store's digests are computed again from its patches.
SCHEMA_VERSION = 11

SqlType = Literal["TEXT", "INTEGER", "REAL"]
DialectName = Literal["sqlite", "postgresql"]
Default = str | int | float | None

_PG_TYPES = {"TEXT": 'TEXT COLLATE "C"', "INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION"}


@dataclass(frozen=True)
class Column:
    name: str
    type: SqlType
    default: Default = None
    not_null: bool = False
    since: int = 1  # the version that added it to its table (1: it came with the table)
    key: str = ""  # "primary", "unique", "rowid" (an integer id), "autoincrement" (never reused)
    references: str = ""  # e.g. "label_events(id)"
    # SQLite: the column's name alone in CREATE TABLE (the trace columns were made so; an
    # ADD COLUMN still gives the default). PostgreSQL always gets the type and default.
    bare_in_sqlite: bool = False


@dataclass(frozen=True)
class Index:
    name: str
    columns: str  # "kind, target, id"
    where: str = ""  # a partial index: "stale = 1"
    only: DialectName | None = None  # made on one database only


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()  # a key over several columns
    indexes: tuple[Index, ...] = ()
    without_rowid: bool = False  # SQLite: the rows live in the primary key's b-tree
    copied: bool = True  # False: kept by triggers from the copied tables (`db copy` skips it)


def _text(name: str, *, default: Default = None, not_null: bool = False, since: int = 1, key: str = "") -> Column:
    return Column(name, "TEXT", default, not_null, since, key)


def _int(
    name: str, *, default: Default = None, not_null: bool = False, since: int = 1, key: str = "", references: str = ""
) -> Column:
    return Column(name, "INTEGER", default, not_null, since, key, references)


def _pair_counter(name: str, by: Column) -> Table:
    """Pairs counted by (``by``, stale), kept by triggers from the pairs (never copied)."""
    stale, n = _int("stale", not_null=True), _int("n", not_null=True)
    return Table(name, (by, stale, n), primary_key=(by.name, "stale"), copied=False)


# Rollout and tool-call columns whose default does not say their type.
_ROLLOUT_TYPES: dict[str, SqlType] = {
    "seed": "INTEGER",
    "temperature": "REAL",
    "cost_usd": "REAL",
    "duration_s": "REAL",
    "branch_at_step": "INTEGER",
    "prefix_messages": "INTEGER",
    "last_test_passed": "INTEGER",
}
# Versions that added rollout columns (the rest are version 1's).
_ROLLOUT_SINCE = {
    **dict.fromkeys(("loops", "loop_steps", "stalls"), 3),
    **dict.fromkeys(("suspect", "probe"), 7),
    **dict.fromkeys(
        ("state_status", "state_verdict", "state_reason", "state_detail", "conv_digest", "content_key", "copy_of"), 8
    ),
}
_CALL_TYPES: dict[str, SqlType] = {
    **dict.fromkeys(("call_id", "name", "arguments", "args", "parse_error", "violations", "error"), "TEXT"),
    **dict.fromkeys(("step", "seq", "valid", "offset", "ok", "output_chars", "truncated"), "INTEGER"),
}


def _rollout_type(name: str, default: Default) -> SqlType:
    if name in _ROLLOUT_TYPES:
        return _ROLLOUT_TYPES[name]
    if isinstance(default, str) or default is None:
        return "TEXT"
    return "REAL" if isinstance(default, float) else "INTEGER"


_QUEUE_ORDER = "labeled, crank, noisy, flag_key, task_id, pair_id"  # labeling/sqlite_pairs.py KEY_COLUMNS

TABLES: tuple[Table, ...] = (
    Table("meta", (_text("key", key="primary"), _text("value"))),
    Table(
        "batches",
        (
            _text("batch_id", key="primary"),
            _text("path", not_null=True),
            _text("suite"),
            _text("model"),
            _text("provider"),
            _int("planned", default=0),
            _text("started"),
            _text("finished_at"),
            _text("stop_reason"),
            _int("meta_size"),
            _int("meta_mtime_ns"),
            _int("dir_mtime_ns"),
        ),
    ),
    Table(
        "rollouts",
        (
            _int("rid", key="rowid"),
            _text("uid", not_null=True, key="unique"),
            _text("batch_id", not_null=True),
            _text("rollout_id", not_null=True),
            _text("trace_path", not_null=True),
            _int("size"),
            _int("mtime_ns"),
            _int("ino"),
            _text("head"),
            _int("offset"),
            _int("line_no"),
            *(
                Column(name, _rollout_type(name, d), default=d, since=_ROLLOUT_SINCE.get(name, 1), bare_in_sqlite=True)
                for name, d in ROLLOUT_DEFAULTS.items()
            ),
            _int("read_gen", default=0, since=10),
        ),
        indexes=(
            Index("rollouts_task", "task_id"),
            Index("rollouts_batch", "batch_id"),
            Index("rollouts_status", "status"),
            Index("rollouts_rollout_id", "rollout_id", only="postgresql"),
            Index("rollouts_content", "content_key"),
        ),
    ),
    Table(
        "steps",
        (
            _int("rid", not_null=True),
            _int("step", not_null=True),
            _int("offset"),
            _int("tokens_in"),
            _int("tokens_out"),
            Column("latency_s", "REAL"),
        ),
        primary_key=("rid", "step"),
        without_rowid=True,
    ),
    Table(
        "bad_lines",
        (
            _int("rid", not_null=True),
            _int("line_no", not_null=True),
            _int("offset", not_null=True),
            _text("reason", not_null=True),
        ),
        indexes=(Index("bad_lines_rid", "rid"),),
    ),
    Table(
        "tool_calls",
        (
            _int("rid", not_null=True),
            *(Column(c, _CALL_TYPES.get(c, "REAL"), bare_in_sqlite=True) for c in CALL_COLUMNS),
        ),
        indexes=(Index("tool_calls_rid", "rid"),),
    ),
    Table(
        "pairs",
        (
            _text("pair_id", key="primary"),
            _text("task_id", not_null=True),
            _text("kind", not_null=True),
            _text("chosen_uid", not_null=True),
            _text("rejected_uid", not_null=True),
            _text("strategy"),
            _text("contrast"),
            _text("decided_by"),
            _text("flags"),
            _int("at_step"),
            _int("prefix_messages"),
            _int("stale", default=0),
            _text("created_at"),
            _text("updated_at"),
            # The review queue's order and the current verdict, derived (labeling/sqlite_pairs.py).
            _int("labeled", default=0, not_null=True, since=3),
            _int("crank", default=9, not_null=True, since=3),
            _int("noisy", default=0, not_null=True, since=3),
            _text("flag_key", default="", not_null=True, since=3),
            _text("verdict", since=3),
            _text("note", since=3),
            _text("labeler", since=3),
            _text("labeled_at", since=3),
            # Team review (labeling/team_sql.py): how many labelers voted, and whether they differ.
            _int("votes", default=0, not_null=True, since=4),
            _int("disagree", default=0, not_null=True, since=4),
        ),
        indexes=(
            Index("pairs_queue", _QUEUE_ORDER),
            Index("pairs_task_queue", "task_id, labeled, crank, noisy, flag_key, pair_id"),
            # Few rows: what a rebuild prunes is found without scanning every pair.
            Index("pairs_stale", "labeled", where="stale = 1"),
            # The adjudication queue: few rows, in queue order.
            Index("pairs_disagree", _QUEUE_ORDER, where="disagree = 1"),
        ),
    ),
    # Whole-queue counters by (verdict, stale), kept by triggers (`COUNTER_TRIGGERS`).
    _pair_counter("pair_counts", _text("verdict", not_null=True)),
    # Team review: each labeler's current verdict per pair, derived from the log.
    Table(
        "pair_votes",
        (_text("pair_id", not_null=True), _text("labeler", not_null=True), _text("verdict", not_null=True)),
        primary_key=("pair_id", "labeler"),
        indexes=(Index("pair_votes_labeler", "labeler, pair_id"),),
    ),
    # Pairs by (votes, stale), kept by triggers, so a labeler's queue length costs the same at
    # 500 and 50,000 pairs ...
    _pair_counter("vote_counts", _int("votes", not_null=True)),
    # ... and each labeler's votes by the pair's vote count (labeling/team_sql.py `_write`).
    Table(
        "labeler_votes",
        (_text("labeler", not_null=True), _int("votes", not_null=True), _int("n", not_null=True)),
        primary_key=("labeler", "votes"),
    ),
    # The human log: append-only (triggers refuse UPDATE and DELETE).
    Table(
        "label_events",
        (
            _int("id", key="autoincrement"),
            _text("kind", not_null=True),
            _text("target", not_null=True),
            _text("value"),
            _text("note"),
            _text("labeler", not_null=True),
            _text("at", not_null=True),
            _int("ref", references="label_events(id)"),
        ),
        indexes=(
            Index("label_events_ref", "ref"),
            Index("label_events_target", "kind, target, id"),
            Index("label_events_labeler", "labeler, id"),
        ),
    ),
    # Fine-tuning (version 6): a training file's Together id by sha256, and each job launched.
    Table(
        "finetune_uploads",
        (
            _text("sha256", key="primary"),
            _text("file_id", not_null=True),
            _text("filename"),
            _int("bytes"),
            _text("uploaded_at"),
        ),
    ),
    Table(
        "finetune_jobs",
        (
            _text("job_id", key="primary"),
            _text("created_at", not_null=True),
            _text("updated_at"),
            _text("status", not_null=True),
            _text("base_model", not_null=True),
            _text("method", not_null=True),
            *(
                _text(c)
                for c in (
                    "output_model",
                    "training_file",
                    "file_sha256",
                    "training_file_id",
                    "validation_file_id",
                    "sidecar",
                    "sidecar_sha256",
                    "options",
                    "estimate",
                    "verdicts",
                    "labeler",
                )
            ),  # fmt: skip
        ),
    ),
)
BY_NAME = {t.name: t for t in TABLES}
# What `repo-agent db copy` copies, in this order (a pair's votes after its pair).
COPIED_TABLES = tuple(t.name for t in TABLES if t.copied)


def columns(table: str) -> tuple[str, ...]:
    """A declared table's column names, in order."""
    return tuple(c.name for c in BY_NAME[table].columns)


# The queue's counters, kept as pairs change (SQLite's syntax; PostgreSQL runs each as a
# plpgsql row trigger, skipped in a bulk write and recounted once: pg_schema BULK_COUNTERS).
COUNTER_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS pair_counts_ins AFTER INSERT ON pairs BEGIN
        UPDATE pair_counts SET n = n + 1 WHERE verdict = coalesce(new.verdict, '') AND stale = new.stale; END""",
    """CREATE TRIGGER IF NOT EXISTS pair_counts_del AFTER DELETE ON pairs BEGIN
        UPDATE pair_counts SET n = n - 1 WHERE verdict = coalesce(old.verdict, '') AND stale = old.stale; END""",
    """CREATE TRIGGER IF NOT EXISTS pair_counts_upd AFTER UPDATE OF verdict, stale ON pairs BEGIN
        UPDATE pair_counts SET n = n - 1 WHERE verdict = coalesce(old.verdict, '') AND stale = old.stale;
        UPDATE pair_counts SET n = n + 1 WHERE verdict = coalesce(new.verdict, '') AND stale = new.stale; END""",
    """CREATE TRIGGER IF NOT EXISTS vote_counts_ins AFTER INSERT ON pairs BEGIN
        INSERT INTO vote_counts (votes, stale, n) VALUES (new.votes, new.stale, 1)
        ON CONFLICT (votes, stale) DO UPDATE SET n = vote_counts.n + 1; END""",
    """CREATE TRIGGER IF NOT EXISTS vote_counts_del AFTER DELETE ON pairs BEGIN
        UPDATE vote_counts SET n = n - 1 WHERE votes = old.votes AND stale = old.stale; END""",
    """CREATE TRIGGER IF NOT EXISTS vote_counts_upd AFTER UPDATE OF votes, stale ON pairs BEGIN
        UPDATE vote_counts SET n = n - 1 WHERE votes = old.votes AND stale = old.stale;
        INSERT INTO vote_counts (votes, stale, n) VALUES (new.votes, new.stale, 1)
        ON CONFLICT (votes, stale) DO UPDATE SET n = vote_counts.n + 1; END""",
]


def _literal(value: Default) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def column_sql(c: Column, dialect: DialectName, *, added: bool = False) -> str:
    """One column's definition (``added``: in an ADD COLUMN, where SQLite's bare columns
    get their default)."""
    pg = dialect == "postgresql"
    name = f'"{c.name}"' if pg and c.name == "offset" else c.name  # a reserved word there
    if c.key in ("rowid", "autoincrement"):
        if pg:
            return f"{name} BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        return f"{name} INTEGER PRIMARY KEY" + (" AUTOINCREMENT" if c.key == "autoincrement" else "")
    if c.bare_in_sqlite and not pg:
        return name + (f" DEFAULT {_literal(c.default)}" if added else "")
    out = [name, _PG_TYPES[c.type] if pg else c.type]
    if c.not_null:
        out.append("NOT NULL")
    if c.default is not None:
        out.append(f"DEFAULT {_literal(c.default)}")
    if c.key == "primary":
        out.append("PRIMARY KEY")
    elif c.key == "unique":
        out.append("UNIQUE")
    if c.references:
        out.append(f"REFERENCES {c.references}")
    return " ".join(out)


def create_table(t: Table, dialect: DialectName) -> str:
    parts = [column_sql(c, dialect) for c in t.columns]
    if t.primary_key:
        parts.append(f"PRIMARY KEY ({', '.join(t.primary_key)})")
    tail = ") WITHOUT ROWID" if t.without_rowid and dialect == "sqlite" else ")"
    return f"CREATE TABLE IF NOT EXISTS {t.name} (\n    " + ",\n    ".join(parts) + tail


def create_tables(dialect: DialectName) -> list[str]:
    return [create_table(t, dialect) for t in TABLES]


def create_indexes(dialect: DialectName) -> list[str]:
    """Made after `add_columns` (an older store gains an index's columns first)."""
    return [
        f"CREATE INDEX IF NOT EXISTS {i.name} ON {t.name}({i.columns})" + (f" WHERE {i.where}" if i.where else "")
        for t in TABLES
        for i in t.indexes
        if i.only in (None, dialect)
    ]


def add_columns(present: dict[str, set[str]], dialect: DialectName) -> list[str]:
    """``ALTER TABLE ... ADD COLUMN`` for each declared column a table of ``present`` (table ->
    its columns now; tables not there are made whole by `create_tables`) lacks."""
    return [
        f"ALTER TABLE {t.name} ADD COLUMN {column_sql(c, dialect, added=True)}"
        for t in TABLES
        if t.name in present and present[t.name]
        for c in t.columns
        if c.name not in present[t.name]
    ]
