"""The label store: the public face of labeling/ (docs/ARCHITECTURE.md, Label store and pairs).

`LabelStore` indexes trace batches (incrementally), builds scored pairs with noise
flags, and keeps the human work (pair verdicts, step marks, tags) as an append-only
event log whose current state is derived, so undo/redo is exact across restarts.

Everything here returns rows from `labeling.records`; all SQL lives behind
`labeling.backend.Backend`: a SQLite file (`labeling.sqlite_db`) or a PostgreSQL database
(`labeling.pg_db`, for a ``postgresql://`` URL). Every write commits before the method returns.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from agent.trace import batch_alive
from labeling import indexer
from labeling.backend import Backend
from labeling.errors import NotFound, StoreError
from labeling.human import HumanLog
from labeling.human import now as _now
from labeling.pairs import Candidate, StrategyError, build_pairs
from labeling.queue import ReviewFigures, ReviewQueue, pair_row
from labeling.records import (
    STRATEGIES,
    BatchRow,
    IngestProgress,
    IngestReport,
    JobRow,
    LabelEvent,
    PairBuildReport,
    PairFilter,
    PairRow,
    QueueCounts,
    RolloutRow,
    StepMark,
    StepRow,
    ToolCallRow,
    UploadRow,
)
from labeling.rollout_states import StateCounts, live_state, row_state
from labeling.score import ScoreOrderError, parse_order
from labeling.search import SearchHits, find
from labeling.search_query import parse_search
from labeling.sqlite_db import open_sqlite
from labeling.steps import step_flags
from labeling.store_url import locate, resolve_db
from labeling.team import TeamReview, TeamSettings
from labeling.verdict_follow import carried_verdicts

DB_FILE = "labels.sqlite"


def default_labeler() -> str:
    for var in ("REPO_AGENT_LABELER", "USER", "LOGNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser() or "anon"
    except Exception:
        return "anon"


_ROLLOUT_FIELDS = tuple(RolloutRow.model_fields) + ("state_status", "state_verdict", "state_reason", "state_detail")


def _rollout_row(d: dict[str, Any], base: str | None = None) -> RolloutRow:
    known = d.get("tests_passed", 0) is not None  # NULL: the rollout has no verdict
    d = {k: d[k] for k in _ROLLOUT_FIELDS if k in d}
    if base is not None and d.get("trace_path"):
        # Stored relative to the store's directory (os.path.join: Path() costs on 10k rows).
        d["trace_path"] = _join(base, d["trace_path"])
    d["files"] = json.loads(d.get("files") or "[]")
    d["loop_steps"] = json.loads(d.get("loop_steps") or "[]")
    d["tests_passed"] = bool(d.get("tests_passed"))
    d["verdict_known"] = known
    d["tests_tampered"] = bool(d.get("tests_tampered"))
    d["suspect"] = bool(d.get("suspect"))
    d["probe"] = bool(d.get("probe"))
    d["state"] = row_state(d.get("state_status"), d.get("state_verdict"), d.get("state_reason"), d.get("state_detail"))
    return RolloutRow.model_construct(**d)


_JOB_JSON = ("options", "estimate", "verdicts")


def _job_row(d: dict[str, Any]) -> JobRow:
    d = {k: v for k, v in d.items() if v is not None}
    for key in _JOB_JSON:
        d[key] = json.loads(d.get(key) or "{}")
    return JobRow(**d)


def _join(base: str, key: str) -> str:
    """A stored path (relative to the store's directory, or absolute) as a usable path."""
    return key if base == "." else os.path.join(base, key)


class LabelStore:
    """One label store file. Usable as a context manager; safe to share across threads.

    Its parts are delegates on one `labeling.backend.Backend`: ``human`` (verdicts, marks,
    tags, undo/redo), ``queue`` (the review queue) and ``team`` (team settings and filters);
    the store's methods of the same names forward to them, so callers keep one object.

    >>> with LabelStore(LabelStore.default_path(traces)) as store:
    ...     store.ingest([traces])
    ...     for pair in store.pairs(PairFilter(verdict="unlabeled")): ...
    """

    def __init__(
        self,
        db_path: Path | str,
        *,
        labeler: str | None = None,
        backend: Backend | None = None,
        base: Path | None = None,
    ):
        """Open (creating the schema if needed) the store at ``db_path``: a SQLite file (WAL
        mode) or a ``postgresql://`` URL (a team's store). Trace paths are kept relative to
        ``base`` (`labeling.store_url.locate`); ``backend`` replaces the SQLite file."""
        self.labeler = labeler or default_labeler()
        where = locate(db_path, base)
        self.url, self.path, self.location, self.base = where.url, where.path, where.shown, where.base
        self._base = str(self.base) if self.base is not None else "."
        if backend is not None:
            self._db: Backend = backend
        elif self.url is not None:
            from labeling.pg_db import open_pg  # psycopg loads only for a PostgreSQL store

            self._db = open_pg(self.url)
        else:
            assert self.path is not None  # locate: a file store has a path
            self._db = open_sqlite(self.path)
        self.human = HumanLog(self._db, self.labeler, self.resolve_pair_id)
        self.queue = ReviewQueue(self._db, self.pair)
        self.team = TeamReview(self._db, self.labeler)

    @staticmethod
    def default_path(traces_dir: Path) -> Path:
        """``<traces dir>/labels.sqlite``."""
        return Path(traces_dir) / DB_FILE

    @classmethod
    def open(cls, db: str | Path | None, traces_dir: Path, *, labeler: str | None = None) -> LabelStore:
        """The store a command names: ``db`` (a path or URL), else ``$REPO_AGENT_DB``, else
        ``<traces dir>/labels.sqlite``; a PostgreSQL store keys trace paths by ``traces_dir``."""
        where = resolve_db(db, traces_dir, file_name=DB_FILE)
        return cls(where, labeler=labeler, base=Path(traces_dir) if isinstance(where, str) else None)

    # ------------------------------------------------------------------ ingest
    def ingest(
        self,
        roots: Iterable[Path],
        *,
        progress: Callable[[IngestProgress], None] | None = None,
        rebuild: bool = True,
    ) -> IngestReport:
        """Index every batch under ``roots`` (agent.trace.find_batches).

        Incremental per trace file: an unchanged file is only stat'ed; a grown one is
        read from its last complete line; a shrunk or replaced one is re-read from 0.
        A partial last line is left for next time. Torn/invalid lines are counted and
        reported in ``warnings``, never raised. With ``rebuild`` the pairs are rebuilt
        (current strategy and score order) when a rollout finished since the last build.
        """
        roots = [Path(r) for r in ([roots] if isinstance(roots, (str, Path)) else roots)]
        for r in roots:
            if not r.exists():
                raise StoreError(f"no such directory: {r}")
        self._db.fill_search_index()  # a copied store: its traces read again for the index
        # Trace paths are keyed relative to the store's base (the traces root by default).
        report = indexer.ingest(self._db, roots, base=self.base, progress=progress)
        if rebuild and (report.finished_rollouts or report.dropped_rollouts or "strategy" not in self.settings()):
            # Pairs are per task: only the tasks whose rollouts finished are rebuilt, so a
            # rollout ending costs the same in a store of 500 or 50,000 pairs. A dropped
            # trace can touch any task: then everything is rebuilt.
            scoped = "strategy" in self.settings() and report.finished_tasks and not report.dropped_rollouts
            built = self.rebuild_pairs(tasks=report.finished_tasks if scoped else None)
            report = report.model_copy(update={"pairs": built})
        return report

    # ------------------------------------------------------------------ reads
    def batches(self) -> list[BatchRow]:
        alive = self.batch_liveness()
        counts = self.state_counts(by="batch", alive=alive)
        out = []
        for b in self._db.batches():
            status = b.pop("stop_reason") or ("finished" if b["finished_at"] else "running")
            if status == "running" and not alive.get(b["batch_id"], True):
                status = "interrupted"  # its process died without writing its end
            b["path"] = _join(self._base, b["path"])
            c = counts.get(b["batch_id"], StateCounts())
            states = {**{k.upper(): n for k, n in c.by_verdict.items()}, **c.left_out}
            b["passed"] = c.passed  # judged passes, copies left out (labeling/rollout_states.py)
            out.append(
                BatchRow(
                    **{k: (v if v is not None else BatchRow.model_fields[k].default) for k, v in b.items()},
                    status=status,
                    states=states,
                    judged=c.judged,
                )
            )
        return out

    def batch_liveness(self) -> dict[str, bool]:
        """batch id -> can its process still be writing? From the lock its process holds
        (agent.trace.batch_alive); a batch from before the lock: while batch.json has no end."""
        out = {}
        for batch_id, key, finished_at in self._db.batch_ends():
            held = batch_alive(Path(_join(self._base, key)))
            out[batch_id] = held if held is not None else not finished_at
        return out

    def state_counts(self, *, by: str = "task", alive: dict[str, bool] | None = None) -> dict[str, StateCounts]:
        """Rollouts by what they count as, per task (``by="task"``) or batch (``"batch"``);
        a running rollout of a dead batch counts as interrupted (``alive``: `batch_liveness`)."""
        alive = alive if alive is not None else self.batch_liveness()
        out: dict[str, StateCounts] = {}
        for batch_id, task_id, status, verdict, reason, copy, n in self._db.state_groups():
            state = live_state(row_state(status, verdict, reason, ""), alive.get(batch_id, True))
            out.setdefault(batch_id if by == "batch" else task_id, StateCounts()).add(state, bool(copy), n)
        return out

    def rollouts(
        self,
        *,
        task_id: str | None = None,
        batch_id: str | None = None,
        status: str | None = None,
        uids: Iterable[str] | None = None,
        with_patch: bool = True,
    ) -> list[RolloutRow]:
        """Rollouts ordered by task id then uid (``with_patch=False``: patches left out, "")."""
        where: dict[str, Any] = {"task_id": task_id, "batch_id": batch_id, "status": status}
        if uids is not None:
            where["uids"] = list(uids)
            if not where["uids"]:
                return []
        base = self._base
        return self._live([_rollout_row(d, base) for d in self._db.rollouts(where, with_patch=with_patch)])

    def _live(self, rows: list[RolloutRow]) -> list[RolloutRow]:
        """A running rollout of a batch whose process is gone reads as interrupted."""
        if not any(r.state.status == "running" for r in rows):
            return rows
        alive = self.batch_liveness()
        return [
            r.model_copy(update={"state": live_state(r.state, alive.get(r.batch_id, True))})
            if r.state.status == "running"
            else r
            for r in rows
        ]

    def rollout(self, uid: str) -> RolloutRow:
        """Raises NotFound."""
        rows = self._db.rollouts({"uids": [uid]})
        if not rows:
            raise NotFound(f"no rollout {uid!r}")
        return self._live([_rollout_row(rows[0], self._base)])[0]

    def neighbour_rollout(self, uid: str, delta: int) -> str | None:
        """The uid of the next (delta > 0) or previous rollout of ``uid``'s batch, in
        `rollouts` order (task id, then uid), or None at either end."""
        return self._db.neighbour_uid(uid, delta)

    def resolve_uid(self, uid: str) -> str:
        """A full rollout uid from a uid or a bare rollout id that is unique across batches."""
        if self._db.rollout_rid(uid) is not None:
            return uid
        if "/" not in uid:
            found = self._db.uids_for_rollout_id(uid)
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise StoreError(f"rollout id {uid!r} is in several batches: use <batch id>/{uid}")
        raise NotFound(f"no rollout {uid!r}")

    def steps(self, uid: str) -> list[StepRow]:
        """The rollout's steps with their tool calls, auto flags and current human mark."""
        rows = self._db.rollouts({"uids": [uid]}, with_patch=False)
        if not rows:
            raise NotFound(f"no rollout {uid!r}")
        r = rows[0]
        rid = self._db.rollout_rid(uid)
        if rid is None:
            raise NotFound(f"no rollout {uid!r}")
        step_rows, calls = self._db.steps(rid)
        flags = step_flags(calls, json.loads(r["patch_files"] or "[]"), r["status"] == "finished")
        marks = self.step_marks(uid)
        by_step: dict[int, list[ToolCallRow]] = {}
        for c in calls:
            by_step.setdefault(c["step"], []).append(
                ToolCallRow(
                    call_id=c["call_id"],
                    name=c["name"],
                    arguments=c["arguments"],
                    args=json.loads(c["args"]) if c["args"] else None,
                    parse_error=c["parse_error"],
                    valid=bool(c["valid"]),
                    violations=json.loads(c["violations"]) if c["violations"] else [],
                    ok=None if c["ok"] is None else bool(c["ok"]),
                    duration_s=c["duration_s"],
                    output_chars=c["output_chars"],
                    truncated=bool(c["truncated"]),
                    error=c["error"],
                    offset=c["offset"],
                )
            )
        return [
            StepRow(
                uid=uid,
                step=step,
                calls=by_step.get(step, []),
                auto_flags=flags.get(step, []),
                offset=offset or 0,
                tokens_in=tin or 0,
                tokens_out=tout or 0,
                latency_s=lat,
                mark=marks.get(step),
            )
            for step, offset, tin, tout, lat in step_rows
        ]

    def search(self, line: str, *, limit: int = 50) -> SearchHits:
        """Rollouts' messages, tool arguments and outputs, and patches holding ``line``'s words
        (labeling/search_query.py), newest first; ``SearchError`` for a malformed line."""
        return find(
            self._db.search_hits, parse_search(line), limit, lambda key: _join(self._base, key), self.batch_liveness
        )

    def tasks(self) -> list[str]:
        return self._db.tasks()

    def validity_by_model(self) -> list[tuple[str, int, int]]:
        """(model, tool calls, invalid tool calls)."""
        return self._db.validity_by_model()

    def accepted_lines(self) -> tuple[dict[str, int], dict[str, list[tuple[int, int, str]]]]:
        """What ingest accepted of each trace, for the exporters: (trace path -> bytes
        indexed, trace path -> [(line_no, offset, reason)] of the lines it skipped)."""
        base = self._base
        ends = {_join(base, p): off or 0 for p, off in self._db.ingested_offsets().items()}
        bad = {_join(base, p): rows for p, rows in self._db.bad_lines().items()}
        return ends, bad

    # ------------------------------------------------------------------ pairs
    def settings(self) -> dict[str, str]:
        return self._db.get_meta()

    def score_order(self) -> tuple[str, ...]:
        return parse_order(self.settings().get("score_order") or None)

    def no_contrast_tasks(self) -> list[str]:
        return json.loads(self.settings().get("no_contrast_tasks") or "[]")

    def rebuild_pairs(
        self,
        *,
        strategy: str | None = None,
        score_order: str | list[str] | None = None,
        tasks: Iterable[str] | None = None,
    ) -> PairBuildReport:
        """(Re)select pairs over finished rollouts; new pairs are added, old ones kept.

        ``strategy`` and ``score_order`` default to the last ones used with this store
        (initially ``best-worst`` and ``labeling.score.DEFAULT_ORDER``) and are remembered.
        A pair the strategy no longer selects is marked stale: kept if it has a verdict,
        pruned if not (what the log says of it stays in the append-only log). With
        ``tasks`` only those tasks' pairs are rebuilt (the report counts theirs), unless
        the strategy or score order changes, which rebuilds every task.
        """
        meta = self.settings()
        strategy = strategy or meta.get("strategy") or "best-worst"
        if strategy not in STRATEGIES:
            raise StoreError(f"unknown pair strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
        try:
            order = parse_order(score_order if score_order is not None else (meta.get("score_order") or None))
        except ScoreOrderError as exc:
            raise StoreError(str(exc)) from None
        same = strategy == (meta.get("strategy") or "best-worst") and ",".join(order) == ",".join(
            parse_order(meta.get("score_order") or None)
        )
        task_ids = sorted(set(tasks)) if tasks is not None and same and "strategy" in meta else None
        cands = [
            Candidate(
                uid=d["uid"],
                task_id=d["task_id"],
                # A pass is the rollout state's (a FAIL state over a passing test run is no pass).
                tests_passed=bool(d["tests_passed"]) and d.get("state_verdict") in ("pass", "suspect"),
                verdict_known=d["tests_passed"] is not None,
                tests_tampered=bool(d["tests_tampered"]),
                steps=d["steps"],
                tool_calls=d["tool_calls"],
                invalid_tool_calls=d["invalid_tool_calls"],
                files_touched=d["files_touched"],
                tokens_in=d["tokens_in"] or 0,
                tokens_out=d["tokens_out"] or 0,
                cost_usd=d["cost_usd"],
                duration_s=d["duration_s"],
                patch_digest=d["patch_digest"] or "",
                patch_files=json.loads(d["patch_files"] or "[]"),
                patch_lines=d["patch_lines"] or 0,
                branch_parent_uid=d["branch_parent_uid"],
                branch_at_step=d["branch_at_step"],
                prefix_messages=d["prefix_messages"],
                suspect=bool(d.get("suspect")),
            )
            # Only evidence pairs: judged, and one rollout per content (docs/ARCHITECTURE.md, Rollout state).
            for d in self._db.rollouts({"evidence": True, "task_ids": task_ids}, with_patch=False)
            if not d.get("probe")  # a cheat probe never enters a pair
        ]
        try:
            selected, no_contrast = build_pairs(cands, strategy, order)
        except StrategyError as exc:
            raise StoreError(str(exc)) from None
        existing = self._db.pair_ids(task_ids)
        now = _now()
        ids = set()
        by_contrast: dict[str, int] = {}
        by_flag: dict[str, int] = {}
        for p in selected:
            ids.add(p["pair_id"])
            p["flags"] = json.dumps(flags := p["flags"])
            p.update(stale=0, created_at=now, updated_at=now)
            by_contrast[p["contrast"]] = by_contrast.get(p["contrast"], 0) + 1
            for f in flags:
                by_flag[f] = by_flag.get(f, 0) + 1
        stale = [pid for pid, (is_stale, _) in existing.items() if pid not in ids and not is_stale]
        pruned = self._db.save_pairs(selected, stale, now, new_ids=[pid for pid in ids if pid not in existing])
        carried = self._carry_verdicts()
        if task_ids is not None:  # the other tasks' no-contrast verdicts stand
            no_contrast = sorted(set(self.no_contrast_tasks()) - set(task_ids) | set(no_contrast))
        self._db.set_meta(
            {"strategy": strategy, "score_order": ",".join(order), "no_contrast_tasks": json.dumps(no_contrast)}
        )
        return PairBuildReport(
            strategy=strategy,
            score_order=list(order),
            pairs=len(selected),
            new_pairs=sum(1 for pid in ids if pid not in existing),
            stale_pairs=len(stale),
            pruned_pairs=pruned,
            tasks=task_ids,
            no_contrast_tasks=no_contrast,
            by_contrast=by_contrast,
            by_flag=by_flag,
            carried_verdicts=carried,
        )

    def _carry_verdicts(self) -> int:
        """Verdicts on pairs over copies, appended again on the pairs over the originals
        (labeling/verdict_follow.py); returns how many were carried."""
        if not self._db.has_copies():  # the common case: nothing to carry, one probe
            return 0
        labeled = self.pairs(PairFilter(verdict="labeled", include_stale=True))
        uids = {u for p in labeled for u in (p.chosen_uid, p.rejected_uid)}
        sides = {r.uid: r for r in self.rollouts(uids=uids, with_patch=False)} if uids else {}
        if not any(r.copy_of for r in sides.values()):
            return 0
        pairs = self.pairs(PairFilter(include_stale=True))
        uids |= {u for p in pairs for u in (p.chosen_uid, p.rejected_uid)}
        rollouts = {r.uid: r for r in self.rollouts(uids=uids, with_patch=False)}
        carried = carried_verdicts(pairs, rollouts, self.events())
        if carried:
            at = _now()
            with self._db.write():
                for c in carried:
                    self._db.send_event("verdict", c.pair_id, c.value, c.note, c.labeler, at)
                self._db.refresh_verdicts(sorted({c.pair_id for c in carried}))
        return len(carried)

    def resolve_pair_id(self, prefix: str) -> str:
        """A full pair id from a unique prefix. Raises NotFound / StoreError (ambiguous)."""
        prefix = prefix.strip().lower()  # ids are lowercase hex
        if not prefix:
            raise StoreError("empty pair id")
        ids = self._db.pair_ids_with_prefix(prefix)
        if not ids:
            raise NotFound(f"no pair {prefix!r}")
        if len(ids) > 1 and prefix not in ids:
            raise StoreError(f"pair id prefix {prefix!r} is ambiguous")
        return prefix if prefix in ids else ids[0]

    def pair(self, pair_id: str) -> PairRow:
        """By full id or unique prefix. Raises NotFound / StoreError (ambiguous)."""
        full = pair_id.strip().lower()
        if full and (rows := self._db.pairs(full)):  # a full id (the studio's): one read
            return pair_row(rows[0])
        pid = self.resolve_pair_id(pair_id)
        return pair_row(self._db.pairs(pid)[0])

    # ------------------------------------------------------------------ human work (store.human)
    def set_verdict(self, pair_id: str, verdict: str | None, note: str | None = None) -> LabelEvent:
        return self.human.set_verdict(pair_id, verdict, note)

    def tag_pair(self, pair_id: str, tag: str) -> LabelEvent:
        return self.human.tag_pair(pair_id, tag)

    def untag_pair(self, pair_id: str, tag: str) -> LabelEvent:
        return self.human.untag_pair(pair_id, tag)

    def mark_step(self, uid: str, step: int, reason: str, text: str | None = None) -> LabelEvent:
        return self.human.mark_step(uid, step, reason, text)

    def unmark_step(self, uid: str, step: int) -> LabelEvent:
        return self.human.unmark_step(uid, step)

    def step_marks(self, uid: str) -> dict[int, StepMark]:
        return self.human.step_marks(uid)

    def all_step_marks(self) -> dict[str, dict[int, StepMark]]:
        return self.human.all_step_marks()

    def clear_suspect(self, uid: str, note: str | None = None) -> LabelEvent:
        return self.human.clear_suspect(uid, note)

    def unclear_suspect(self, uid: str) -> LabelEvent:
        return self.human.unclear_suspect(uid)

    def cleared_rollouts(self, uids: Sequence[str] | None = None) -> dict[str, LabelEvent]:
        return self.human.cleared_rollouts(uids)

    def undo(self) -> LabelEvent | None:
        return self.human.undo()

    def redo(self) -> LabelEvent | None:
        return self.human.redo()

    def events(self, *, labeler: str | None = None) -> list[LabelEvent]:
        return self.human.events(labeler=labeler)

    # ------------------------------------------------------------------ the review queue (store.queue)
    def pairs(self, filt: PairFilter | None = None) -> list[PairRow]:
        return self.queue.pairs(filt)

    def queue_page(
        self, filt: PairFilter | None = None, after: PairRow | tuple | None = None, limit: int = 100
    ) -> list[PairRow]:
        return self.queue.queue_page(filt, after, limit)

    def queue_before(self, filt: PairFilter | None = None, before: PairRow | tuple | None = None) -> PairRow | None:
        return self.queue.queue_before(filt, before)

    def counts(self, filt: PairFilter | None = None) -> QueueCounts:
        return self.queue.counts(filt)

    def review_figures(
        self, pair_id: str, filt: PairFilter, key: tuple | None = None, labeler_queue: PairFilter | None = None
    ) -> ReviewFigures:
        return self.queue.review_figures(pair_id, filt, key, labeler_queue)

    def queue_position(
        self, pair_id: str | PairRow, filt: PairFilter | None = None, counts: QueueCounts | None = None
    ) -> tuple[int, int]:
        return self.queue.queue_position(pair_id, filt, counts)

    # ------------------------------------------------------------------ team review (store.team)
    def team_settings(self) -> TeamSettings:
        return self.team.team_settings()

    def set_team_settings(self, *, overlap: int | None = None, adjudicator: str | None = None) -> TeamSettings:
        return self.team.set_team_settings(overlap=overlap, adjudicator=adjudicator)

    def team_filter(self, filt: PairFilter | None = None, overlap: int | None = None) -> PairFilter:
        return self.team.team_filter(filt, overlap)

    def team_queue_sizes(self, overlap: int | None = None) -> tuple[int, int]:
        return self.team.team_queue_sizes(overlap)

    # ------------------------------------------------------------------ fine-tuning
    def record_upload(self, row: UploadRow) -> None:
        """A file uploaded to Together, so an identical file (same sha256) is not sent again."""
        self._db.save_upload(row.model_dump())

    def uploaded(self, sha256: str) -> UploadRow | None:
        rows = self._db.upload_rows(sha256)
        return UploadRow(**rows[0]) if rows else None

    def record_job(self, job: JobRow) -> None:
        """Insert a fine-tuning job, or update it (status, output model) by its id."""
        row = job.model_dump()
        for key in _JOB_JSON:
            row[key] = json.dumps(row[key], sort_keys=True)
        self._db.save_job(row)

    def jobs(self) -> list[JobRow]:
        """Every fine-tuning job recorded here, newest first."""
        return [_job_row(r) for r in self._db.job_rows()]

    def job(self, job_id: str) -> JobRow:
        rows = self._db.job_rows(job_id)
        if not rows:
            raise NotFound(f"no fine-tuning job {job_id} in {self.location} (`repo-agent jobs DIR` lists them)")
        return _job_row(rows[0])

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "DB_FILE",
    "LabelStore",
    "NotFound",
    "StoreError",
    "default_labeler",
    "BatchRow",
    "IngestReport",
    "LabelEvent",
    "PairBuildReport",
    "PairFilter",
    "PairRow",
    "QueueCounts",
    "RolloutRow",
    "StepMark",
    "StepRow",
]
