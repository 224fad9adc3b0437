"""Without bwrap, commands that run model-written code refuse unless --unsafe-no-sandbox."""

from __future__ import annotations

import pytest

from agent import sandbox as sb
from tests.agent.conftest import ADD_TASK, write_suite
from tui.cli import main


@pytest.fixture
def no_bwrap(monkeypatch):
    monkeypatch.setattr(sb, "_probed", ("rlimit", "bwrap (bubblewrap) is not installed"))
    monkeypatch.delenv(sb.UNSAFE_ENV, raising=False)  # restored (unset) after the test
    monkeypatch.delenv("REPO_AGENT_SANDBOX", raising=False)


def test_suite_check_refuses_without_bwrap_then_runs_unsafe(no_bwrap, tmp_path, capsys):
    suite = write_suite(tmp_path / "s", {"fix_add": ADD_TASK})
    assert main(["suite", "check", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "bwrap (bubblewrap) is not installed" in err and "--unsafe-no-sandbox" in err
    assert main(["suite", "check", str(suite), "--unsafe-no-sandbox"]) == 0
    assert "fix_add" in capsys.readouterr().out


def test_every_command_that_runs_code_has_the_flag():
    from tui.cli import build_parser

    parser = build_parser()
    for argv in (["run"], ["branch"], ["prefs"], ["suite", "check"]):
        sub = parser
        for name in argv:
            sub = next(a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction").choices[name]
        assert "--unsafe-no-sandbox" in sub.format_help(), argv
