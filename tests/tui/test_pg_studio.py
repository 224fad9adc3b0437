"""The studio on a shared PostgreSQL store: two labelers' studios (two machines) on one
database, verdicts through keys, each seeing the other's; nothing written beside the traces."""

from __future__ import annotations

import shutil

from labeling.store import LabelStore
from tests.labeling.conftest import pg_url
from tests.tui.conftest import settle
from tui.app import StudioApp
from tui.cli import main
from tui.screens.pairs import PairsScreen


async def test_two_studios_share_one_postgres_store(sample_copy, make_app, pg_database, tmp_path):
    url = pg_url(pg_database)
    elsewhere = tmp_path / "bobs-machine" / "traces"  # the same traces at another path
    shutil.copytree(sample_copy, elsewhere)
    ann = make_app(sample_copy, db_path=url, labeler="ann")
    async with ann.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen: PairsScreen = ann.screen
        first = screen.queue[0]
        await pilot.press("c")
        assert ann.store.pair(first).verdict == "confirm"
        remaining = ann.store.counts().remaining
    bob = make_app(elsewhere, db_path=url, labeler="bob")
    async with bob.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert bob.store.counts().remaining == remaining  # ann's verdict is in bob's queue counts
        assert first not in bob.screen.queue
        r = bob.store.rollout(bob.store.pair(first).chosen_uid)
        assert r.trace_path.startswith(str(elsewhere)) and open(r.trace_path).readline()  # his own copy
        await pilot.press("f")
        assert bob.store.events(labeler="bob")[-1].value == "flip"
        await pilot.press("u")  # bob's undo is his own
        assert [e.kind for e in bob.store.events(labeler="bob")] == ["verdict", "undo"]
        assert bob.store.pair(first).verdict == "confirm"
    assert not (sample_copy / "labels.sqlite").exists() and not (elsewhere / "labels.sqlite").exists()
    with LabelStore(url, base=sample_copy) as store:
        assert [(e.labeler, e.kind) for e in store.events()] == [
            ("ann", "verdict"),
            ("bob", "verdict"),
            ("bob", "undo"),
        ]


def test_the_studio_command_takes_repo_agent_db_and_db_wins(traces, pg_database, tmp_path, monkeypatch):
    seen = []

    def fake_run(self):
        seen.append((self.state.db_path, self.store.location, self.store.base))
        self.store.close()

    monkeypatch.setattr(StudioApp, "run", fake_run)
    url = pg_url(pg_database)
    monkeypatch.setenv("REPO_AGENT_DB", url)
    assert main(["studio", str(traces)]) == 0
    assert seen[-1] == (url, url, traces)  # trace paths keyed by the traces dir
    assert main(["studio", str(traces), "--db", str(tmp_path / "mine.sqlite")]) == 0
    assert seen[-1] == (tmp_path / "mine.sqlite", str(tmp_path / "mine.sqlite"), tmp_path)
