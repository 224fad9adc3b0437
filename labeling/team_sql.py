"""Team review in the label store's SQL: each labeler's vote on a pair, derived from the log.

With ``--overlap K`` a pair asks for K labelers' verdicts. Each labeler's current verdict
on a pair (their latest *active* verdict event; a cleared one counts as none, as in
`labeling.agreement.ratings_from_events`) is kept as a derived row of ``pair_votes``, and
each pair row carries ``votes`` (how many labelers) and ``disagree`` (their verdicts
differ). `refresh_votes` re-derives them in the same transaction as each verdict, undo or
redo (`labeling.sqlite_pairs.PairsSql.refresh_verdicts`), so undo by one labeler is exact.

A labeler's queue (the ``unlabeled`` filter with K > 1) is then: pairs with fewer than K
votes that this labeler has not voted on, in the usual queue order; the adjudication queue
(the ``disagree`` filter): pairs whose votes differ and that the adjudicator has not voted
on. Plain SQL (NOT EXISTS, ON CONFLICT ... DO, no SQLite-only function) so a PostgreSQL
backend can reuse it; its tables and counters' triggers are declared in labeling/store_schema.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

_NOT_VOTED_BY = "NOT EXISTS (SELECT 1 FROM pair_votes v WHERE v.pair_id = pairs.pair_id AND v.labeler = ?)"


def fold_votes(rows: Iterable[tuple[str, str, str | None]]) -> dict[str, dict[str, str]]:
    """pair_id -> labeler -> verdict from active verdict events ``(target, labeler, value)``,
    oldest first: each labeler's latest one, a cleared verdict (None) removing theirs."""
    out: dict[str, dict[str, str]] = {}
    for target, labeler, value in rows:
        by = out.setdefault(target, {})
        if value is None:
            by.pop(labeler, None)
        else:
            by[labeler] = value
    return {pid: by for pid, by in out.items() if by}


def _voters(conn: Any, pair_id: str) -> Any:
    """The pair's vote count and who voted, in one read (a cursor, not yet fetched)."""
    return conn.execute(
        "SELECT p.votes, v.labeler FROM pairs p LEFT JOIN pair_votes v ON v.pair_id = p.pair_id WHERE p.pair_id = ?",
        (pair_id,),
    )


def _write(
    conn: Any,
    pair_id: str,
    by: dict[str, str],
    count: bool = True,
    also: dict[str, Any] | None = None,
    voters: Any = None,
) -> bool:
    """Store one pair's votes (and ``also``: more pair columns, set by the same UPDATE).
    Votes are kept for pairs in the table only (a pair selected again later gets them
    from the log), so the counters count existing pairs. ``voters``: `_voters`' cursor,
    if the caller sent it already."""
    rows = (voters if voters is not None else _voters(conn, pair_id)).fetchall()
    if not rows:
        by = {}  # no such pair (pruned): nothing to store, the statements below change nothing
    elif count:  # each labeler's votes by the pair's vote count: out of the old bucket, into the new
        old_votes = rows[0][0]
        bumps = [(who, old_votes, -1) for _, who in rows if who is not None]
        bumps += [(who, len(by), 1) for who in sorted(by)]
        conn.executemany(
            "INSERT INTO labeler_votes (labeler, votes, n) VALUES (?, ?, ?) "
            "ON CONFLICT (labeler, votes) DO UPDATE SET n = labeler_votes.n + excluded.n",
            bumps,
        )
    conn.execute("DELETE FROM pair_votes WHERE pair_id = ?", (pair_id,))
    conn.executemany(
        "INSERT INTO pair_votes (pair_id, labeler, verdict) VALUES (?, ?, ?) "
        "ON CONFLICT (pair_id, labeler) DO UPDATE SET verdict = excluded.verdict",
        [(pair_id, who, v) for who, v in sorted(by.items())],
    )
    cols = {"votes": len(by), "disagree": int(len(set(by.values())) > 1), **(also or {})}
    conn.execute(f"UPDATE pairs SET {', '.join(f'{c} = ?' for c in cols)} WHERE pair_id = ?", (*cols.values(), pair_id))
    return bool(rows)


