"""Live monitoring benchmark: trace write -> rendered step, and an idle studio's CPU.

    uv run python bench/live.py [--steps 40] [--idle 30] [--out /tmp/live-bench]

1. Latency (headless Pilot, 120x40): the Rollout screen follows a running rollout while
   this script appends one step at a time to its trace (llm_call, assistant message,
   tool_call, tool_result, tool message: flushed lines, as the engine writes them). From
   the write to the first frame that shows the new row (App._display with the calls
   table holding it). p50 / p95 over ``--steps`` steps, in the two modes: file-system
   events (tui.live_trace.TraceWatcher on watchfiles) and the polling fallback
   (REPO_AGENT_WATCH=poll, every 0.5 s, the interval the Rollout screen used to poll at).
   Goal: p50 < 100 ms with events.
2. Idle CPU: the real studio (`repo-agent studio DIR --screen runs`) in a tmux pane
   (120x40), nothing running; user+system CPU seconds of its process over ``--idle``
   seconds after it settled, read from /proc. Events mode and polling mode (and, with
   ``--before PATH``, another checkout's ``repo-agent``: the 1 s tail timer it replaced).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.widgets import DataTable

from agent.trace import (
    BatchMeta,
    MessageEvent,
    Outcome,
    PlannedRollout,
    RolloutEnd,
    RolloutStart,
    TraceWriter,
    trace_path,
    write_batch_meta,
)
from tests.factories import emit_read_step
from tui.app import Opening, StudioApp
from tui.screens.rollout import RolloutScreen

BATCH_ID = "20261201-120000-bench-live-0000"
RID = "fix_live__s0"


def make_running_batch(root: Path) -> TraceWriter:
    """A batch with one rollout that has started and is waiting for its first step."""
    shutil.rmtree(root, ignore_errors=True)
    batch = root / BATCH_ID
    write_batch_meta(
        batch,
        BatchMeta(
            id=BATCH_ID,
            suite="bench",
            provider="openai",
            model="m",
            planned=[PlannedRollout(rollout_id=RID, task_id="fix_live", seed=0)],
            started="2026-12-01T12:00:00+00:00",
        ),
    )
    w = TraceWriter(trace_path(batch, RID), RID, truncate=True)
    w.emit(RolloutStart, task_id="fix_live", suite="bench", seed=0, provider="openai", model="m", max_iters=400)
    w.emit(MessageEvent, message={"role": "system", "content": "You fix bugs."})
    return w


def write_step(w: TraceWriter, step: int) -> None:
    emit_read_step(w, step, "x = 1\n" * 100, usage=(1000 + 100 * step, 40), latency_s=0.5, duration_s=0.001)


class TimedApp(StudioApp):
    """Records the first frame at which the Rollout screen's table holds ``want`` rows
    (wall clock, and this process's CPU clock: the work, whatever else the machine runs)."""

    want = 0
    seen_at: float | None = None
    seen_cpu: float | None = None

    def _display(self, screen, renderable) -> None:
        super()._display(screen, renderable)
        if renderable is None or self.seen_at is not None or not isinstance(screen, RolloutScreen):
            return
        if screen.query_one("#calls", DataTable).row_count >= self.want:
            self.seen_at, self.seen_cpu = time.perf_counter(), time.process_time()


async def latency(root: Path, steps: int, mode: str) -> tuple[list[float], list[float]]:
    os.environ["REPO_AGENT_WATCH"] = "poll" if mode == "polling" else "events"
    w = make_running_batch(root)
    app = TimedApp(root, labeler="bench", opening=Opening(screen="rollout"), tail_interval=0.5)
    app.state.rollout_uid = f"{BATCH_ID}/{RID}"
    out: list[float] = []
    cpu: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(1.0)  # first ingest and first frames
        assert app.watcher is not None and app.watcher.mode == mode, app.watcher and app.watcher.mode
        for step in range(1, steps + 1):
            app.want, app.seen_at = step, None
            t0, c0 = time.perf_counter(), time.process_time()
            write_step(w, step)
            while app.seen_at is None:
                await asyncio.sleep(0.001)
                if time.perf_counter() - t0 > 10:
                    raise SystemExit(f"step {step} never rendered ({mode})")
            out.append(app.seen_at - t0)
            cpu.append(app.seen_cpu - c0)
            await pilot.pause(0.1 + 0.05 * (step % 3))  # the next model call takes a while
    w.close()
    os.environ.pop("REPO_AGENT_WATCH", None)
    return out, cpu


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def idle_cpu(root: Path, seconds: float, mode: str, exe: Path | None = None) -> float:
    """CPU seconds used by an idle studio (every rollout ended) in a real terminal (tmux)."""
    w = make_running_batch(root)
    write_step(w, 1)
    w.emit(RolloutEnd, outcome=Outcome(steps=1), stop_reason="finished", duration_s=1.0)
    w.close()
    session = f"live-bench-{os.getpid()}"
    exe = exe or Path(sys.executable).with_name("repo-agent")
    env = f"REPO_AGENT_WATCH={'poll' if mode == 'polling' else 'events'}"
    cmd = f"exec env {env} {exe} studio {root} --screen runs --labeler bench"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd], check=True)
    try:
        pid = int(subprocess.check_output(["tmux", "display", "-p", "-t", session, "#{pane_pid}"]).decode().strip())
        time.sleep(5.0)  # start up, first ingest, first frames
        c0 = _cpu_seconds(pid)
        time.sleep(seconds)
        return _cpu_seconds(pid) - c0
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--idle", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/live-bench"))
    ap.add_argument("--before", type=Path, help="another checkout's repo-agent executable, measured idle too")
    a = ap.parse_args()
    print("live monitoring: trace write -> rendered step (headless, 120x40)")
    for mode in ("events", "polling"):
        lat, cpu = asyncio.run(latency(a.out / mode, a.steps, mode))
        ms, cms = [x * 1000 for x in lat], [x * 1000 for x in cpu]
        print(
            f"  {mode:8s} p50 {statistics.median(ms):6.1f} ms   p95 {pct(ms, 0.95):6.1f} ms   "
            f"max {max(ms):6.1f} ms   ({len(ms)} steps; this process's CPU per step p50 "
            f"{statistics.median(cms):.1f} ms)"
        )
    if shutil.which("tmux") is None:
        print("idle CPU: skipped (no tmux)")
        return
    print(f"idle studio CPU over {a.idle:.0f} s (repo-agent studio in tmux, 120x40, Runs screen)")
    runs = [("events", "events", None), ("polling", "polling", None)]
    if a.before:
        runs.append(("before", "events", a.before))
    for label, mode, exe in runs:
        spent = idle_cpu(a.out / f"idle-{label}", a.idle, mode, exe)
        print(f"  {label:8s} {spent:.2f} CPU s = {100 * spent / a.idle:.2f}% of one core")
    print(f"  (load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
