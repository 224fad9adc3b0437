"""One rollout's trace, followed as it grows: new bytes from the last offset only.

Plain code on agent.trace (no store, no widgets): the Rollout screen polls it on a
short timer, so a rollout being written by a batch in this studio or in another
terminal streams in the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from agent.trace import (
    ErrorEvent,
    FinalEvent,
    LlmCall,
    MessageEvent,
    RolloutEnd,
    RolloutStart,
    TestRun,
    ToolCallEvent,
    ToolResultEvent,
    read_events_from,
)


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

    @property
    def status(self) -> str:
        if not self.valid:
            return "invalid"
        if self.ok is None:
            return "running"
        return "ok" if self.ok else "error"

    def key_args(self, width: int = 48) -> str:
        if self.args is None:
            text = self.arguments
        else:
            parts = []
            for k, v in self.args.items():
                s = v if isinstance(v, str) else json.dumps(v)
                s = s.replace("\n", "⏎")
                parts.append(f"{k}={s[:40]}")
            text = " ".join(parts)
        return text if len(text) <= width else text[: width - 1] + "…"

    def pretty_args(self) -> str:
        if self.args is not None:
            return json.dumps(self.args, indent=2, ensure_ascii=False)
        return self.arguments


@dataclass
class LiveTrace:
    path: Path
    offset: int = 0
    line_no: int = 1
    start: RolloutStart | None = None
    end: RolloutEnd | None = None
    final: FinalEvent | None = None
    calls: list[CallView] = field(default_factory=list)
    tests: list[TestRun] = field(default_factory=list)
    errors: list[ErrorEvent] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    steps: int = 0
    warnings: int = 0
    _by_id: dict[str, CallView] = field(default_factory=dict)
    _results: dict[str, str] = field(default_factory=dict)
    _text_calls: list[CallView] = field(default_factory=list)  # parsed from text, awaiting their observation

    def poll(self) -> bool:
        """Read what was appended since the last poll; True when anything new arrived."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return False
        if size < self.offset:  # truncated/replaced (a resumed rollout restarts): start over
            self.__init__(self.path)  # type: ignore[misc]
        if size == self.offset:
            return False
        read = read_events_from(self.path, self.offset, first_line_no=self.line_no)
        self.offset = read.end_offset
        self.warnings += len(read.warnings)
        for e in read.events:
            self._apply(e)
        return bool(read.events)

    def _apply(self, e) -> None:
        if isinstance(e, RolloutStart):
            self.start = e
        elif isinstance(e, ToolCallEvent):
            cv = CallView(e.step, e.call_id, e.name, e.arguments, e.args, e.valid, list(e.violations), e.parse_error)
            cv.result = self._results.get(e.call_id)
            self.calls.append(cv)
            self._by_id[e.call_id] = cv
            if e.from_text:  # an imported text action: the next user message is its observation
                self._text_calls.append(cv)
        elif isinstance(e, ToolResultEvent):
            cv = self._by_id.get(e.call_id)
            if cv is not None:
                cv.ok, cv.duration_s, cv.error, cv.truncated = e.ok, e.duration_s, e.error, e.truncated
        elif isinstance(e, MessageEvent):
            m = e.message
            if m.get("role") == "tool":
                cid = m.get("tool_call_id") or ""
                content = m.get("content")
                text = content if isinstance(content, str) else json.dumps(content, indent=2)
                self._results[cid] = text
                if cid in self._by_id:
                    self._by_id[cid].result = text
            elif m.get("role") == "user" and self._text_calls:
                content = m.get("content")
                for cv in self._text_calls:
                    cv.result = content if isinstance(content, str) else json.dumps(content, indent=2)
                self._text_calls = []
            elif m.get("role") == "assistant":
                self._text_calls = []
        elif isinstance(e, LlmCall):
            self.steps = max(self.steps, e.step)
            self.tokens_in += e.usage.prompt_tokens
            self.tokens_out += e.usage.completion_tokens
        elif isinstance(e, TestRun):
            self.tests.append(e)
        elif isinstance(e, FinalEvent):
            self.final = e
        elif isinstance(e, RolloutEnd):
            self.end = e
        elif isinstance(e, ErrorEvent):
            self.errors.append(e)

    @property
    def running(self) -> bool:
        return self.end is None
