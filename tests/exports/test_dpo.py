"""DPO exports: modes and layouts pass the checker; verdicts are honoured exactly."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from together.lib.utils.files import check_file as together_check_file

from agent.trace import read_trace
from exports import DpoOptions, ExportError, check_file, export_dpo
from tests.exports.conftest import GOALS, Call, Spec, read_lines


def _contrast(env, tasks=("fix_gcd", "fix_bitcount", "fix_binsearch"), name="b1"):
    specs = []
    for t in tasks:
        specs += [Spec(t, 0, passed=True), Spec(t, 1, passed=False)]
    env.batch(name, specs)
    return {t: env.pair_for(t) for t in tasks}


@pytest.mark.parametrize("layout", ["together", "openai", "trl"])
@pytest.mark.parametrize("mode", ["final", "patch", "patch+trajectory"])
def test_every_mode_on_sample_traces_passes_check(sample, tmp_path: Path, mode: str, layout: str) -> None:
    out = tmp_path / f"dpo-{layout}.jsonl"
    report = export_dpo(sample, out, DpoOptions(mode=mode, format=layout, auto=True))
    assert report.examples > 0 and report.path == str(out)
    check = check_file(out)
    assert check.ok and check.format == f"{layout}-dpo" and check.lines == report.examples, check.errors
    if layout == "together":
        assert together_check_file(out)["is_check_passed"]  # the SDK's own (line-is-object) check too
    line = read_lines(out)[0]
    prompt = line["prompt"] if layout == "trl" else line["input"]["messages"]
    uid = json.loads(Path(report.meta_path).read_text())["lines"][0]["uids"][0]
    conv = read_trace(Path(sample.rollout(uid).trace_path)).conversation()
    assert prompt == [{"role": m["role"], "content": m["content"]} for m in conv[:2]]  # the real prompt and goal
    assert [m["role"] for m in prompt] == ["system", "user"]
    chosen = (line["chosen"] if layout == "trl" else line["preferred_output"])[0]
    payload = json.loads(chosen["content"])
    assert {
        "final": {"summary", "changes"},
        "patch": {"summary", "patch"},
        "patch+trajectory": {"summary", "patch", "trajectory"},
    }[mode] == set(payload)
    if mode == "patch+trajectory":
        assert 0 < len(payload["trajectory"]) <= 5
        assert all(len(c["result"] or "") <= 500 + 40 for c in payload["trajectory"])


def test_flip_is_swapped_discard_is_absent_unlabeled_needs_auto(env, tmp_path: Path) -> None:
    pairs = _contrast(env)
    s = env.store
    s.set_verdict(pairs["fix_gcd"].pair_id, "confirm")
    s.set_verdict(pairs["fix_bitcount"].pair_id, "flip")
    s.set_verdict(pairs["fix_binsearch"].pair_id, "discard")
    out = tmp_path / "dpo.jsonl"
    report = export_dpo(s, out, DpoOptions(mode="patch"))
    assert report.examples == 2 and report.skipped == {"discarded": 1}
    lines = read_lines(out)
    meta = json.loads(Path(report.meta_path).read_text())
    by_task = {m["task_id"]: (m, l) for m, l in zip(meta["lines"], lines)}
    assert set(by_task) == {"fix_gcd", "fix_bitcount"}  # the discarded pair is absent
    gcd_meta, gcd = by_task["fix_gcd"]
    assert gcd_meta["uids"] == ["b1/fix_gcd__s0", "b1/fix_gcd__s1"] and gcd_meta["verdict"] == "confirm"
    assert json.loads(gcd["preferred_output"][0]["content"])["summary"] == "fixed fix_gcd (seed 0)"
    bit_meta, bit = by_task["fix_bitcount"]
    # flipped: the failing rollout (seed 1) is now preferred, the passing one non-preferred
    assert bit_meta["uids"] == ["b1/fix_bitcount__s1", "b1/fix_bitcount__s0"] and bit_meta["verdict"] == "flip"
    assert json.loads(bit["preferred_output"][0]["content"])["summary"] == "fixed fix_bitcount (seed 1)"
    assert json.loads(bit["non_preferred_output"][0]["content"])["summary"] == "fixed fix_bitcount (seed 0)"
    assert meta["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert meta["counts"]["verdicts"] == {"confirm": 1, "flip": 1}
    assert meta["source_batches"] == ["b1"] and meta["kind"] == "dpo" and meta["format"] == "together-dpo"

    s.set_verdict(pairs["fix_gcd"].pair_id, None)  # cleared: unlabeled again
    report = export_dpo(s, out, DpoOptions())
    assert report.examples == 1 and report.skipped == {"discarded": 1, "unlabeled": 1}
    report = export_dpo(s, out, DpoOptions(auto=True))
    assert report.examples == 2  # auto takes the unlabeled pair, never the discarded one
    assert "fix_binsearch" not in out.read_text()


def test_auto_drops_noisy_pairs_unless_kept(env, tmp_path: Path) -> None:
    env.batch(
        "b1",
        [
            Spec("fix_gcd", 0, passed=False),
            Spec(
                "fix_gcd",
                1,
                passed=False,
                steps=[[Call("read_file", {"rel_path": "gcd.py"})], [Call("finish", {"summary": "x", "changes": []})]],
            ),
        ],
    )
    pair = env.pair_for("fix_gcd")
    assert "both_fail" in pair.flags
    with pytest.raises(ExportError, match="noisy:both_fail 1"):
        export_dpo(env.store, tmp_path / "d.jsonl", DpoOptions(auto=True))
    assert not (tmp_path / "d.jsonl").exists()
    report = export_dpo(env.store, tmp_path / "d.jsonl", DpoOptions(auto=True, keep_noisy=True))
    assert report.examples == 1
    env.store.set_verdict(pair.pair_id, "confirm")  # a person's verdict is kept even when noisy
    assert export_dpo(env.store, tmp_path / "d.jsonl", DpoOptions()).examples == 1


def _branch_env(env):
    parent = Spec(
        "fix_gcd",
        0,
        passed=False,
        steps=[
            [Call("list_dir", {"rel_dir": "."})],
            [Call("read_file", {"rel_path": "gcd.py"})],
            [Call("write_file", {"rel_path": "gcd.py", "content": "wrong"})],
            [Call("finish", {"summary": "w", "changes": []})],
        ],
    )
    branch = Spec(
        "fix_gcd",
        1,
        passed=True,
        branch_of=parent,
        prefix_steps=2,
        steps=[
            [Call("grep", {"pattern": "def", "rel_dir": "."})],
            [Call("write_file", {"rel_path": "gcd.py", "content": "right"})],
            [Call("run_tests", {})],
            [Call("finish", {"summary": "fixed", "changes": ["gcd.py"]})],
        ],
    )
    env.batch("b1", [parent, branch])
    return env.pair_for("fix_gcd", kind="step")


@pytest.mark.parametrize("layout", ["together", "openai", "trl"])
def test_step_mode_shares_the_prefix_and_outputs_native_tool_calls(env, tmp_path: Path, layout: str) -> None:
    pair = _branch_env(env)
    env.store.set_verdict(pair.pair_id, "confirm")
    out = tmp_path / "step.jsonl"
    report = export_dpo(env.store, out, DpoOptions(mode="step", format=layout))
    assert report.examples == 1 and check_file(out).ok
    line = read_lines(out)[0]
    prompt = line["prompt"] if layout == "trl" else line["input"]["messages"]
    # system, goal, then two full steps (assistant + tool result each): the shared prefix
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert GOALS["fix_gcd"] in prompt[1]["content"]
    chosen = (line["chosen"] if layout == "trl" else line["preferred_output"])[0]
    rejected = (line["rejected"] if layout == "trl" else line["non_preferred_output"])[0]
    assert chosen["tool_calls"][0]["function"]["name"] == "grep"  # the branch's next move (it passed)
    assert rejected["tool_calls"][0]["function"]["name"] == "write_file"
    args = chosen["tool_calls"][0]["function"]["arguments"]
    assert (
        args == {"pattern": "def", "rel_dir": "."}
        if layout == "trl"
        else json.loads(args) == {"pattern": "def", "rel_dir": "."}
    )


def test_step_mode_never_prefers_a_step_marked_bad(env, tmp_path: Path) -> None:
    pair = _branch_env(env)
    env.store.set_verdict(pair.pair_id, "confirm")
    env.store.mark_step(pair.chosen_uid, 3, "wrong_file")  # the branch's diverging step
    with pytest.raises(ExportError, match="bad_step_preferred 1"):
        export_dpo(env.store, tmp_path / "s.jsonl", DpoOptions(mode="step"))
    env.store.set_verdict(pair.pair_id, "flip")  # now the parent's step is preferred: fine
    assert export_dpo(env.store, tmp_path / "s.jsonl", DpoOptions(mode="step")).examples == 1


def test_dry_run_writes_nothing_and_previews_the_first_record(env, tmp_path: Path) -> None:
    _contrast(env)
    out = tmp_path / "d.jsonl"
    dry = export_dpo(env.store, out, DpoOptions(auto=True, price_per_mtok=2.0), dry_run=True)
    assert not out.exists() and dry.path is None and dry.dry_run
    assert dry.examples == 3 and dry.tokens > 0 and dry.tokens_are_estimate
    assert dry.cost_per_epoch == pytest.approx(dry.tokens / 1e6 * 2.0)
    real = export_dpo(env.store, out, DpoOptions(auto=True))
    assert real.cost_per_epoch is None  # no price, no invented default
    assert dry.preview == read_lines(out)[0] == real.preview
    assert (dry.examples, dry.tokens) == (real.examples, real.tokens)


def test_real_tokenizer_counts(env, tmp_path: Path, monkeypatch) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        ["fix the bug in gcd def return", "system user assistant tool"],
        trainers.WordLevelTrainer(special_tokens=["[UNK]"]),
    )
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    _contrast(env, tasks=("fix_gcd",))
    est = export_dpo(env.store, tmp_path / "a.jsonl", DpoOptions(auto=True))
    real = export_dpo(env.store, tmp_path / "b.jsonl", DpoOptions(auto=True, tokenizer_path=str(path)))
    assert est.tokens_are_estimate and not real.tokens_are_estimate
    assert "tokenizer.json" in real.token_counter
    line = read_lines(tmp_path / "b.jsonl")[0]
    texts = [f"{m['role']}\n{m['content']}" for m in line["input"]["messages"]]
    texts += [f"assistant\n{line[k][0]['content']}" for k in ("preferred_output", "non_preferred_output")]
    texts.append(json.dumps(line["input"]["tools"], separators=(",", ":")))
    assert real.tokens == sum(len(tok.encode(t, add_special_tokens=False).ids) for t in texts)
    assert real.tokens != est.tokens
    monkeypatch.setenv("REPO_AGENT_TOKENIZER", str(path))  # the env var works the same
    assert export_dpo(env.store, tmp_path / "c.jsonl", DpoOptions(auto=True), dry_run=True).tokens == real.tokens
    monkeypatch.setenv("REPO_AGENT_TOKENIZER", str(tmp_path / "nope.json"))
    with pytest.raises(ExportError, match="tokenizer file not found"):
        export_dpo(env.store, tmp_path / "c.jsonl", DpoOptions(auto=True), dry_run=True)


def test_reads_each_trace_once_and_only_what_the_mode_needs(env, tmp_path: Path, monkeypatch) -> None:
    from exports import traces

    _contrast(env, tasks=("fix_gcd", "fix_bitcount"))
    reads: dict[str, list] = {"full": [], "tail": [], "head": []}
    for name in reads:
        real = getattr(traces, f"_read_{name}")
        monkeypatch.setattr(traces, f"_read_{name}", lambda p, *a, _r=real, _n=name: reads[_n].append(p) or _r(p, *a))
    export_dpo(env.store, tmp_path / "p.jsonl", DpoOptions(auto=True, mode="patch"))
    assert reads["full"] == reads["tail"] == [] and len(reads["head"]) == len(set(reads["head"])) == 4
    export_dpo(env.store, tmp_path / "t.jsonl", DpoOptions(auto=True, mode="patch+trajectory"))
    assert reads["full"] == [] and len(reads["tail"]) == len(set(reads["tail"])) == 4  # once per rollout


@pytest.mark.parametrize("window", [64, 300, 64 * 1024])
def test_tail_read_gives_the_same_last_calls_as_a_full_read(sample, monkeypatch, window: int) -> None:
    from exports import traces
    from exports.dpo import last_tool_calls

    monkeypatch.setattr(traces, "TAIL_BYTES", window)  # small windows: the read grows backwards
    for r in sample.rollouts():
        full = traces._read_full(Path(r.trace_path)).messages
        for k in (1, 2, 5, 50):
            tail = traces._read_tail(Path(r.trace_path), k)
            assert last_tool_calls(tail, k, 100) == last_tool_calls(full, k, 100), (r.uid, k)
