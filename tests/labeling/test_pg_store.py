"""A shared store on PostgreSQL: --db URL and REPO_AGENT_DB through the real CLI,
`repo-agent db copy` SQLite -> PostgreSQL -> SQLite giving the same store back, and
connection errors as one line that never shows a password."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import psycopg
import pytest

from labeling.pg_db import translate
from labeling.pg_schema import port_ddl
from labeling.records import PairFilter
from labeling.sqlite_db import SCHEMA_VERSION
from labeling.store import LabelStore
from labeling.store_schema import COPIED_TABLES
from labeling.store_url import redact
from tests.labeling.conftest import FIX, Spec, make_batch, make_patch, pg_url
from tui.cli import main

OTHER = make_patch("prog.py", ["    return x - 1"], ["    return x * 2"])


@pytest.fixture
def traces(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("REPO_AGENT_LABELER", "alice")
    monkeypatch.delenv("REPO_AGENT_DB", raising=False)
    root = tmp_path / "runs"
    root.mkdir()
    specs = [
        Spec(f"t{t}", s, passed=s % 2 == 0, patch=FIX if s % 2 else OTHER, steps=2 + s)
        for t in range(3)
        for s in range(3)
    ]
    make_batch(root, "b1", specs)
    return root


@pytest.fixture
def url(pg_database: str) -> str:
    return pg_url(pg_database)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def labeled_sqlite_store(root: Path) -> Path:
    """A store in its traces dir with verdicts, an undo, a redo, a mark and a tag."""
    db = root / "labels.sqlite"
    with LabelStore(db, labeler="alice") as s:
        s.ingest([root], rebuild=False)
        s.rebuild_pairs(strategy="all-contrastive")
        a, b, c = (p.pair_id for p in s.pairs()[:3])
        s.set_verdict(a, "confirm", note="clear fix")
        s.set_verdict(b, "flip")
        s.undo()
        s.redo()
        s.set_verdict(c, "discard")
        s.undo()
        s.tag_pair(a, "recheck")
        s.mark_step(s.pair(a).chosen_uid, 1, "loop", "reads the same file")
        s.set_team_settings(overlap=2, adjudicator="lead")
    with LabelStore(db, labeler="bob") as bob:  # a second labeler: team votes, a disagreement
        bob.set_verdict(a, "flip")
        bob.set_verdict(b, "flip")
    return db


def dump_sqlite(db: Path) -> dict[str, list[tuple]]:
    con = sqlite3.connect(db)
    try:
        out = {
            t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in (*COPIED_TABLES, "pair_counts")
        }
        # vote_counts: a bucket that emptied keeps a row of 0 in one store and none in the other
        out["vote_counts"] = con.execute("SELECT * FROM vote_counts WHERE n != 0 ORDER BY 1, 2").fetchall()
    finally:
        con.close()
    return out


def test_copy_sqlite_to_postgres_and_back_is_identical(traces, url, tmp_path, capsys):
    db = labeled_sqlite_store(traces)
    code, out, err = run(capsys, "db", "copy", str(db), url)
    assert code == 0, err
    assert "copied" in out and "label_events" in out
    # The copy is the same store: pairs, verdicts, counts, tags, marks, trace paths (keyed by the traces dir).
    with LabelStore(db, labeler="alice") as lite, LabelStore(url, labeler="alice", base=traces) as pg:
        every = PairFilter(include_stale=True, verdict=None)
        assert [p.model_dump() for p in pg.pairs(every)] == [p.model_dump() for p in lite.pairs(every)]
        assert pg.counts() == lite.counts()
        assert [e.model_dump() for e in pg.events()] == [e.model_dump() for e in lite.events()]
        assert [r.model_dump() for r in pg.rollouts()] == [r.model_dump() for r in lite.rollouts()]
        assert all(Path(r.trace_path).is_file() for r in pg.rollouts())
        assert pg.all_step_marks() == lite.all_step_marks()
        assert pg.batches() == lite.batches()
        # team review: each labeler's votes, the disagree queue, each one's queue length
        assert pg.team_settings() == lite.team_settings()
        assert [p.pair_id for p in pg.pairs(PairFilter(disagree=True))] == [
            p.pair_id for p in lite.pairs(PairFilter(disagree=True))
        ]
        assert len(pg.pairs(PairFilter(disagree=True))) == 1
        for who in ("alice", "bob", "carol"):
            with LabelStore(url, labeler=who, base=traces) as pg_who, LabelStore(db, labeler=who) as lite_who:
                assert pg_who.team_queue_sizes() == lite_who.team_queue_sizes()
    back = tmp_path / "back.sqlite"
    code, _, err = run(capsys, "db", "copy", url, str(back))
    assert code == 0, err
    assert dump_sqlite(back) == dump_sqlite(db)  # every table, every id
    with LabelStore(url, labeler="alice", base=traces) as pg:  # the copied log keeps working
        last = max(e.id for e in pg.events(labeler="alice"))
        newest = max(e.id for e in pg.events())
        undone = pg.undo()
        assert undone is not None and (undone.id, undone.ref, undone.value) == (newest + 1, last, "mark")
        assert pg.undo().value == "tag" and pg.pairs()[0].tags == []


def test_copy_refuses_a_target_with_work_unless_forced(traces, url, tmp_path, capsys):
    db = labeled_sqlite_store(traces)
    assert run(capsys, "db", "copy", str(db), url)[0] == 0
    code, _, err = run(capsys, "db", "copy", str(db), url)
    assert code == 2 and "already holds" in err and "--force" in err
    with LabelStore(url, base=traces) as pg:
        n = len(pg.events())
    code, _, err = run(capsys, "db", "copy", str(db), url, "--force")
    assert code == 0, err
    with LabelStore(url, base=traces) as pg:
        assert len(pg.events()) == n  # replaced, not appended
    other = tmp_path / "other.sqlite"
    shutil.copy(db, other)
    code, _, err = run(capsys, "db", "copy", url, str(other))
    assert code == 2 and "already holds" in err
    assert run(capsys, "db", "copy", url, str(other), "--force")[0] == 0
    assert dump_sqlite(other)["label_events"] == dump_sqlite(db)["label_events"]


def test_every_command_takes_a_url_or_repo_agent_db(traces, url, capsys, monkeypatch):
    code, out, err = run(capsys, "ingest", str(traces), "--db", url)
    assert code == 0, err
    assert "store:postgresql://postgres@/" in "".join(out.split()) and not (traces / "labels.sqlite").exists()
    monkeypatch.setenv("REPO_AGENT_DB", url)
    code, out, _ = run(capsys, "pairs", "list", str(traces), "--json")
    pairs = json.loads(out)
    assert code == 0 and pairs
    assert run(capsys, "pairs", "set", str(traces), pairs[0]["pair_id"][:8], "flip")[0] == 0
    code, out, _ = run(capsys, "stats", str(traces), "--json")
    assert code == 0 and json.loads(out)
    with LabelStore(url, base=traces) as pg:  # what the commands wrote is in the shared store
        assert pg.pair(pairs[0]["pair_id"]).verdict == "flip" and pg.pair(pairs[0]["pair_id"]).labeler == "alice"
    out_file = traces.parent / "dpo.jsonl"
    code, _, err = run(capsys, "export", "dpo", str(traces), "--out", str(out_file))
    assert code == 0, err
    meta = json.loads((traces.parent / "dpo.meta.json").read_text())
    assert meta["label_store"] == url and out_file.read_text().count("\n") == 1  # the one flipped pair
    assert not (traces / "labels.sqlite").exists()
    code, out, _ = run(capsys, "db", "migrate", str(traces))
    assert code == 0 and f"schema version {SCHEMA_VERSION} (was {SCHEMA_VERSION})" in out


def test_an_unreachable_server_is_one_line_without_the_password(traces, tmp_path, capsys):
    bad = f"postgresql://alice:s3cret-pw@/labels?host={tmp_path}&connect_timeout=2"
    code, out, err = run(capsys, "pairs", "list", str(traces), "--db", bad)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "cannot reach the label store postgresql://alice:***@" in err and "s3cret" not in err + out


def test_the_dialect_rewrites():
    assert translate("INSERT OR IGNORE INTO steps VALUES (?, ?)") == (
        "INSERT INTO steps VALUES (%s, %s) ON CONFLICT DO NOTHING"
    )
    assert translate("SELECT b.offset FROM t WHERE x LIKE '%a' AND y = ?") == (
        "SELECT b.\"offset\" FROM t WHERE x LIKE '%%a' AND y = %s"
    )
    assert translate("INSERT OR REPLACE INTO meta VALUES (?, ?)").endswith(
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    )


def test_sqlite_ddl_is_ported_statement_by_statement():
    table = port_ddl("CREATE TABLE IF NOT EXISTS votes (pair_id TEXT NOT NULL, n INTEGER NOT NULL, w REAL)")
    assert table == [
        'CREATE TABLE IF NOT EXISTS votes (pair_id TEXT COLLATE "C" NOT NULL, n BIGINT NOT NULL, w DOUBLE PRECISION)'
    ]
    fn, trigger = port_ddl(
        """CREATE TRIGGER IF NOT EXISTS votes_upd AFTER UPDATE OF n ON pairs BEGIN
        UPDATE totals SET n = n + new.n - old.n; END"""
    )
    assert fn.startswith("CREATE OR REPLACE FUNCTION votes_upd_fn() RETURNS trigger LANGUAGE plpgsql")
    assert "UPDATE totals SET n = n + new.n - old.n;" in fn and "RETURN NULL;" in fn
    assert trigger == (
        "CREATE OR REPLACE TRIGGER votes_upd AFTER UPDATE OF n ON pairs FOR EACH ROW EXECUTE FUNCTION votes_upd_fn()"
    )
    assert port_ddl("SELECT 1") is None


def test_a_store_of_a_newer_version_is_refused_in_one_line(traces, url, capsys):
    LabelStore(url, base=traces).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    code, _, err = run(capsys, "pairs", "list", str(traces), "--db", url)
    assert code == 2 and "schema version 99, newer than this repo-agent's" in err
    assert len(err.strip().splitlines()) == 1
    with psycopg.connect(url) as conn:  # untouched
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("99",)


def test_a_store_url_is_shown_without_its_password():
    assert redact("postgresql://ann:pw@dbhost:5432/labels?sslmode=require") == (
        "postgresql://ann:***@dbhost:5432/labels?sslmode=require"
    )
    assert redact("postgres://ann@dbhost/labels?password=pw&sslmode=require") == (
        "postgres://ann@dbhost/labels?password=***&sslmode=require"
    )
    assert (
        redact("postgresql://ann@/labels?host=%2Frun%2Fpostgresql")
        == "postgresql://ann@/labels?host=%2Frun%2Fpostgresql"
    )


def test_bulk_writes_recount_the_queue_counters(traces, url, monkeypatch):
    """A large rebuild skips the per-row counter triggers and recounts once: the counts
    still agree with the pairs, through rebuilds that add, stale and prune pairs."""
    import labeling.sqlite_pairs

    monkeypatch.setattr(labeling.sqlite_pairs, "BULK_ROWS", 1)  # every rebuild is a bulk one
    with LabelStore(url, labeler="alice", base=traces) as s:
        s.ingest([traces], rebuild=False)
        s.rebuild_pairs(strategy="all-contrastive")
        s.set_verdict(s.pairs()[0].pair_id, "flip")
        s.set_team_settings(overlap=2)
        with LabelStore(url, labeler="bob", base=traces) as bob:
            bob.set_verdict(s.pairs()[0].pair_id, "confirm")
            bob.set_verdict(s.pairs()[1].pair_id, "confirm")
        for strategy in ("pass-fail", "all-contrastive", "best-worst"):
            s.rebuild_pairs(strategy=strategy)
            # team review's counters too (vote_counts, recounted once in bulk)
            mine = s.pairs(s.team_filter(PairFilter(verdict="unlabeled")))
            assert s.counts(s.team_filter(PairFilter(verdict="unlabeled"))).mine == len(mine), strategy
            every = s.pairs(PairFilter(include_stale=True, verdict=None))
            for stale in (False, True):
                c = s.counts(PairFilter(include_stale=stale))
                mine = [p for p in every if stale or not p.stale or p.verdict]
                assert (c.total, c.flip, c.remaining) == (
                    len(mine),
                    sum(p.verdict == "flip" for p in mine),
                    sum(p.verdict is None for p in mine),
                ), (strategy, stale)


def test_a_dropped_connection_is_replaced_between_transactions(traces, url):
    """A studio left open survives a server restart or a network blip: the next read or
    write reconnects (a transaction cut in the middle fails and is not repeated)."""
    with LabelStore(url, labeler="alice", base=traces) as s:
        s.ingest([traces])
        pid = s.pairs()[0].pair_id

        def drop() -> None:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (s._db.session.conn.raw.info.backend_pid,))

        drop()
        assert s.counts().remaining == len(s.pairs())  # a read
        drop()
        assert s.pair(pid).pair_id == pid  # a pipelined read (the pair, its tags and votes at once)
        drop()
        s.set_verdict(pid, "flip")  # a write
        assert s.pair(pid).verdict == "flip"
        drop()
        assert s.undo().target == pid and s.pair(pid).verdict is None
        assert [e.kind for e in s.events()] == ["verdict", "undo"]  # each once


DERIVED = {  # what a verdict, undo or redo re-derives (labeled_at: each store stamps its own time)
    "pairs": "SELECT pair_id, verdict, note, labeler, labeled, labeled_at IS NULL, votes, disagree FROM pairs",
    "pair_votes": "SELECT pair_id, labeler, verdict FROM pair_votes",
    "labeler_votes": "SELECT labeler, votes, n FROM labeler_votes",
    "vote_counts": "SELECT votes, stale, n FROM vote_counts WHERE n != 0",
    "pair_counts": "SELECT verdict, stale, n FROM pair_counts WHERE n != 0",
}


def derived(store: LabelStore) -> dict[str, list[tuple]]:
    return {name: sorted(store._db._q(sql), key=repr) for name, sql in DERIVED.items()}


def test_the_server_side_refresh_derives_what_sqlite_derives(traces, url, tmp_path):
    """PostgreSQL re-derives a pair's verdict and votes in a plpgsql function, SQLite in
    Python (labeling/team_sql.py): the same random verdicts, clears, notes, undos and redos
    by three labelers, replayed on both, leave the same rows after every step."""
    db = tmp_path / "lite.sqlite"
    with LabelStore(db, labeler="alice") as s:
        s.ingest([traces])
    assert main(["db", "copy", str(db), url]) == 0
    people = ("ann", "bob", "cat")
    lite = {w: LabelStore(db, labeler=w) for w in people}
    pg = {w: LabelStore(url, labeler=w, base=traces) for w in people}
    try:
        ids = [p.pair_id for p in lite["ann"].pairs()]
        assert len(ids) >= 3 and derived(lite["ann"]) == derived(pg["ann"])
        rng = __import__("random").Random(16)
        kinds = set()
        for step in range(150):
            who, r = rng.choice(people), rng.random()
            pid, verdict = rng.choice(ids[:4]), rng.choice(("confirm", "flip", "discard", None))
            note = rng.choice((None, f"note {step}"))
            for stores in (lite, pg):
                s = stores[who]
                if r < 0.6:
                    s.set_verdict(pid, verdict, note)
                elif r < 0.8:
                    s.undo()
                else:
                    s.redo()
            got = derived(pg["ann"])
            assert got == derived(lite["ann"]), step
            kinds |= {row[-1] for row in got["pairs"]}
            kinds |= {("votes", row[-2]) for row in got["pairs"]}
        assert {0, 1, ("votes", 2), ("votes", 3)} <= kinds  # disagreements and three-way votes were reached
        with pytest.raises(KeyError):
            pg["ann"].set_verdict("f" * 12, "confirm")  # no such pair: the function raises, nothing is kept
        assert derived(pg["ann"]) == derived(lite["ann"])
    finally:
        for s in (*lite.values(), *pg.values()):
            s.close()
