"""The label store's schema on PostgreSQL: what is PostgreSQL's own besides the declared
tables (labeling/store_schema.py, made with PostgreSQL types: text sorts bytewise,
``COLLATE "C"``, like SQLite): plpgsql triggers, the views, the search index, and the
server-side pair refresh. Same table and column names, so the same SQL runs on both.
SQLite's trigger DDL is ported statement by statement (`port_ddl`).
"""

from __future__ import annotations

import re

from labeling.store_schema import COUNTER_TRIGGERS

TEXT = 'TEXT COLLATE "C"'
INT = "BIGINT"
REAL = "DOUBLE PRECISION"

# Counters kept by row triggers that a bulk write (a copy, a large pair rebuild) skips,
# each recounted by one statement before it commits: PostgreSQL keeps every version of a
# row updated many times in one transaction, so counting row by row is quadratic there
# (93,000 pairs: 96 s). Trigger name prefix -> the recount.
BULK_COUNTERS = {
    "pair_counts_": "WITH g AS MATERIALIZED (SELECT coalesce(verdict, '') AS v, stale AS s, count(*) AS n "
    "FROM pairs GROUP BY 1, 2) "
    "UPDATE pair_counts c SET n = coalesce((SELECT g.n FROM g WHERE g.v = c.verdict AND g.s = c.stale), 0)",
    # Team review's pairs by vote count (labeling/team_sql.py): two statements, no parameters.
    "vote_counts_": "DELETE FROM vote_counts; "
    "INSERT INTO vote_counts (votes, stale, n) SELECT votes, stale, count(*) FROM pairs GROUP BY 1, 2",
}
_SKIP_IN_BULK = "\n    IF current_setting('repo_agent.bulk', true) = 'on' THEN RETURN NULL; END IF;"


def port_ddl(sql: str) -> list[str] | None:
    """SQLite DDL of the shapes the store uses -> PostgreSQL statements; None if not DDL.

    CREATE TABLE / ALTER TABLE ... ADD COLUMN get PostgreSQL types (text sorting bytewise);
    a row trigger ``CREATE TRIGGER IF NOT EXISTS t AFTER ... ON tbl BEGIN ...; END``
    becomes a plpgsql function with the same body and a trigger calling it.
    """
    head = sql.lstrip()[:40].upper()
    if head.startswith(("CREATE TABLE", "ALTER TABLE")):
        sql = re.sub(r"\bTEXT\b", TEXT, sql)
        return [re.sub(r"\bREAL\b", REAL, re.sub(r"\bINTEGER\b", INT, sql))]
    if head.startswith("CREATE TRIGGER"):
        m = re.match(
            r"\s*CREATE TRIGGER IF NOT EXISTS (\w+) ((?:BEFORE|AFTER) .*?) ON (\w+) BEGIN(.*)END\s*$",
            sql,
            re.S | re.I,
        )
        if m is None:
            raise ValueError(f"no PostgreSQL port for this trigger: {sql[:80]}")
        name, when, table, body = m.groups()
        skip = _SKIP_IN_BULK if name.startswith(tuple(BULK_COUNTERS)) else ""
        return [
            f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN{skip}{body}\n    RETURN NULL;\nEND $$",
            f"CREATE OR REPLACE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}_fn()",
        ]
    return None


def pg_code() -> list[str]:
    """What PostgreSQL's store has besides the declared tables (labeling/store_schema.py): the
    human log's append-only triggers, the views deriving its current state, the search index
    and the queue's counter triggers (SQLite's, ported)."""
    ported = [stmt for trigger in COUNTER_TRIGGERS for stmt in port_ddl(trigger) or []]
    return [
        """CREATE OR REPLACE FUNCTION label_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'label_events is append-only'; END $$""",
        """CREATE OR REPLACE TRIGGER label_events_no_change BEFORE UPDATE OR DELETE ON label_events
    FOR EACH ROW EXECUTE FUNCTION label_events_append_only()""",
        """CREATE OR REPLACE TRIGGER label_events_no_truncate BEFORE TRUNCATE ON label_events
    FOR EACH STATEMENT EXECUTE FUNCTION label_events_append_only()""",
        """CREATE OR REPLACE VIEW active_events AS
    SELECT e.* FROM label_events e
    WHERE e.kind NOT IN ('undo', 'redo') AND NOT EXISTS (
        SELECT 1 FROM label_events u WHERE u.ref = e.id AND u.kind = 'undo' AND NOT EXISTS (
            SELECT 1 FROM label_events r WHERE r.ref = u.id AND r.kind = 'redo'))""",
        """CREATE OR REPLACE VIEW current_verdicts AS
    SELECT target AS pair_id, value AS verdict, note, labeler, at, id FROM (
        SELECT *, row_number() OVER (PARTITION BY target ORDER BY id DESC) AS rn
        FROM active_events WHERE kind = 'verdict') v WHERE rn = 1 AND value IS NOT NULL""",
        """CREATE OR REPLACE VIEW current_marks AS
    SELECT target, value AS reason, note AS text, labeler, at, id FROM (
        SELECT *, row_number() OVER (PARTITION BY target ORDER BY id DESC) AS rn
        FROM active_events WHERE kind IN ('mark', 'unmark')) m WHERE rn = 1 AND kind = 'mark'""",
        """CREATE OR REPLACE VIEW current_tags AS
    SELECT target AS pair_id, value AS tag FROM (
        SELECT *, row_number() OVER (PARTITION BY target, value ORDER BY id DESC) AS rn
        FROM active_events WHERE kind IN ('tag', 'untag')) t WHERE rn = 1 AND kind = 'tag'""",
        *SEARCH_STATEMENTS,
        *ported,
    ]


