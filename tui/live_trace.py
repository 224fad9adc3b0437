"""Trace files followed as they grow: new bytes from the last offset only.

Plain code on agent.trace (no store, no widgets). ``TraceWatcher`` reports which trace
files changed from file-system events (watchfiles: inotify, FSEvents, ...), so a step
written by a batch in this studio or in another terminal reaches the screen within tens
of milliseconds and an idle studio does no periodic work; where events are unavailable
it falls back to polling. ``LiveTrace`` reads one rollout's new events on each change.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.tools.registry import step_counts
from agent.trace import (
    ErrorEvent,
    FinalEvent,
    LlmCall,
    LoopEvent,
    MessageEvent,
    RolloutEnd,
    RolloutStart,
    StallEvent,
    TestRun,
    ToolCallEvent,
    ToolResultEvent,
)
from agent.trace_io import NotRegularFile, check_regular
from tui.lazy_trace import BIG_LINE, HEAD_BYTES, LazyText, read_lazily


@dataclass
class CallView:
    step: int
    call_id: str
    name: str
    arguments: str
    args: dict | None
    valid: bool
    violations: list[str]
    parse_error: str | None
    ok: bool | None = None
    duration_s: float | None = None
    error: str | None = None
    truncated: bool = False
    result: str | None = None  # the tool message's content
    tests_passed: bool | None = None  # a run_tests call: what its test run said (its own event)
    closed: bool = False  # the rollout ended: a call with no result never ran (an imported submit)
    result_source: LazyText | None = None  # a big result, left in the trace file ("" in ``result``)

    def shown_result(self, limit: int = HEAD_BYTES) -> str | None:
        """The result, or a big one's head and how much more there is."""
        if self.result_source is None:
            if self.result is None or len(self.result) <= BIG_LINE:
                return self.result
            # Read whole (its line not in the writer's form): a pane laying out 100 MB never answers.
            more = f"\n… {len(self.result) / 1e6:.1f}M characters in all (c: the conversation shows it whole)"
            return self.result[:limit] + more
        src = self.result_source
        if src.size <= limit:
            return src.text()
        return src.head(limit) + f"\n… {src.size / 1e6:.1f} MB in all (c: the conversation shows it whole)"

    @property
    def status(self) -> str:
        if not self.valid:
            return "invalid"
        if self.ok is None:
            return "no result" if self.closed else "running"
        if not self.ok:
            return "error"
        # The tool ran fine, but a row saying "ok" for failing tests reads as a pass.
        return "failed" if self.tests_passed is False else "passed" if self.tests_passed else "ok"

    def key_args(self, width: int = 48) -> str:
        if self.args is None:
            text = self.arguments
        else:
            # The first argument's value alone (a path, a pattern: what tells calls apart),
            # the rest as key=value: a narrow column showed "rel_path…" on every row.
            parts = []
            for i, (k, v) in enumerate(self.args.items()):
                s = v if isinstance(v, str) else json.dumps(v)
                s = s.replace("\n", "⏎")
                parts.append(s[:40] if i == 0 else f"{k}={s[:40]}")
            text = "  ".join(parts)
        return text if len(text) <= width else text[: width - 1] + "…"

    def pretty_args(self) -> str:
        if self.args is not None:
            return json.dumps(self.args, indent=2, ensure_ascii=False)
        return self.arguments


@dataclass
class Turn:
    """One message of the conversation, as read: who said it, at which step, its text, the
    reasoning recorded beside it, and (assistant) the tool calls it made."""

    role: str
    step: int | None
    text: str
    reasoning: str | None = None
    calls: list[tuple[str, str]] = field(default_factory=list)  # (tool name, raw arguments)
    tool: str | None = None  # a tool result: the name of the tool that answered
    source: LazyText | None = None  # a big content, left in the trace file (``text`` is "")

    def full_text(self) -> str:
        return self.source.text() if self.source is not None else self.text


def _text_of(content: object) -> str:
    if content is None:
        return ""
    return content if isinstance(content, str) else json.dumps(content, indent=2, ensure_ascii=False)


