"""Snapshots of every screen on the fixed test batch, at 80x24, 120x40 and 200x50.

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


def _after(*keys: str):
    """A run_before that settles, presses ``keys`` and settles again."""

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return before


# Layouts are designed for 80x24 first; every screen is kept at three sizes.
SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)], ids=["80x24", "120x40", "200x50"])


@SIZES
@pytest.mark.parametrize("view", ["unified", "split", "ab"])
def test_pairs(snap_compare, make_app, traces, view, size):
    async def before(pilot):
        await settle(pilot)
        for _ in range(["unified", "split", "ab"].index(view)):
            await pilot.press("v")
        await _ready(pilot)

    assert snap_compare(_app(make_app, traces), terminal_size=size, run_before=before)


def test_pairs_split_after_a_verdict(snap_compare, make_app, traces):
    assert snap_compare(_app(make_app, traces), terminal_size=(120, 40), run_before=_after("c", "p", "v"))


@SIZES
def test_rollout(snap_compare, make_app, traces, size):
    assert snap_compare(_app(make_app, traces), terminal_size=size, run_before=_after("2", "home", "down"))


def test_rollout_end_with_patch(snap_compare, make_app, traces):
    assert snap_compare(_app(make_app, traces), terminal_size=(120, 40), run_before=_after("1", "e"))


@SIZES
def test_steps(snap_compare, make_app, traces, size):
    assert snap_compare(_app(make_app, traces), terminal_size=size, run_before=_after("2", "enter"))


def test_steps_with_reason_picker(snap_compare, make_app, traces):
    assert snap_compare(_app(make_app, traces), terminal_size=(120, 40), run_before=_after("2", "enter", "x"))


async def _runs_ready(pilot) -> None:
    # Re-read once everything settled: a DataTable filled while the first ingest lands
    # can keep a stale header width under heavy load (seen only with parallel runs).
    await settle(pilot)
    pilot.app.screen.refresh_data()
    await _ready(pilot)


@SIZES
def test_runs(snap_compare, make_app, traces, size):
    assert snap_compare(_app(make_app, traces, start="runs"), terminal_size=size, run_before=_runs_ready)


def test_launch_form(snap_compare, make_app, traces):
    async def before(pilot):
        await _runs_ready(pilot)
        await pilot.press("l")
        await _ready(pilot)

    assert snap_compare(_app(make_app, traces, start="runs"), terminal_size=(120, 40), run_before=before)


@SIZES
def test_stats(snap_compare, make_app, traces, size):
    assert snap_compare(_app(make_app, traces, start="stats"), terminal_size=size, run_before=_ready)


@SIZES
def test_export(snap_compare, make_app, traces, size):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("c", "f", "f6")
        await settle(pilot)
        pilot.app.screen.query_one("#x-out").value = "exports/dpo.jsonl"
        await pilot.press("ctrl+r")
        await _ready(pilot)

    assert snap_compare(_app(make_app, traces), terminal_size=size, run_before=before)


def test_help(snap_compare, make_app, traces):
    assert snap_compare(_app(make_app, traces), terminal_size=(120, 40), run_before=_after("question_mark"))
