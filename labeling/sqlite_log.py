"""The human log of the label store: append events, read them, find what undo and redo act on.

A part of `labeling.sql_db.SqlDb` (both databases). The log is
append-only; the current verdicts, marks and tags are views over it (`labeling.sqlite_schema`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agent.trace_io import clean_text
from labeling.sql_dialect import Dialect
from labeling.sqlite_conn import Session, SqlPart

EVENT_COLUMNS = ("id", "kind", "target", "value", "note", "labeler", "at", "ref")


class EventLog(SqlPart):
    """Events in ``label_events`` and the current step marks derived from them."""

    def __init__(self, session: Session, dialect: Dialect):
        super().__init__(session)
        self.dialect = dialect

    def insert_event(
        self, kind: str, target: str, value: str | None, note: str | None, labeler: str, at: str, ref: int | None = None
    ) -> int:
        """Append one event; call inside `write()`."""
        return self.send_event(kind, target, value, note, labeler, at, ref)()

    def send_event(
        self, kind: str, target: str, value: str | None, note: str | None, labeler: str, at: str, ref: int | None = None
    ) -> Callable[[], int]:
        """Append one event (inside `write()`); returns what gives its id, inside the write
        or after it. PostgreSQL reads the id only then (`labeling.pg_db.PgDialect.event_id`),
        so the statements sent meanwhile share its round trip; SQLite reads it at once."""
        return self.dialect.event_id(self._send_event(kind, target, value, note, labeler, at, ref))

    def _send_event(
        self, kind: str, target: str, value: str | None, note: str | None, labeler: str, at: str, ref: int | None
    ) -> Any:
        # Text from argv or a terminal may hold lone surrogates (undecodable bytes): escaped.
        text = [None if x is None else clean_text(x) for x in (kind, target, value, note, labeler)]
        return self._conn.execute(
            "INSERT INTO label_events (kind, target, value, note, labeler, at, ref) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "RETURNING id",
            (*text, at, ref),
        )

    def events(self, *, labeler: str | None = None, ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM label_events"
        params: list[Any] = []
        if labeler is not None:
            sql += " WHERE labeler = ?"
            params.append(labeler)
        elif ids is not None:
            sql += f" WHERE id IN ({', '.join('?' * len(ids))})"
            params.extend(ids)
        sql += " ORDER BY id"
        return [dict(zip(EVENT_COLUMNS, r)) for r in self._q(sql, params)]

    def last_action(self, labeler: str, kinds: Sequence[str]) -> dict[str, Any] | None:
        """The labeler's latest action that no undo currently cancels (what `u` undoes).

        Walks the labeler's log backwards over its index: the cost is the number of
        undone actions on top, not the size of the log."""
        rows = self._q(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM label_events e WHERE labeler = ? "
            f"AND kind IN ({', '.join('?' * len(kinds))}) AND NOT EXISTS ("
            "SELECT 1 FROM label_events u WHERE u.ref = e.id AND u.kind = 'undo' AND NOT EXISTS ("
            "SELECT 1 FROM label_events r WHERE r.ref = u.id AND r.kind = 'redo')) ORDER BY id DESC LIMIT 1",
            (labeler, *kinds),
        )
        return dict(zip(EVENT_COLUMNS, rows[0])) if rows else None

    def last_undo(self, labeler: str, kinds: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(undo, the action it cancels) that `r` redoes: the labeler's latest undo not yet
        redone, if no new action came after it. Index walks, as `last_action`."""
        marks = ", ".join("?" * len(kinds))
        rows = self._q(
            f"SELECT {', '.join('u.' + c for c in EVENT_COLUMNS)} FROM label_events u WHERE u.labeler = ? "
            "AND u.kind = 'undo' AND u.id > coalesce((SELECT max(id) FROM label_events "
            f"WHERE labeler = ? AND kind IN ({marks})), 0) AND NOT EXISTS ("
            "SELECT 1 FROM label_events r WHERE r.ref = u.id AND r.kind = 'redo') ORDER BY u.id DESC LIMIT 1",
            (labeler, labeler, *kinds),
        )
        if not rows:
            return None
        undo = dict(zip(EVENT_COLUMNS, rows[0]))
        action = self.events(ids=[undo["ref"]])
        return (undo, action[0]) if action else None

    def step_marks(self, uid: str) -> list[tuple]:
        """(step target, reason, text, labeler, at) for the rollout's currently marked steps."""
        esc = uid.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._q(
            "SELECT target, reason, text, labeler, at FROM current_marks WHERE target LIKE ? ESCAPE '\\'",
            (esc + "#%",),
        )

    def all_step_marks(self) -> list[tuple]:
        return self._q("SELECT target, reason, text, labeler, at FROM current_marks")

    def cleared_rollouts(self, uids: Sequence[str] | None = None) -> list[tuple]:
        """(rollout uid, labeler, at, note) of the rollouts a person currently clears of SUSPECT:
        the latest active ``clear``/``unclear`` event per rollout is a ``clear``. ``uids``: of
        those rollouts only (a pair's two sides: the (kind, target) index, not the whole log)."""
        only = f" AND target IN ({', '.join('?' * len(uids))})" if uids is not None else ""
        return self._q(
            "SELECT target, labeler, at, note FROM (SELECT target, kind, labeler, at, note, "
            "row_number() OVER (PARTITION BY target ORDER BY id DESC) AS rn FROM active_events "
            f"WHERE kind IN ('clear', 'unclear'){only}) c WHERE rn = 1 AND kind = 'clear'",
            tuple(uids or ()),
        )

    def loop_steps(self, uid: str | None = None) -> list[tuple[str, str]]:
        """(uid, JSON list of loop steps) for rollouts with loop steps (one rollout's, with uid)."""
        if uid is not None:
            return self._q("SELECT uid, loop_steps FROM rollouts WHERE uid = ? AND loop_steps != '[]'", (uid,))
        return self._q("SELECT uid, loop_steps FROM rollouts WHERE loop_steps != '[]'")
