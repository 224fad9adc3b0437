"""Human work on the label store: verdicts, step marks, tags; exact undo/redo.

Every action appends one row to the backend's append-only log and commits before
returning. Undo appends an ``undo`` event referencing the action it cancels; redo
appends a ``redo`` event referencing that undo, which makes the action active again.
The current state (views in the backend) is the latest *active* event per target.
Undo and redo act on the store's own labeler only, like an editor's history per user.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from labeling.backend import Backend
from labeling.errors import NotFound, StoreError
from labeling.pairs import PAIR_ID
from labeling.records import STEP_REASONS, VERDICTS, LabelEvent, StepMark, step_target

ACTION_KINDS = ("verdict", "mark", "unmark", "tag", "untag", "clear", "unclear")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _event_row(d: dict[str, Any], undone_by: int | None = None) -> LabelEvent:
    return LabelEvent(**d, undone_by=undone_by)


def _undo_state(events: list[dict[str, Any]]) -> tuple[dict[int, int], set[int]]:
    """Fold one labeler's log: (action id -> the undo currently cancelling it, redone undo ids)."""
    undone: dict[int, int] = {}
    undo_ref: dict[int, int] = {}
    redone: set[int] = set()
    for e in events:
        if e["kind"] == "undo":
            undone[e["ref"]] = e["id"]
            undo_ref[e["id"]] = e["ref"]
        elif e["kind"] == "redo":
            redone.add(e["ref"])
            action = undo_ref.get(e["ref"])
            if action is not None and undone.get(action) == e["ref"]:
                del undone[action]
    return undone, redone


AUTO_LOOP_MARK = StepMark(reason="loop", text="loop detected by the engine", labeler="auto")


