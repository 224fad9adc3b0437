"""A big rollout on the Rollout screen (Pilot, headless, 120x40): the time from opening it
to the first frame that shows it, and the memory it took.

    uv run python bench/big_rollout.py [--mb 100] [--results 30]

The rollout has ``--results`` tool results (read_file outputs of source-like lines)
totalling ``--mb`` MB of tool output, then an end. The studio opens on Runs; the bench
opens the rollout (`open_rollout`, what Enter on Runs does) and waits for the first frame
whose Rollout screen shows its header, after the screen's first visit (compose and CSS,
the same for any rollout) was paid on a one-step rollout. Median of 3 opens; RSS growth.
Target: < 200 ms at 100 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import factories
from tui.app import StudioApp
from tui.screens.rollout import RolloutScreen


class _Timed(StudioApp):
    watching = False
    shown_at: float | None = None

    def _display(self, screen, renderable) -> None:
        super()._display(screen, renderable)
        if renderable is None or not self.watching or self.shown_at is not None:
            return
        if isinstance(screen, RolloutScreen) and screen.trace is not None and screen.trace.start is not None:
            self.shown_at = time.perf_counter()


def big_output(chars: int, seed: int) -> str:
    line = f"    value_{seed} = compute(state, index) + offset  # line {{}}\n"
    out = []
    size = n = 0
    while size < chars:
        text = line.format(n)
        out.append(text)
        size += len(text)
        n += 1
    return "".join(out)


def write(root: Path, mb: float, results: int) -> str:
    each = int(mb * 1_000_000 / results)
    steps: list[factories.Step | list[factories.Call]] = [
        [factories.Call("read_file", {"rel_path": f"big_{i}.py"}, output=big_output(each, i))] for i in range(results)
    ]
    r = factories.Rollout("fix_big", 0, steps=steps, patch="")
    small = factories.Rollout("fix_small", 0, steps=[[factories.Call("read_file", {"rel_path": "a.py"})]])
    factories.write_batch(root, "big-batch", [r, small])
    return f"big-batch/{r.rollout_id}"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _open(app: _Timed, pilot, uid: str) -> float:
    app.shown_at = None
    app.watching = True
    t0 = time.perf_counter()
    app.open_rollout(uid)
    while app.shown_at is None and time.perf_counter() - t0 < 60:
        await pilot.pause(0.001)
    await pilot.pause()
    app.watching = False
    return (app.shown_at or time.perf_counter()) - t0


async def open_once(root: Path, uid: str) -> tuple[float, float, float]:
    app = _Timed(root, labeler="bench", tail_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(50):  # the studio's start-up ingest first: the open is timed alone
            busy = [w for w in app.workers if not w.is_finished]
            if not busy:
                break
            await asyncio.gather(*(w.wait() for w in busy), return_exceptions=True)
            await pilot.pause()
        # The screen's first visit (compose, CSS) costs the same for any rollout: paid on a
        # small one, then the big one is opened as from Runs or `n` on the screen.
        small = await _open(app, pilot, "big-batch/" + factories.rollout_id_for("fix_small", 0))
        before = rss_mb()
        took = await _open(app, pilot, uid)
        return took, rss_mb() - before, small


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--results", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "traces"
        t = time.perf_counter()
        uid = write(root, args.mb, args.results)
        size = sum(p.stat().st_size for p in root.rglob("*.jsonl"))
        print(
            f"a rollout with {args.results} tool results, trace {size / 1e6:.0f} MB (written in {time.perf_counter() - t:.1f} s)"
        )
        runs = [asyncio.run(open_once(root, uid)) for _ in range(3)]
        times = [r[0] for r in runs]
        flag = "ok" if statistics.median(times) < 0.200 else "OVER 200 ms"
        print(
            f"  open to first frame: median {statistics.median(times) * 1000:.0f} ms "
            f"({', '.join(f'{x * 1000:.0f}' for x in times)}) {flag}"
        )
        print(f"  RSS growth on open: {statistics.median(r[1] for r in runs):.0f} MB")
        print(
            f"  (first visit of the screen, on a one-step rollout: {statistics.median(r[2] for r in runs) * 1000:.0f} ms)"
        )


if __name__ == "__main__":
    main()
