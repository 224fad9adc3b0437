"""Leaving SUSPECT rollouts out of every export until a person clears them (docs/sandbox-and-verdicts.md).

A pass that shows marks of verdict gaming (agent/suspect.py) is SUSPECT in its trace's
outcome. No SFT example is built from it and no DPO pair using it is exported until a
person clears the rollout itself in the studio (a ``clear`` event in the human log,
undoable). A cheat probe's rollout never reaches an export, cleared or not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from agent.trace import RolloutEnd, RolloutState, rollout_state
from agent.trace_io import last_line, loads_bounded
from exports.rejudged import verdict_since

if TYPE_CHECKING:
    from labeling.store import LabelStore

_CHUNK = 1 << 16


def trace_state(trace_path: str) -> RolloutState | None:
    """The state its writer recorded in the trace's ``rollout_end``; None when unreadable or unended."""
    try:
        raw = loads_bounded(last_line(trace_path))
        if not isinstance(raw, dict) or raw.get("kind") != "rollout_end":
            return None
        return rollout_state(RolloutEnd.model_validate(raw))
    except (OSError, ValueError):
        return None


def held_for_review(rollouts: Iterable[tuple[str, RolloutState, str]], cleared: Mapping[str, str]) -> dict[str, str]:
    """Of ``(uid, stored state, trace path)``, the rollouts no export may use, with why:
    ``probe`` (a cheat probe's rollout) or ``suspect`` (SUSPECT, not cleared by a person).
    Held when the store or the trace's own ``rollout_end`` says so: a trace whose last line
    is not its end (a rejudge's test run appended, a blank line) still has its stored state.
    ``cleared``: uid -> when a person cleared it; a clear stands on the marks it was given on,
    never on the ones a later rejudge found (round 9 vrd9-4). Each trace is read once (a
    cleared one's ends from its end: its last end and the one the clear was given on)."""
    out: dict[str, str] = {}
    for uid, stored, path in rollouts:
        if stored.status == "probe":
            out[uid] = "probe"
            continue
        on_file, changed = None, False
        if path and uid in cleared:
            since = verdict_since(path, cleared[uid], marks=True)
            on_file, changed = since.now, since.changed
        elif path:
            on_file = trace_state(path)
        states = [stored] if on_file is None else [stored, on_file]
        if any(st.status == "probe" for st in states):
            out[uid] = "probe"
        elif any(st.verdict == "suspect" for st in states) and (uid not in cleared or changed):
            out[uid] = "suspect"
    return out


def leave_out_held(store: LabelStore, rows: list, skipped: Counter) -> list:
    """SFT: the rollout rows that may become examples; the rest counted in ``skipped``."""
    held = held_for_review(((r.uid, r.state, r.trace_path) for r in rows), _clears(store))
    for why in held.values():
        skipped[why] += 1
    return [r for r in rows if r.uid not in held]


def pairs_without_held(store: LabelStore, chosen: list[tuple], rows: dict, skipped: Counter) -> list[tuple]:
    """DPO: the chosen ``(pair, preferred uid, other uid, decided_by)`` entries whose two
    rollouts may be used; a pair with a held rollout is counted in ``skipped`` by why."""
    held = held_for_review(((uid, r.state, r.trace_path) for uid, r in rows.items()), _clears(store))
    out = []
    for entry in chosen:
        why = held.get(entry[1]) or held.get(entry[2])
        if why:
            skipped[why] += 1
        else:
            out.append(entry)
    return out


def _clears(store: LabelStore) -> dict[str, str]:
    """Rollout uid -> when the clear in force was given."""
    return {uid: event.at for uid, event in store.cleared_rollouts().items()}
