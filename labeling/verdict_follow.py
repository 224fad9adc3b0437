"""Human verdicts follow content when pairs are rebuilt (docs/ARCHITECTURE.md, Rollout state).

A pair's id is made of its two rollouts' uids. When a side turns out to be a copy (a
replayed or copied batch indexed earlier holds the same content), the pair over the
originals is the one pairs and exports use; the verdict a person gave the old pair is then
appended to the log again on that pair (same labeler, same note; a confirm becomes a flip
when the new pair faces the other way). The old events stay: the log is append-only.
A pair with a side that is not judged (cancelled, error...) is not carried over: that is a
deliberate drop, listed by ``repo-agent audit``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from labeling.records import LabelEvent, PairRow, RolloutRow

_REVERSED = {"confirm": "flip", "flip": "confirm", "discard": "discard"}


@dataclass(frozen=True)
class CarriedVerdict:
    """One verdict to append: on ``pair_id``, by ``labeler``, from the pair ``from_pair``."""

    pair_id: str
    value: str
    note: str | None
    labeler: str
    from_pair: str


def current_verdicts(events: Iterable[LabelEvent]) -> dict[tuple[str, str], LabelEvent]:
    """(pair id, labeler) -> that labeler's current verdict event (undone ones left out)."""
    out: dict[tuple[str, str], LabelEvent] = {}
    for e in events:
        if e.kind == "verdict" and e.undone_by is None:
            out[(e.target, e.labeler)] = e
    return {k: e for k, e in out.items() if e.value is not None}


def carried_verdicts(
    pairs: list[PairRow], rollouts: dict[str, RolloutRow], events: Iterable[LabelEvent]
) -> list[CarriedVerdict]:
    """The verdicts to carry from pairs over copies onto the pairs over their originals."""
    current = current_verdicts(events)
    by_sides: dict[tuple[str, str], PairRow] = {}
    for p in pairs:
        if not p.stale and p.kind == "rollout":
            by_sides[(p.chosen_uid, p.rejected_uid)] = p

    def original(uid: str) -> str | None:
        r = rollouts.get(uid)
        if r is None or not r.state.judged:
            return None
        return r.copy_of or uid

    out: list[CarriedVerdict] = []
    seen: set[tuple[str, str]] = set()
    for p in pairs:
        if p.kind != "rollout":
            continue
        ch, rej = original(p.chosen_uid), original(p.rejected_uid)
        if ch is None or rej is None or (ch, rej) == (p.chosen_uid, p.rejected_uid) or ch == rej:
            continue
        target, reverse = by_sides.get((ch, rej)), False
        if target is None:
            target, reverse = by_sides.get((rej, ch)), True
        if target is None or target.pair_id == p.pair_id:
            continue
        for (pid, labeler), e in current.items():
            if pid != p.pair_id or (target.pair_id, labeler) in current or (target.pair_id, labeler) in seen:
                continue
            seen.add((target.pair_id, labeler))
            value = _REVERSED[e.value or "discard"] if reverse else (e.value or "discard")
            out.append(CarriedVerdict(target.pair_id, value, e.note, labeler, p.pair_id))
    return out
