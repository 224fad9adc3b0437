"""Trace events: the pydantic models of one line of a rollout's trace, and the conversation
they hold (docs/ARCHITECTURE.md, Batches and traces). Changes are additive: new kinds and
fields; unknown keys are kept so a newer writer's traces still open."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, TypeAdapter, model_serializer

TRACE_VERSION = 1
BATCH_FILE = "batch.json"
TRACES_DIR = "traces"

# "loop": ended by the loop limit (agent/loop_detect.py); added after version 1, additively.
StopReason = Literal["finished", "max_iters", "error", "timeout", "cancelled", "diverged", "loop"]


class ContractModel(BaseModel):
    # Unknown keys are kept (not rejected) so a newer writer's traces still open. NaN and
    # Infinity are no time, count or cost: a line holding one in a number field is invalid
    # (the writer never writes them; docs/hostile-files.md).
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class EventBase(ContractModel):
    v: int = TRACE_VERSION
    rollout_id: str
    seq: int
    ts: float


class BranchInfo(ContractModel):
    """Set on a rollout that replayed another rollout's prefix, then sampled on."""

    parent_rollout_id: str
    parent_batch_id: str | None = None
    # Number of `message` events copied verbatim from the parent before sampling.
    prefix_messages: int
    # The step (1-based) at which this branch diverged from its parent.
    at_step: int


class RolloutStart(EventBase):
    kind: Literal["rollout_start"] = "rollout_start"
    task_id: str
    suite: str
    seed: int | None = None
    provider: str
    model: str
    temperature: float | None = None
    max_iters: int
    tools: list[dict[str, Any]] = Field(default_factory=list)
    batch_id: str | None = None
    branch: BranchInfo | None = None
    # USD per 1M tokens when known, so a live view can price a rollout before it ends.
    price_in: float | None = None
    price_out: float | None = None


