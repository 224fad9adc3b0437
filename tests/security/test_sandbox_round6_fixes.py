"""The sandbox's open items after round 5, closed in round 6 (issue 23).

Real bwrap, the mini-bugs ``fix_gcd`` task, the real ``final_test_run``; the normal-user
tests start it themselves as ``nobody`` (runuser), as the other security files do.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent import final_verdict, sandbox
from agent.final_verdict import final_test_run
from agent.suites.loading import load_suite
from agent.suites.models import Suite
from agent.workspace import Workspace

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gcd_suite() -> Suite:
    return load_suite("mini-bugs")


def test_a_workspace_past_the_file_cap_before_the_final_run_is_a_fail_not_an_error(gcd_suite, tmp_path, monkeypatch):
    """Round 5 #20: 107,000 files already in the workspace (the agent's own edits can make
    them, outside any sandbox) made the final run's sandbox refuse to start: SandboxError,
    not judged. Only bytes were checked before it; now names are too, as the tmpfs counts
    them, and the rollout's own doing is its FAIL. (The cap is lowered to 1,000 files
    here: 107,000 files take half a minute on a loaded machine; the rule is the same.)"""
    monkeypatch.setattr(sandbox, "WORKSPACE_INODES", 1_000)
    monkeypatch.setattr(final_verdict, "WORKSPACE_INODES", 1_000)
    ws = Workspace.create(gcd_suite, gcd_suite.task("fix_gcd"), tmp_path)
    junk = ws.path / "junk"
    junk.mkdir()
    for i in range(1_070):
        os.close(os.open(junk / str(i), os.O_WRONLY | os.O_CREAT, 0o644))
    result, _ = final_test_run(ws)
    assert not result.passed
    assert result.error is not None and "files, over the sandbox's" in result.error, result.error
