"""The trace format: the one contract every package reads (docs/ARCHITECTURE.md, Batches and traces).

A batch is a directory: ``BATCH/batch.json`` and ``BATCH/traces/<rollout_id>.jsonl``,
one pydantic-validated event per line, appended and flushed per line so another
process can tail the file while the rollout runs.

Readers tolerate a torn last line (a crashed writer) and skip any line that fails
validation, returning a warning for it; they never raise on a bad file and never
drop the good lines around a bad one.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agent import trace_io
from agent.trace_io import open_regular, read_regular

TRACE_VERSION = 1
BATCH_FILE = "batch.json"
TRACES_DIR = "traces"

# "loop": ended by the loop limit (agent/loop_detect.py); added after version 1, additively.
StopReason = Literal["finished", "max_iters", "error", "timeout", "cancelled", "diverged", "loop"]


class _Model(BaseModel):
    # Unknown keys are kept (not rejected) so a newer writer's traces still open.
    model_config = ConfigDict(extra="allow")


class _Event(_Model):
    v: int = TRACE_VERSION
    rollout_id: str
    seq: int
    ts: float


class BranchInfo(_Model):
    """Set on a rollout that replayed another rollout's prefix, then sampled on."""

    parent_rollout_id: str
    parent_batch_id: str | None = None
    # Number of `message` events copied verbatim from the parent before sampling.
    prefix_messages: int
    # The step (1-based) at which this branch diverged from its parent.
    at_step: int


class RolloutStart(_Event):
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


class MessageEvent(_Event):
    """One chat message exactly as appended to the conversation (OpenAI shape)."""

    kind: Literal["message"] = "message"
    message: dict[str, Any]
    step: int | None = None


