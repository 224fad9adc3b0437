"""The search line (``repo-agent search``, the studio's ``ctrl+f``) to a `SearchQuery`, and
that query as SQLite FTS5 ``MATCH`` text and as a PostgreSQL ``tsquery``.

Words are searched as the index cuts text: runs of letters and digits, lower-cased
(``rel_path`` is the phrase ``rel path``; ``binsearch.py`` is ``binsearch py``). So both
backends find the same hits: neither ever sees the user's syntax, only these words.

    KeyError                 every word must occur (AND)
    "index out of range"     a phrase: the words in this order
    read_file OR grep        either side
    -pytest                  leave out what holds this word
    assert*                  a word that starts so
    model:M task:T verdict:pass|fail|tampered|suspect state:judged|probe|not_judged|running
    reason:R stop:S batch:B rollout:R tag:T flag:F in:message|args|output|patch
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import get_args

from agent.trace_events import NotJudgedReason, RolloutStatus, Verdict
from labeling.records import PAIR_FLAGS

WORD = re.compile(r"[^\W_]+")  # the index's tokens: FTS5 unicode61 and what PostgreSQL is given
PLACES = ("message", "args", "output", "patch")
FILTER_VALUES: dict[str, tuple[str, ...] | None] = {
    "model": None,
    "task": None,
    "batch": None,
    "rollout": None,
    "tag": None,
    "stop": None,
    # From the trace contract's Literals: a new verdict or reason is searchable as it lands.
    "verdict": get_args(Verdict),
    "state": get_args(RolloutStatus),
    "reason": get_args(NotJudgedReason),
    "flag": PAIR_FLAGS,
    "in": PLACES,
}
SEARCH_HINT = (
    'words (all of them)  "a phrase"  a OR b  -leave_out  prefix*\n'
    "model:M task:T verdict:pass|fail|tampered|suspect state:S reason:R stop:S batch:B rollout:R tag:T flag:F "
    "in:message|args|output|patch"
)


class SearchError(ValueError):
    """A search line that cannot be searched: the message is one line for the user."""


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # a phrase of index tokens (one word is a phrase of one)
    prefix: bool = False  # the last word is a prefix


@dataclass(frozen=True)
class SearchQuery:
    # AND of groups; a group is an OR of terms. ``exclude``: terms none of the hits hold.
    groups: tuple[tuple[Term, ...], ...]
    exclude: tuple[Term, ...] = ()
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def words(self) -> list[str]:
        """The searched words (for the snippet's window), in query order."""
        return [w for g in self.groups for t in g for w in t.words]


# Chinese, Japanese and Korean script: written without blanks between words, so a run of it is
# one unicode61 token (a sentence, never found by a word of it). Such a run is cut into its
# overlapping pairs of characters (bigrams, as Lucene's CJK analyzer does): ``数据库`` is the
# phrase ``数据 据库``, found inside ``连接数据库失败``.
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff]+")


def has_cjk(text: str) -> bool:
    return not text.isascii() and CJK.search(text) is not None  # (isascii: C speed, most text)


def tokens(text: str) -> list[str]:
    """The index's tokens of ``text``: runs of letters and digits, lower-cased; a CJK run as its bigrams."""
    words = [w.lower() for w in WORD.findall(text)]
    if not has_cjk(text):
        return words
    out: list[str] = []
    for w in words:
        pos = 0
        for m in CJK.finditer(w):
            if m.start() > pos:
                out.append(w[pos : m.start()])
            run = m.group()
            out.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
            pos = m.end()
        if pos < len(w):
            out.append(w[pos:])
    return out


def index_text(text: str) -> str:
    """What the index's tokenizer is given: the text, or where it holds CJK its `tokens`
    blank-separated (the tokenizer then cuts exactly these)."""
    return " ".join(tokens(text)) if has_cjk(text) else text


def _lex(text: str) -> list[tuple[str, bool]]:
    """(piece, quoted): pieces split at blanks, a quoted phrase one piece (its ``-`` kept outside)."""
    out: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        neg = ""
        if c == "-" and i + 1 < n and text[i + 1] == '"':
            neg, i = "-", i + 1
            c = '"'
        if c == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise SearchError('a quote is not closed: end the phrase with "')
            star = end + 1 < n and text[end + 1] == "*"
            out.append((neg + text[i + 1 : end] + ("*" if star else ""), True))
            i = end + 1 + star
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] != '"':
            j += 1
        out.append((text[i:j], False))
        i = j
    return out