class HumanLog:
    """``store.human``: one labeler's work on a `labeling.backend.Backend`; ``resolve_pair_id``
    turns a pair id prefix into a full id (`labeling.store.LabelStore.resolve_pair_id`)."""

    def __init__(self, db: Backend, labeler: str, resolve_pair_id: Callable[[str], str]):
        self._db = db
        self.labeler = labeler
        self.resolve_pair_id = resolve_pair_id

    # ------------------------------------------------------------------ human work
    def _append(
        self, kind: str, target: str, value: str | None, note: str | None, *, must_exist: bool = False
    ) -> LabelEvent:
        """``must_exist``: a verdict on a pair id not checked yet; none is recorded if no such pair."""
        at = now()
        with self._db.write():
            sent = self._db.send_event(kind, target, value, note, self.labeler, at)
            if kind == "verdict":  # a missing pair with must_exist: NotFound, the event rolled back
                self._db.refresh_verdicts([target], must_exist=must_exist)
        eid = sent()  # read after the commit: one round trip for all of it on PostgreSQL
        return LabelEvent(id=eid, kind=kind, target=target, value=value, note=note, labeler=self.labeler, at=at)

    def set_verdict(self, pair_id: str, verdict: str | None, note: str | None = None) -> LabelEvent:
        """Record confirm | flip | discard (None clears). Committed on return."""
        if verdict is not None and verdict not in VERDICTS:
            raise StoreError(f"unknown verdict {verdict!r} (use {', '.join(VERDICTS)})")
        full = pair_id.strip().lower()
        if PAIR_ID.fullmatch(full):  # a full id (the studio's): checked inside the write, no lookup first
            return self._append("verdict", full, verdict, note, must_exist=True)
        return self._append("verdict", self.resolve_pair_id(pair_id), verdict, note)

    def tag_pair(self, pair_id: str, tag: str) -> LabelEvent:
        tag = tag.strip()
        if not tag:
            raise StoreError("empty tag")
        return self._append("tag", self.resolve_pair_id(pair_id), tag, None)

    def untag_pair(self, pair_id: str, tag: str) -> LabelEvent:
        return self._append("untag", self.resolve_pair_id(pair_id), tag.strip(), None)

    def _check_step(self, uid: str, step: int) -> None:
        rows = self._db.rollouts({"uids": [uid]}, with_patch=False)
        if not rows:
            raise NotFound(f"no rollout {uid!r}")
        if not isinstance(step, int) or step < 1:
            raise StoreError(f"bad step {step!r}: steps are numbered from 1")
        last = rows[0]["steps"] or 0
        if step > last:
            raise StoreError(f"no step {step} in {uid}: it has {last} step(s)")

    def mark_step(self, uid: str, step: int, reason: str, text: str | None = None) -> LabelEvent:
        """Mark a step bad with a reason from STEP_REASONS (+ optional free text)."""
        if reason not in STEP_REASONS:
            raise StoreError(f"unknown reason {reason!r} (use {', '.join(STEP_REASONS)})")
        self._check_step(uid, step)
        return self._append("mark", step_target(uid, step), reason, text)

    def unmark_step(self, uid: str, step: int) -> LabelEvent:
        self._check_step(uid, step)
        return self._append("unmark", step_target(uid, step), None, None)

    def step_marks(self, uid: str) -> dict[int, StepMark]:
        out: dict[int, StepMark] = {}
        for target, reason, text, labeler, at in self._db.step_marks(uid):
            u, _, step = target.rpartition("#")
            if u == uid and step.isdigit():
                out[int(step)] = StepMark(reason=reason, text=text, labeler=labeler, at=at)
        return self._with_loop_marks(out, uid)

    def all_step_marks(self) -> dict[str, dict[int, StepMark]]:
        """uid -> step -> mark, for every rollout with a marked step (exports use this)."""
        out: dict[str, dict[int, StepMark]] = {}
        for target, reason, text, labeler, at in self._db.all_step_marks():
            u, _, step = target.rpartition("#")
            if step.isdigit():
                out.setdefault(u, {})[int(step)] = StepMark(reason=reason, text=text, labeler=labeler, at=at)
        for u, steps in self._db.loop_steps():
            self._with_loop_marks(out.setdefault(u, {}), u, steps)
        return out

    def clear_suspect(self, uid: str, note: str | None = None) -> LabelEvent:
        """A person read a SUSPECT rollout's reasons and lines and clears it for export
        (docs/sandbox-and-verdicts.md); logged, undoable, taken back with ``unclear_suspect``."""
        if self._db.rollout_rid(uid) is None:
            raise NotFound(f"no rollout {uid!r}")
        return self._append("clear", uid, "suspect", note)

    def unclear_suspect(self, uid: str) -> LabelEvent:
        if self._db.rollout_rid(uid) is None:
            raise NotFound(f"no rollout {uid!r}")
        return self._append("unclear", uid, "suspect", None)

    def cleared_rollouts(self, uids: Sequence[str] | None = None) -> dict[str, LabelEvent]:
        """Rollout uid -> the ``clear`` event in force, for every rollout cleared of SUSPECT
        (of ``uids`` only, when given)."""
        if uids is not None and not uids:
            return {}
        return {
            uid: LabelEvent(id=0, kind="clear", target=uid, value="suspect", note=note, labeler=who, at=at)
            for uid, who, at, note in self._db.cleared_rollouts(uids)
        }

    def _with_loop_marks(self, marks: dict[int, StepMark], uid: str, steps: str | None = None) -> dict[int, StepMark]:
        """Steps the engine recorded as a loop count as marked bad (reason "loop", labeler
        "auto"), so step SFT masks them and step DPO never prefers them; a person's own
        mark on the step wins."""
        if steps is None:
            rows = self._db.loop_steps(uid)
            steps = rows[0][1] if rows else "[]"
        for step in json.loads(steps or "[]"):
            marks.setdefault(int(step), AUTO_LOOP_MARK)
        return marks

    def undo(self) -> LabelEvent | None:
        """Undo this labeler's latest effective action (appends an ``undo`` event).

        Returns the undo event (its ``target`` names what was undone, ``value`` the kind
        of event undone, ``ref`` its id), or None when there is nothing to undo.
        """
        with self._db.write():  # read + append atomically against another process
            target = self._db.last_action(self.labeler, ACTION_KINDS)
            if target is None:
                return None
            at = now()
            eid = self._db.insert_event("undo", target["target"], target["kind"], None, self.labeler, at, target["id"])
            if target["kind"] == "verdict":
                self._db.refresh_verdicts([target["target"]])
        return LabelEvent(
            id=eid,
            kind="undo",
            target=target["target"],
            value=target["kind"],
            labeler=self.labeler,
            at=at,
            ref=target["id"],
        )

    def redo(self) -> LabelEvent | None:
        """Re-apply this labeler's latest undone action, if no new action came since."""
        with self._db.write():
            found = self._db.last_undo(self.labeler, ACTION_KINDS)
            if found is None:
                return None
            undo, action = found
            at = now()
            eid = self._db.insert_event("redo", action["target"], action["kind"], None, self.labeler, at, undo["id"])
            if action["kind"] == "verdict":
                self._db.refresh_verdicts([action["target"]])
        return LabelEvent(
            id=eid,
            kind="redo",
            target=action["target"],
            value=action["kind"],
            labeler=self.labeler,
            at=at,
            ref=undo["id"],
        )

    def events(self, *, labeler: str | None = None) -> list[LabelEvent]:
        """The human log, oldest first, each with the undo currently cancelling it (if any)."""
        rows = self._db.events(labeler=labeler)
        undone: dict[int, int] = {}
        for who in {r["labeler"] for r in rows}:
            undone.update(_undo_state([r for r in rows if r["labeler"] == who])[0])
        return [_event_row(r, undone.get(r["id"])) for r in rows]