class MessageEvent(EventBase):
    """One chat message exactly as appended to the conversation (OpenAI shape)."""

    kind: Literal["message"] = "message"
    message: dict[str, Any]
    step: int | None = None
    # The model's reasoning for an assistant message, where the provider returned it apart
    # (``reasoning_content``) or an imported format kept it (a "thought"). Never in ``message``:
    # the conversation sent back to the model and exported stays what it was. Added after
    # version 1; left out of the line when absent so older traces keep their bytes.
    reasoning: str | None = None

    @model_serializer(mode="wrap")
    def _without_absent_reasoning(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if data.get("reasoning") is None:
            data.pop("reasoning", None)
        return data


class Usage(ContractModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LlmCall(EventBase):
    kind: Literal["llm_call"] = "llm_call"
    step: int
    latency_s: float
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None
    retries: int = 0


class ToolCallEvent(EventBase):
    kind: Literal["tool_call"] = "tool_call"
    step: int
    call_id: str
    name: str
    arguments: str  # the raw arguments string exactly as the model sent it
    args: dict[str, Any] | None = None  # parsed, when the JSON parsed to an object
    parse_error: str | None = None
    valid: bool
    violations: list[str] = Field(default_factory=list)
    # True when the call was parsed from assistant text (an imported text-action agent such as
    # SWE-agent's older runs): the message itself has no native tool_calls.
    from_text: bool = False


class ToolResultEvent(EventBase):
    kind: Literal["tool_result"] = "tool_result"
    step: int
    call_id: str
    ok: bool
    duration_s: float
    output_chars: int  # size of the output before it was cut
    truncated: bool = False
    error: str | None = None


class TestCounts(ContractModel):
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    collected: int = 0


class TestRun(EventBase):
    kind: Literal["test_run"] = "test_run"
    passed: bool
    counts: TestCounts = Field(default_factory=TestCounts)
    summary: str = ""
    duration_s: float = 0.0
    timed_out: bool = False
    # None for the final, authoritative run after the rollout (protected files restored).
    step: int | None = None
    final: bool = False
    # The run proves nothing: exit code, per-test records and counts disagree.
    error: str | None = None
    # What the run showed of tampering (pytest internals, canaries, differential check).
    tamper: list[str] = Field(default_factory=list)
    # The final run's held-out differential check (agent/differential.py): how many calls
    # agreed with the reference fix, or which differ. None: not run (or not a final run).
    differential: str | None = None


class FinalEvent(EventBase):
    """The agent's closing object, from its `finish` call."""

    kind: Literal["final"] = "final"
    summary: str = ""
    changes: Any = None
    test_result: Any = None


class Savings(ContractModel):
    """A projection, not a measurement: the steps left to ``max_iters`` at the loop's pace."""

    steps: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None  # None when no price is known for the model


# The rollout state (docs/ARCHITECTURE.md, Rollout state): what a rollout is worth as evidence.
# A judged rollout has a verdict; only judged rollouts enter pairs, pass rates, calibration,
# compare and exports. The rest are counted and shown by reason. Added after version 1,
# additively: older traces carry no ``state`` and map onto one in ``rollout_state``.
Verdict = Literal["pass", "fail", "tampered", "suspect"]
NotJudgedReason = Literal[
    "cancelled",  # stopped by a person or a batch cancel before its verdict
    "interrupted",  # its process died (no rollout_end and the batch is not alive)
    "error",  # an infrastructure or provider failure: not the rollout's doing
    "budget",  # never ran, or stopped, because the batch's budget was spent
    "diverged",  # a replay that left its recording
    "corrupt",  # the trace cannot be read as a rollout
    "no_verdict",  # imported from a source that never evaluated it
]
RolloutStatus = Literal["running", "judged", "probe", "not_judged"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "tampered", "suspect")
NOT_JUDGED_REASONS: tuple[NotJudgedReason, ...] = (
    "cancelled",
    "interrupted",
    "error",
    "budget",
    "diverged",
    "corrupt",
    "no_verdict",
)


class RolloutState(ContractModel):
    """Running; judged with a verdict; a cheat probe (with the verdict its impossible task got);
    or not judged, with the reason. ``detail`` says why in words (the sandbox's error, the
    SUSPECT reasons) for screens; it never changes what the state counts as."""

    status: RolloutStatus
    verdict: Verdict | None = None  # set when judged or probe
    reason: NotJudgedReason | None = None  # set when not_judged
    detail: str = ""

    @property
    def judged(self) -> bool:
        return self.status == "judged"

    @property
    def label(self) -> str:
        """What a screen prints: PASS, FAIL, TAMPERED, SUSPECT, PROBE PASS, running, cancelled..."""
        if self.status == "judged" and self.verdict:
            return self.verdict.upper()
        if self.status == "probe":
            return f"PROBE {(self.verdict or 'fail').upper()}"
        if self.status == "running":
            return "running"
        return (self.reason or "not judged").replace("_", " ")


RUNNING = RolloutState(status="running")


def judged(verdict: Verdict, detail: str = "") -> RolloutState:
    return RolloutState(status="judged", verdict=verdict, detail=detail)


def not_judged(reason: NotJudgedReason, detail: str = "") -> RolloutState:
    return RolloutState(status="not_judged", reason=reason, detail=detail)


class SuspectHit(ContractModel):
    """One mark of verdict gaming found in a passing rollout (agent/suspect.py): which rule,
    where, and the line itself (an added patch line, or a test run's summary)."""

    rule: str
    path: str = ""  # workspace-relative file; "" for a test run
    line: int | None = None  # line number in the new file; None for a test run
    text: str = ""  # the line, cut to 200 characters


class Outcome(ContractModel):
    # The rollout's state as its writer judged it. None in traces written before the state
    # existed: read it through ``rollout_state``, never this field directly.
    state: RolloutState | None = None
    tests_passed: bool = False
    # False when no verdict exists (an imported trajectory its source never evaluated):
    # tests_passed then means nothing, and the rollout never forms a pass/fail pair.
    verdict_known: bool = True
    steps: int = 0
    tool_calls: int = 0
    invalid_tool_calls: int = 0
    files_touched: int = 0
    files: list[str] = Field(default_factory=list)
    patch: str = ""  # unified diff of the workspace against the task source, git-style
    tests_tampered: bool = False
    tampered_paths: list[str] = Field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None  # None when no price is known for the model
    # Set when the loop limit ended the rollout: what running on to max_iters would have cost.
    saved: Savings | None = None
    # Why a pass was judged SUSPECT (or a probe's pass): the rules that hit and the lines.
    suspect: list[SuspectHit] = Field(default_factory=list)
    # The version of the final verdict that judged it (agent/final_verdict.py CHECKER_VERSION);
    # None: judged before versions were recorded (re-judge it: ``repo-agent rejudge``).
    checker: str | None = None


class RolloutEnd(EventBase):
    kind: Literal["rollout_end"] = "rollout_end"
    outcome: Outcome
    stop_reason: StopReason
    duration_s: float


class ErrorEvent(EventBase):
    kind: Literal["error"] = "error"
    type: str
    message: str
    step: int | None = None


class LoopEvent(EventBase):
    """A step that repeats earlier ones without progress (agent/loop_detect.py).

    ``pattern``: ``repeat`` (the same tool call, arguments and result as the step before),
    ``cycle`` (a cycle of ``period`` 2 or 3 steps came round again) or ``same_failure``
    (the tests failed the same way on the same written files as before). ``repeats``
    counts how often the pattern came back so far; one event per looping step."""

    kind: Literal["loop"] = "loop"
    step: int
    pattern: Literal["repeat", "cycle", "same_failure"]
    period: int = 1
    repeats: int = 1
    first_step: int | None = None  # steps first_step..step repeat earlier ones (loop steps)
    calls: list[str] = Field(default_factory=list)  # the repeated tool calls, "name key=value"


class StallEvent(EventBase):
    """No event for ``idle_s`` seconds: a hung provider or tool. Written by a watchdog
    thread while the rollout waits; the rollout itself goes on (or times out) as before."""

    kind: Literal["stall"] = "stall"
    step: int | None = None
    idle_s: float
    waiting_on: str = ""  # "model" or "tool <name>"


Event = Annotated[
    RolloutStart
    | MessageEvent
    | LlmCall
    | ToolCallEvent
    | ToolResultEvent
    | TestRun
    | FinalEvent
    | RolloutEnd
    | ErrorEvent
    | LoopEvent
    | StallEvent,
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def rollout_state(end: RolloutEnd | None, *, alive: bool = True) -> RolloutState:
    """The one reading of a rollout's state, for new traces and old. ``end`` is the trace's
    ``rollout_end`` (None while it runs, or if its writer died); ``alive`` says whether the
    writer can still be running (its batch's lock is held): a trace with no end in a dead
    batch was interrupted, not running."""
    if end is None:
        return RUNNING if alive else not_judged("interrupted", "the trace ends without rollout_end")
    if end.outcome.state is not None:
        return end.outcome.state
    return derive_state(end.stop_reason, end.outcome)


def derive_state(stop: str, o: Outcome) -> RolloutState:
    """The state a stop reason and an outcome's fields mean: how a writer sets ``state``, and
    how a trace from before the state existed is read."""
    if stop == "cancelled":
        return not_judged("cancelled")
    if stop == "diverged":
        return not_judged("diverged")
    if stop == "error":
        return not_judged("error")
    if not o.verdict_known:
        return not_judged("no_verdict")
    if o.tests_tampered:
        return judged("tampered", ", ".join(o.tampered_paths))
    return judged("pass" if o.tests_passed else "fail")


def message_digest(prev: str, line: str) -> str:
    """The conversation's digest so far, one ``message`` event's line on. Its payload from
    ``"kind"`` on is hashed as written (the writer puts v, rollout_id, seq and ts first): a
    copied or replayed trace, with other timestamps, digests the same, and no line is encoded
    again (ingest's hot path). Chained, so a trace read in pieces digests as one read whole."""
    i = line.find('"kind"')
    h = hashlib.sha1(prev.encode())
    h.update((line[i:] if i >= 0 else line).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def conversation_digest(text: str) -> str:
    """``message_digest`` over a whole trace's text, lines framed as ingest frames them."""
    digest = ""
    for line in text.split("\n"):
        if line and line[0] in " \t\r":
            line = line.strip()
        if '"message"' not in line:
            continue
        try:
            kind = json.loads(line).get("kind")
        except (ValueError, AttributeError):
            continue
        if kind == "message":
            digest = message_digest(digest, line)
    return digest


def content_key(
    task_id: str, conv_digest: str, patch: str, branch: str, state: RolloutState, model: str, seed: int | None
) -> str:
    """What makes two rollouts the same evidence: task, conversation and patch; with the
    decision point a branch starts from (``branch``), the verdict (one conversation judged
    two ways is flaky, not a copy), and the model and seed that drew it (a copied or replayed
    batch keeps both, while two models or seeds that said the same words are two samples)."""
    text = f"{task_id}\0{conv_digest}\0{patch}\0{branch}\0{state.status}:{state.verdict or state.reason}"
    text += f"\0{model}\0{seed}"
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def conversation(events: Iterable[Any]) -> list[dict[str, Any]]:
    """The conversation exactly as the model saw it: the `message` events in order."""
    return [e.message for e in events if isinstance(e, MessageEvent)]


def trace_path(batch_dir: Path, rollout_id: str) -> Path:
    # An id from a file (batch.json's planned ids) names one file in traces/, never a path out.
    if not is_plain_name(rollout_id):
        raise ValueError(f"rollout id {rollout_id[:80]!r} is not a plain file name")
    return Path(batch_dir) / TRACES_DIR / f"{rollout_id}.jsonl"


def is_plain_name(name: str) -> bool:
    """One path component: no separator, no NUL, not ``.`` or ``..`` (docs/hostile-files.md)."""
    return bool(name) and "/" not in name and "\x00" not in name and name not in (".", "..")
