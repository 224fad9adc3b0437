"""The launch form offers the executor (threads or Ray tasks) and a Ray address, as the
command line's `--executor` / `--ray-address` do."""

from __future__ import annotations

from tests.tui.conftest import open_launch_form


async def test_the_form_carries_the_executor_into_the_request(traces, make_app):
    app = make_app(traces, start="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        modal = await open_launch_form(pilot, provider="openai", model="m", executor="ray", ray_address="auto")
        request = modal._request()
        assert (request.executor, request.ray_address) == ("ray", "auto")
        modal.query_one("#f-executor").value = "thread"
        await pilot.press("ctrl+s")
        assert app.screen is modal  # an address without Ray is refused, with the reason shown
        assert "--ray-address needs --executor ray" in str(modal.query_one("#launch-error").render())
        await pilot.press("escape")