class Usage(_Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LlmCall(_Event):
    kind: Literal["llm_call"] = "llm_call"
    step: int
    latency_s: float
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None
    retries: int = 0


class ToolCallEvent(_Event):
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


class ToolResultEvent(_Event):
    kind: Literal["tool_result"] = "tool_result"
    step: int
    call_id: str
    ok: bool
    duration_s: float
    output_chars: int  # size of the output before it was cut
    truncated: bool = False
    error: str | None = None


class TestCounts(_Model):
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    collected: int = 0


class TestRun(_Event):
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


class FinalEvent(_Event):
    """The agent's closing object, from its `finish` call."""

    kind: Literal["final"] = "final"
    summary: str = ""
    changes: Any = None
    test_result: Any = None


class Savings(_Model):
    """A projection, not a measurement: the steps left to ``max_iters`` at the loop's pace."""

    steps: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None  # None when no price is known for the model


class Outcome(_Model):
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


class RolloutEnd(_Event):
    kind: Literal["rollout_end"] = "rollout_end"
    outcome: Outcome
    stop_reason: StopReason
    duration_s: float


class ErrorEvent(_Event):
    kind: Literal["error"] = "error"
    type: str
    message: str
    step: int | None = None


class LoopEvent(_Event):
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


class StallEvent(_Event):
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


# --------------------------------------------------------------------------- batch


class BatchParams(_Model):
    rollouts: int = 1
    temperature: float | None = None
    seed: int = 0
    max_iters: int = 30
    max_workers: int = 1
    reflection: bool = False
    allocation: str = "fixed"
    budget_rollouts: int | None = None
    # adaptive allocation (agent/allocation.py): None on fixed batches
    pairs_per_task: int | None = None
    give_up_after: int | None = None
    initial_per_task: int | None = None
    loop_limit: int | None = None  # None: recorded before loop limits existed
    # Where rollouts ran, so --resume runs the rest there too (None: recorded before; threads).
    executor: str | None = None
    ray_address: str | None = None


class PlannedRollout(_Model):
    rollout_id: str
    task_id: str
    seed: int


class BatchMeta(_Model):
    """``BATCH/batch.json``: what the batch is, written at start and rewritten at end."""

    id: str
    suite: str
    suite_path: str | None = None
    provider: str
    model: str
    base_url: str | None = None
    params: BatchParams = Field(default_factory=BatchParams)
    planned: list[PlannedRollout] = Field(default_factory=list)
    started: str
    finished: str | None = None
    stop_reason: str | None = None  # finished, cancelled, error
    # Where the budget went: agent.allocation.AllocationReport as a dict, rewritten each round.
    allocation: dict[str, Any] | None = None
    # Set on a batch made by `repo-agent import`: {"format", "path", "files"} of its source run.
    imported: dict[str, Any] | None = None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_batch_id(suite: str, model: str, when: float | None = None) -> str:
    """A sortable, readable id: 20261122-073916-quixbugs-qwen2.5-7b-3f2a."""
    t = time.gmtime(when if when is not None else time.time())
    stamp = time.strftime("%Y%m%d-%H%M%S", t)
    tail = os.urandom(2).hex()
    clean = lambda s: "".join(c if c.isalnum() or c in ".-" else "-" for c in s)[:32]  # noqa: E731
    return f"{stamp}-{clean(suite)}-{clean(model.split('/')[-1])}-{tail}"


def rollout_id_for(task_id: str, seed: int) -> str:
    return f"{task_id}__s{seed}"


def write_batch_meta(batch_dir: Path, meta: BatchMeta) -> None:
    """Atomic: a reader never sees half a batch.json."""
    batch_dir.mkdir(parents=True, exist_ok=True)
    tmp = batch_dir / (BATCH_FILE + ".tmp")
    tmp.write_text(meta.model_dump_json(indent=2))
    os.replace(tmp, batch_dir / BATCH_FILE)


def read_batch_meta(batch_dir: Path) -> BatchMeta:
    """Raises OSError (NotRegularFile for a FIFO or symlink: never blocks) or ValidationError."""
    return BatchMeta.model_validate_json(read_regular(batch_dir / BATCH_FILE))


def is_batch_dir(path: Path) -> bool:
    return (path / BATCH_FILE).is_file() or (path / TRACES_DIR).is_dir()


def find_batches(root: Path) -> list[Path]:
    """Batch directories at ``root`` itself or one or two levels below it."""
    root = Path(root)
    if is_batch_dir(root):
        return [root]
    found: list[Path] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if is_batch_dir(child):
            found.append(child)
        else:
            found.extend(g for g in sorted(child.iterdir()) if g.is_dir() and is_batch_dir(g))
    return found


# --------------------------------------------------------------------------- writer


MAX_EVENT_CHARS = 4_000_000  # one trace line; a bigger event has its longest strings cut


def _shrunk(line: str) -> str:
    """An over-size event with its longest strings cut (marked) until the line fits."""
    obj = json.loads(line)

    def strings(node, out):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            if isinstance(v, str):
                out.append((len(v), node, k))
            else:
                strings(v, out)
        return out

    for n, node, k in sorted(strings(obj, []), key=lambda t: -t[0]):
        excess = len(json.dumps(obj, ensure_ascii=False)) - MAX_EVENT_CHARS
        if excess <= 0:
            break
        keep = max(0, n - excess - 200)
        node[k] = node[k][:keep] + f"[... cut: {n} chars, trace event cap]"
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class TraceWriter:
    """Appends events to one rollout's trace, one flushed line per event.

    Assigns ``seq`` and ``ts``; callers pass the event's own fields::

        w.emit(MessageEvent, message={...}, step=1)
    """

    def __init__(self, path: Path, rollout_id: str, *, truncate: bool = False, fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rollout_id = rollout_id
        self.seq = 0
        self._fsync = fsync
        self._lock = threading.RLock()
        self._f = open(self.path, "w" if truncate else "a", encoding="utf-8")

    def emit(self, event_cls: type[_Event], **fields: Any) -> _Event:
        # Locked: a stall watchdog thread writes to the same trace as the rollout thread.
        with self._lock:
            event = event_cls(rollout_id=self.rollout_id, seq=self.seq, ts=time.time(), **fields)
            self.write(event)
        return event

    def write(self, event: _Event) -> None:
        line = event.model_dump_json(exclude_none=False)
        if len(line) > MAX_EVENT_CHARS:
            line = _shrunk(line)
        with self._lock:
            self._f.write(line + "\n")
            self._f.flush()
            if self._fsync:
                os.fsync(self._f.fileno())
            self.seq = event.seq + 1

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- reader


@dataclass
class TraceWarning:
    path: str
    line_no: int  # 1-based
    offset: int  # byte offset of the line's start
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line_no}: {self.reason}"


@dataclass
class TraceRead:
    events: list[Any] = field(default_factory=list)
    warnings: list[TraceWarning] = field(default_factory=list)
    # Byte offset just past the last complete line: where an incremental reader resumes.
    end_offset: int = 0
    torn_tail: bool = False  # the file ended in a partial line (still being written, or a crash)

    @property
    def start(self) -> RolloutStart | None:
        return next((e for e in self.events if isinstance(e, RolloutStart)), None)

    @property
    def end(self) -> RolloutEnd | None:
        return next((e for e in reversed(self.events) if isinstance(e, RolloutEnd)), None)

    @property
    def final(self) -> FinalEvent | None:
        return next((e for e in reversed(self.events) if isinstance(e, FinalEvent)), None)

    def conversation(self) -> list[dict[str, Any]]:
        return conversation(self.events)


def iter_lines(data: bytes, base_offset: int = 0) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (offset, line, complete) for each line in ``data``; the last may be partial."""
    pos = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl == -1:
            yield base_offset + pos, data[pos:], False
            return
        yield base_offset + pos, data[pos:nl], True
        pos = nl + 1


def read_events_from(path: Path, offset: int = 0, *, first_line_no: int = 1, final: bool = False) -> TraceRead:
    """Read complete lines from ``offset`` on.

    A partial last line is left unread (``end_offset`` stops before it) so a tailing
    reader picks it up once the writer finishes it. With ``final=True`` (the writer is
    known to be gone) the partial line is reported as a torn line instead.
    """
    path = Path(path)
    out = TraceRead(end_offset=offset)
    with open_regular(path) as f:  # a FIFO named *.jsonl raises NotRegularFile, never blocks
        f.seek(offset)
        data = f.read()
    line_no = first_line_no
    for off, line, complete in iter_lines(data, offset):
        if not complete:
            out.torn_tail = True
            if final:
                out.warnings.append(TraceWarning(str(path), line_no, off, "torn last line (writer stopped mid-line)"))
            break
        out.end_offset = off + len(line) + 1
        if line.strip():
            try:
                out.events.append(_validate_line(line))
            except ValidationError as exc:
                out.warnings.append(TraceWarning(str(path), line_no, off, _short_error(exc)))
        line_no += 1
    return out


def _validate_line(line: bytes) -> Any:
    try:
        return EVENT_ADAPTER.validate_json(line)
    except ValidationError as exc:
        if exc.errors()[0].get("type") != "json_invalid":
            raise
    # Bad bytes or a lone surrogate: escaped as text (agent.trace_io), the line is kept.
    try:
        obj = trace_io.loads(line)
    except ValueError:
        return EVENT_ADAPTER.validate_json(line)  # really not JSON: raise pydantic's error
    return EVENT_ADAPTER.validate_python(obj)


def read_trace(path: Path) -> TraceRead:
    """Read a whole trace file; a torn last line is reported, never raised."""
    return read_events_from(path, 0, final=True)


def _short_error(exc: ValidationError) -> str:
    errs = exc.errors()
    if not errs:
        return "invalid line"
    e = errs[0]
    where = ".".join(str(x) for x in e.get("loc", ()))
    more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
    return f"invalid event: {where}: {e.get('msg', 'invalid')}{more}"


def conversation(events: Iterable[Any]) -> list[dict[str, Any]]:
    """The conversation exactly as the model saw it: the `message` events in order."""
    return [e.message for e in events if isinstance(e, MessageEvent)]


def trace_path(batch_dir: Path, rollout_id: str) -> Path:
    return Path(batch_dir) / TRACES_DIR / f"{rollout_id}.jsonl"
