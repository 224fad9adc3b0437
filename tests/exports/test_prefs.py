"""`repo-agent prefs` end to end: the scripted local model, real rollouts, pairs, a checked file."""

from __future__ import annotations

import json
import re

import pytest

from agent.suites.loading import load_suite
from exports import check_file
from tests.doubles.scripted_llm import MixedPolicy, ScriptedLLM
from tui.cli import main

FAKE_OPENAI = "sk-fake-openai-key-do-not-leak-42"
FAKE_TOGETHER = "tg-fake-together-key-do-not-leak-42"
PLAN = {
    ("fix_gcd", 42): "clean",
    ("fix_gcd", 43): "wrong_fix",
    ("fix_gcd", 44): "wandering",
    ("fix_bitcount", 42): "wrong_fix",
    ("fix_bitcount", 43): "summary_only",
    ("fix_bitcount", 44): "wrong_fix",
}


@pytest.fixture(scope="module")
def prefs_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prefs")
    suite = load_suite("mini-bugs")
    mp = pytest.MonkeyPatch()
    mp.setenv("OPENAI_API_KEY", FAKE_OPENAI)
    mp.setenv("TOGETHER_API_KEY", FAKE_TOGETHER)
    out = tmp / "runs" / "x" / "pairs.jsonl"
    try:
        with ScriptedLLM(MixedPolicy(suite, plan=PLAN), model="scripted") as llm:
            import io

            from tui.cli import exports as cli_exports

            buf = io.StringIO()
            old = cli_exports.console._file  # None: follow sys.stdout (pytest's capture)
            cli_exports.console.file = buf
            try:
                code = main(
                    [
                        "prefs",
                        "--suite",
                        "mini-bugs",
                        "--tasks",
                        "fix_gcd,fix_bitcount",
                        "--rollouts",
                        "3",
                        "--out",
                        str(out),
                        "--trace-dir",
                        str(tmp / "runs" / "x"),
                        "--llm-provider",
                        "openai",
                        "--model",
                        "scripted",
                        "--base-url",
                        llm.base_url,
                        "--temperature",
                        "0.7",
                        "--seed",
                        "42",
                        "--max-workers",
                        "2",
                        "--max-iters",
                        "12",
                        "--output-mode",
                        "patch",
                    ]
                )
            finally:
                cli_exports.console._file = old
    finally:
        mp.undo()
    return code, buf.getvalue().splitlines(), out, tmp


def test_prefs_prints_the_known_line_forms(prefs_run) -> None:
    code, lines, out, _ = prefs_run
    assert code == 0, "\n".join(lines)
    assert lines[0] == f"[prefs] Loaded suite: mini-bugs ({len(load_suite('mini-bugs').tasks)} tasks)"
    assert lines[1] == "[prefs] Rollouts per task: 3"
    assert lines[2] == "[prefs] Starting 6 rollouts (2 tasks × 3 rollouts) with 2 workers"
    progress = lines[3:9]
    pat = re.compile(r"^\[prefs\] \[(\d)/6\] (fix_gcd|fix_bitcount) seed=(42|43|44): (PASS|FAIL) \(steps=(\d+)\)$")
    matches = [pat.match(x) for x in progress]
    assert all(matches), progress
    assert [int(m.group(1)) for m in matches] == [1, 2, 3, 4, 5, 6]
    outcome = {(m.group(2), int(m.group(3))): m.group(4) for m in matches}
    assert outcome[("fix_gcd", 42)] == "PASS" and outcome[("fix_gcd", 43)] == "FAIL"
    assert all(outcome[("fix_bitcount", s)] == "FAIL" for s in (42, 43, 44))
    summary = lines[9:]
    assert summary[0] == "[prefs] Summary"
    text = "\n".join(summary)
    assert "[prefs]   Total tasks: 2" in text
    assert "[prefs]   Preference pairs generated: 1" in text  # fix_gcd: pass vs fail
    assert re.search(r"\[prefs\]   No-contrast tasks: 0\b", text)
    assert "[prefs]   Pairs by contrast kind: pass_fail 1" in text
    assert re.search(r"\[prefs\]   Noisy pairs dropped: 1 \(both_fail 1", text)  # fix_bitcount: every rollout fails
    assert re.search(
        r"\[prefs\]   Tokens: [\d,]+ \(estimate: chars/4; pass --tokenizer for a real count\); "
        r"[\d,.]+ per pair; cost/epoch: set --price-per-mtok to see it",
        text,
    )
    assert f"[prefs]   Pairs file: {out}" in text
    assert f"[prefs]   Meta file: {out.with_name('pairs.meta.json')}" in text


def test_prefs_file_passes_check_and_prefers_the_passing_rollout(prefs_run) -> None:
    _, _, out, _ = prefs_run
    report = check_file(out)
    assert report.ok and report.format == "together-dpo" and report.lines == 1
    line = json.loads(out.read_text())
    chosen = json.loads(line["preferred_output"][0]["content"])
    rejected = json.loads(line["non_preferred_output"][0]["content"])
    assert set(chosen) == {"summary", "patch"} and chosen["patch"] != rejected["patch"]
    meta = json.loads(out.with_name("pairs.meta.json").read_text())
    assert meta["lines"][0]["decided_by"] == "auto" and meta["lines"][0]["task_id"] == "fix_gcd"
    assert meta["options"]["mode"] == "patch" and meta["counts"]["skipped"]["noisy:both_fail"] == 1


def test_no_api_key_in_any_written_file(prefs_run) -> None:
    _, _, _, tmp = prefs_run
    files = [p for p in tmp.rglob("*") if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in files) and any(p.name == "labels.sqlite" for p in files)
    for p in files:
        data = p.read_bytes()
        assert FAKE_OPENAI.encode() not in data and FAKE_TOGETHER.encode() not in data, p