@dataclass
class LiveTrace:
    path: Path
    offset: int = 0
    line_no: int = 1
    start: RolloutStart | None = None
    end: RolloutEnd | None = None
    final: FinalEvent | None = None
    calls: list[CallView] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)  # every message, in order
    tests: list[TestRun] = field(default_factory=list)
    errors: list[ErrorEvent] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    steps: int = 0
    warnings: int = 0
    loops: list[LoopEvent] = field(default_factory=list)
    stalls: list[StallEvent] = field(default_factory=list)
    last_event_ts: float | None = None  # wall clock of the newest event (trace ``ts``), stalls aside
    stalled: bool = False  # a stall event and nothing since
    problem: str | None = None  # why the file cannot be read (not a regular file)
    _by_id: dict[str, CallView] = field(default_factory=dict)
    _results: dict[str, tuple[str, LazyText | None]] = field(default_factory=dict)
    _text_calls: list[CallView] = field(default_factory=list)  # parsed from text, awaiting their observation

    def poll(self) -> bool:
        """Read what was appended since the last poll; True when anything new arrived."""
        try:
            size = check_regular(self.path).st_size  # a FIFO named *.jsonl would block a read
        except OSError as exc:
            self.problem = str(exc) if isinstance(exc, NotRegularFile) else None
            return False
        self.problem = None
        if size < self.offset:  # truncated/replaced (a resumed rollout restarts): start over
            self.__init__(self.path)  # type: ignore[misc]
        if size == self.offset:
            return False
        try:
            # Big messages stay in the file until shown (tui/lazy_trace.py).
            read = read_lazily(self.path, self.offset)
        except (OSError, ValueError) as exc:  # swapped for a FIFO or removed since the stat
            self.problem = str(exc) if isinstance(exc, NotRegularFile) else None
            return False
        self.offset = read.end_offset
        self.line_no += read.lines
        self.warnings += read.warnings
        for i, e in enumerate(read.events):
            self._apply(e, read.lazy.get(i))
            if not isinstance(e, StallEvent):
                self.last_event_ts, self.stalled = e.ts, False
        return bool(read.events)

    def _apply(self, e, source: LazyText | None = None) -> None:
        if isinstance(e, RolloutStart):
            self.start = e
        elif isinstance(e, ToolCallEvent):
            cv = CallView(e.step, e.call_id, e.name, e.arguments, e.args, e.valid, list(e.violations), e.parse_error)
            cv.result, cv.result_source = self._results.get(e.call_id, (None, None))
            self.calls.append(cv)
            self._by_id[e.call_id] = cv
            if e.from_text:  # an imported text action: the next user message is its observation
                self._text_calls.append(cv)
        elif isinstance(e, ToolResultEvent):
            answered = self._by_id.get(e.call_id)
            if answered is not None:
                answered.ok, answered.duration_s = e.ok, e.duration_s
                answered.error, answered.truncated = e.error, e.truncated
        elif isinstance(e, MessageEvent):
            m = e.message
            turn = self._turn(e)
            turn.source = source
            self.turns.append(turn)
            if m.get("role") == "tool":
                cid = m.get("tool_call_id") or ""
                content = m.get("content")
                text = content if isinstance(content, str) else json.dumps(content, indent=2)
                self._results[cid] = (text, source)
                if cid in self._by_id:
                    self._by_id[cid].result, self._by_id[cid].result_source = text, source
            elif m.get("role") == "user" and self._text_calls:
                content = m.get("content")
                for cv in self._text_calls:
                    cv.result = content if isinstance(content, str) else json.dumps(content, indent=2)
                    cv.result_source = source
                self._text_calls = []
            elif m.get("role") == "assistant":
                self._text_calls = []
        elif isinstance(e, LlmCall):
            self.steps = max(self.steps, e.step)
            self.tokens_in += e.usage.prompt_tokens
            self.tokens_out += e.usage.completion_tokens
        elif isinstance(e, TestRun):
            self.tests.append(e)
            if e.step is not None and not e.final:  # the run_tests call of that step
                for cv in reversed(self.calls):
                    if cv.step == e.step and step_counts(cv.name).runs_tests and cv.tests_passed is None:
                        cv.tests_passed = e.passed
                        break
        elif isinstance(e, FinalEvent):
            self.final = e
        elif isinstance(e, RolloutEnd):
            self.end = e
            for cv in self.calls:
                cv.closed = True
        elif isinstance(e, ErrorEvent):
            self.errors.append(e)
        elif isinstance(e, LoopEvent):
            self.loops.append(e)
        elif isinstance(e, StallEvent):
            self.stalls.append(e)
            self.stalled = True

    def _turn(self, e: MessageEvent) -> Turn:
        m = e.message
        role = str(m.get("role") or "?")
        calls = [
            (str((c.get("function") or {}).get("name") or ""), str((c.get("function") or {}).get("arguments") or ""))
            for c in m.get("tool_calls") or []
            if isinstance(c, dict)
        ]
        answered = self._by_id.get(str(m.get("tool_call_id") or "")) if role == "tool" else None
        tool = answered.name if answered is not None else None
        return Turn(role, e.step, _text_of(m.get("content")), e.reasoning, calls, tool)

    def step_words(self) -> dict[int, tuple[str, str | None]]:
        """step -> (what the assistant said, its reasoning), for the steps that said anything."""
        out: dict[int, tuple[str, str | None]] = {}
        for t in self.turns:
            if t.role == "assistant" and t.step is not None and (t.full_text().strip() or t.reasoning):
                out[t.step] = (t.full_text(), t.reasoning)
        return out

    @property
    def loop_steps(self) -> set[int]:
        return {s for e in self.loops for s in range(e.first_step or e.step, e.step + 1)}

    @property
    def running(self) -> bool:
        return self.end is None


