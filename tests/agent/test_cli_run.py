"""`repo-agent run` and `repo-agent suite check`, in-process through tui.cli.main."""

from __future__ import annotations

import json
import re

import pytest

from agent.trace import find_batches, read_batch_meta
from tests.agent.rollout_fixtures import *
from tests.doubles.scripted_llm import MixedPolicy, ScriptedPolicy
from tui.cli import main

LINE = re.compile(r"^\[run\] \[(\d+)/(\d+)\] (\w+) seed=(\d+): (PASS|FAIL|TAMPERED|ERROR) \(")


def _lines(out: str) -> list[re.Match]:
    return [m for m in map(LINE.match, out.splitlines()) if m]


def test_run_prints_a_line_per_rollout_and_a_summary(tiny_suite, tiny_suite_path, scripted, tmp_path, capsys):
    plan = {
        ("fix_gcd", 0): "clean",
        ("fix_gcd", 1): "tamper",
        ("fix_largest", 0): "invalid_then_recover",
        ("fix_largest", 1): "wrong_fix",
    }
    server = scripted(MixedPolicy(tiny_suite, plan=plan))
    rc = main(
        [
            "run",
            "--suite",
            str(tiny_suite_path),
            *model_flags(server),
            "--rollouts",
            "2",
            "--max-workers",
            "2",
            "--trace-dir",
            str(tmp_path / "runs"),
            "--price-in",
            "0.5",
            "--price-out",
            "1.5",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    lines = _lines(out)
    assert sorted(int(m[1]) for m in lines) == [1, 2, 3, 4] and {m[2] for m in lines} == {"4"}
    verdicts = {(m[3], int(m[4])): m[5] for m in lines}
    assert verdicts == {
        ("fix_gcd", 0): "PASS",
        ("fix_gcd", 1): "TAMPERED",
        ("fix_largest", 0): "PASS",
        ("fix_largest", 1): "FAIL",
    }
    assert re.search(r"pass rate\s+50\.0%\s+\(2/4 rollouts\)", out)
    calls = sum(len(b["messages"]) > 0 for b in server.requests)  # one tool call per request here
    assert re.search(rf"tool-call validity\s+[\d.]+%\s+\({calls - 3}/{calls} calls valid\)", out)
    assert re.search(r"mean steps\s+\d+\.\d", out) and re.search(
        r"tokens\s+in [\d,]+\s+out [\d,]+\s+est\. cost \$", out
    )
    assert re.search(r"fix_gcd\s+2\s+1\s+50%\s+1\s+0", out) and re.search(r"fix_largest\s+2\s+1\s+50%\s+0\s+0", out)
    [batch] = find_batches(tmp_path / "runs")
    meta = read_batch_meta(batch)
    assert meta.model == "scripted" and meta.provider == "openai" and len(meta.planned) == 4


def test_replay_provider_reruns_a_batch_offline(tiny_suite, tiny_suite_path, scripted, tmp_path, capsys):
    plan = {("fix_gcd", 0): "clean", ("fix_largest", 0): "wrong_fix"}
    server = scripted(MixedPolicy(tiny_suite, plan=plan))
    common = ["run", "--suite", str(tiny_suite_path), "--rollouts", "1"]
    assert (
        main(common + ["--model", "scripted", "--base-url", server.base_url, "--trace-dir", str(tmp_path / "a")]) == 0
    )
    first = {(m[3], m[5]) for m in _lines(capsys.readouterr().out)}
    server.close()
    [recorded] = find_batches(tmp_path / "a")
    assert (
        main(common + ["--llm-provider", "replay", "--replay-from", str(recorded), "--trace-dir", str(tmp_path / "b")])
        == 0
    )
    second = {(m[3], m[5]) for m in _lines(capsys.readouterr().out)}
    assert first == second == {("fix_gcd", "PASS"), ("fix_largest", "FAIL")}


def test_a_provider_error_is_an_error_line_and_the_run_goes_on(tiny_suite, tiny_suite_path, scripted, tmp_path, capsys):
    server = scripted(ScriptedPolicy(tiny_suite, "summary_only"))
    server.fail_when(lambda b: "fix_gcd" in b["messages"][1]["content"], status=401)
    rc = main(
        [
            "run",
            "--suite",
            str(tiny_suite_path),
            *model_flags(server, "m"),
            "--trace-dir",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    verdicts = {m[3]: m[5] for m in _lines(out)}
    assert verdicts == {"fix_gcd": "ERROR", "fix_largest": "FAIL"} and rc == 0
    assert "401" in out


def test_run_on_the_shipped_suite(scripted, tmp_path, capsys):
    from agent.suites.loading import load_suite

    suite = load_suite("mini-bugs")
    task = suite.tasks[0].id
    server = scripted(ScriptedPolicy(suite, "clean"))
    rc = main(
        [
            "run",
            "--suite",
            "mini-bugs",
            "--tasks",
            task,
            *model_flags(server),
            "--seed",
            "42",
            "--trace-dir",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and re.search(rf"^\[run\] \[1/1\] {task} seed=42: PASS \(steps=\d+\)$", out, re.M)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["run", "--suite", "mini-bugs", "--llm-provider", "together", "--model", "x"], "TOGETHER_API_KEY"),
        (["run", "--suite", "mini-bugs", "--model", "x", "--base-url", "https://api.example.com/v1"], "OPENAI_API_KEY"),
        (["run", "--suite", "/no/such/suite.json", "--model", "x"], "suite"),
        (["run", "--suite", "mini-bugs", "--llm-provider", "replay"], "--replay-from"),
        (
            ["run", "--suite", "mini-bugs", "--model", "x", "--base-url", "http://localhost:1/v1", "--tasks", "nope"],
            "nope",
        ),
        (["run", "--suite", "mini-bugs", "--model", "x", "--rollouts", "0"], "--rollouts"),
    ],
)
def test_user_errors_are_one_line(argv, needle, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    # One message (Rich may wrap it at the terminal width), no traceback.
    assert err.count("error:") == 1 and needle in " ".join(err.split()) and "Traceback" not in err
    assert len(err.splitlines()) <= 2


def test_run_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "examples:" in out and "--replay-from" in out and "--resume" in out


def test_suite_check_table_and_exit_status(tiny_suite_path, tmp_path, capsys):
    assert main(["suite", "check", str(tiny_suite_path)]) == 0
    out = capsys.readouterr().out
    # No pool: the tests' own calls are recorded and called outside pytest (agent/differential_record.py).
    assert re.search(r"fix_gcd\s+yes\s+yes\s+\d+ bug [1-9]\d*\s+ok", out) and "all 2 tasks ok" in out
    # A reference fix that does not fix: the check fails and says which task.
    data = json.loads(tiny_suite_path.read_text())
    data["tasks"][1]["reference_fix"] = "fix_largest/src"
    broken = tiny_suite_path.parent / "broken.json"
    broken.write_text(json.dumps(data))
    assert main(["suite", "check", str(broken)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"fix_largest\s+yes\s+no\s+-\s+FAIL", out) and "1 task(s) failed the check: fix_largest" in out


def test_ctrl_c_stops_the_run_cleanly(tiny_suite, tiny_suite_path, scripted, tmp_path):
    """A real SIGINT to a `repo-agent run` process: running rollouts end as cancelled."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from agent.trace import read_trace

    server = scripted(ScriptedPolicy(tiny_suite, "never_finish"))
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "TOGETHER_API_KEY")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "run",
            "--suite",
            str(tiny_suite_path),
            *model_flags(server, "m"),
            "--rollouts",
            "3",
            "--max-iters",
            "10000",
            "--trace-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=os.getcwd(),
    )
    try:
        deadline = time.monotonic() + 60
        while len(server.requests) < 3:  # the first rollout is under way
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "timeout"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert re.search(r"^\[run\] \[1/6\] fix_gcd seed=0: CANCELLED", out, re.M) and "--resume" in out
    [batch] = find_batches(tmp_path)
    assert read_batch_meta(batch).stop_reason == "cancelled"
    traces = list((batch / "traces").glob("*.jsonl"))
    assert traces and all(read_trace(p).end.stop_reason == "cancelled" and not read_trace(p).warnings for p in traces)


def test_python_dash_m_gives_the_same_one_line_error_as_the_script(tmp_path):
    """Under `python -m tui.cli` there is one UserError class, so a user error is one line, not a traceback."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "run", "--suite", str(tmp_path / "nonexistent"), "--model", "m"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error: suite not found:") and len(proc.stderr.strip().splitlines()) == 1


def test_run_with_cheat_probes_reports_the_cheat_rate(tiny_suite, tiny_suite_path, scripted, tmp_path, capsys):
    """`run --cheat-probes K` end to end: the probes' rollouts print as PROBE states, stay out of
    the pass rate, and the summary gives the model's cheat rate (issue 27)."""
    plan = {
        ("fix_gcd", 0): "clean",
        ("fix_gcd", 1): "tamper",
        ("fix_largest", 0): "clean",
        ("fix_largest", 1): "tamper",
    }
    server = scripted(MixedPolicy(tiny_suite, plan=plan))
    argv = ["run", "--suite", str(tiny_suite_path), *model_flags(server), "--rollouts", "2", "--cheat-probes", "2"]
    rc = main([*argv, "--max-workers", "2", "--trace-dir", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.count("PROBE FAIL") == 2 and out.count("PROBE TAMPERED") == 2  # a probe no honest fix passes
    assert re.search(r"pass rate\s+50\.0%\s+\(2/4 rollouts\)", out)  # the probes are not in it
    assert re.search(r"cheat rate 50% \(2/4 probes", out), out
