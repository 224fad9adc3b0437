"""Layouts at 80x24 and 120x40: what a narrow column keeps (one app each, resized)."""

from __future__ import annotations

from tests.tui.conftest import settle

SIZES = [(80, 24), (120, 40)]


async def test_rollout_arguments_show_their_values_not_the_same_key(traces, make_app):
    app = make_app(traces)
    async with app.run_test(size=SIZES[0]) as pilot:
        await settle(pilot)
        uid = next(r.uid for r in app.store.rollouts() if r.tool_calls >= 3)
        app.open_rollout(uid)
        await settle(pilot)
        for size in SIZES:
            await pilot.resize_terminal(*size)
            await settle(pilot)
            table = app.screen.query_one("#calls")
            args = [str(table.get_cell_at((row, 2))) for row in range(table.row_count - 1)]
            shown = [table.render_line(y + 1).text for y in range(table.row_count - 1)]
            assert [a for a in args if a.endswith(".py")] and not any(a.startswith("rel_path") for a in args)
            # However narrow the column, the file's name is what it starts with.
            assert any("bitcount" in line for line in shown) and not any("rel_path" in line for line in shown)


async def test_stats_tables_keep_their_headers_whole(sample_copy, make_app):
    app = make_app(sample_copy, start="stats")
    async with app.run_test(size=SIZES[0]) as pilot:
        for size in SIZES:
            await pilot.resize_terminal(*size)
            await settle(pilot)
            body = app.screen.query_one("#stats-body")
            lines = [body.render_line(y).text for y in range(body.size.height)]
            header = next(line for line in lines if "confirm" in line and "discard" in line)
            assert header.split()[-4:] == ["labeled", "confirm", "flip", "discard"], size
            assert not any("…" in line for line in lines if "Human vs auto" in line or "discard" in line)
            assert any("identical_patch" in line for line in lines) and any("efficiency  " in line for line in lines)
            if size[0] >= 120:  # the three small tables side by side, none squeezed
                assert any("Pairs built by kind" in line and "Human vs auto" in line for line in lines)
