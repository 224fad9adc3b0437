"""Snapshots of every screen on the fixed test batch (120x40, and Pairs at 80x24).

Deterministic: fixed traces and timestamps, labeler "tester", no clocks or tmp paths on
screen (the Export form's output path is set to a relative one), cursor blink off.
Update with `uv run pytest tests/tui/test_snapshots.py --snapshot-update` and look at
the SVGs before committing them.
"""

from __future__ import annotations

import sys

import pytest
from textual.widgets import Input

from tests.tui.conftest import settle

# Rendering details (Pygments tokens, Rich wrapping) drift across versions: pin to one.
pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="snapshots are pinned to Python 3.11")


def _app(make_app, traces, **kw):
    return make_app(traces, **kw)


async def _ready(pilot) -> None:
    await settle(pilot)
    for inp in pilot.app.screen.query(Input):
        inp.cursor_blink = False


def test_pairs(snap_compare, make_app, traces):
    assert snap_compare(_app(make_app, traces), terminal_size=(120, 40), run_before=_ready)


def test_pairs_split_after_a_verdict(snap_compare, make_app, traces):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("c", "p", "v")
        await settle(pilot)

    assert snap_compare(_app(make_app, traces), terminal_size=(120, 40), run_before=before)


def test_pairs_small_terminal(snap_compare, make_app, traces):
    assert snap_compare(_app(make_app, traces), terminal_size=(80, 24), run_before=_ready)


def test_rollout(snap_compare, make_app, traces):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("2", "home", "down")
        await settle(pilot)

    assert snap_compare(_app(make_app, traces), terminal_size=(120, 40), run_before=before)


def test_rollout_end_with_patch(snap_compare, make_app, traces):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("1", "e")
        await settle(pilot)

    assert snap_compare(_app(make_app, traces), terminal_size=(120, 40), run_before=before)


def test_steps_with_reason_picker(snap_compare, make_app, traces):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("2", "enter", "x")
        await settle(pilot)

    assert snap_compare(_app(make_app, traces), terminal_size=(120, 40), run_before=before)


async def _runs_ready(pilot) -> None:
    # Re-read once everything settled: a DataTable filled while the first ingest lands
    # can keep a stale header width under heavy load (seen only with parallel runs).
    await settle(pilot)
    pilot.app.screen.refresh_data()
    await _ready(pilot)


def test_runs(snap_compare, make_app, traces):
    assert snap_compare(_app(make_app, traces, start="runs"), terminal_size=(120, 40), run_before=_runs_ready)


def test_launch_form(snap_compare, make_app, traces):
    async def before(pilot):
        await _runs_ready(pilot)
        await pilot.press("l")
        await _ready(pilot)

    assert snap_compare(_app(make_app, traces, start="runs"), terminal_size=(120, 40), run_before=before)


def test_stats(snap_compare, make_app, traces):
    assert snap_compare(_app(make_app, traces, start="stats"), terminal_size=(120, 40), run_before=_ready)


def test_export(snap_compare, make_app, traces):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("c", "f", "f6")
        await settle(pilot)
        pilot.app.screen.query_one("#x-out").value = "exports/dpo.jsonl"
        await pilot.press("ctrl+r")
        await _ready(pilot)

    assert snap_compare(_app(make_app, traces), terminal_size=(120, 40), run_before=before)


def test_help(snap_compare, make_app, traces):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(_app(make_app, traces), terminal_size=(120, 40), run_before=before)
