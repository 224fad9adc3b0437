"""Every rule has a failing example that `check` rejects with the right line number."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from exports import RULES, check_file, validate_record
from exports.formats.registry import format_named
from exports.models import RecordError
from tui.cli import main

CALL = {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": '{"rel_path": "a.py"}'}}
TOOLS = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}]
SFT = {
    "messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "fix it"},
        {"role": "assistant", "content": None, "tool_calls": [CALL], "weight": 1},
        {"role": "tool", "tool_call_id": "c1", "content": "x = 1"},
        {"role": "assistant", "content": "done", "weight": 0},
    ],
    "tools": TOOLS,
}
DPO = {
    "input": {
        "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "fix it"}],
        "tools": TOOLS,
    },
    "preferred_output": [{"role": "assistant", "content": "good"}],
    "non_preferred_output": [{"role": "assistant", "content": "bad"}],
}
TRL_DPO = {
    "prompt": [{"role": "user", "content": "fix it"}],
    "chosen": [{"role": "assistant", "content": "a"}],
    "rejected": [{"role": "assistant", "content": "b"}],
}


def _set(base, fn):
    obj = copy.deepcopy(base)
    fn(obj)  # mutates in place
    return obj


def msgs(o):
    return o["messages"]


# (case id, format, base, mutation, rule it must break)
CASES = [
    ("sft-extra-top", "together-sft", SFT, lambda o: o.update(extra=1), "extra-key"),
    ("sft-extra-msg", "together-sft", SFT, lambda o: msgs(o)[1].update(name="bob"), "extra-key"),
    ("sft-extra-call", "together-sft", SFT, lambda o: msgs(o)[2]["tool_calls"][0].update(index=0), "extra-key"),
    ("dpo-extra-input", "together-dpo", DPO, lambda o: o["input"].update(parallel=True), "extra-key"),
    ("dpo-missing", "together-dpo", DPO, lambda o: o.pop("non_preferred_output"), "missing-key"),
    ("sft-type", "together-sft", SFT, lambda o: o.update(messages="hello"), "type"),
    ("sft-empty", "together-sft", SFT, lambda o: o.update(messages=[]), "messages-empty"),
    ("sft-role", "together-sft", SFT, lambda o: msgs(o)[1].update(role="robot"), "role"),
    ("sft-first-role", "together-sft", SFT, lambda o: o.update(messages=msgs(o)[2:]), "first-role"),
    (
        "sft-system-pos",
        "together-sft",
        SFT,
        lambda o: msgs(o).insert(2, {"role": "system", "content": "x"}),
        "system-position",
    ),
    ("sft-content", "together-sft", SFT, lambda o: msgs(o)[1].pop("content"), "content"),
    ("sft-assistant-empty", "together-sft", SFT, lambda o: msgs(o)[4].pop("content"), "assistant-empty"),
    ("sft-tool-calls-role", "together-sft", SFT, lambda o: msgs(o)[1].update(tool_calls=[CALL]), "tool-calls-role"),
    ("sft-tool-call", "together-sft", SFT, lambda o: msgs(o)[2]["tool_calls"][0].pop("id"), "tool-call"),
    (
        "sft-args-broken",
        "together-sft",
        SFT,
        lambda o: msgs(o)[2]["tool_calls"][0]["function"].update(arguments='{"rel_path": '),
        "arguments-json",
    ),
    (
        "sft-args-not-object",
        "together-sft",
        SFT,
        lambda o: msgs(o)[2]["tool_calls"][0]["function"].update(arguments="[1, 2]"),
        "arguments-json",
    ),
    (
        "sft-args-object",
        "together-sft",
        SFT,
        lambda o: msgs(o)[2]["tool_calls"][0]["function"].update(arguments={"rel_path": "a.py"}),
        "arguments-json",
    ),
    ("trl-args-string", "trl-sft", SFT, lambda o: [m.pop("weight", None) for m in msgs(o)] and None, "arguments-json"),
    (
        "sft-tool-unknown",
        "together-sft",
        SFT,
        lambda o: msgs(o)[2]["tool_calls"][0]["function"].update(name="rm_rf"),
        "tool-unknown",
    ),
    ("sft-tool-call-id", "together-sft", SFT, lambda o: msgs(o)[3].update(tool_call_id="c9"), "tool-call-id"),
    ("sft-tools", "together-sft", SFT, lambda o: o.update(tools=[]), "tools"),
    ("sft-weight", "together-sft", SFT, lambda o: msgs(o)[2].update(weight=2), "weight"),
    ("sft-weight-bool", "together-sft", SFT, lambda o: msgs(o)[2].update(weight=True), "weight"),
    ("sft-weight-role", "together-sft", SFT, lambda o: msgs(o)[1].update(weight=1), "weight-role"),
    ("sft-no-assistant", "together-sft", SFT, lambda o: o.update(messages=msgs(o)[:2]), "no-assistant"),
    ("sft-no-trained", "together-sft", SFT, lambda o: msgs(o)[2].update(weight=0), "no-trained-assistant"),
    (
        "dpo-ends-assistant",
        "together-dpo",
        DPO,
        lambda o: o["input"]["messages"].append({"role": "assistant", "content": "hm"}),
        "input-ends-assistant",
    ),
    (
        "dpo-output-count",
        "together-dpo",
        DPO,
        lambda o: o["preferred_output"].append({"role": "assistant", "content": "more"}),
        "output-count",
    ),
    ("dpo-output-empty", "together-dpo", DPO, lambda o: o.update(non_preferred_output=[]), "output-count"),
    ("dpo-output-role", "together-dpo", DPO, lambda o: o["preferred_output"][0].update(role="user"), "output-role"),
    (
        "dpo-output-content",
        "together-dpo",
        DPO,
        lambda o: o["preferred_output"][0].update(content=None, tool_calls=[CALL]),
        "output-content",
    ),
    ("dpo-output-weight", "together-dpo", DPO, lambda o: o["preferred_output"][0].update(weight=1), "extra-key"),
    # Blank trainable outputs: a weight-1 turn saying nothing, a DPO side that is empty.
    (
        "sft-empty-trained",
        "together-sft",
        SFT,
        lambda o: msgs(o).append({"role": "assistant", "content": " \n\t", "weight": 1}),
        "empty-output",
    ),
    ("dpo-output-blank", "together-dpo", DPO, lambda o: o["preferred_output"][0].update(content=""), "empty-output"),
    ("trl-dpo-output-blank", "trl-dpo", TRL_DPO, lambda o: o["rejected"][0].update(content="  "), "empty-output"),
    ("dpo-same", "together-dpo", DPO, lambda o: o.update(non_preferred_output=o["preferred_output"]), "same-outputs"),
    (
        "openai-parallel-type",
        "openai-dpo",
        {**DPO, "input": {**DPO["input"], "parallel_tool_calls": True}},
        lambda o: o["input"].update(parallel_tool_calls="yes"),
        "type",
    ),
    ("trl-dpo-extra", "trl-dpo", TRL_DPO, lambda o: o.update(score=1.0), "extra-key"),
    (
        "trl-dpo-ends-assistant",
        "trl-dpo",
        TRL_DPO,
        lambda o: o["prompt"].append({"role": "assistant", "content": "x"}),
        "input-ends-assistant",
    ),
    (
        "trl-dpo-weight",
        "trl-dpo",
        TRL_DPO,
        lambda o: o["prompt"].append({"role": "user", "content": "u", "weight": 0}),
        "extra-key",
    ),
]
BASES = {
    "together-sft": SFT,
    "together-dpo": DPO,
    "trl-dpo": TRL_DPO,
    "openai-dpo": {**DPO, "input": {**DPO["input"], "parallel_tool_calls": True}},
}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_rule_is_named_with_its_line(tmp_path: Path, case) -> None:
    name, fmt, base, mutate, rule = case
    good = BASES.get(fmt, base)
    if fmt == "trl-sft":  # the broken line *is* the file: TRL conversation with string arguments
        good = _set(SFT, lambda o: [m.pop("weight", None) for m in msgs(o)] and None)
        good = _set(good, lambda o: msgs(o)[2]["tool_calls"][0]["function"].update(arguments={"rel_path": "a.py"}))
    bad = _set(base, mutate)
    at = 2 + len(name) % 3  # the broken line is line 2, 3 or 4
    lines = [json.dumps(good)] * 4
    lines[at - 1] = json.dumps(bad)
    report = check_file(_write(tmp_path / "f.jsonl", lines), fmt)
    assert (at, rule) in {(e.line, e.rule) for e in report.errors}, report.errors
    assert {e.line for e in report.errors} == {at}  # the good lines around it stay good
    assert not report.ok
    with pytest.raises(RecordError) as exc:  # the exporter's models refuse the same record
        validate_record(fmt, bad)
    assert rule in {r for r, _ in exc.value.errors}


def test_every_rule_has_a_failing_example() -> None:
    file_rules = {"utf8", "empty-file", "blank-line", "json", "not-object", "unknown-format", "mixed-formats"}
    assert set(RULES) == {c[4] for c in CASES} | file_rules


def test_a_blank_untrained_turn_is_not_an_empty_output() -> None:
    ok = _set(SFT, lambda o: msgs(o)[4].update(content="  "))  # weight 0: context, not a target
    assert "empty-output" not in {r for r, _ in format_named("together-sft").errors(ok)}


def test_valid_bases_pass(tmp_path: Path) -> None:
    for fmt, base in BASES.items():
        report = check_file(_write(tmp_path / f"{fmt}.jsonl", [json.dumps(base)] * 2))
        assert report.ok and report.format == fmt and report.detected and report.lines == 2, report.errors


@pytest.mark.parametrize(
    "content, line, rule",
    [
        (b'{"messages": []}\n\xff\xfe\n', 2, "utf8"),
        (b"", 0, "empty-file"),
        (b"\n\n", 0, "empty-file"),
        (json.dumps(SFT).encode() + b"\n\n" + json.dumps(SFT).encode() + b"\n", 2, "blank-line"),
        (json.dumps(SFT).encode() + b'\n{"messages": [\n', 2, "json"),
        (json.dumps(SFT).encode() + b"\n[1, 2]\n", 2, "not-object"),
        (b'{"text": "hello"}\n', 1, "unknown-format"),
        (json.dumps(SFT).encode() + b"\n" + json.dumps(DPO).encode() + b"\n", 2, "mixed-formats"),
    ],
)
def test_file_level_rules(tmp_path: Path, content: bytes, line: int, rule: str) -> None:
    p = tmp_path / "f.jsonl"
    p.write_bytes(content)
    report = check_file(p)
    assert (line, rule) in {(e.line, e.rule) for e in report.errors}, report.errors


def test_check_command_names_every_error_and_exits_nonzero(tmp_path: Path, capsys) -> None:
    def weight_3_and_extra_key(o):
        msgs(o)[2].update(weight=3)
        o.update(extra=1)

    bad = _set(SFT, weight_3_and_extra_key)
    p = _write(tmp_path / "f.jsonl", [json.dumps(SFT), json.dumps(bad), "not json"])
    assert main(["check", str(p)]) == 1
    out = capsys.readouterr().out
    assert f"{p}:2: weight: " in out
    assert f"{p}:2: extra-key: extra is not a key of this format" in out
    assert f"{p}:3: json: " in out
    assert "3 error(s) in 2 of 3 lines" in out
    good = _write(tmp_path / "g.jsonl", [json.dumps(SFT)])
    assert main(["check", str(good)]) == 0
    assert main(["check", str(good), "--format", "together-dpo"]) == 1
    assert "mixed-formats" in capsys.readouterr().out
    assert main(["check", str(good), "--format", "nope"]) == 2
    assert main(["check", str(tmp_path / "missing.jsonl")]) == 2
    capsys.readouterr()
    assert main(["check", "--rules"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(RULES)
