"""Rollouts as Ray tasks on a real local Ray instance (2 CPUs) with the scripted model server:
the same outcomes as threads, live trace events, a killed worker retried, cancel."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from agent.batch import run_batch
from agent.batch_spec import BatchControls, BatchSpec
from agent.executor import LocalExecutor
from agent.loop import RolloutConfig
from agent.ray_executor import RayExecutor, import_ray
from agent.trace import read_batch_meta, read_trace, trace_path
from tests.agent.rollout_fixtures import *
from tests.doubles.scripted_llm import MixedPolicy, ScriptedPolicy

ray = import_ray()  # (it keeps Ray's `uv run` hook off: workers run this interpreter)
WAIT_S = 120.0  # generous: the machine is shared and Ray starts worker processes on demand


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


class Gate:
    """A policy wrapper: the first request of rollout ``seed`` at ``turn`` (assistant turns
    already taken) waits until ``release`` is set; ``reached`` tells the test it is waiting."""

    def __init__(self, policy, seed: int, turn: int = 1):
        self.policy, self.seed, self.turn = policy, seed, turn
        self.suite = policy.suite
        self.reached, self.release = threading.Event(), threading.Event()
        self._armed = True
        self.rollout_id = ""  # of the request held
        self._lock = threading.Lock()

    def __call__(self, req):
        turns = sum(1 for m in req.messages if m.get("role") == "assistant")
        with self._lock:
            hold = self._armed and req.body.get("seed") == self.seed and turns == self.turn
            self._armed &= not hold
        if hold:
            self.rollout_id = f"{req.task.id}__s{self.seed}"
            self.reached.set()
            self.release.wait(WAIT_S)
        return self.policy(req)


def wait_for(cond, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def worker_pid(rollout_id: str) -> int | None:
    """The worker running a rollout task: Ray titles its process ``ray::<task name>``."""
    title = f"ray::rollout:{rollout_id}".encode()
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.split(b"\0")[0] == title:
            return int(pid)
    return None


def _batch(suite, provider, batch_dir, tmp_path, executor, **kw):
    kw.setdefault("rollouts", 2)
    kw.setdefault("seed", 10)
    return scripted_batch(suite, lambda t, s: provider, batch_dir, tmp_path, executor=executor, max_workers=2, **kw)


def _kinds(path: Path) -> list[str]:
    return [e.kind for e in read_trace(path).events]


def test_same_seeds_give_the_same_outcomes_under_threads_and_ray(local_ray, tiny_suite, scripted, tmp_path):
    plan = {
        ("fix_gcd", 10): "clean",
        ("fix_gcd", 11): "wrong_fix",
        ("fix_largest", 10): "summary_only",
        ("fix_largest", 11): "invalid_then_recover",
    }
    provider = openai_for(scripted(MixedPolicy(tiny_suite, plan=plan)))
    threads = _batch(tiny_suite, provider, tmp_path / "t", tmp_path, LocalExecutor(2))
    events = []
    on_ray = _batch(
        tiny_suite, provider, tmp_path / "r", tmp_path, RayExecutor(2), on_event=lambda rid, e: events.append(rid)
    )

    def outcomes(summary):
        return {
            r.rollout_id: (r.stop_reason, r.outcome.tests_passed, r.outcome.steps, r.outcome.invalid_tool_calls)
            for r in summary.results
        }

    assert outcomes(on_ray) == outcomes(threads)
    assert sum(r.outcome.tests_passed for r in on_ray.results) == 2
    assert read_batch_meta(tmp_path / "r").stop_reason == "finished"
    assert read_batch_meta(tmp_path / "r").params.executor == "ray"  # a resume runs on Ray too
    for rid in outcomes(threads):
        t, r = trace_path(tmp_path / "t", rid), trace_path(tmp_path / "r", rid)
        assert _kinds(r) == _kinds(t) and not read_trace(r).warnings
        assert read_trace(r).end.outcome.patch == read_trace(t).end.outcome.patch
    assert len(events) == sum(len(_kinds(trace_path(tmp_path / "r", rid))) for rid in outcomes(threads))


def _start_held_batch(tiny_suite, scripted, tmp_path):
    """A one-rollout-per-task Ray batch in a thread, its seed-10 rollout held at its first
    model turn: (gate, thread, done), ``done`` gets the summary when the batch returns."""
    gate = Gate(ScriptedPolicy(tiny_suite, "clean"), seed=10, turn=1)
    provider = openai_for(scripted(gate))
    done: list = []
    t = threading.Thread(
        target=lambda: done.append(_batch(tiny_suite, provider, tmp_path / "b", tmp_path, RayExecutor(2), rollouts=1))
    )
    t.start()
    return gate, t, done


def test_events_reach_the_trace_file_while_the_task_runs(local_ray, tiny_suite, scripted, tmp_path):
    gate, t, done = _start_held_batch(tiny_suite, scripted, tmp_path)
    try:
        assert gate.reached.wait(WAIT_S)

        # One rollout waits on its model mid-run: what it did so far is already on the driver's disk.
        def live() -> bool:
            for rid in ("fix_gcd__s10", "fix_largest__s10"):
                p = trace_path(tmp_path / "b", rid)
                if p.is_file() and "llm_call" in (k := _kinds(p)) and "rollout_end" not in k:
                    return True
            return False

        wait_for(live, "a running rollout's events in its trace file")
        assert not done
    finally:
        gate.release.set()
        t.join(WAIT_S)
    assert done and done[0].meta.stop_reason == "finished" and len(done[0].results) == 2


def test_a_worker_killed_mid_rollout_is_retried_and_the_batch_completes(local_ray, tiny_suite, scripted, tmp_path):
    gate, t, done = _start_held_batch(tiny_suite, scripted, tmp_path)
    try:
        assert gate.reached.wait(WAIT_S)
        victim = gate.rollout_id
        path = trace_path(tmp_path / "b", victim)
        wait_for(lambda: path.is_file() and "llm_call" in _kinds(path), "the first model call in the trace")
        pid = worker_pid(victim)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    finally:
        gate.release.set()
        t.join(WAIT_S)
    assert done and done[0].meta.stop_reason == "finished"
    assert {r.rollout_id: r.outcome.tests_passed for r in done[0].results} == {
        "fix_gcd__s10": True,
        "fix_largest__s10": True,
    }
    kinds = _kinds(trace_path(tmp_path / "b", victim))
    assert kinds.count("rollout_start") == 1 and kinds[-1] == "rollout_end"  # the retry started over
    assert read_trace(trace_path(tmp_path / "b", victim)).end.outcome.tests_passed


def test_cancel_stops_running_and_queued_ray_tasks(local_ray, tiny_suite, scripted, tmp_path):
    gate = Gate(ScriptedPolicy(tiny_suite, "never_finish"), seed=10, turn=1)  # runs on until stopped
    provider = openai_for(scripted(gate))
    cancel = threading.Event()
    done: list = []
    # 4 in flight on 2 CPUs: two run, two wait in Ray's queue.
    t = threading.Thread(
        target=lambda: done.append(
            run_batch(
                BatchSpec(
                    tiny_suite,
                    lambda task, seed: provider,
                    tmp_path / "b",
                    rollouts=3,
                    seed=10,
                    provider_name="openai",
                    model="scripted",
                    max_workers=4,
                    config=RolloutConfig(max_iters=200),
                ),
                controls=BatchControls(executor=RayExecutor(4), cancel=cancel),
            )
        )
    )
    t.start()
    try:
        assert gate.reached.wait(WAIT_S)
        cancel.set()
    finally:
        gate.release.set()
        t.join(WAIT_S)
    summary = done[0]
    assert summary.meta.stop_reason == "cancelled"
    ended = {r.rollout_id: r.stop_reason for r in summary.results}
    # The held one was running when cancelled; the queued and unsubmitted ones never started
    # (a rollout that ran all its steps before the cancel may have ended on its own).
    assert ended[gate.rollout_id] == "cancelled" and len(ended) < 6
    for rid, stop in ended.items():
        read = read_trace(trace_path(tmp_path / "b", rid))
        assert read.end is not None and read.end.stop_reason == stop and not read.warnings
    wait_for(lambda: all(worker_pid(p.rollout_id) is None for p in summary.meta.planned), "no rollout task running")


def test_test_runs_in_a_ray_worker_are_sandboxed_by_bwrap(local_ray):
    from agent.sandbox import sandbox_kind

    # A worker is a process on this machine: it probes and uses bwrap like the driver does.
    assert ray.get(ray.remote(sandbox_kind).options(num_cpus=1).remote()) == "bwrap"
