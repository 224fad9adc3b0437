"""Stats > Models: two models compared in the studio; a flipped task opens its rollouts."""

from __future__ import annotations

import sys

import pytest

from tests.tui.conftest import settle
from tests.tui.model_fixtures import FT_BATCH_ID, FT_MODEL, make_two_models
from tui.screens.rollout import RolloutScreen
from tui.widgets.models_view import ModelsView


async def open_models_view(pilot) -> ModelsView:
    """Stats, then `m`: the Models view, settled."""
    await settle(pilot)
    pilot.app.action_goto("stats")
    await settle(pilot)
    await pilot.press("m")
    await settle(pilot)
    return pilot.app.screen.query_one(ModelsView)


@pytest.fixture
def two_models(tmp_path):
    return make_two_models(tmp_path / "traces")


async def test_models_view_shows_the_difference_and_opens_a_flipped_task(two_models, make_app):
    app = make_app(two_models)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_models_view(pilot)
        c = view.sc.comparison
        assert (c.a.model, c.b.model) == ("test-model", FT_MODEL)
        assert c.flipped_up == ["fix_flatten"] and c.flipped_down == ["fix_gcd"]
        assert c.difference.estimate == pytest.approx((2 / 3 - 1 / 3 + 0) / 3)
        await pilot.press("enter")  # the first row: the task B fixed
        await settle(pilot)
        assert isinstance(app.screen, RolloutScreen)
        assert app.state.rollout_uid == f"{FT_BATCH_ID}/fix_flatten__s0"


async def test_models_view_says_what_to_run_with_one_model(traces, make_app):
    app = make_app(traces)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_models_view(pilot)
        assert view.display and view.sc is None
        await pilot.press("m")  # back to the signal report
        await settle(pilot)
        assert not view.display


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="snapshots are pinned to Python 3.11")
def test_models_view_snapshot(snap_compare, make_app, two_models):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)

    assert snap_compare(make_app(two_models, start="stats"), terminal_size=(120, 40), run_before=before)