def _term(piece: str, shown: str) -> Term:
    prefix = piece.endswith("*")
    words = tuple(tokens(piece))
    if not words:
        raise SearchError(f"“{shown}” has no letters or digits to search for")
    return Term(words, prefix)


def parse_search(text: str) -> SearchQuery:
    """The search line to a query, or `SearchError` with one line saying what is wrong."""
    groups: list[list[Term]] = []
    exclude: list[Term] = []
    filters: dict[str, str] = {}
    pending_or = False
    for piece, quoted in _lex(text):
        if not quoted and piece == "OR":
            if not groups or pending_or:
                raise SearchError("OR needs a word on each side")
            pending_or = True
            continue
        key, sep, value = piece.partition(":")
        if not quoted and sep and key in FILTER_VALUES:
            known = FILTER_VALUES[key]
            if not value:
                raise SearchError(f"{key}: needs a value")
            if known is not None and value not in known:
                raise SearchError(f"unknown {key} “{value}”: one of {', '.join(known)}")
            filters[key] = value
            continue
        negated = piece.startswith("-") and len(piece) > 1
        body = piece[1:] if negated else piece
        term = _term(body, piece)
        if negated:
            if pending_or:
                raise SearchError("OR cannot join a left-out word (-word)")
            exclude.append(term)
        elif pending_or:
            groups[-1].append(term)
            pending_or = False
        else:
            groups.append([term])
    if pending_or:
        raise SearchError("OR needs a word on each side")
    if not groups:
        raise SearchError("nothing to search for: give at least one word (filters alone narrow a search)")
    return SearchQuery(tuple(tuple(g) for g in groups), tuple(exclude), filters)


def _fts_word(w: str, prefix: bool) -> str:
    return f'"{w}"' + ("*" if prefix else "")


def _fts_term(t: Term) -> str:
    # The index keeps no positions (detail=none, labeling/sqlite_search.py): a phrase is its
    # words, and `matches` checks their order on the hit's text.
    last = len(t.words) - 1
    return "(" + " AND ".join(_fts_word(w, t.prefix and i == last) for i, w in enumerate(t.words)) + ")"


def fts5_match(q: SearchQuery) -> str:
    """The query as FTS5 MATCH text (only quoted index tokens: no user syntax reaches FTS5).
    A left-out phrase is not in it (it cannot be told without positions): `matches` leaves
    out its hits."""
    ands = " AND ".join("(" + " OR ".join(_fts_term(t) for t in g) + ")" for g in q.groups)
    return ands + "".join(f" NOT {_fts_term(t)}" for t in q.exclude if len(t.words) == 1)


def needs_check(q: SearchQuery) -> bool:
    """Whether a backend's hits may hold documents `matches` refuses (a phrase, a left-out phrase)."""
    return any(len(t.words) > 1 for g in q.groups for t in g) or any(len(t.words) > 1 for t in q.exclude)


def _has(words: list[str], t: Term) -> bool:
    n = len(t.words)
    head, last = t.words[:-1], t.words[-1]
    for i in range(len(words) - n + 1):
        if tuple(words[i : i + n - 1]) == head:
            w = words[i + n - 1]
            if w == last or (t.prefix and w.startswith(last)):
                return True
    return False


def matches(q: SearchQuery, text: str) -> bool:
    """Whether ``text`` (a whole event's) holds the query: every group, phrases in order, and
    none of the left-out terms. The same test for both backends, so they agree on phrases."""
    words = tokens(text)
    return all(any(_has(words, t) for t in g) for g in q.groups) and not any(_has(words, t) for t in q.exclude)


def _pg_term(t: Term) -> str:
    words = [*t.words[:-1], t.words[-1] + ":*" if t.prefix else t.words[-1]]
    return "(" + " <-> ".join(words) + ")"


def pg_tsquery(q: SearchQuery) -> str:
    """The query as ``to_tsquery('simple', ...)`` text (tokens are letters and digits only)."""
    ands = " & ".join("(" + " | ".join(_pg_term(t) for t in g) + ")" for g in q.groups)
    return ands + "".join(f" & !{_pg_term(t)}" for t in q.exclude)
