"""Studio benchmark (Pilot, headless): first screen, and next-pair latency on long diffs.

    uv run python bench/studio.py [--large 10000] [--small 100] [--out /tmp/studio-bench]

1. First screen: a store of 100 and one of 10,000 rollouts (bench/gen_traces.py, ingested
   once beforehand). From constructing the app to the first frame of the Pairs screen,
   and to the first frame showing a pair; median of 3 runs each, and the large/small ratio.
   The studio re-ingests (stat only) in the background meanwhile, as it does for a user.
2. Next pair: a store of 40 pairs whose patches are 2,000 lines each. `n` pressed after
   the previous pair settled (the next pair is prefetched, as it is while a person reads);
   keypress to the first frame that shows the new pair with both diffs ready. p50/p95.

3. Large queue: stores of ~500 and >= 50,000 pairs (pass-fail over 400 and 5,000
   generated rollouts). First frame with a pair on the large one; next pair after a
   verdict key (`c`: commit, advance, render) p50/p95; and the store's queue counts and
   queue position (the calls the Pairs screen makes per key) at both sizes, with ratios.

A "frame" is App._display being called with the screen's update (headless: the same
call, minus the terminal write). Targets: first screen < 1 s with the two
sizes within 1.5x; next pair p50 < 16 ms, p95 < 50 ms; at 50,000 pairs the same next-pair
targets, first pair < 1 s, counts and position within 2x of 500 pairs.

    uv run python bench/studio.py --only-queue   # just the large-queue case
    uv run python bench/studio.py --only-queue --overlap 2   # team review: the bench labeler's queue with K = 2

With ``--overlap K`` (K > 1) two other labelers have voted first (`seed_votes`: one vote on
a pair in three of the first 6,000 in queue order, two on one in six, so some pairs want
the bench labeler's verdict and some have K already), and the queue timed is the bench
labeler's (labeling/team.py).

    uv run python bench/studio.py --only-queue --pg auto   # the same on PostgreSQL (a private server)
    uv run python bench/studio.py --only-queue --pg postgresql://me@dbhost/postgres   # or a server of yours

With ``--pg`` the queue stores are copied (`repo-agent db copy`) into databases
``bench_q<rollouts>`` on that server, and the studio and store calls use them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.trace import (
    BatchMeta,
    FinalEvent,
    Outcome,
    PlannedRollout,
    RolloutEnd,
    RolloutStart,
    TraceWriter,
    trace_path,
    write_batch_meta,
)
from labeling.store import LabelStore
from tui.app import StudioApp
from tui.screens.pairs import PairsScreen
from tui.widgets.diff_view import DiffView


class TimedApp(StudioApp):
    """Records when frames are displayed, and what they showed."""

    def __init__(self, *a, **kw):
        self.t_start = time.perf_counter()
        super().__init__(*a, **kw)
        self.first_frame: float | None = None
        self.first_pair: float | None = None
        self.watch_for: str | None = None  # a pair id whose first complete frame we want
        self.seen_at: float | None = None

    def _display(self, screen, renderable) -> None:
        super()._display(screen, renderable)
        if renderable is None:
            return
        now = time.perf_counter()
        if isinstance(screen, PairsScreen):
            if self.first_frame is None:
                self.first_frame = now
            if self.first_pair is None and screen.pair is not None:
                self.first_pair = now
            if (
                self.watch_for
                and self.seen_at is None
                and screen.pair is not None
                and screen.pair.pair_id == self.watch_for
                and all(v.ready for v in screen.query(DiffView))
            ):
                self.seen_at = now


# --------------------------------------------------------------------------- data


def big_patch(path: str, lines: int, variant: int) -> str:
    body = []
    n = lines // 4
    for i in range(n):
        body.append(f" def step_{i}(state, k):")
        body.append(f"-    return state.value + {i} * k  # old rule {i}")
        body.append(f"+    return state.value * {i + variant} - k  # new rule {i}")
        body.append(" ")
    head = [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}", f"@@ -1,{3 * n} +1,{3 * n} @@"]
    return "\n".join(head + body) + "\n"


def make_long_diff_store(root: Path, pairs: int, lines: int) -> Path:
    batch_id = "20261122-090000-bench-longdiff-0000"
    bdir = root / batch_id
    if (bdir / "batch.json").is_file():
        return root
    planned = []
    for t in range(pairs):
        for s in range(2):
            task = f"task_{t:03d}"
            rid = f"{task}__s{s}"
            planned.append(PlannedRollout(rollout_id=rid, task_id=task, seed=s))
            with TraceWriter(trace_path(bdir, rid), rid, truncate=True) as w:
                w.emit(
                    RolloutStart,
                    task_id=task,
                    suite="bench",
                    seed=s,
                    provider="openai",
                    model="m",
                    max_iters=30,
                    batch_id=batch_id,
                )
                w.emit(FinalEvent, summary=f"Rewrote the rules of {task} (variant {s}).")
                w.emit(
                    RolloutEnd,
                    stop_reason="finished",
                    duration_s=10.0,
                    outcome=Outcome(
                        tests_passed=s == 0,
                        steps=10 + s,
                        tool_calls=12 + s,
                        files_touched=1,
                        files=[f"{task}.py"],
                        patch=big_patch(f"{task}.py", lines, s),
                        tokens_in=10000,
                        tokens_out=800,
                    ),
                )
    write_batch_meta(
        bdir,
        BatchMeta(
            id=batch_id,
            suite="bench",
            provider="openai",
            model="m",
            planned=planned,
            started="2026-11-22T09:00:00+00:00",
            finished="2026-11-22T09:10:00+00:00",
            stop_reason="finished",
        ),
    )
    return root


def ensure_store(root: Path, rollouts: int) -> Path:
    from bench.gen_traces import generate

    marker = root / f".generated-{rollouts}"
    if not marker.is_file():
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        t = time.perf_counter()
        generate(root, rollouts)
        print(f"  generated {rollouts} rollouts in {time.perf_counter() - t:.1f} s")
        marker.write_text("ok")
    return root


def ingest(root: Path) -> None:
    t = time.perf_counter()
    with LabelStore(LabelStore.default_path(root), labeler="bench") as store:
        rep = store.ingest([root])
        n = len(store.pairs())
    print(
        f"  store ready: {root.name}: {rep.files_seen} traces, {n} pairs in the queue "
        f"(ingest {time.perf_counter() - t:.1f} s, read {rep.files_read} files)"
    )


# --------------------------------------------------------------------------- runs


def open_store(root: Path, db: str | None = None, labeler: str = "bench") -> LabelStore:
    """The generated store: its SQLite file, or with ``db`` its PostgreSQL copy."""
    if db is None:
        return LabelStore(LabelStore.default_path(root), labeler=labeler)
    return LabelStore(db, labeler=labeler, base=root)


async def first_screen(root: Path, overlap: int | None = None, db: str | None = None) -> tuple[float, float]:
    app = TimedApp(root, labeler="bench", tail_interval=None, overlap=overlap, db_path=db)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.first_pair is None:
            await pilot.pause(0.005)
        t0 = app.t_start
        frame, pair = app.first_frame - t0, app.first_pair - t0
        # Let the background ingest finish before closing, so runs don't overlap.
        for w in list(app.workers):
            try:
                await w.wait()
            except Exception:
                pass
    return frame, pair


async def _press_to_next_pair(
    root: Path, presses: int, key: str, *, undo: bool = False, overlap: int | None = None, db: str | None = None
) -> list[float]:
    """Keypress ``key`` to the first frame showing the next pair with both diffs ready."""
    app = TimedApp(root, labeler="bench", tail_interval=None, overlap=overlap, db_path=db)
    out: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, PairsScreen)
        while screen.pair is None or not all(v.ready for v in screen.query(DiffView)):
            await pilot.pause(0.01)
        for _ in range(presses):
            # Wait for the prefetch of the next pair (a person reads the current one meanwhile).
            for w in list(app.workers):
                try:
                    await w.wait()
                except Exception:
                    pass
            await pilot.pause()
            if screen.index + 1 >= len(screen.queue):
                break
            app.watch_for = screen.queue[screen.index + 1]
            app.seen_at = None
            t0 = time.perf_counter()
            await pilot.press(key)
            while app.seen_at is None:
                await pilot.pause(0.001)
            out.append(app.seen_at - t0)
        if undo:  # leave the store as found: the verdicts are undone (the log keeps both)
            for _ in out:
                app.store.undo()
    return out


async def next_pair(root: Path, presses: int) -> list[float]:
    return await _press_to_next_pair(root, presses, "n")


async def next_after_verdict(
    root: Path, presses: int, overlap: int | None = None, db: str | None = None
) -> list[float]:
    """Keypress `c` (confirm) to the next pair, ready."""
    return await _press_to_next_pair(root, presses, "c", undo=True, overlap=overlap, db=db)


def ensure_queue_store(root: Path, rollouts: int) -> int:
    """A generated store with its pairs built by pass-fail; returns the pair count."""
    ensure_store(root, rollouts)
    with LabelStore(LabelStore.default_path(root), labeler="bench") as store:
        store.ingest([root], rebuild=False)
        if store.settings().get("strategy") != "pass-fail":
            t = time.perf_counter()
            store.rebuild_pairs(strategy="pass-fail")
            print(f"  built pass-fail pairs for {root.name} in {time.perf_counter() - t:.1f} s")
        return store.counts().total


def seed_votes(root: Path, head: int = 6000) -> None:
    """Team votes by two other labelers on the head of the queue (kept: done once a store)."""
    with open_store(root, labeler="peer1") as p1, open_store(root, labeler="peer2") as p2:
        if p1.events(labeler="peer1"):
            return
        t = time.perf_counter()
        ids = [p.pair_id for p in p1.queue_page(None, None, head)]
        for i, pid in enumerate(ids):
            if i % 3 == 0:
                p1.set_verdict(pid, "confirm")
            if i % 6 == 0:
                p2.set_verdict(pid, "flip" if i % 12 else "confirm")
        print(f"  seeded team votes on {len(ids)} pairs of {root.name} in {time.perf_counter() - t:.1f} s")


def store_calls(root: Path, reps: int = 300, overlap: int | None = None, db: str | None = None) -> dict[str, float]:
    """Median seconds of the per-key store calls: counts (whole queue and the screen's
    filter) and the queue position of a pair near the head (where a reviewer is)."""
    from labeling.records import PairFilter

    out = {}
    with open_store(root, db) as store:
        f = store.team_filter(PairFilter(verdict="unlabeled"), overlap)
        pair = store.queue_page(f, None, 20)[10]
        for name, fn in (
            ("counts", lambda: store.counts()),
            ("counts (filter)", lambda: store.counts(f)),
            ("position", lambda: store.queue_position(pair, f)),
            ("next page", lambda: store.queue_page(f, pair, 100)),
        ):
            xs = []
            for _ in range(reps):
                t = time.perf_counter()
                fn()
                xs.append(time.perf_counter() - t)
            out[name] = statistics.median(xs)
    return out


def on_postgres(server: str, root: Path, rollouts: int) -> str:
    """The SQLite queue store copied into a fresh database ``bench_q<rollouts>``."""
    from bench.pg_server import database_url
    from labeling.store_copy import copy_store

    url = database_url(server, f"bench_q{rollouts}", fresh=True)
    t = time.perf_counter()
    copied = copy_store(LabelStore.default_path(root), url)
    print(f"  copied {root.name} to PostgreSQL: {copied['pairs']} pairs in {time.perf_counter() - t:.1f} s")
    return url


def large_queue(args) -> None:
    if args.pg == "auto":
        from bench.pg_server import private_server

        with private_server() as server:
            large_queue_on(args, server)
    else:
        large_queue_on(args, args.pg)


def large_queue_on(args, server: str | None) -> None:
    k = args.overlap
    print(f"\nlarge queue (pass-fail pairs) on {'PostgreSQL' if server else 'SQLite'}, overlap {k or 1}")
    small = args.out / f"q{args.queue_small}"
    large = args.out / f"q{args.queue_large}"
    n_small = ensure_queue_store(small, args.queue_small)
    n_large = ensure_queue_store(large, args.queue_large)
    print(f"  stores: {n_small} pairs ({args.queue_small} rollouts), {n_large} pairs ({args.queue_large} rollouts)")
    if k and k > 1:
        for root in (small, large):
            seed_votes(root)
    db_small = on_postgres(server, small, args.queue_small) if server else None
    db_large = on_postgres(server, large, args.queue_large) if server else None
    runs = [asyncio.run(first_screen(large, k, db_large)) for _ in range(args.runs)]
    print(f"  {n_large} pairs: first frame with a pair {statistics.median(r[1] for r in runs) * 1000:.1f} ms (< 1 s)")
    for n, root, db in ((n_small, small, db_small), (n_large, large, db_large)):
        lat = asyncio.run(next_after_verdict(root, args.verdicts, k, db))
        print(
            f"  {n} pairs: next pair after a verdict key ({len(lat)} presses): "
            f"p50 {pct(lat, 0.5) * 1000:.1f} ms   p95 {pct(lat, 0.95) * 1000:.1f} ms   max {max(lat) * 1000:.1f} ms"
            "   (p50 < 16 ms, p95 < 50 ms)"
        )
    a, b = store_calls(small, overlap=k, db=db_small), store_calls(large, overlap=k, db=db_large)
    print(f"  {'store call (median)':<20}{n_small:>10} pairs{n_large:>10} pairs   ratio (< 2x)")
    for name in a:
        print(f"  {name:<20}{a[name] * 1e6:>13.0f} µs{b[name] * 1e6:>13.0f} µs   {b[name] / a[name]:.2f}x")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=100)
    ap.add_argument("--large", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/studio-bench"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--queue-small", type=int, default=400, help="rollouts of the ~500-pair store")
    ap.add_argument("--queue-large", type=int, default=5000, help="rollouts of the >= 50,000-pair store")
    ap.add_argument("--verdicts", type=int, default=200, help="verdict keys timed on the large queue")
    ap.add_argument("--only-queue", action="store_true", help="run only the large-queue case")
    ap.add_argument("--overlap", type=int, default=None, help="team review: verdicts per pair in the timed queue")
    ap.add_argument(
        "--pg", metavar="URL|auto", help="large queue on PostgreSQL: a server URL, or auto (a private server)"
    )
    args = ap.parse_args()
    if args.only_queue:
        large_queue(args)
        return

    print("preparing stores…")
    small = ensure_store(args.out / f"r{args.small}", args.small)
    large = ensure_store(args.out / f"r{args.large}", args.large)
    longdiff = make_long_diff_store(args.out / "longdiff", args.pairs, args.lines)
    for root in (small, large, longdiff):
        ingest(root)

    print("\nfirst screen (construct app -> first Pairs frame / first frame with a pair), median of", args.runs)
    med = {}
    for name, root in (("small", small), ("large", large)):
        runs = [asyncio.run(first_screen(root)) for _ in range(args.runs)]
        frame = statistics.median(r[0] for r in runs)
        pair = statistics.median(r[1] for r in runs)
        med[name] = (frame, pair)
        n = args.small if name == "small" else args.large
        print(f"  {n:>6} rollouts: first frame {frame * 1000:7.1f} ms   first pair {pair * 1000:7.1f} ms")
    print(
        f"  ratio large/small: first frame {med['large'][0] / med['small'][0]:.2f}x   "
        f"first pair {med['large'][1] / med['small'][1]:.2f}x   (target < 1 s, within 1.5x)"
    )

    lat = asyncio.run(next_pair(longdiff, args.pairs - 1))
    print(
        f"\nnext pair with {args.lines}-line patches ({len(lat)} presses): "
        f"p50 {pct(lat, 0.5) * 1000:.1f} ms   p95 {pct(lat, 0.95) * 1000:.1f} ms   "
        f"max {max(lat) * 1000:.1f} ms   (targets p50 < 16 ms, p95 < 50 ms)"
    )
    large_queue(args)


if __name__ == "__main__":
    main()
