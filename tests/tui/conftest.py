"""Studio test fixtures: a fresh copy of traces per test, an app factory, a worker waiter."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.tui.trace_fixtures import make_batch
from tui.app import Opening, StudioApp

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def traces(tmp_path: Path) -> Path:
    """The fixed test batch (deterministic: snapshots use it)."""
    root = tmp_path / "traces"
    make_batch(root)
    return root


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A copy of the shipped sample_traces/ when it has batches, else the fixed test batch."""
    src = REPO / "sample_traces"
    dst = tmp_path / "sample"
    if src.is_dir() and any(p.is_dir() for p in src.iterdir()):
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("labels.sqlite*"))
    else:
        make_batch(dst)
    return dst


@pytest.fixture
def make_app() -> Callable[..., StudioApp]:
    def make(traces_dir: Path, **kw) -> StudioApp:
        kw.setdefault("labeler", "tester")
        kw.setdefault("tail_interval", None)  # tests drive ingest explicitly; no timer
        where = {"screen": kw.pop("start", "pairs"), "rollout": kw.pop("rollout", None), "pair": kw.pop("pair", None)}
        app = StudioApp(traces_dir, opening=Opening(**where), **kw)
        # A toast leaves app._notifications 5 s (wall clock) after it was raised: a test that
        # read one after a slow settle on a loaded machine found it gone. Here toasts stay up.
        app.NOTIFICATION_TIMEOUT = 3600
        return app

    return make


async def settle(pilot, rounds: int = 50) -> None:
    """Wait for every worker (cancelled ones included), the messages they post (an
    ingest pass counts until its StoreChanged is handled) and DataTable sizing."""
    from textual.widgets import DataTable

    app = pilot.app
    for _ in range(rounds):
        busy = [w for w in app.workers if not w.is_finished]
        if busy:
            await asyncio.gather(*(w.wait() for w in busy), return_exceptions=True)
        await pilot.pause()
        tables = app.screen.query(DataTable) if app.screen_stack else []
        if (
            not any(not w.is_finished for w in app.workers)
            and not getattr(app, "ingesting", False)
            and all(table_laid_out(t) for t in tables)
        ):
            break
    await pilot.pause()


def table_laid_out(table) -> bool:
    """A DataTable sizes itself on idle after its rows change; until then its virtual
    size does not cover the header plus every row (public attributes only)."""
    header = table.header_height if table.show_header else 0
    return table.virtual_size.height == header + sum(row.height for row in table.rows.values())


async def open_launch_form(pilot, **fields: str):
    """Settle, open the launch form on Runs (`l`) and set its fields in order, by id
    without the ``f-`` prefix (``base_url`` -> ``#f-base-url``)."""
    from tui.screens.launch import LaunchModal

    await settle(pilot)
    await pilot.press("l")
    modal = pilot.app.screen
    assert isinstance(modal, LaunchModal)
    for name, value in fields.items():
        modal.query_one("#f-" + name.replace("_", "-")).value = value
    return modal


async def launch_scripted(pilot, suite_path, server, **fields: str) -> None:
    """Launch from the form against a scripted model server (provider openai, model
    "scripted"); ``fields`` set the rest of the form as in `open_launch_form`."""
    await open_launch_form(
        pilot, suite=str(suite_path), model="scripted", base_url=server.base_url, **fields, provider="openai"
    )
    await pilot.press("ctrl+s")


async def first_rollout_batch(pilot) -> str:
    """Wait until the launched batch's first rollout is running: the batch's id."""
    app = pilot.app
    await wait_until(pilot, lambda: app.state.rollout_uid is not None)
    return app.state.rollout_uid.split("/")[0]


async def wait_until(pilot, cond: Callable[[], bool], timeout: float = 60.0) -> None:
    """For what has no awaitable (another thread's file writes): re-check between pauses.
    The limit only ends a lost test: a condition that waits on rollouts (workspaces, sandboxed
    runs) can take over 20 s on a loaded machine."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def gated_server(suite_path, scenario: str = "clean", hold_at: int = 2):
    """A scripted model that plays ``scenario`` but holds every rollout at step ``hold_at``
    until ``gate`` is set, so a test can act while rollouts are running: (server, gate)."""
    import threading

    from agent.suites.loading import load_suite
    from tests.doubles.scripted_llm import ScriptedLLM, ScriptedPolicy

    suite = load_suite(str(suite_path))
    inner = ScriptedPolicy(suite, scenario)
    gate = threading.Event()

    def policy(req):
        if req.step >= hold_at:
            # Every test sets the gate (in a finally too): the limit only guards a lost test. At
            # 30 s a loaded machine let rollouts go on before the test acted on them running.
            gate.wait(600)
        return inner(req)

    return ScriptedLLM(policy, suite=suite).start(), gate


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download is not reachable
    here), for a module's browser tests; per module, so Playwright's own event loop never
    outlives them into the Pilot tests. Without chromium these tests fail, never skip."""
    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's chromium (apt-get install chromium; see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-webgl"])
        yield b
        b.close()
