"""Stats drawn as bar charts in the terminal (`c`), from the same data as `stats --plot`."""

from __future__ import annotations

import pytest

from tests.tui.conftest import settle, wait_until
from tui.charts import Bar, BarChart, chart_text


def test_a_rate_chart_draws_bars_against_the_band_and_neutralises_labels():
    chart = BarChart(
        "Pass rate",
        (Bar("task_a", 1.0, note="4/4"), Bar("[red]x\x1b[2J", 0.0, note="0/4")),
        unit="rate",
        band=(0.2, 0.6),
    )
    text = chart_text(chart, width=60)
    rows = text.plain.split("\n")
    assert rows[0] == "Pass rate" and len(rows) == 3
    assert rows[1].startswith("task_a") and "░" not in rows[1] and rows[1].endswith("100%  4/4")
    empty = rows[2]
    assert "█" not in empty and "░" in empty and empty.index("░") > empty.index("·")  # the band, shaded
    assert "\x1b" not in text.plain and "[red]x" in empty and "[2J" in empty  # plain text, never markup


async def test_stats_c_toggles_charts_and_tables(traces, make_app):
    app = make_app(traces, start="stats")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        body = app.screen.query_one("#stats-body")
        await wait_until(pilot, lambda: getattr(app.screen, "_report", None) is not None)

        def shown() -> str:
            return "\n".join(body.render_line(y).text for y in range(body.size.height))

        await pilot.press("c")
        await wait_until(pilot, lambda: "Pass rate per task" in shown() and "█" in shown())
        assert "Pairs built by contrast kind and noise flag" in shown()
        await pilot.press("c")
        await wait_until(pilot, lambda: "Pairs built by contrast kind and noise flag" not in shown())
        assert "Pass rate per task (yellow: the learnable band)" in shown()


def test_a_bar_with_an_interval_draws_a_whisker_in_the_terminal_and_the_svg():
    from tui.charts import chart_svg

    chart = BarChart("Pass rate by model", (Bar("A base", 0.5, note="2/4", interval=(0.25, 0.75)),), unit="rate")
    row = chart_text(chart, width=60).plain.split("\n")[1]
    assert row.endswith("50% (25%-75%)  2/4") and "▓" in row and "─" in row
    assert row.index("█") < row.index("▓") < row.index("─") < row.index("·")  # bar, interval in it, beyond it
    assert 'class="ci"' in chart_svg(chart) and 'class="ci"' not in chart_svg(BarChart("x", (Bar("b", 0.5),)))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_stats_say_pairs_built_and_possible_and_cut_no_table(sample_copy, make_app, size):
    """Built pairs and possible pass/fail pairs never share the bare word "pairs"; at 120
    columns the three small tables stack rather than being cut to fit side by side."""
    app = make_app(sample_copy, start="stats")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        body = app.screen.query_one("#stats-body")
        await wait_until(pilot, lambda: getattr(app.screen, "_report", None) is not None)
        await wait_until(pilot, lambda: body.size.height > 24)
        text = "\n".join(body.render_line(y).text for y in range(body.size.height))
        assert "pairs built (" in " ".join(text.split()) and "Pairs built by kind" in text
        assert "Pass/fail pairs possible by allocation" in text and " possible " in text
        assert "identical_patch" in text and "…" not in text  # every header and flag whole
