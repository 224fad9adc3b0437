"""A label store trusts only its own schema (docs/hostile-files.md, Shared stores).

A ``labels.sqlite`` may come from someone else. SQLite keeps code in the file itself:
triggers and views run on our reads and writes, so a foreign trigger (``AFTER INSERT ON
label_events ... INSERT a flip``) would change what a labeler said. On open, every schema
object in the file is compared with what the store's own DDL creates (run once on an
in-memory database, so tables other modules add are known without a list here):

- a trigger, view or index must have the store's name *and* its exact SQL;
- a table must have the store's name, and its columns (type, key, not generated; a default
  only a constant) and SQL words must be ones the store's own table has: an older store,
  whose tables were widened by ``ALTER TABLE ... ADD COLUMN c DEFAULT 0``, passes; a
  ``CHECK``, ``COLLATE`` or ``ON CONFLICT REPLACE`` it never wrote does not.

Objects a version of the store has not created yet are fine (the migration creates them).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[^\sA-Za-z0-9_]")


@dataclass(frozen=True)
class Schema:
    sql: dict[str, tuple[str, str]]  # name -> (type, normalised SQL)
    columns: dict[str, dict[str, tuple]]  # table -> column -> (type, notnull, default, pk, hidden)


def _norm(sql: str | None) -> str:
    return " ".join(_WORD.findall(sql or "")).upper() if sql else ""


def read_schema(conn: sqlite3.Connection) -> Schema:
    sql: dict[str, tuple[str, str]] = {}
    columns: dict[str, dict[str, tuple]] = {}
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    for kind, name, text in rows:
        if name.startswith("sqlite_"):  # SQLite's own: autoindexes, sqlite_sequence, sqlite_stat1
            continue
        sql[name] = (kind, _norm(text))
        if kind == "table":
            quoted = name.replace('"', '""')
            columns[name] = {
                r[1]: (str(r[2]).upper(), r[3], r[4], r[5], r[6])
                for r in conn.execute(f'PRAGMA table_xinfo("{quoted}")').fetchall()
            }
    return Schema(sql, columns)


_EXPECTED: Schema | None = None


def expected_schema(make_schema: Callable[[sqlite3.Connection], None]) -> Schema:
    """What the store's own DDL creates (``make_schema`` run on an empty in-memory database)."""
    global _EXPECTED
    if _EXPECTED is None:
        mem = sqlite3.connect(":memory:")
        try:
            make_schema(mem)
            _EXPECTED = read_schema(mem)
        finally:
            mem.close()
    return _EXPECTED


def foreign_objects(conn: sqlite3.Connection, expected: Schema) -> list[str]:
    """Each schema object of ``conn`` the store did not create, as ``"trigger flip_it"``."""
    found = read_schema(conn)
    out = []
    for name, (kind, text) in sorted(found.sql.items()):
        want = expected.sql.get(name)
        if want is None or want[0] != kind:
            out.append(f"{kind} {name}")
        elif kind == "table":
            if not _same_table(found.columns[name], expected.columns[name], text, want[1]):
                out.append(f"{kind} {name} (altered)")
        elif text != want[1]:
            out.append(f"{kind} {name} (altered)")
    return out


_LITERAL = re.compile(r"'(?:[^']|'')*'|-?\d+(?:\.\d+)?|NULL", re.IGNORECASE)


def _same_table(cols: dict[str, tuple], want_cols: dict[str, tuple], text: str, want_text: str) -> bool:
    """Same columns (a missing one is added by the migration), and no SQL word the store's own
    table lacks. A column an older store got by ``ALTER TABLE ... ADD COLUMN c DEFAULT 0`` has a
    constant default where a new store's CREATE has none: constants are allowed, nothing else."""
    for c, spec in cols.items():
        want = want_cols.get(c)
        if want is None:
            return False
        same_but_default = spec[:2] == want[:2] and spec[3:] == want[3:]
        if not same_but_default or (spec[2] != want[2] and not _constant(spec[2])):
            return False
    return set(_words(text)) <= set(_words(want_text)) | {"DEFAULT"}


def _constant(default: object) -> bool:
    return default is None or bool(_LITERAL.fullmatch(str(default)))


def _words(sql: str) -> list[str]:
    return _LITERAL.sub("0", sql).split()
