"""Loops and stalls in a running rollout: what the loop limit acts on (docs/ARCHITECTURE.md).

``LoopDetector`` sees each finished step as the tool calls it made *with their results*,
so a step only repeats another when nothing changed: a re-read after an edit returns
different text and is never a loop. It reports three patterns:

- ``repeat``: the step equals the one before it (same calls, arguments and results);
- ``cycle``: the last steps repeat with a period of 2 or 3 (A B A B, A B C A B C);
- ``same_failure``: after a write, the tests failed exactly as they did before on the
  same written files (a wrong fix written again and re-tested), whatever came between.

``repeats`` is how often the pattern came back (full periods). ``StallWatch`` is a
watchdog thread that reports once when no event was written for ``idle_s`` seconds; it
sleeps on a condition, never polls.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.trace import Savings

MAX_PERIOD = 3
# Timings differ between two otherwise identical test runs ("1 failed in 0.03s").
_TIMING = re.compile(r"\b\d+(?:\.\d+)?\s?(?:s|ms|sec|seconds)\b")


@dataclass
class CallSeen:
    """One tool call of a step with what it returned (built by agent/loop.py)."""

    name: str
    args: dict[str, Any] | None
    arguments: str
    ok: bool
    output: str
    tests_failed: bool | None = None  # None: not a test run


@dataclass
class LoopHit:
    pattern: str  # repeat, cycle, same_failure
    period: int
    repeats: int
    first_step: int  # the first step of the run that repeats earlier ones
    calls: list[str]


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:16]


def call_label(c: CallSeen, width: int = 60) -> str:
    if c.args is None:
        text = f"{c.name} {c.arguments}"
    else:
        parts = [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in c.args.items()]
        text = " ".join([c.name, *(p.replace("\n", "⏎")[:40] for p in parts)])
    return text if len(text) <= width else text[: width - 1] + "…"


def _signature(c: CallSeen) -> tuple[str, str, str]:
    args = json.dumps(c.args, sort_keys=True) if c.args is not None else c.arguments.strip()
    return c.name, args, f"{c.ok}:{_digest(_TIMING.sub('', c.output))}"


@dataclass
class LoopDetector:
    steps: list[tuple] = field(default_factory=list)  # one signature per step
    step_numbers: list[int] = field(default_factory=list)
    labels: list[list[str]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # path -> digest of what the rollout wrote
    last_write_step: int | None = None
    wrote_since_test: bool = False
    failures: dict[tuple, int] = field(default_factory=dict)  # (files, failure) -> times seen after a write

    def observe(self, step: int, calls: list[CallSeen], content: str = "") -> LoopHit | None:
        """Record one finished step; a hit when it repeats earlier steps without progress."""
        sig = tuple(_signature(c) for c in calls) if calls else (("", "", _digest(content)),)
        self.steps.append(sig)
        self.step_numbers.append(step)
        self.labels.append([call_label(c) for c in calls] or ["(no tool call)"])
        return self._same_failure(step, calls) or self._cycle()

    def _same_failure(self, step: int, calls: list[CallSeen]) -> LoopHit | None:
        hit = None
        for c in calls:
            if c.name == "write_file" and c.ok and c.args is not None:
                self.files[str(c.args.get("rel_path", ""))] = _digest(str(c.args.get("content", "")))
                self.wrote_since_test, self.last_write_step = True, step
            elif c.tests_failed is not None:
                if c.tests_failed and self.wrote_since_test:
                    key = (tuple(sorted(self.files.items())), _digest(_TIMING.sub("", c.output)))
                    seen = self.failures[key] = self.failures.get(key, 0) + 1
                    if seen >= 2:
                        first = self.last_write_step or step
                        hit = LoopHit("same_failure", 1, seen - 1, first, [call_label(c)])
                self.wrote_since_test = False
        return hit

    def _cycle(self) -> LoopHit | None:
        s = self.steps
        for p in range(1, MAX_PERIOD + 1):
            run = 0  # trailing steps equal to the step p before them
            while run + p < len(s) and s[-1 - run] == s[-1 - run - p]:
                run += 1
            if run >= p:
                first = self.step_numbers[-run]
                labels = [lab for block in self.labels[-p:] for lab in block]
                return LoopHit("repeat" if p == 1 else "cycle", p, run // p, first, labels)
        return None


def project_savings(
    usage: list[tuple[int, int]], max_iters: int, price_in: float | None, price_out: float | None
) -> Savings:
    """What the steps left to ``max_iters`` would have cost, at the pace of the last steps.

    ``usage``: (prompt, completion) tokens per step so far. A prompt grows by about the
    same amount each step (the conversation is resent), so the projection continues the
    mean growth of the last three steps; completions stay at their recent mean."""
    remaining = max(0, max_iters - len(usage))
    if not usage or remaining == 0:
        return Savings(steps=remaining, cost_usd=0.0 if price_in is not None or price_out is not None else None)
    recent = usage[-4:]
    prompts = [u[0] for u in recent]
    growth = max(0.0, (prompts[-1] - prompts[0]) / (len(prompts) - 1)) if len(prompts) > 1 else 0.0
    tokens_in = round(sum(prompts[-1] + growth * i for i in range(1, remaining + 1)))
    tokens_out = round(remaining * sum(u[1] for u in recent) / len(recent))
    cost = None
    if price_in is not None or price_out is not None:
        cost = round((tokens_in * (price_in or 0) + tokens_out * (price_out or 0)) / 1e6, 8)
    return Savings(steps=remaining, tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost)


class StallWatch:
    """Calls ``on_stall(idle_s, waiting_on)`` once when ``touch`` was not called for
    ``idle_s`` seconds; re-armed by the next ``touch``. A daemon thread sleeping on a
    condition (no CPU while waiting)."""

    def __init__(self, idle_s: float, on_stall: Callable[[float, str], None]):
        self.idle_s = idle_s
        self._on_stall = on_stall
        self._cond = threading.Condition()
        self._last = time.monotonic()
        self._waiting_on = "model"
        self._reported = False
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="stall-watch", daemon=True)

    def start(self) -> StallWatch:
        self._thread.start()
        return self

    def touch(self, waiting_on: str) -> None:
        with self._cond:
            self._last, self._waiting_on, self._reported = time.monotonic(), waiting_on, False
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                if self._reported:
                    self._cond.wait()  # until the next event re-arms the watch
                    continue
                left = self._last + self.idle_s - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                self._reported = True
                idle, waiting = time.monotonic() - self._last, self._waiting_on
                self._cond.release()
                try:
                    self._on_stall(idle, waiting)
                finally:
                    self._cond.acquire()
