"""A person's verdict stands on the sides' verdicts it was given on (docs/exports.md).

`repo-agent rejudge` appends a new ``rollout_end`` to a trace whose verdict today's checker
sees otherwise (a forged PASS turned FAIL). A person who preferred that rollout while it
passed preferred a forgery: their verdict no longer says what they meant, so no export uses
it until someone labels the pair again (round 8 vrd8-10). A rejudge that leaves the verdict
as it was changes nothing.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from agent.trace import RolloutEnd, RolloutState, rollout_state
from agent.trace_io import LineTooLong, lines_from_end, loads_bounded
from labeling.records import PairRow

if TYPE_CHECKING:
    from labeling.store import LabelStore


def _ends(path: str) -> Generator[tuple[float, RolloutState]]:
    """The trace's ``rollout_end`` events, last first: when each was written and the state it
    says. A line that does not parse as an end (torn by a writer killed mid-line, nested past
    the parser's limit) is no end: the ends before it are read on, never hidden by it. OSError
    for an unreadable trace (``LineTooLong``: a line past the reader's bound, the ends before
    it unknown)."""
    for line in lines_from_end(path):
        if b'"rollout_end"' not in line:
            continue
        try:
            raw = loads_bounded(line)  # nested past the parser's limit: a ValueError, not a RecursionError
            if not (isinstance(raw, dict) and raw.get("kind") == "rollout_end"):
                continue
            end = RolloutEnd.model_validate(raw)
        except ValueError:
            continue
        yield end.ts, rollout_state(end)


@dataclass(frozen=True)
class VerdictSince:
    """What a trace's ends say about a time: ``now``, the state its last ``rollout_end`` says
    (None: no end read), and whether the verdict ``changed`` since."""

    now: RolloutState | None
    changed: bool


def verdict_since(path: str, when: str, *, marks: bool = False) -> VerdictSince:
    """The trace's ends read once from its end, against ``when`` (an ISO time: a label event's
    ``at``): changed when a ``rollout_end`` written after it says otherwise than the last one
    written before it (``marks``: its detail too, the SUSPECT rules a clear was given on).
    A line past the reader's bound before that end (``LineTooLong``) hides it: changed, as far
    as anyone can tell, never "no end". Other unreadable traces and times: not changed
    (no reader takes such an end: the store's state rules them)."""
    now: RolloutState | None = None
    try:
        at = datetime.fromisoformat(when).timestamp()
        for ts, state in _ends(path):
            if now is None:
                now = state
            if ts <= at:
                then_: tuple[object, ...] = (state.status, state.verdict, state.detail if marks else "")
                return VerdictSince(now, then_ != (now.status, now.verdict, now.detail if marks else ""))
        return VerdictSince(now, False)  # no end before the label: the verdict it was given on is today's
    except LineTooLong:
        return VerdictSince(now, True)
    except (OSError, ValueError):
        return VerdictSince(now, False)


def verdict_changed_since(path: str, when: str, *, marks: bool = False) -> bool:
    """Whether the trace's verdict now differs from the one it had at ``when`` (`verdict_since`)."""
    return verdict_since(path, when, marks=marks).changed


def _last_end_ts(path: str) -> float | None:
    """When the trace's last ``rollout_end`` was written; None: no end, or an unreadable one;
    infinity: a line past the reader's bound hides it (later than any label: read further)."""
    try:
        with contextlib.closing(_ends(path)) as ends:
            return next((ts for ts, _state in ends), None)
    except LineTooLong:
        return math.inf
    except (OSError, ValueError):
        return None


def overtaken(store: LabelStore, labeled: list[tuple[PairRow, str]]) -> set[str]:
    """Of ``(pair, when its verdict was last given)``, the pairs a rejudge has since changed a
    side's verdict under. Each trace's end is read once, however many pairs it is in; only a
    trace ended again after a label is read further."""
    uids = sorted({u for p, _ in labeled for u in (p.chosen_uid, p.rejected_uid)})
    paths = {r.uid: r.trace_path for r in store.rollouts(uids=uids, with_patch=False)} if uids else {}
    last_end: dict[str, float | None] = {}

    def changed(uid: str, at: str) -> bool:
        path = paths.get(uid)
        if not path:
            return False
        if path not in last_end:
            last_end[path] = _last_end_ts(path)
        ts = last_end[path]
        try:
            if ts is None or ts <= datetime.fromisoformat(at).timestamp():
                return False  # not ended since the label: the verdict it was given on stands
        except ValueError:
            return False
        return verdict_changed_since(path, at)

    return {p.pair_id for p, at in labeled if changed(p.chosen_uid, at) or changed(p.rejected_uid, at)}
