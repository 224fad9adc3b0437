"""The rows the label store hands out (docs/ARCHITECTURE.md, Label store and pairs). Plain, frozen, JSON-able.

These are the contract exports/ and tui/ code against: every read from
`labeling.store.LabelStore` returns one of these, never a database object.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.trace import RolloutState

RolloutStatus = Literal["running", "finished"]
Verdict = Literal["confirm", "flip", "discard"]
Contrast = Literal["pass_fail", "efficiency", "step"]
PairKind = Literal["rollout", "step"]
StepReason = Literal["invalid_args", "wrong_file", "loop", "premature_finish", "unneeded", "other"]

VERDICTS: tuple[str, ...] = ("confirm", "flip", "discard")
STEP_REASONS: tuple[str, ...] = ("invalid_args", "wrong_file", "loop", "premature_finish", "unneeded", "other")
STRATEGIES: tuple[str, ...] = ("best-worst", "pass-fail", "all-contrastive")
CONTRASTS: tuple[str, ...] = ("pass_fail", "efficiency", "step")
# Pair noise flags (labeling/pairs.py), in the order they are shown.
PAIR_FLAGS: tuple[str, ...] = (
    "both_fail",
    "identical_patch",
    "tiebreak_only",
    "flaky",
    "tests_tampered",
    "non_minimal",
    "summary_only",
    "unknown_outcome",
    "suspect",  # a rollout's verdict is SUSPECT (agent/suspect.py): out of exports until cleared
)
# Automatic step flags.
STEP_FLAGS: tuple[str, ...] = ("invalid_call", "tool_error", "repeated_call", "unused_read")


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class BatchRow(_Row):
    batch_id: str
    path: str
    suite: str = ""
    model: str = ""
    provider: str = ""
    planned: int = 0  # rollouts planned in batch.json
    rollouts: int = 0  # trace files indexed
    finished: int = 0  # rollouts with a rollout_end
    passed: int = 0  # finished, tests passed, not tampered
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None  # None: no rollout of the batch has a known price
    started: str | None = None
    finished_at: str | None = None
    status: str = "running"  # running | finished | cancelled | error | interrupted (its process died)
    # Rollouts by what they count as (labeling.rollout_states.StateCounts.by_label: PASS, FAIL,
    # cancelled, interrupted, copy ...), so every screen shows the same figures.
    states: dict[str, int] = Field(default_factory=dict)
    judged: int = 0  # rollouts with a verdict, copies left out: the pass rate's denominator

    @property
    def resumable(self) -> bool:
        """Its process died (or it was cancelled) before every planned rollout ended."""
        return self.status in ("interrupted", "cancelled")


class RolloutRow(_Row):
    uid: str  # "<batch_id>/<rollout_id>"
    batch_id: str
    rollout_id: str
    task_id: str = ""
    suite: str = ""
    model: str = ""
    provider: str = ""
    seed: int | None = None
    temperature: float | None = None
    trace_path: str = ""
    status: RolloutStatus = "running"
    stop_reason: str | None = None
    # Outcome fields: final once status == "finished"; running counts before that.
    tests_passed: bool = False
    # False when the rollout has no verdict (imported, never evaluated): tests_passed means nothing.
    verdict_known: bool = True
    tests_tampered: bool = False
    steps: int = 0
    tool_calls: int = 0
    invalid_tool_calls: int = 0
    files_touched: int = 0
    files: list[str] = Field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    duration_s: float | None = None
    patch: str = ""
    summary: str = ""  # the final event's summary, or ""
    errors: int = 0  # error events seen
    # Set on a rollout that replayed another's prefix (agent.trace.BranchInfo).
    branch_parent_uid: str | None = None
    branch_at_step: int | None = None
    prefix_messages: int | None = None
    # Loop and stall events seen (agent/loop_detect.py); loop steps are marked bad ("loop").
    loops: int = 0
    loop_steps: list[int] = Field(default_factory=list)
    stalls: int = 0
    suspect: bool = False  # SUSPECT verdict (agent/suspect.py); a person may clear it for export
    probe: bool = False  # a cheat probe's rollout (agent/probes.py): never a pass rate or a pair
    # The rollout state (agent.trace.RolloutState; a dead batch's running rollout is
    # interrupted) and, for a copy of another rollout's content, that rollout's uid.
    state: RolloutState = RolloutState(status="running")
    copy_of: str | None = None

    @property
    def evidence(self) -> bool:
        """Judged and not a copy: the only rollouts pairs, pass rates and exports use."""
        return self.state.judged and self.copy_of is None

    @property
    def standing(self) -> str:
        """What it counts as, one word for screens and counts: PASS, FAIL, cancelled, copy..."""
        return "copy" if self.copy_of is not None and self.state.judged else self.state.label

    @property
    def passed(self) -> bool:
        """The score's first component: judged PASS (a SUSPECT pass too; exports hold it until
        a person clears it), by the rollout state, the one verdict: a trace whose state says
        FAIL (held-out inputs differ) while its last test run passed is no pass."""
        return self.state.verdict in ("pass", "suspect") and self.tests_passed and not self.tests_tampered

    @property
    def finished(self) -> bool:
        return self.status == "finished"


class ToolCallRow(_Row):
    call_id: str
    name: str
    arguments: str  # raw, exactly as the model sent it
    args: dict | None = None  # parsed, when it parsed to an object
    parse_error: str | None = None
    valid: bool = True
    violations: list[str] = Field(default_factory=list)
    ok: bool | None = None  # None until its tool_result is seen
    duration_s: float | None = None
    output_chars: int | None = None
    truncated: bool = False
    error: str | None = None
    offset: int = 0  # byte offset of the tool_call event in the trace


class StepMark(_Row):
    reason: StepReason
    text: str | None = None
    labeler: str = ""
    at: str = ""


class StepRow(_Row):
    uid: str
    step: int  # 1-based: one assistant turn (one LLM call)
    calls: list[ToolCallRow] = Field(default_factory=list)
    auto_flags: list[str] = Field(default_factory=list)  # subset of STEP_FLAGS
    offset: int = 0  # byte offset of the step's first event in the trace
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float | None = None
    mark: StepMark | None = None


class PairRow(_Row):
    pair_id: str  # stable: short sha1 of (task_id, chosen_uid, rejected_uid)
    task_id: str
    kind: PairKind = "rollout"
    chosen_uid: str  # the auto-preferred side (higher score)
    rejected_uid: str
    strategy: str = "best-worst"
    contrast: Contrast = "pass_fail"
    decided_by: str = ""  # the score component the auto preference was decided on
    flags: list[str] = Field(default_factory=list)  # subset of PAIR_FLAGS
    stale: bool = False  # no longer selected by the current strategy (kept while it has a verdict)
    verdict: Verdict | None = None
    note: str | None = None
    tags: list[str] = Field(default_factory=list)
    labeler: str | None = None
    labeled_at: str | None = None
    verdicts: dict[str, str] = Field(default_factory=dict)  # each labeler's current verdict (team review)
    at_step: int | None = None  # step pairs: the diverging step
    prefix_messages: int | None = None  # step pairs: shared conversation prefix length

    @property
    def labeled(self) -> bool:
        return self.verdict is not None

    @property
    def disagree(self) -> bool:
        """Its labelers' verdicts differ (team review)."""
        return len(set(self.verdicts.values())) > 1

    @property
    def noisy(self) -> bool:
        return bool(self.flags)

    @property
    def preferred_uid(self) -> str | None:
        """The side a training file should prefer: honors a flip; None if discarded."""
        if self.verdict == "discard":
            return None
        return self.rejected_uid if self.verdict == "flip" else self.chosen_uid

    @property
    def non_preferred_uid(self) -> str | None:
        if self.verdict == "discard":
            return None
        return self.chosen_uid if self.verdict == "flip" else self.rejected_uid


