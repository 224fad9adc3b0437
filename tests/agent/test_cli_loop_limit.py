"""`repo-agent run --loop-limit`: a looping model is stopped and the summary says what that saved."""

from __future__ import annotations

import re

import pytest

from tests.agent.rollout_fixtures import *
from tests.doubles.loop_policies import RepeatPolicy
from tui.cli import main


def _run(tiny_suite_path, server, tmp_path, *extra):
    argv = ["run", "--suite", str(tiny_suite_path), "--model", "scripted", "--base-url", server.base_url]
    argv += ["--tasks", "fix_gcd", "--trace-dir", str(tmp_path / "runs"), "--max-iters", "30", *extra]
    return main(argv)


def test_run_stops_a_loop_and_prints_the_savings(tiny_suite, tiny_suite_path, scripted, tmp_path, capsys):
    server = scripted(RepeatPolicy(tiny_suite))
    rc = _run(tiny_suite_path, server, tmp_path, "--loop-limit", "3", "--price-in", "1", "--price-out", "2")
    out = capsys.readouterr().out
    assert rc == 0
    assert "FAIL (steps=4, loop)" in out
    m = re.search(r"loop stops: 1 rollout, saved ~(\d+) steps, ~([\d,]+) tokens, ~\$([\d.]+)", out)
    assert m and int(m[1]) == 26 and int(m[2].replace(",", "")) > 0
    assert len(server.requests) == 4  # nothing was asked of the model after the stop


def test_loop_limit_zero_only_flags(tiny_suite, tiny_suite_path, scripted, tmp_path, capsys):
    server = scripted(RepeatPolicy(tiny_suite))
    assert _run(tiny_suite_path, server, tmp_path, "--loop-limit", "0", "--max-iters", "7") == 0
    out = capsys.readouterr().out
    assert "FAIL (steps=7, max_iters)" in out and "loop stops" not in out


@pytest.mark.parametrize("flag,value", [("--loop-limit", "-1"), ("--stall-after", "0")])
def test_bad_loop_flags_are_one_line_errors(flag, value, tiny_suite_path, tmp_path, capsys):
    argv = ["run", "--suite", str(tiny_suite_path), "--model", "m", "--base-url", "http://127.0.0.1:9/v1"]
    assert main([*argv, "--trace-dir", str(tmp_path), flag, value]) == 2
    assert flag in capsys.readouterr().err
