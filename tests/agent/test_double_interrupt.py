"""A second Ctrl-C stops `repo-agent run` at once, even with a rollout stuck in a call
that never returns, and removes the live workspaces (issue 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.agent.rollout_fixtures import *
from tests.doubles.scripted_llm import ScriptedPolicy


def test_second_sigint_exits_even_when_a_rollout_hangs(tiny_suite, tiny_suite_path, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "never_finish"))
    server.hang_next(1)  # the first model call never gets an answer
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "TOGETHER_API_KEY")}
    env["TMPDIR"] = str(tmp)  # the workspaces go here
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "run", "--suite", str(tiny_suite_path), "--model", "m"]
        + ["--base-url", server.base_url, "--rollouts", "1", "--trace-dir", str(tmp_path / "runs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not server.requests:  # the rollout is waiting on the hung call
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        assert any((tmp / "repo-agent-ws").iterdir())
        proc.send_signal(signal.SIGINT)
        try:  # the first Ctrl-C waits for the running rollout, which is stuck
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "stopped (second Ctrl-C)" in err
    assert not any((tmp / "repo-agent-ws").iterdir())
