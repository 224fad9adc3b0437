"""SFT exports: masked steps are never targets; styles, train modes and layouts pass check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from together.lib.utils.files import check_file as together_check_file

from exports import ExportError, SftOptions, check_file, export_sft
from tests.exports.conftest import Call, Spec, default_steps, read_lines


def _steps_with_invalid(task: str):
    """list_dir without rel_dir (invalid), broken JSON (invalid), then a clean fix."""
    return [
        [Call("list_dir", {}, valid=False)],
        [Call("read_file", '{"rel_path": "gcd.py"', valid=False)],
        *default_steps(task, True),
    ]


def _assistant_turns(line: dict) -> list[dict]:
    return [m for m in line["messages"] if m["role"] == "assistant"]


@pytest.mark.parametrize("layout", ["together", "openai", "trl"])
@pytest.mark.parametrize("style", ["trajectory", "step"])
@pytest.mark.parametrize("train", ["all", "last", "final"])
def test_every_style_on_sample_traces_passes_check(sample, tmp_path: Path, style, layout, train) -> None:
    out = tmp_path / "sft.jsonl"
    report = export_sft(sample, out, SftOptions(style=style, format=layout, train=train))
    check = check_file(out)
    assert report.examples > 0 and check.ok and check.lines == report.examples, check.errors
    assert check.format == f"{layout}-sft"
    if layout == "together":
        assert together_check_file(out)["is_check_passed"]
    assert report.sft_trajectory_tokens and report.sft_step_tokens
    if train == "all":
        assert report.sft_step_tokens > report.sft_trajectory_tokens  # step-level grows quadratically


def test_bad_step_weight_zero_in_trajectory_and_never_a_step_target(env, tmp_path: Path) -> None:
    env.batch("b1", [Spec("fix_gcd", 0, passed=True, steps=_steps_with_invalid("fix_gcd"))])
    uid = "b1/fix_gcd__s0"
    env.store.mark_step(uid, 4, "unneeded")  # step 4: the read_file after list_dir
    out = tmp_path / "t.jsonl"
    report = export_sft(env.store, out, SftOptions(style="trajectory"))
    assert report.examples == 1 and check_file(out).ok
    line = read_lines(out)[0]
    weights = [m["weight"] for m in _assistant_turns(line)]
    # steps 1-2 invalid (auto), 4 marked bad by a person; 3, 5, 6, 7 trained
    assert weights == [0, 0, 1, 0, 1, 1, 1]
    broken = _assistant_turns(line)[1]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(broken) == {"_unparsed_arguments": '{"rel_path": "gcd.py"'}
    assert report.notes == {"unparsed_arguments_wrapped": 1}

    out = tmp_path / "s.jsonl"
    report = export_sft(env.store, out, SftOptions(style="step", last_k=2, cut_chars=10))
    assert report.examples == 4 and check_file(out).ok
    meta = json.loads(Path(report.meta_path).read_text())
    assert [m["step"] for m in meta["lines"]] == [3, 5, 6, 7]  # never 1, 2 (invalid) or 4 (marked bad)
    for line in read_lines(out):
        turns = _assistant_turns(line)
        assert turns[-1]["weight"] == 1 and all(t["weight"] == 0 for t in turns[:-1])
        assert len(turns) <= 3  # last_k=2 context turns + the target
        assert [m["role"] for m in line["messages"][:2]] == ["system", "user"]
        for m in line["messages"]:
            if m["role"] == "tool":
                assert len(m["content"]) <= 10 + len("\n[... cut 9999 chars]")


def test_train_last_and_final(env, tmp_path: Path) -> None:
    steps = default_steps("fix_gcd", True) + [[Call("read_file", {"rel_path": "gcd.py"})]]  # a turn after finish
    env.batch("b1", [Spec("fix_gcd", 0, passed=True, steps=steps)])
    last = export_sft(env.store, tmp_path / "l.jsonl", SftOptions(train="last"))
    assert [m["weight"] for m in _assistant_turns(read_lines(tmp_path / "l.jsonl")[0])] == [0, 0, 0, 0, 0, 1]
    final = export_sft(env.store, tmp_path / "f.jsonl", SftOptions(train="final"))
    turns = _assistant_turns(read_lines(tmp_path / "f.jsonl")[0])
    assert [m["weight"] for m in turns] == [0, 0, 0, 0, 1, 0]
    assert turns[4]["tool_calls"][0]["function"]["name"] == "finish"
    assert last.examples == final.examples == 1
    env.store.mark_step("b1/fix_gcd__s0", 6, "unneeded")
    with pytest.raises(ExportError, match="nothing_trained 1"):
        export_sft(env.store, tmp_path / "l.jsonl", SftOptions(train="last"))


def test_rollout_selection(env, tmp_path: Path) -> None:
    env.batch(
        "b1",
        [
            Spec("fix_gcd", 0, passed=True),
            Spec("fix_gcd", 1, passed=False),
            Spec("fix_bitcount", 0, passed=True, tampered=True),
            Spec("fix_bitcount", 1, passed=False),
        ],
    )
    report = export_sft(env.store, tmp_path / "a.jsonl", SftOptions())
    assert report.examples == 1 and report.skipped == {"failed": 2, "tampered": 1}
    pair = env.pair_for("fix_gcd")
    env.store.set_verdict(pair.pair_id, "flip")  # a person prefers the failed rollout
    report = export_sft(env.store, tmp_path / "a.jsonl", SftOptions(include_failed_labeled_good=True))
    assert report.examples == 2 and report.skipped == {"failed": 1, "tampered": 1}
    uids = [m["uids"][0] for m in json.loads(Path(report.meta_path).read_text())["lines"]]
    assert sorted(uids) == ["b1/fix_gcd__s0", "b1/fix_gcd__s1"]


def test_trl_cannot_weight_so_it_uses_prompt_completion_or_skips(env, tmp_path: Path) -> None:
    env.batch("b1", [Spec("fix_gcd", 0, passed=True, steps=_steps_with_invalid("fix_gcd"))])
    out = tmp_path / "trl.jsonl"
    with pytest.raises(ExportError, match="trl_no_weights 1"):  # several trained turns beside masked ones
        export_sft(env.store, out, SftOptions(format="trl", train="all"))
    report = export_sft(env.store, out, SftOptions(format="trl", train="last"))
    line = read_lines(out)[0]
    assert set(line) == {"prompt", "completion", "tools"} and check_file(out).ok
    assert line["completion"][0]["tool_calls"][0]["function"]["name"] == "finish"
    assert isinstance(line["completion"][0]["tool_calls"][0]["function"]["arguments"], dict)
    report = export_sft(env.store, out, SftOptions(format="trl", style="step"))
    assert report.examples == 5 and check_file(out).format == "trl-sft"
