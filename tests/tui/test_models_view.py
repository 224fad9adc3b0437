"""Stats > Models: two models compared in the studio; a flipped task opens its rollouts."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console
from textual.widgets import Static

from labeling.records import JobRow
from labeling.store import LabelStore
from tests.tui.conftest import settle, wait_until
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


def record_jobs(traces) -> None:
    """Two fine-tuning jobs in the store, as `repo-agent finetune` records them."""
    with LabelStore(traces / "labels.sqlite") as store:
        for job_id, status, output in (("ft-0001", "completed", FT_MODEL), ("ft-0002", "running", None)):
            store.record_job(
                JobRow(
                    job_id=job_id,
                    created_at=f"2026-12-06T08:0{job_id[-1]}:00+00:00",
                    status=status,
                    base_model="test-model",
                    method="dpo",
                    output_model=output,
                    estimate={"price_usd": 4.2},
                    verdicts={"examples": 12},
                )
            )


def shown_jobs(view: ModelsView) -> list[str]:
    box = view.query_one("#models-jobs", Static)
    assert box.display
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(box.content)
    text = console.export_text()
    assert "Fine-tuning jobs (2)" in text
    return [line for line in text.splitlines() if line.startswith("ft-")]


async def test_models_view_shows_the_difference_and_opens_a_flipped_task(two_models, make_app):
    record_jobs(two_models)  # and lists the fine-tuning jobs below the comparison
    app = make_app(two_models)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_models_view(pilot)
        newest, oldest = shown_jobs(view)
        assert newest.startswith("ft-0002") and "running" in newest and "12" in newest
        assert oldest.startswith("ft-0001") and "completed" in oldest and FT_MODEL in oldest and "$4.20" in oldest
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


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_models_view_charts_both_rates_with_intervals(two_models, make_app, size):
    app = make_app(two_models)
    async with app.run_test(size=size) as pilot:
        view = await open_models_view(pilot)
        console = Console(width=size[0], record=True, file=io.StringIO())
        console.print(view.query_one("#models-head", Static).content)
        lines = console.export_text().splitlines()
        a, b = (next(line for line in lines if line.startswith(tag)) for tag in ("A test-model ", "B acct/"))
        assert a.rstrip().endswith("44% (19%-73%)  4/9") and b.rstrip().endswith("56% (27%-81%)  5/9")
        assert "▓" in a and "─" in b and a.count("█") < b.count("█")  # the interval beside each bar
        assert max(len(line) for line in (a, b)) <= size[0] - 2  # drawn within the view
        await pilot.resize_terminal(size[0] + 40, size[1])  # drawn again for the new width
        await wait_until(pilot, lambda: view.size.width == size[0] + 40)
        await settle(pilot)
        console = Console(width=size[0] + 40, record=True, file=io.StringIO())
        console.print(view.query_one("#models-head", Static).content)
        wider = next(line for line in console.export_text().splitlines() if line.startswith("A test-model "))
        assert len(wider.rstrip()) > len(a.rstrip()) + 30
