"""`repo-agent studio`: arguments reach the app; mistakes are one line, exit 2."""

from __future__ import annotations

from tui.app import StudioApp
from tui.cli import main


def test_missing_traces_dir_is_one_line_exit_2(tmp_path, capsys):
    assert main(["studio", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "not a directory" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_arguments_reach_the_app(traces, tmp_path, monkeypatch):
    seen = {}

    def fake_run(self):
        seen.update(db=self.state.db_path, labeler=self.state.labeler, start=self._start)
        self.store.close()

    monkeypatch.setattr(StudioApp, "run", fake_run)
    assert (
        main(["studio", str(traces), "--db", str(tmp_path / "x.sqlite"), "--labeler", "ann", "--screen", "runs"]) == 0
    )
    assert seen == {"db": tmp_path / "x.sqlite", "labeler": "ann", "start": "runs"}
    assert main(["studio", str(traces)]) == 0
    assert seen["db"] == traces / "labels.sqlite"


def test_no_bell_reaches_the_app(traces, monkeypatch):
    seen = []

    def fake_run(self):
        seen.append(self.bell_on_alert)
        self.store.close()

    monkeypatch.setattr(StudioApp, "run", fake_run)
    assert main(["studio", str(traces), "--no-bell"]) == 0
    assert main(["studio", str(traces)]) == 0
    assert seen == [False, True]
