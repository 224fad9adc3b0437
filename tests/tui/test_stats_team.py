"""The Stats screen shows agreement between labelers once two of them gave verdicts."""

from __future__ import annotations

import io

from rich.console import Console

from labeling.store import LabelStore
from tests.tui.conftest import settle


def _body_text(app) -> str:
    body = app.screen.query_one("#stats-body")
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(body.content)
    return console.export_text()


async def test_stats_screen_shows_team_agreement(make_app, traces):
    path = LabelStore.default_path(traces)
    with LabelStore(path, labeler="alice") as alice, LabelStore(path, labeler="bob") as bob:
        alice.ingest([traces])
        pairs = alice.pairs()
        assert len(pairs) >= 3
        # (c,c), (f,f), (c,f): kappa = (2/3 - 4/9) / (1 - 4/9) = 0.40 (tests/labeling/test_agreement.py)
        for p, (a, b) in zip(pairs, [("confirm", "confirm"), ("flip", "flip"), ("confirm", "flip")]):
            alice.set_verdict(p.pair_id, a)
            bob.set_verdict(p.pair_id, b)
    app = make_app(traces, start="stats")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = _body_text(app)
    assert "Between labelers (2; 1/3 disagree)" in text
    line = next(ln for ln in text.splitlines() if "alice~bob" in ln)
    assert "kappa" in line and "0.40" in line


async def test_stats_screen_without_a_team_has_no_agreement_table(make_app, traces):
    app = make_app(traces, start="stats")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "Between labelers" not in _body_text(app)
        assert "Human vs auto" in _body_text(app)