# --------------------------------------------------------------------------- watching


def _is_trace_file(path: str) -> bool:
    return path.endswith(".jsonl") or path.endswith("batch.json")


class TraceWatcher:
    """Calls ``on_change(paths)`` from its own thread when trace files under ``root``
    change (``paths``: changed ``.jsonl`` / ``batch.json`` files and directories; never
    the label store, whose writes would otherwise wake the ingest that made them).

    ``mode`` is "events" (watchfiles) or "polling" (no watchfiles, or its notifier could
    not start, or ``REPO_AGENT_WATCH=poll``): then files are compared every ``poll_s``.
    ``step_ms``: how long a burst of writes is gathered before it is reported; the
    latency floor of event mode.
    """

    def __init__(
        self,
        root: Path,
        on_change: Callable[[set[Path]], object],  # what it returns is not used
        *,
        poll_s: float = 0.5,
        step_ms: int = 20,
        force_polling: bool | None = None,
    ) -> None:
        self.root = Path(root)
        self.on_change = on_change
        self.poll_s = poll_s
        self.step_ms = step_ms
        if force_polling is None:
            force_polling = os.environ.get("REPO_AGENT_WATCH", "").lower() == "poll"
        self.mode = "polling" if force_polling else "events"
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trace-watcher", daemon=True)

    def start(self) -> TraceWatcher:
        self._thread.start()
        self._ready.wait(5)  # events from here on are seen
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        if self.mode == "events":
            try:
                self._watch_events()
                return
            except Exception:  # no watchfiles, no notifier (inotify limits, ...): poll instead
                if self._stop.is_set():
                    return
                self.mode = "polling"
        self._watch_polling()

    def _watch_events(self) -> None:
        from watchfiles._rust_notify import RustNotify  # what watchfiles.watch drives, minus the generator

        self.root.mkdir(parents=True, exist_ok=True)
        # The notifier is live once constructed: say so, so no write after start() is missed.
        with RustNotify([str(self.root)], False, False, 300, True, False) as notify:
            self._ready.set()
            while not self._stop.is_set():
                raw = notify.watch(max(50, self.step_ms * 4), self.step_ms, 0, self._stop)
                if raw == "stop":
                    return
                if isinstance(raw, set):
                    # A batch directory moved in arrives as one event for the directory.
                    changed = {Path(p) for _c, p in raw if _is_trace_file(p) or os.path.isdir(p)}
                    if changed:
                        self.on_change(changed)

    def _snapshot(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if _is_trace_file(name):
                    p = os.path.join(dirpath, name)
                    try:
                        st = os.stat(p)
                    except OSError:
                        continue
                    out[p] = (st.st_size, st.st_mtime_ns)
        return out

    def _watch_polling(self) -> None:
        before = self._snapshot()
        self._ready.set()
        while not self._stop.wait(self.poll_s):
            now = self._snapshot()
            changed = {Path(p) for p, st in now.items() if before.get(p) != st}
            changed |= {Path(p) for p in before.keys() - now.keys()}
            before = now
            if changed:
                self.on_change(changed)


def seconds_since(ts: float | None, now: float | None = None) -> float | None:
    return None if ts is None else max(0.0, (now if now is not None else time.time()) - ts)
