"""The store checks its schema version at open: older files are migrated, newer ones refused."""

from __future__ import annotations

import sqlite3

import pytest

from labeling.errors import SchemaMismatch
from labeling.sqlite_db import SCHEMA_VERSION
from labeling.store import LabelStore
from tui.cli import main


def _version(path) -> str:
    with sqlite3.connect(path) as c:
        return c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]


def _indexes(path) -> set[str]:
    with sqlite3.connect(path) as c:
        return {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_a_new_store_records_the_current_version(tmp_path):
    LabelStore(tmp_path / "s.sqlite").close()
    assert _version(tmp_path / "s.sqlite") == str(SCHEMA_VERSION)
    assert "rollouts_status" in _indexes(tmp_path / "s.sqlite")


def test_a_version_1_store_is_migrated_and_keeps_its_labels(tmp_path, env):
    from tests.labeling.conftest import FIX, Spec

    env.batch("b", [Spec("t", 0, passed=True, patch=FIX), Spec("t", 1)])
    env.store.ingest([env.root])
    pair = env.store.pairs()[0]
    env.store.set_verdict(pair.pair_id, "confirm")
    path = env.store.path
    env.store.close()
    with sqlite3.connect(path) as c:  # what a version-1 store looked like: no status index
        c.execute("DROP INDEX rollouts_status")
        c.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    store = LabelStore(path)
    try:
        assert store.pair(pair.pair_id).verdict == "confirm"
    finally:
        store.close()
    assert _version(path) == str(SCHEMA_VERSION) and "rollouts_status" in _indexes(path)
    env.store = LabelStore(path)  # the fixture closes it


def test_a_newer_store_is_refused_untouched(tmp_path):
    path = tmp_path / "s.sqlite"
    LabelStore(path).close()
    with sqlite3.connect(path) as c:
        c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(SchemaMismatch, match="newer than this repo-agent's.*upgrade repo-agent"):
        LabelStore(path)
    assert _version(path) == str(SCHEMA_VERSION + 1)


def test_the_cli_says_what_to_do_in_one_line(tmp_path, capsys):
    traces = tmp_path / "traces"
    traces.mkdir()
    db = tmp_path / "s.sqlite"
    LabelStore(db).close()
    with sqlite3.connect(db) as c:
        c.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    assert main(["ingest", str(traces), "--db", str(db)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "schema version 99" in err and "upgrade repo-agent" in err and "Traceback" not in err