class PairFilter(_Row):
    task_id: str | None = None
    batch_id: str | None = None  # either side's rollout belongs to this batch
    contrast: str | None = None
    flag: str | None = None  # a PAIR_FLAGS name, "noisy" (any flag) or "clean" (none)
    verdict: str | None = None  # confirm | flip | discard | unlabeled | labeled
    tag: str | None = None
    text: str | None = None  # substring of pair id, task id, either uid, note or tags
    include_stale: bool = False  # stale unlabeled pairs are hidden unless asked for
    # Team review (labeling/team.py): with overlap K > 1 and a labeler, "unlabeled" is that
    # labeler's queue (pairs with < K verdicts, none of theirs); ``disagree`` selects pairs
    # whose labelers' verdicts differ and that the adjudicator has not judged.
    overlap: int = 1
    labeler: str | None = None
    adjudicator: str | None = None
    disagree: bool = False


# The PairFilter fields that narrow the queue beyond its verdict and stale parts (the whole
# queue is counted from counters when none is set).
NARROWING_FIELDS = ("task_id", "batch_id", "contrast", "flag", "tag", "text", "disagree")


class QueueCounts(_Row):
    total: int = 0
    labeled: int = 0
    remaining: int = 0
    # Team review (overlap K > 1): pairs still waiting for this labeler's verdict. Left out
    # of dumps, so the counts a single labeler sees (and scripts read) are as they were.
    mine: int | None = Field(default=None, exclude=True)
    confirm: int = 0
    flip: int = 0
    discard: int = 0


class PairBuildReport(_Row):
    strategy: str
    score_order: list[str]
    pairs: int = 0  # pairs the strategy selects now
    new_pairs: int = 0
    stale_pairs: int = 0  # pairs it no longer selects (kept with their verdict, else pruned)
    pruned_pairs: int = 0  # stale pairs without a verdict, deleted (their log stays)
    tasks: list[str] | None = None  # the tasks rebuilt (None: all); the counts above are theirs
    no_contrast_tasks: list[str] = Field(default_factory=list)
    by_contrast: dict[str, int] = Field(default_factory=dict)
    by_flag: dict[str, int] = Field(default_factory=dict)
    # verdicts carried from pairs over copies onto the pairs over the originals (labeling/verdict_follow.py)
    carried_verdicts: int = 0


