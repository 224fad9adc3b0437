"""Big diffs: key latency and memory of the diff view on a patch at the agent's cap and on
a 20 MB imported patch (Pilot, headless, 120x40).

    uv run python bench/big_diff.py [--presses 30] [--only cap|import]

Patches: "cap" is 60,000 lines (about 2.6 MB: the agent's whole-patch cap is 2 MB of
changed files, `agent/patch_format.py`), "import" is 20 MB (an imported submission has no
cap). Both are generated: many files, hunks of 40 lines, each removed line followed by
its rewrite (so changed-word spans are computed too).

For each patch: the time to build the model (a thread worker in the studio); then per
key (down, pagedown, pageup, end, home, `]` next hunk, `}` next file, and the
split layout's pagedown) the time from the key press to the frame that shows it, p50 and
p95 over ``--presses`` presses, back to back (or ``--read 0.3`` seconds apart: a person
reading, while the view renders the next pages ahead). A frame is App._display called with the screen's update.
Memory: tracemalloc's traced size of the model plus everything rendering keeps (the
highlighted windows, the row cache) after paging through, against the patch text's size.
Targets: p95 < 50 ms per key; memory < 3x the patch text.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult

from tui.diff_model import build_diff_model
from tui.widgets.diff_view import DiffView, render_row

READ_PAUSE = 0.0  # --read: seconds between presses
KEYS = ["down", "pagedown", "pageup", "end", "home", "right_square_bracket", "right_curly_bracket"]


def big_patch(target_bytes: int, file_lines: int = 1200) -> str:
    """A patch of about ``target_bytes``: files of ``file_lines`` lines in hunks of 40."""
    out: list[str] = []
    size = 0
    f = 0
    while size < target_bytes:
        path = f"pkg/module_{f:04d}.py"
        lines = [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}"]
        old_at = 1
        for h in range(file_lines // 40):
            body: list[str] = []
            for i in range(10):
                n = h * 10 + i
                body += [
                    f" def rule_{n}(state, k):",
                    f"-    return state.value + {n} * k  # old rule {n}",
                    f"+    return state.value * {n + 1} - k  # new rule {n}",
                    "     # keep the total",
                ]
            olds = sum(1 for b in body if not b.startswith("+"))
            news = sum(1 for b in body if not b.startswith("-"))
            lines.append(f"@@ -{old_at},{olds} +{old_at},{news} @@ class Rules{h}:")
            lines += body
            old_at += olds + 20
        text = "\n".join(lines) + "\n"
        out.append(text)
        size += len(text)
        f += 1
    return "".join(out)


class _Frames(App):
    """One DiffView; records when frames are displayed."""

    def __init__(self, patch: str) -> None:
        super().__init__()
        self.patch = patch
        self.last_frame = 0.0

    def compose(self) -> ComposeResult:
        yield DiffView(id="d")

    def on_mount(self) -> None:
        self.query_one(DiffView).set_patch(self.patch)

    def _display(self, screen, renderable) -> None:
        super()._display(screen, renderable)
        if renderable is not None:
            self.last_frame = time.perf_counter()


async def _press(app: _Frames, pilot, key: str) -> float:
    if READ_PAUSE:  # a person reads the page before the next key; the view warms ahead
        await asyncio.sleep(READ_PAUSE)
        await pilot.pause()
    t0 = time.perf_counter()
    await pilot.press(key)
    deadline = t0 + 5
    while app.last_frame < t0 and time.perf_counter() < deadline:
        await pilot.pause(0.001)
    return max(0.0, app.last_frame - t0)


async def key_latency(patch: str, presses: int) -> dict[str, list[float]]:
    app = _Frames(patch)
    out: dict[str, list[float]] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(DiffView)
        t = time.perf_counter()
        while not view.ready:
            await pilot.pause(0.01)
        print(f"  model built and shown in {time.perf_counter() - t:.2f} s ({len(view.model or [])} rows)")
        view.focus()
        await pilot.pause()
        for key in KEYS:
            xs = []
            for _ in range(presses):
                if key == "end":
                    await pilot.press("home")
                elif key in ("home", "pageup"):
                    await pilot.press("end")
                await pilot.pause()
                xs.append(await _press(app, pilot, key))
            out[key] = xs
        await pilot.press("home")
        view.split = True
        await pilot.pause()
        out["split pagedown"] = [await _press(app, pilot, "pagedown") for _ in range(presses)]
        out["split end"] = []
        for _ in range(presses):
            await pilot.press("home")
            await pilot.pause()
            out["split end"].append(await _press(app, pilot, "end"))
        at_end = view.scroll_y == view.max_scroll_y and view.max_scroll_y > 0
        print(f"  End reaches the last row: {at_end} (scroll_y {view.scroll_y:.0f} of {view.max_scroll_y:.0f})")
    return out


def memory(patch: str, pages: int = 20) -> tuple[int, int]:
    """Bytes traced for the model and a paging-through's rendering, and peak."""
    from rich.console import Console

    console = Console(width=120, color_system="truecolor", legacy_windows=False)
    gc.collect()
    tracemalloc.start()
    model = build_diff_model(patch)
    for split in (False, True):
        rows = len(model.split if split else model.unified)
        for page in range(pages):
            start = (rows * page) // pages
            for index in range(start, min(rows, start + 40)):
                render_row(model, index, 0, 118, split, console)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del model
    return current, peak


def report(name: str, patch: str, presses: int) -> None:
    lines = patch.count("\n")
    print(f"{name}: {lines:,} lines, {len(patch) / 1e6:.1f} MB")
    t = time.perf_counter()
    model = build_diff_model(patch)
    print(f"  build_diff_model: {time.perf_counter() - t:.2f} s ({model.files} files, {len(model.hunk_rows)} hunks)")
    del model
    latencies = asyncio.run(key_latency(patch, presses))
    for key, xs in latencies.items():
        xs = sorted(xs)
        p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
        flag = "ok" if p95 < 0.050 else "OVER 50 ms"
        print(f"  {key:<22} p50 {statistics.median(xs) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   {flag}")
    current, peak = memory(patch)
    ratio = current / len(patch.encode())
    flag = "ok" if ratio <= 3 else "OVER 3x"
    print(
        f"  memory: {current / 1e6:.1f} MB kept ({ratio:.2f}x the patch text) {flag}; "
        f"peak while building {peak / 1e6:.1f} MB ({peak / len(patch.encode()):.2f}x)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presses", type=int, default=30)
    ap.add_argument("--only", choices=["cap", "import"])
    ap.add_argument(
        "--read", type=float, default=0.0, help="seconds between presses (a person reading); 0: back to back"
    )
    args = ap.parse_args()
    global READ_PAUSE
    READ_PAUSE = args.read
    if args.only in (None, "cap"):
        report("patch at the cap", big_patch(2_600_000), args.presses)
    if args.only in (None, "import"):
        report("20 MB imported patch", big_patch(20_000_000), args.presses)


if __name__ == "__main__":
    main()
