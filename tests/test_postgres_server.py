"""The test PostgreSQL server (tests/postgres.py): private, socket-only, a fresh database
per test; what the PostgreSQL store tests stand on."""

from __future__ import annotations

import psycopg


def test_server_listens_only_on_its_socket_and_commits_are_shared(pg_conninfo, pg_database):
    with psycopg.connect(pg_database) as a, psycopg.connect(pg_database) as b:
        assert a.execute("SHOW listen_addresses").fetchone() == ("",)  # no TCP port at all
        sock = a.execute("SHOW unix_socket_directories").fetchone()[0]
        assert f"host={sock} " in pg_conninfo
        assert a.info.server_version >= 130000
        a.execute("CREATE TABLE log (id bigserial PRIMARY KEY, v text)")
        a.commit()
        a.execute("INSERT INTO log (v) VALUES ('confirm')")
        assert b.execute("SELECT count(*) FROM log").fetchone() == (0,)  # not committed yet: not visible
        a.commit()
        b.rollback()
        assert b.execute("SELECT v FROM log").fetchall() == [("confirm",)]


def test_each_test_gets_a_fresh_database(pg_database):
    with psycopg.connect(pg_database) as conn:
        names = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert names == set()


def test_without_a_server_ci_fails_and_a_dev_box_skips(monkeypatch):
    import pytest

    from tests.postgres import _unavailable

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL server unavailable"):
        _unavailable("no initdb")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _unavailable("no initdb")