def refresh_pair(conn: Any, pair_id: str) -> bool:
    """Re-derive one pair's current verdict (the latest active verdict event, by anyone) and
    each labeler's vote from one read of its log; inside the write transaction. False if
    the pair is not in the pairs table. PostgreSQL runs the same logic in the server
    (`labeling.pg_schema.REFRESH_PAIR`): change both together."""
    log = conn.execute(
        "SELECT labeler, value, note, at FROM active_events WHERE kind = 'verdict' AND target = ? ORDER BY id",
        (pair_id,),
    )
    voters = _voters(conn, pair_id)  # sent before either is read: one round trip on PostgreSQL (pipelined)
    rows = log.fetchall()
    last = rows[-1] if rows and rows[-1][1] is not None else None  # a cleared verdict: none
    verdict = {
        "verdict": last[1] if last else None,
        "note": last[2] if last else None,
        "labeler": last[0] if last else None,
        "labeled_at": last[3] if last else None,
        "labeled": int(last is not None),
    }
    by = fold_votes((pair_id, who, value) for who, value, *_ in rows).get(pair_id, {})
    return _write(conn, pair_id, by, also=verdict, voters=voters)


def rebuild_votes(conn: Any) -> None:
    """Every pair's votes from the whole log (a migrated store, a large re-selection)."""
    by_pair = fold_votes(
        conn.execute("SELECT target, labeler, value FROM active_events WHERE kind = 'verdict' ORDER BY id").fetchall()
    )
    conn.execute("DELETE FROM pair_votes")
    conn.execute("UPDATE pairs SET votes = 0, disagree = 0 WHERE votes != 0 OR disagree != 0")
    for pid, by in by_pair.items():
        _write(conn, pid, by, count=False)
    conn.execute("DELETE FROM labeler_votes")
    conn.execute(
        "INSERT INTO labeler_votes (labeler, votes, n) SELECT v.labeler, p.votes, count(*) "
        "FROM pair_votes v JOIN pairs p ON p.pair_id = v.pair_id GROUP BY v.labeler, p.votes"
    )


def count_votes(conn: Any) -> None:
    """Fill ``vote_counts`` from the pairs (once, when the table is new; triggers keep it)."""
    conn.execute("DELETE FROM vote_counts")
    conn.execute("INSERT INTO vote_counts (votes, stale, n) SELECT votes, stale, count(*) FROM pairs GROUP BY 1, 2")


def send_team_queue_size(conn: Any, overlap: int, labeler: str) -> Callable[[], int]:
    """A labeler's whole queue (pairs not stale with fewer than K votes, none theirs) from the
    counters: the pairs under K, less those this labeler voted on. The stale pairs among
    the latter (few: a stale pair is kept only with a verdict) are counted directly. The
    three reads are sent; returns what reads and adds them up."""
    under = conn.execute("SELECT sum(n) FROM vote_counts WHERE votes < ? AND stale = 0", (overlap,))
    mine = conn.execute("SELECT sum(n) FROM labeler_votes WHERE labeler = ? AND votes < ?", (labeler, overlap))
    mine_stale = conn.execute(
        "SELECT count(*) FROM pairs WHERE stale = 1 AND votes < ? AND votes > 0 AND "
        "EXISTS (SELECT 1 FROM pair_votes v WHERE v.pair_id = pairs.pair_id AND v.labeler = ?)",
        (overlap, labeler),
    )
    return lambda: sum(int(c.fetchone()[0] or 0) * sign for c, sign in ((under, 1), (mine, -1), (mine_stale, 1)))


def votes_read(conn: Any, pair_ids: list[str] | None) -> Any:
    """The votes of these pairs (None: of every pair with one): a cursor, not yet read."""
    sql, params = "SELECT pair_id, labeler, verdict FROM pair_votes", list(pair_ids or [])
    if pair_ids is not None:
        if not pair_ids:
            return ()
        sql += f" WHERE pair_id IN ({', '.join('?' * len(pair_ids))})"
    return conn.execute(sql + " ORDER BY pair_id, labeler", params)


def fold_pair_votes(rows: Any) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for pid, who, v in rows:
        out.setdefault(pid, {})[who] = v
    return out


def team_queue(f: dict[str, Any]) -> bool:
    """Whether the filter is a labeler's queue with overlap K > 1 (else: the queue as alone)."""
    return f.get("verdict") == "unlabeled" and int(f.get("overlap") or 1) > 1 and bool(f.get("labeler"))


def team_conds(f: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """WHERE conditions of the team parts of a filter: a labeler's queue with K > 1 (it
    replaces ``labeled = 0``) and the adjudication queue (``disagree``)."""
    conds: list[str] = []
    params: list[Any] = []
    if team_queue(f):
        # Nobody is asked for a verdict on a pair the strategy no longer selects.
        conds.append(f"votes < ? AND {_NOT_VOTED_BY}" + ("" if f.get("include_stale") else " AND stale = 0"))
        params += [int(f["overlap"]), f["labeler"]]
    if f.get("disagree"):
        conds.append("disagree = 1")
        if f.get("adjudicator"):
            conds.append(_NOT_VOTED_BY)
            params.append(f["adjudicator"])
    return conds, params