# The search index (labeling/sqlite_search.py on SQLite): each document's words as a tsvector
# of the 'simple' configuration (no stemming, like FTS5's unicode61), under a GIN index.
SEARCH_STATEMENTS = [
    f"""CREATE TABLE IF NOT EXISTS search_docs (
    doc {INT} GENERATED ALWAYS AS IDENTITY PRIMARY KEY, rid {INT} NOT NULL, step {INT}, place {TEXT} NOT NULL,
    "offset" {INT} NOT NULL, body tsvector NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS search_docs_rid ON search_docs(rid)",
    "CREATE INDEX IF NOT EXISTS search_docs_body ON search_docs USING GIN (body)",
]


# A verdict's effect on its pair, in the server: labeling/team_sql.py's `refresh_pair` as
# one statement, so a verdict key is two round trips (labeling/pg_db.py, refresh_verdicts).
# The two must derive the same rows: tests/labeling/test_pg_store.py replays random
# verdicts, undos and redos on both backends and compares. A change of logic is a new
# version (a new name), made where missing: a store's labelers may not own the old one.
REFRESH_PAIR = "repo_agent_refresh_pair_v1"
REFRESH_PAIR_DDL = f"""CREATE FUNCTION {REFRESH_PAIR}(p_pair TEXT, p_must_exist BOOLEAN) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    old_votes BIGINT;
    who TEXT[];
    what TEXT[];
    kinds BIGINT;
    last_ev RECORD;
BEGIN
    SELECT votes INTO old_votes FROM pairs WHERE pair_id = p_pair;
    IF NOT FOUND THEN
        IF p_must_exist THEN
            RAISE EXCEPTION 'no pair %', p_pair USING ERRCODE = 'no_data_found';
        END IF;
        RETURN FALSE;
    END IF;
    -- Each labeler's vote: their latest active verdict event, none if it cleared theirs.
    SELECT coalesce(array_agg(l.labeler ORDER BY l.labeler), '{{}}'), coalesce(array_agg(l.value ORDER BY l.labeler), '{{}}')
      INTO who, what
      FROM (SELECT DISTINCT ON (labeler) labeler, value FROM active_events
             WHERE kind = 'verdict' AND target = p_pair ORDER BY labeler, id DESC) AS l
     WHERE l.value IS NOT NULL;
    SELECT count(DISTINCT v) INTO kinds FROM unnest(what) AS v;
    -- Each labeler's votes by the pair's vote count: out of the old bucket, into the new.
    INSERT INTO labeler_votes (labeler, votes, n)
    SELECT b.labeler, b.votes, sum(b.d) FROM (
        SELECT labeler, old_votes AS votes, -1 AS d FROM pair_votes WHERE pair_id = p_pair
        UNION ALL
        SELECT w, cardinality(who), 1 FROM unnest(who) AS w) AS b
    GROUP BY b.labeler, b.votes
    ON CONFLICT (labeler, votes) DO UPDATE SET n = labeler_votes.n + excluded.n;
    DELETE FROM pair_votes WHERE pair_id = p_pair;
    INSERT INTO pair_votes (pair_id, labeler, verdict) SELECT p_pair, w, v FROM unnest(who, what) AS u(w, v);
    -- The pair's verdict: the latest active verdict event by anyone (a cleared one: none).
    SELECT labeler, value, note, at INTO last_ev FROM active_events
     WHERE kind = 'verdict' AND target = p_pair ORDER BY id DESC LIMIT 1;
    IF NOT FOUND OR last_ev.value IS NULL THEN
        UPDATE pairs SET votes = cardinality(who), disagree = (kinds > 1)::int, verdict = NULL, note = NULL,
               labeler = NULL, labeled_at = NULL, labeled = 0
         WHERE pair_id = p_pair;
    ELSE
        UPDATE pairs SET votes = cardinality(who), disagree = (kinds > 1)::int, verdict = last_ev.value,
               note = last_ev.note, labeler = last_ev.labeler, labeled_at = last_ev.at, labeled = 1
         WHERE pair_id = p_pair;
    END IF;
    RETURN TRUE;
END $$"""
