"""Regenerate docs/pairs.svg: the Pairs screen on a copy of sample_traces/ (120x40).

uv run python docs/screenshot.py
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui.app import StudioApp  # noqa: E402


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        traces = Path(tmp) / "sample_traces"
        shutil.copytree(
            ROOT / "sample_traces", traces, ignore=shutil.ignore_patterns("labels.sqlite*", "studio-prefs.json")
        )
        app = StudioApp(traces, labeler="you", tail_interval=None)
        async with app.run_test(size=(120, 40)) as pilot:
            while app.screen.pair is None:
                await pilot.pause(0.05)
            for w in list(app.workers):
                try:
                    await w.wait()
                except Exception:
                    pass
            await pilot.pause(0.2)
            app.save_screenshot(filename="pairs.svg", path=str(ROOT / "docs"))
    print("wrote docs/pairs.svg")


if __name__ == "__main__":
    asyncio.run(main())
