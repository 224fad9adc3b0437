"""Where a batch's rollouts run: the ``Executor`` interface, the local thread pool, and the
per-rollout stop flags (agent/ray_executor.py is the other executor)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Protocol

from agent import cgroups
from agent.loop import RolloutResult


class Executor(Protocol):
    def run(
        self,
        fn: Callable[[Any], RolloutResult | None],
        items: list[Any],
        on_result: Callable[[RolloutResult], None],
        cancel: threading.Event,
    ) -> None:
        """Run ``fn`` on every item, calling ``on_result`` (in the caller's thread) as each
        finishes. On an exception in the caller (Ctrl-C) set ``cancel``, let running items
        end, report them, and re-raise."""


class LocalExecutor:
    def __init__(self, max_workers: int = 1):
        self.max_workers = max(1, max_workers)

    def run(
        self,
        fn: Callable[[Any], RolloutResult | None],
        items: list[Any],
        on_result: Callable[[RolloutResult], None],
        cancel: threading.Event,
    ) -> None:
        # Its rollouts' sandboxes share an enclosing memory limit equally (cgroups.enclosing_memory).
        with cgroups.SANDBOX_SLOTS.at_once(self.max_workers):
            self._run(fn, items, on_result, cancel)

    def _run(
        self,
        fn: Callable[[Any], RolloutResult | None],
        items: list[Any],
        on_result: Callable[[RolloutResult], None],
        cancel: threading.Event,
    ) -> None:
        pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="rollout")
        futures = [pool.submit(fn, it) for it in items]
        reported: set[int] = set()
        try:
            for fut in as_completed(futures):
                reported.add(id(fut))
                if (r := fut.result()) is not None:
                    on_result(r)
        except BaseException:
            cancel.set()
            for fut in futures:
                fut.cancel()
            for fut in futures:  # the running ones see `cancel` and end their traces cleanly
                if id(fut) not in reported and not fut.cancelled() and (r := fut.result()) is not None:
                    on_result(r)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class RolloutCancels:
    """Stop one running rollout while the batch goes on: its trace ends "cancelled" (a
    resume runs it again). The loop only calls ``is_set``, so each rollout gets a view
    that is set by its own flag or the batch's."""

    def __init__(self) -> None:
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def cancel(self, rollout_id: str) -> bool:
        """True when the rollout was running here (it ends at its next step)."""
        with self._lock:
            flag = self._flags.get(rollout_id)
        if flag is None:
            return False
        flag.set()
        return True

    def running(self) -> list[str]:
        with self._lock:
            return list(self._flags)

    def _view(self, rollout_id: str, batch: threading.Event) -> _EitherSet:
        with self._lock:
            flag = self._flags[rollout_id] = threading.Event()
        return _EitherSet(flag, batch)

    def _done(self, rollout_id: str) -> None:
        with self._lock:
            self._flags.pop(rollout_id, None)


class _EitherSet:
    def __init__(self, *flags: threading.Event):
        self._flags = flags

    def is_set(self) -> bool:
        return any(f.is_set() for f in self._flags)
