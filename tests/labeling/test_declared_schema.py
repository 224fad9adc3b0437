"""The store's schema, as the code makes it, is the one frozen in tests/fixtures/store_schema.json
(made by the hand-written DDL of schema 9; schema 10 moved SQLite's search index to its own file and added rollouts.read_gen): a new SQLite store, an old store (tests/fixtures/
store_v4) upgraded, and a new PostgreSQL store all have it. Never regenerate the file to make
this pass; a new column is a new entry in it (and a new schema version).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from labeling.store import LabelStore
from labeling.store_schema import SCHEMA_VERSION, TABLES, add_columns
from tests.labeling.conftest import pg_url

FROZEN = Path(__file__).resolve().parents[1] / "fixtures" / "store_schema.json"
STORE_V4 = Path(__file__).resolve().parents[1] / "fixtures" / "store_v4"


def sqlite_schema(path: Path) -> dict[str, Any]:
    """Every object by name: a table's columns (name, type, not null, default, key) in order,
    an index's, trigger's or view's SQL with its whitespace folded."""
    conn = sqlite3.connect(path)
    try:
        out: dict[str, Any] = {}
        for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"):
            if name.startswith("sqlite_"):
                continue
            if kind == "table" and "VIRTUAL TABLE" not in (sql or "").upper():
                cols = conn.execute(f'PRAGMA table_xinfo("{name}")').fetchall()
                out[name] = [kind, [[c[1], c[2].upper(), c[3], c[4], c[5]] for c in cols]]
            else:
                out[name] = [kind, " ".join((sql or "").replace("IF NOT EXISTS ", "").split())]
        return out
    finally:
        conn.close()


def pg_schema(conninfo: str) -> dict[str, Any]:
    """Columns (type, collation, not null, default), indexes, triggers and functions by name."""
    with psycopg.connect(conninfo) as conn:
        cols = conn.execute(
            "SELECT table_name, column_name, data_type, coalesce(collation_name, ''), is_nullable, "
            "coalesce(column_default, ''), is_identity FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        ).fetchall()
        out: dict[str, Any] = {}
        for table, *col in cols:
            out.setdefault(f"table {table}", []).append(list(col))
        for name, sql in conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"):
            out[f"index {name}"] = sql
        for name, table in conn.execute(
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
        ):
            out[f"trigger {name}"] = table
        for (name,) in conn.execute(
            "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace"
        ):
            out[f"function {name}"] = True
        return out


def _frozen() -> dict[str, Any]:
    return json.loads(FROZEN.read_text())


def test_a_new_sqlite_store_has_the_frozen_schema(tmp_path: Path) -> None:
    LabelStore(tmp_path / "labels.sqlite").close()
    assert sqlite_schema(tmp_path / "labels.sqlite") == _frozen()["sqlite"]


def test_an_old_store_upgrades_to_the_frozen_schema(tmp_path: Path) -> None:
    """The schema-4 store of test_store_upgrade.py: every column added where a new store's
    CREATE has it (an added column's default may be a literal a new store leaves out)."""
    db = tmp_path / "labels.sqlite"
    shutil.copy(STORE_V4 / "runs" / "labels.sqlite", db)
    LabelStore(db).close()
    got, want = sqlite_schema(db), _frozen()["sqlite"]
    assert sorted(got) == sorted(want)
    for name, (kind, spec) in want.items():
        if isinstance(spec, str):  # an index, trigger, view or virtual table: its SQL
            assert got[name] == [kind, spec], name
            continue
        # name, type, not null, key as a new store; a default only where the new store has one or none
        assert [[c[0], c[1], c[2], c[4]] for c in got[name][1]] == [[c[0], c[1], c[2], c[4]] for c in spec], name
        for g, w in zip(got[name][1], spec, strict=True):
            assert g[3] == w[3] or w[3] is None, (name, g, w)


def test_a_new_postgresql_store_has_the_frozen_schema(pg_database: str) -> None:
    LabelStore(pg_url(pg_database)).close()
    assert pg_schema(pg_database) == _frozen()["postgresql"]


def test_each_column_says_a_version_up_to_the_current_one() -> None:
    """A column is added by the version that says so: none from the future, and an older store
    lacking any declared column gets exactly the ADD COLUMNs for it (each once)."""
    assert all(1 <= c.since <= SCHEMA_VERSION for t in TABLES for c in t.columns)
    first = {t.name: {c.name for c in t.columns if c.since == 1} for t in TABLES}
    added = add_columns(first, "sqlite")
    assert len(added) == sum(c.since > 1 for t in TABLES for c in t.columns)
    assert "ALTER TABLE pairs ADD COLUMN votes INTEGER NOT NULL DEFAULT 0" in added
    assert "ALTER TABLE rollouts ADD COLUMN state_status DEFAULT 'running'" in added


def test_an_old_postgresql_store_upgrades_to_the_frozen_schema(pg_database: str) -> None:
    """A store of schema 3 on PostgreSQL (no team review, no content keys): reopened, it gains
    the columns, tables, indexes and triggers, and has the frozen schema."""
    url = pg_url(pg_database)
    LabelStore(url).close()
    with psycopg.connect(pg_database, autocommit=True) as conn:
        # CASCADE: the vote counters' triggers and the adjudication index go with their columns.
        conn.execute("ALTER TABLE pairs DROP COLUMN votes CASCADE, DROP COLUMN disagree CASCADE")
        conn.execute("ALTER TABLE rollouts DROP COLUMN copy_of, DROP COLUMN read_gen")
        conn.execute("DROP TABLE vote_counts, labeler_votes, pair_votes")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    assert pg_schema(pg_database) != _frozen()["postgresql"]
    LabelStore(url).close()
    assert pg_schema(pg_database) == _frozen()["postgresql"]
