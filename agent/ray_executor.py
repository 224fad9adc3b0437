"""Rollouts as Ray tasks, for batches bigger than one machine (docs/ARCHITECTURE.md, Batches and traces).

``RayExecutor`` is an ``agent.executor.Executor``: the batch runs its rollout function in
driver threads exactly as with the thread pool (cancel checks, budgets and adaptive
rounds all stay on the driver), and ``RayExecutor.run_rollout`` (called by the batch in
place of ``agent.loop.run_rollout``) submits the rollout as one Ray task with declared
resources, so Ray, not us, decides where it runs.

- Live events: the worker sends every trace event, as it is written, to an inbox actor on
  the driver's node; the driver thread of that rollout takes them and appends them to the
  usual trace file, so the studio follows a cluster batch the same way as a local one.
- No shared filesystem: a task's source (and reference fix) is packed once per batch into a
  Ray object; a worker unpacks it into a node-local cache keyed by its digest.
- Faults: a worker that dies mid-rollout has its task retried by Ray (``max_retries``); each
  attempt carries its own token, and a new token starts the trace over. A model error is an
  ordinary rollout end (stop_reason "error"), never an exception, so Ray does not retry it.
- Cancel: the inbox tells running rollouts to stop (they end "cancelled" with a valid
  trace); a task that has not started is removed with ``ray.cancel``.

Ray is an optional extra (``repo-agent-studio[ray]``); nothing here imports it at module load.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.executor import LocalExecutor
from agent.loop import CancelFlag, RolloutConfig, RolloutResult, RolloutSpec, run_rollout
from agent.suites.models import Suite, Task
from agent.task_pack import pack_task, unpack_task
from agent.trace import EVENT_ADAPTER, MAX_EVENT_CHARS, BranchInfo, Outcome, RolloutEnd
from agent.trace_file import shrunk_line

EXTRA_HINT = "install the ray extra: uv sync --extra ray (or pip install 'repo-agent-studio[ray]')"
POLL_S = 0.2  # how long a driver thread waits for events before it checks its task again


class RayMissing(RuntimeError):
    """``--executor ray`` without the ray extra installed."""


def import_ray() -> Any:
    # Workers run this very interpreter and environment; Ray's `uv run` hook would instead
    # package the working directory and start every worker through uv (slow). Read by Ray
    # at import time; a user's own setting wins.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import ray
    except ImportError:
        raise RayMissing(f"--executor ray needs Ray: {EXTRA_HINT}") from None
    return ray


# --------------------------------------------------------------------------- the inbox actor


class _Inbox:
    """On the driver's node: trace lines in (from workers), out (to driver threads), and
    the cancel flag the other way. Async, so a driver thread's ``take`` waits for events
    without holding the actor."""

    def __init__(self) -> None:
        self.lines: dict[str, list[tuple[str, str]]] = {}
        self.ready: dict[str, asyncio.Event] = {}
        self.cancelled: dict[str, asyncio.Event] = {}

    def _ev(self, table: dict[str, asyncio.Event], rid: str) -> asyncio.Event:
        return table.setdefault(rid, asyncio.Event())

    async def put(self, rid: str, token: str, lines: list[str]) -> None:
        self.lines.setdefault(rid, []).extend((token, line) for line in lines)
        self._ev(self.ready, rid).set()

    async def take(self, rid: str, timeout: float) -> list[tuple[str, str]]:
        ev = self._ev(self.ready, rid)
        if not self.lines.get(rid) and timeout > 0:
            try:
                await asyncio.wait_for(ev.wait(), timeout)
            except TimeoutError:
                pass
        ev.clear()
        return self.lines.pop(rid, [])

    async def cancel(self, rid: str) -> None:
        self._ev(self.cancelled, rid).set()

    async def wait_cancel(self, rid: str, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._ev(self.cancelled, rid).wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def forget(self, rid: str) -> None:
        for table in (self.lines, self.ready, self.cancelled):
            table.pop(rid, None)


# --------------------------------------------------------------------------- the worker side


@dataclass(frozen=True)
class _WorkerRollout:
    """A `RolloutSpec` as a worker gets it: the suite by name (its files come packed), no trace path."""

    task: Task
    suite_name: str
    rollout_id: str
    seed: int
    batch_id: str | None
    prefix_messages: list[dict[str, Any]] | None
    branch: BranchInfo | None


def _remote_rollout(
    digest: str, data: bytes, rollout: _WorkerRollout, provider: Any, config: RolloutConfig, inbox: Any
) -> RolloutResult:
    """One attempt of one rollout, in a Ray worker (``data`` is passed alone so Ray resolves its ref)."""
    import ray

    task, suite_name, rollout_id = rollout.task, rollout.suite_name, rollout.rollout_id
    token = uuid.uuid4().hex  # a retried attempt has another: the driver starts the trace over
    cancel = threading.Event()
    if hasattr(provider, "retry"):
        provider.retry.cancel = cancel  # a backoff wait ends at once on cancel
    suite = Suite(name=suite_name, tasks=[task], base_dir=unpack_task(digest, data))
    sender = _Sender(inbox, rollout_id, token)

    def watch() -> None:
        while not done.is_set():
            if ray.get(inbox.wait_cancel.remote(rollout_id, 1.0)):
                cancel.set()
                return

    out: list[Any] = []

    def run() -> None:
        with tempfile.TemporaryDirectory(prefix="repo-agent-ray-") as tmp:  # the driver writes the real trace
            try:
                out.append(
                    run_rollout(
                        RolloutSpec(
                            suite,
                            task,
                            Path(tmp) / "trace.jsonl",
                            rollout_id=rollout_id,
                            seed=rollout.seed,
                            batch_id=rollout.batch_id,
                            prefix_messages=rollout.prefix_messages,
                            branch=rollout.branch,
                        ),
                        provider,
                        config=config,
                        cancel=cancel,
                        on_event=sender.send,
                    )
                )
            except BaseException as exc:
                out.append(exc)

    done = threading.Event()
    threading.Thread(target=watch, daemon=True).start()
    runner = threading.Thread(target=run)
    runner.start()
    while runner.is_alive():
        try:
            runner.join()
        except KeyboardInterrupt:  # ray.cancel: end the rollout cleanly, as a cancelled one
            cancel.set()
    done.set()
    sender.close()  # every event is in the inbox before the result is
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


class _Sender:
    """Sends a rollout's events to the inbox in order, batched: one call in flight at a time
    (an async actor does not keep the order of calls), never blocking the rollout."""

    def __init__(self, inbox: Any, rollout_id: str, token: str):
        import ray

        self._ray, self.inbox, self.rollout_id, self.token = ray, inbox, rollout_id, token
        self._lines: list[str] = []
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def send(self, event: Any) -> None:
        with self._cv:
            self._lines.append(event.model_dump_json())
            self._cv.notify()

    def _loop(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._lines or self._closed)
                lines, self._lines = self._lines, []
                if not lines and self._closed:
                    return
            self._ray.get(self.inbox.put.remote(self.rollout_id, self.token, lines))

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join()


# --------------------------------------------------------------------------- the executor


class RayExecutor:
    """Rollouts as Ray tasks. ``address``: None starts a local Ray instance, "auto" joins
    the running cluster, else a cluster address. ``resources``: custom Ray resources each
    rollout task declares (besides ``num_cpus``). ``max_workers`` rollouts are in flight."""

    kind = "ray"  # recorded in batch.json, so a resume runs on Ray too

    def __init__(
        self,
        max_workers: int = 1,
        *,
        address: str | None = None,
        num_cpus: float = 1,
        resources: dict[str, float] | None = None,
        max_retries: int = 3,
        cancel_grace_s: float = 60.0,
    ):
        self.max_workers = max(1, max_workers)
        self.address = address
        self.num_cpus = num_cpus
        self.resources = dict(resources or {})
        self.max_retries = max_retries
        self.cancel_grace_s = cancel_grace_s  # then a running task is killed (ray.cancel force)
        self._ray = import_ray()
        self._inbox: Any = None
        self._packed: dict[tuple[str, str], tuple[str, Any, Task]] = {}
        self._lock = threading.Lock()
        self._task_fn: Any = None

    def _start(self) -> None:
        ray = self._ray
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        self._inbox = (
            ray.remote(_Inbox)
            .options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
            .remote()
        )
        self._task_fn = ray.remote(_remote_rollout)

    def run(
        self,
        fn: Callable[[Any], RolloutResult | None],
        items: list[Any],
        on_result: Callable[[RolloutResult], None],
        cancel: threading.Event,
    ) -> None:
        self._start()
        try:
            LocalExecutor(self.max_workers).run(fn, items, on_result, cancel)
        finally:
            self._ray.kill(self._inbox)
            self._inbox = None

    def _pack(self, suite: Suite, task: Task) -> tuple[str, Any, Task]:
        key = (str(suite.base_dir), task.id)
        with self._lock:
            if key not in self._packed:
                digest, data, portable = pack_task(suite, task)
                self._packed[key] = (digest, self._ray.put(data), portable)
            return self._packed[key]

    def run_rollout(
        self,
        spec: RolloutSpec,
        provider: Any,
        *,
        config: RolloutConfig | None = None,
        cancel: CancelFlag | None = None,  # the batch's or this rollout's stop (only is_set is read)
        on_event: Callable[[Any], None] | None = None,
        workspace_root: Path | None = None,  # the worker's own temp dir is used instead
    ) -> RolloutResult:
        """``agent.loop.run_rollout``, run as a Ray task; the trace is written here, live."""
        suite, task, rollout_id, seed = spec.suite, spec.task, spec.rollout_id, spec.seed
        ray, inbox = self._ray, self._inbox
        stop: CancelFlag = cancel if cancel is not None else threading.Event()
        digest, data_ref, portable = self._pack(suite, task)
        ref = self._task_fn.options(
            num_cpus=self.num_cpus,
            resources=self.resources or None,
            max_retries=self.max_retries,
            retry_exceptions=False,
            name=f"rollout:{rollout_id}",
        ).remote(
            digest,
            data_ref,
            _WorkerRollout(portable, suite.name, rollout_id, seed, spec.batch_id, spec.prefix_messages, spec.branch),
            provider,
            config or RolloutConfig(),
            inbox,
        )
        trace = _LiveTrace(Path(spec.trace_file), on_event)
        cancelled_at: float | None = None
        try:
            while True:
                trace.add(ray.get(inbox.take.remote(rollout_id, POLL_S)))
                ready, _ = ray.wait([ref], timeout=0)
                if ready:
                    trace.add(ray.get(inbox.take.remote(rollout_id, 0)))
                    break
                if stop.is_set() and cancelled_at is None:
                    cancelled_at = time.monotonic()
                    ray.get(inbox.cancel.remote(rollout_id))
                    if trace.token is None:
                        ray.cancel(ref)  # not started (or just starting): never run it
                elif cancelled_at is not None and time.monotonic() - cancelled_at > self.cancel_grace_s:
                    ray.cancel(ref, force=True)
                    cancelled_at = float("inf")
            try:
                return ray.get(ref)
            except ray.exceptions.TaskCancelledError:
                if trace.token is None:
                    return None  # type: ignore[return-value]  # never started: a later resume runs it
                return trace.end_cancelled(rollout_id, task.id, seed)
        finally:
            trace.close()
            inbox.forget.remote(rollout_id)


class _LiveTrace:
    """The driver's copy of one rollout's trace: lines appended as they arrive, the file
    started over when a new attempt (token) shows up."""

    def __init__(self, path: Path, on_event: Callable[[Any], None] | None):
        self.path = path
        self.on_event = on_event
        self.token: str | None = None
        self.f: Any = None
        self.ended = False
        self.seq = 0

    def add(self, items: list[tuple[str, str]]) -> None:
        for token, line in items:
            if token != self.token:
                self.close()
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.f = open(self.path, "w", encoding="utf-8")  # a retried rollout starts over
                self.token, self.ended = token, False
            if len(line) > MAX_EVENT_CHARS:
                line = shrunk_line(line)
            self.f.write(line + "\n")
            self.f.flush()
            event = EVENT_ADAPTER.validate_json(line)
            self.seq = event.seq + 1
            self.ended = isinstance(event, RolloutEnd)
            if self.on_event is not None:
                self.on_event(event)

    def end_cancelled(self, rollout_id: str, task_id: str, seed: int) -> RolloutResult:
        """A task stopped by force: close its trace as a cancelled rollout (resume re-runs it)."""
        if not self.ended and self.f is not None:
            end = RolloutEnd(
                rollout_id=rollout_id,
                seq=self.seq,
                ts=time.time(),
                outcome=Outcome(),
                stop_reason="cancelled",
                duration_s=0.0,
            )
            self.add([(self.token or "", end.model_dump_json())])
        return RolloutResult(rollout_id, task_id, seed, Outcome(), "cancelled", 0.0)

    def close(self) -> None:
        if self.f is not None and not self.f.closed:
            self.f.close()
