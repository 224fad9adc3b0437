"""`repo-agent studio` on a folder of other agents' trajectories and no batches offers to import them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from agent.trace import find_batches
from tests.agent import import_fixtures as fx
from tui.app import StudioApp
from tui.cli import main
from tui.cli.studio import offer_import


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    d = tmp_path / "mine"
    fx.write_json(d / "swe" / "a.traj", fx.swe_agent_fc("a"))
    fx.inspect_eval(d / "logs" / "calc.eval", [fx.inspect_sample(1, 1, "C")])
    return d


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> dict:
    """StudioApp.run replaced: records how many rollouts the app would have opened on."""
    seen: dict = {}

    def fake_run(self: StudioApp) -> None:
        self.store.ingest([self.state.traces_dir])  # what the app does first, in a worker
        seen["rollouts"] = len(self.store.rollouts())
        self.store.close()

    monkeypatch.setattr(StudioApp, "run", fake_run)
    return seen


def test_yes_imports_into_the_folder_and_the_studio_opens_on_it(foreign: Path, opened: dict) -> None:
    asked: list[str] = []
    out = io.StringIO()
    assert offer_import(foreign, "ask", lambda q: asked.append(q) or True, Console(file=out, width=200))
    assert "no trace batches" in asked[0] and "1 inspect, 1 swe-agent" in asked[0]
    assert len(find_batches(foreign)) == 2 and (foreign / "imported").is_dir()
    assert "imported 2 rollouts into 2 batches" in out.getvalue()
    # opened again: it has batches now, so nothing is asked
    assert not offer_import(foreign, "ask", lambda q: pytest.fail("asked twice"), Console(file=io.StringIO()))
    assert main(["studio", str(foreign)]) == 0 and opened["rollouts"] == 2


def test_no_leaves_the_folder_alone_and_says_how(foreign: Path) -> None:
    out = io.StringIO()
    assert not offer_import(foreign, "ask", lambda q: False, Console(file=out, width=400))
    assert find_batches(foreign) == []
    assert f"repo-agent import {foreign} --out {foreign / 'imported'}" in out.getvalue()


def test_flags_and_a_terminal_without_input(foreign: Path, opened: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["studio", str(foreign), "--import", "no"]) == 0 and opened["rollouts"] == 0
    # under pytest stdin is not a terminal: nobody to ask, so a hint and the studio as is
    assert main(["studio", str(foreign)]) == 0 and opened["rollouts"] == 0
    assert "repo-agent import" in capsys.readouterr().out
    assert main(["studio", str(foreign), "--import", "yes"]) == 0 and opened["rollouts"] == 2


def test_no_offer_for_a_folder_of_our_own_batches(traces: Path) -> None:
    assert not offer_import(traces, "yes", lambda q: pytest.fail("asked"), Console(file=io.StringIO()))


def test_rollout_view_of_a_text_action_run_shows_each_observation(tmp_path: Path) -> None:
    from agent.importers import import_paths
    from tui.live_trace import LiveTrace

    fx.write_json(tmp_path / "src" / "run" / "old.traj", fx.swe_agent_text("old"))
    import_paths([tmp_path / "src"], tmp_path / "out")
    live = LiveTrace(next((tmp_path / "out").rglob("old.jsonl")))
    assert live.poll()
    assert [(c.name, c.result) for c in live.calls] == [
        ("cat", "def add(a, b):\n    return a + b + 1"),  # the user message after the text action
        ("submit", None),  # the run ended: nothing observed it
    ]
    assert live.steps == 2 and not live.running and not live.end.outcome.verdict_known
    assert [c.status for c in live.calls] == ["ok", "no result"]  # the ended run's submit is not "running"
