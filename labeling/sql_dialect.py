"""What differs between the store's two databases, as one object a backend holds.

`labeling.sql_db.SqlDb` runs the same SQL parts on SQLite and PostgreSQL; a `Dialect`
gives the rest: how the schema is made and checked, how a pair's verdict is refreshed
(Python on SQLite, one plpgsql call on PostgreSQL), when an event's id is read, the search
index, and the bulk copy. `labeling.sqlite_db.SQLITE` and `labeling.pg_db.PgDialect`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from labeling.records import IndexProgress
from labeling.search_query import SearchQuery
from labeling.sqlite_conn import Session, Statements


class Search(Protocol):
    """The search index's writes and reads (labeling/sqlite_search.py, labeling/pg_db.py).

    PostgreSQL writes each rollout's documents in ingest's transaction; SQLite writes none
    there and fills its own index file from the rows afterwards (``catch_up``)."""

    in_ingest: bool  # whether ingest collects and writes the documents

    def write_search_docs(self, rows: list[tuple]) -> None: ...
    def forget(self, rids: list[int]) -> None: ...  # these rollouts' documents go (dropped or read again)
    def restarted(self, rids: list[int]) -> None: ...  # these traces were read from their start
    def needs_refill(self) -> bool: ...  # rollouts and no documents: every trace read again
    def catch_up(self, base: str) -> None: ...  # index what ingest wrote (trace paths relative to base)
    def progress(self) -> IndexProgress | None: ...  # None: every rollout is indexed
    def search_hits(self, q: SearchQuery, before: int | None, limit: int) -> list[tuple]: ...
    def close(self) -> None: ...


class Dialect(Protocol):
    name: str  # "sqlite" or "postgresql"
    newer_hint: str  # what a schema-version error adds after "upgrade repo-agent"
    unreadable_hint: str  # ... after "unreadable schema version"

    def has_meta(self, session: Session) -> bool: ...
    def make_schema(self, session: Session, stored: int | None) -> None: ...
    def check_readable(self, session: Session) -> None: ...
    def refresh_verdicts(self, conn: Statements, pair_ids: list[str], must_exist: bool) -> None: ...
    def event_id(self, cursor: Any) -> Callable[[], int]: ...
    def search(self, session: Session) -> Search: ...
    def copy_rows(self, session: Session, table: str, cols: list[str], rows: list[tuple]) -> bool: ...
    def after_copy(self, session: Session) -> None: ...
    def drop_tables(self, session: Session) -> bool: ...