class IngestProgress(_Row):
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


class IngestReport(_Row):
    batches: int = 0
    files_seen: int = 0
    batches_read: int = 0  # batch.json files (re-)read: a batch's status or plan changed
    files_read: int = 0  # opened and read (new, grown or replaced)
    files_unchanged: int = 0  # stat only, not opened
    bytes_read: int = 0
    events: int = 0
    new_rollouts: int = 0
    updated_rollouts: int = 0
    finished_rollouts: int = 0  # rollouts whose rollout_end was read this time
    files_skipped: int = 0  # not regular files, copies of another trace (each has a warning)
    dropped_rollouts: int = 0  # indexed before, trace file gone from disk since: forgotten
    finished_tasks: list[str] = Field(default_factory=list)  # their task ids (pairs rebuilt for these)
    open_batches: list[str] = Field(default_factory=list)  # batch dirs whose batch.json has not ended
    warnings: list[str] = Field(default_factory=list)
    torn_lines: int = 0  # partial last lines (left for next time, or reported if the batch ended)
    invalid_lines: int = 0  # lines that are not a valid event (skipped)
    duration_s: float = 0.0
    changed: list[str] = Field(default_factory=list)  # uids of the rollouts read this time
    pairs: PairBuildReport | None = None  # when pairs were rebuilt after the ingest


class LabelEvent(_Row):
    """One row of the append-only human log."""

    id: int
    kind: str  # verdict | mark | unmark | tag | untag | clear | unclear | undo | redo
    target: str  # pair_id, "<uid>#<step>" for step marks, a rollout uid for clear/unclear
    value: str | None = None  # verdict, reason, tag; for undo/redo the kind of the event acted on
    note: str | None = None
    labeler: str = ""
    at: str = ""
    ref: int | None = None  # undo: the event undone; redo: the undo event reversed
    undone_by: int | None = None  # the undo event currently cancelling this one, if any

    @property
    def step_target(self) -> tuple[str, int] | None:
        """(uid, step) for a step mark's target."""
        uid, sep, step = self.target.rpartition("#")
        return (uid, int(step)) if sep and step.isdigit() else None


def step_target(uid: str, step: int) -> str:
    return f"{uid}#{step}"


# A fine-tuning job's status as Together reports it; the last three are final.
JOB_FINAL: tuple[str, ...] = ("completed", "error", "cancelled")


class UploadRow(_Row):
    """A training file uploaded to Together: reused by its bytes' sha256."""

    sha256: str
    file_id: str
    filename: str = ""
    bytes: int = 0
    uploaded_at: str = ""


class JobRow(_Row):
    """A fine-tuning job launched from an export, and the labels it was trained on."""

    job_id: str
    created_at: str
    updated_at: str = ""
    status: str  # pending, queued, running, ..., completed | error | cancelled (JOB_FINAL)
    base_model: str
    method: str  # sft | dpo
    output_model: str | None = None  # the fine-tuned model's name, once Together names it
    training_file: str = ""  # the local path it was launched from
    file_sha256: str = ""
    training_file_id: str = ""
    validation_file_id: str | None = None
    sidecar: str = ""  # the export's NAME.meta.json
    sidecar_sha256: str = ""
    options: dict = Field(default_factory=dict)  # epochs, learning rate, lora, suffix, ...
    estimate: dict = Field(default_factory=dict)  # Together's price estimate when launched
    verdicts: dict = Field(default_factory=dict)  # the sidecar's verdict counts and its lines' pairs / rollouts
    labeler: str = ""

    @property
    def final(self) -> bool:
        return self.status in JOB_FINAL


class SearchHit(_Row):
    """One document a search found (labeling/search.py): where it is and a neutralised snippet."""

    uid: str  # batch_id/rollout_id
    rollout_id: str
    batch_id: str
    step: int | None  # None: before the first step (the task) or after the last (the patch)
    place: Literal["message", "args", "output", "patch"]
    snippet: str  # one line around the first searched word, controls escaped (labeling/search_docs.py)
    task_id: str
    model: str
    state: RolloutState
    trace_path: str
    offset: int  # the event's byte offset in its trace

    @property
    def at(self) -> str:
        """Where in the rollout, as shown: ``step 3``; ``task`` for the task's words (before step
        1), ``end`` for the final patch."""
        if self.step is not None:
            return f"step {self.step}"
        return "task" if self.place == "message" else "end"


class IndexProgress(_Row):
    """A search index that does not hold every rollout yet (labeling/search_fill.py): a search
    finds what it holds, and says so."""

    done: int  # rollouts indexed as far as ingest read them
    total: int  # rollouts in the store
    filling: bool  # a filler is at work now (else it starts at the next ingest or search)

    @property
    def summary(self) -> str:
        """``index filling (3,200 of 10,000 rollouts)``."""
        state = "index filling" if self.filling else "index behind"
        return f"{state} ({self.done:,} of {self.total:,} rollouts)"

    @property
    def words(self) -> str:
        """What a search that found only part says, in the CLI and the studio."""
        return f"{self.summary}: hits from what is indexed so far"
