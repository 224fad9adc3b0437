"""Each importer on its own fixtures: what becomes of the conversation, tools, verdict, patch, stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.importers import import_paths
from agent.trace import read_batch_meta, read_trace
from tests.agent import import_fixtures as fx


def only_batch(out: Path) -> Path:
    batches = [p for p in out.iterdir() if p.is_dir()]
    assert len(batches) == 1, batches
    return batches[0]


def traces_of(batch: Path) -> dict[str, object]:
    return {p.stem: read_trace(p) for p in sorted((batch / "traces").glob("*.jsonl"))}


def check_shape(msgs: list[dict]) -> None:
    """Every message carries only the keys a training file accepts; every tool message answers a call."""
    open_calls: set[str] = set()
    for m in msgs:
        assert set(m) <= {"role", "content", "tool_calls", "tool_call_id"}, m
        if m["role"] == "assistant":
            open_calls = {c["id"] for c in m.get("tool_calls") or []}
            for c in m.get("tool_calls") or []:
                assert set(c) == {"id", "type", "function"} and isinstance(c["function"]["arguments"], str)
        elif m["role"] == "tool":
            assert m["tool_call_id"] in open_calls
        else:
            assert isinstance(m["content"], str)


# --------------------------------------------------------------------------- SWE-agent


@pytest.mark.parametrize("calls_as_repr", [False, True], ids=["dict-calls", "repr-calls"])
def test_swe_agent_function_calling_run(tmp_path: Path, calls_as_repr: bool) -> None:
    run = tmp_path / "src" / "run1"
    fx.write_json(
        run / "calc__calc-1" / "calc__calc-1.traj", fx.swe_agent_fc("calc__calc-1", calls_as_repr=calls_as_repr)
    )
    fx.write_json(run / "results.json", {"resolved_ids": ["calc__calc-1"], "unresolved_ids": []})
    report = import_paths([tmp_path / "src"], tmp_path / "out")
    assert [f.status for f in report.files] == ["imported", "skipped"]  # results.json is a companion file
    batch = only_batch(tmp_path / "out")
    meta = read_batch_meta(batch)
    assert meta.provider == "swe-agent" and meta.model == "gpt-4o" and meta.suite == "run1"  # the run folder
    assert meta.imported["format"] == "swe-agent"
    t = traces_of(batch)["calc__calc-1"]
    assert not t.warnings
    assert [tool["function"]["name"] for tool in t.start.tools] == fx.SWE_TOOLS
    edit = next(x for x in t.start.tools if x["function"]["name"] == "edit")["function"]["parameters"]
    assert edit["required"] == ["start_line", "end_line", "replacement_text"]
    assert edit["properties"]["start_line"]["type"] == "integer"
    msgs = t.conversation()
    check_shape(msgs)
    assert [m["role"] for m in msgs] == ["system", "user", *["assistant", "tool"] * 3]
    assert msgs[2]["tool_calls"][0]["function"] == {"name": "open", "arguments": '{"path": "calc.py"}'}
    calls = [e for e in t.events if e.kind == "tool_call"]
    assert [(c.name, c.valid) for c in calls] == [("open", True), ("edit", False), ("submit", True)]
    assert calls[1].violations == ["missing required argument 'end_line'"]
    o = t.end.outcome
    assert o.verdict_known and o.tests_passed  # from results.json beside the run
    assert o.patch == fx.patch()  # CRLF of the submission normalised
    assert o.files == ["calc.py"] and o.files_touched == 1
    assert (o.tokens_in, o.tokens_out, o.cost_usd) == (1200, 80, 0.25)
    assert (o.steps, o.tool_calls, o.invalid_tool_calls) == (3, 3, 1)
    assert t.end.stop_reason == "finished" and t.end.duration_s == 1.75


def test_swe_agent_text_actions_older_run(tmp_path: Path) -> None:
    run = tmp_path / "src" / "old-run"
    fx.write_json(run / "calc__calc-2.traj", fx.swe_agent_text("calc__calc-2"))
    fx.write_jsonl(
        run / "all_preds.jsonl",
        [{"instance_id": "calc__calc-2", "model_patch": fx.patch("2"), "model_name_or_path": "x"}],
    )
    import_paths([tmp_path / "src"], tmp_path / "out")
    t = traces_of(only_batch(tmp_path / "out"))["calc__calc-2"]
    assert t.start.tools == []  # a text-action run gave the model no native tools
    msgs = t.conversation()
    check_shape(msgs)
    # the demonstration stays (the model saw it); the reviewer agent's message does not
    assert [m["role"] for m in msgs] == ["system", "user", "user", "assistant", "user", "assistant"]
    assert msgs[3]["content"] == "Read it.\n```\ncat calc.py\n```" and "tool_calls" not in msgs[3]
    calls = [e for e in t.events if e.kind == "tool_call"]
    assert [(c.name, c.args, c.from_text) for c in calls] == [
        ("cat", {"command": "cat calc.py"}, True),
        ("submit", {"command": "submit"}, True),
    ]
    results = [e for e in t.events if e.kind == "tool_result"]
    assert [r.call_id for r in results] == [calls[0].call_id]  # observed by the next user message
    o = t.end.outcome
    assert not o.verdict_known and not o.tests_passed  # no results file: unknown, never guessed
    assert o.patch == fx.patch("2")  # from all_preds.jsonl beside it
    assert (o.tokens_in, o.tokens_out, o.cost_usd) == (900, 40, 0.5)  # model_stats given as a repr string


def test_results_flag_wins_and_unlisted_instance_stays_unknown(tmp_path: Path) -> None:
    run = tmp_path / "src" / "run"
    for iid in ("a__a-1", "b__b-1"):
        fx.write_json(run / f"{iid}.traj", fx.swe_agent_fc(iid))
    fx.write_json(run / "results.json", {"resolved_ids": ["a__a-1"], "completed_ids": ["a__a-1"]})
    import_paths([tmp_path / "src"], tmp_path / "out", results={"a__a-1": False})
    t = traces_of(only_batch(tmp_path / "out"))
    assert (t["a__a-1"].end.outcome.verdict_known, t["a__a-1"].end.outcome.tests_passed) == (True, False)
    assert t["b__b-1"].end.outcome.verdict_known is False


# --------------------------------------------------------------------------- mini-swe-agent


def test_mini_swe_agent_toolcall_v2(tmp_path: Path) -> None:
    run = tmp_path / "src" / "mini-run"
    fx.write_json(run / "calc__calc-1" / "calc__calc-1.traj.json", fx.mini_toolcall(submission=fx.patch()))
    import_paths([tmp_path / "src"], tmp_path / "out", results={"calc__calc-1": True})
    batch = only_batch(tmp_path / "out")
    assert read_batch_meta(batch).suite == "mini-run"  # the instance folder's parent is the run
    t = traces_of(batch)["calc__calc-1"]
    assert [x["function"]["name"] for x in t.start.tools] == ["bash"]
    msgs = t.conversation()
    check_shape(msgs)
    assert [m["role"] for m in msgs] == ["system", "user", *["assistant", "tool"] * 2]  # exit message dropped
    assert msgs[2]["content"] is None and msgs[2]["tool_calls"][0]["id"] == "t1"
    calls = [e for e in t.events if e.kind == "tool_call"]
    assert [c.valid for c in calls] == [True, False]  # "cmd" instead of the required "command"
    o = t.end.outcome
    assert o.tests_passed and o.patch == fx.patch()
    assert (o.tokens_in, o.tokens_out, o.cost_usd) == (700, 45, 0.03)
    assert t.end.duration_s == 10.0 and t.end.stop_reason == "finished"


def test_mini_swe_agent_text_v2_and_bare_list(tmp_path: Path) -> None:
    run = tmp_path / "src" / "mini"
    fx.write_json(run / "t1.traj.json", fx.mini_text(submission=fx.patch()))
    fx.write_json(run / "t2.traj.json", fx.mini_bare())
    fx.write_json(
        run / "preds.json", {"t2": {"instance_id": "t2", "model_patch": fx.patch("2"), "model_name_or_path": "m"}}
    )
    report = import_paths([tmp_path / "src"], tmp_path / "out")
    assert {f.path.name: (f.status, f.format) for f in report.files} == {
        "preds.json": ("skipped", None),
        "t1.traj.json": ("imported", "mini-swe-agent"),
        "t2.traj.json": ("imported", "mini-swe-agent"),
    }
    t = traces_of(only_batch(tmp_path / "out"))
    one, two = t["t1"], t["t2"]
    assert one.start.tools == [] and two.start.tools == []
    assert [m["role"] for m in one.conversation()] == ["system", "user", "assistant", "user"]  # exit record dropped
    assert [(c.name, c.from_text) for c in one.events if c.kind == "tool_call"] == [("sed", True)]
    assert one.end.outcome.patch == fx.patch()  # from the exit message's submission
    # the bare list: commands parsed from the fence; the trailing empty user message is dropped
    assert [m["role"] for m in two.conversation()] == ["system", "user", "assistant", "user", "assistant"]
    assert [c.args["command"] for c in two.events if c.kind == "tool_call"] == [
        "ls",
        "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT",
    ]
    assert two.end.outcome.patch == fx.patch("2")  # from preds.json
    assert not one.end.outcome.verdict_known and not two.end.outcome.verdict_known


def test_mini_swe_agent_responses_api_model(tmp_path: Path) -> None:
    fx.write_json(tmp_path / "src" / "r" / "calc__calc-1.traj.json", fx.mini_responses_api(submission=fx.patch()))
    import_paths([tmp_path / "src"], tmp_path / "out")
    t = traces_of(only_batch(tmp_path / "out"))["calc__calc-1"]
    msgs = t.conversation()
    check_shape(msgs)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool"]
    assert msgs[1]["content"] == fx.GOAL and msgs[2]["content"] == "Patch it."
    assert msgs[2]["tool_calls"][0]["function"] == {"name": "bash", "arguments": '{"command": "sed -i s/+1// calc.py"}'}
    assert msgs[3] == {"role": "tool", "content": "<returncode>0</returncode>", "tool_call_id": "fc_1"}
    assert [x["function"]["name"] for x in t.start.tools] == ["bash"]
    assert (t.end.outcome.tokens_in, t.end.outcome.tokens_out) == (320, 18)


# --------------------------------------------------------------------------- OpenHands


def test_openhands_event_list(tmp_path: Path) -> None:
    fx.write_json(tmp_path / "src" / "trajs" / "session-1.json", fx.openhands_events())
    import_paths([tmp_path / "src"], tmp_path / "out")
    t = traces_of(only_batch(tmp_path / "out"))["session-1"]
    assert [x["function"]["name"] for x in t.start.tools] == ["execute_bash", "str_replace_editor", "finish"]
    assert t.start.model == "litellm_proxy/qwen-coder"
    msgs = t.conversation()
    check_shape(msgs)
    # recall and state-change events are not messages; one response with two calls is one assistant turn
    assert [m["role"] for m in msgs] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    assert [c["id"] for c in msgs[4]["tool_calls"]] == ["c2", "c3"]
    results = {e.call_id: e.ok for e in t.events if e.kind == "tool_result"}
    assert results == {"c1": True, "c2": True, "c3": False}  # the error observation
    assert t.final.summary == "fixed add"
    llm = [(e.step, e.usage.prompt_tokens, e.usage.completion_tokens) for e in t.events if e.kind == "llm_call"]
    assert llm == [(1, 500, 30), (2, 500, 30), (3, 500, 30)]  # one per model response, with its usage
    o = t.end.outcome
    assert not o.verdict_known and o.patch == ""
    assert (o.steps, o.tool_calls, o.tokens_in, o.tokens_out) == (3, 4, 1500, 90)
    assert t.end.duration_s == 10.0


def test_openhands_output_jsonl(tmp_path: Path) -> None:
    fx.write_jsonl(tmp_path / "src" / "eval" / "output.jsonl", fx.openhands_output_rows())
    report = import_paths([tmp_path / "src"], tmp_path / "out")
    assert report.files[0].rollouts == 3
    batch = only_batch(tmp_path / "out")
    assert read_batch_meta(batch).suite == "mini-bench"
    t = traces_of(batch)
    assert sorted(t) == ["calc__calc-1", "calc__calc-1__1", "calc__calc-2"]  # two runs of one instance
    verdicts = {k: (v.end.outcome.verdict_known, v.end.outcome.tests_passed) for k, v in t.items()}
    assert verdicts == {"calc__calc-1": (True, True), "calc__calc-1__1": (True, False), "calc__calc-2": (False, False)}
    assert t["calc__calc-1__1"].start.task_id == "calc__calc-1"
    o = t["calc__calc-1"].end.outcome
    assert o.patch == fx.patch("1") and (o.tokens_in, o.tokens_out, o.cost_usd) == (1500, 90, 0.125)
    assert t["calc__calc-1"].start.model == "openai/qwen-coder"
    assert "api_key" not in (batch / "traces" / "calc__calc-1.jsonl").read_text()


# --------------------------------------------------------------------------- Inspect AI


def test_inspect_json_log(tmp_path: Path) -> None:
    samples = [fx.inspect_sample(1, 1, "C"), fx.inspect_sample(1, 2, "I"), fx.inspect_sample(2, 1, 0.5)]
    fx.write_json(tmp_path / "src" / "logs" / "2025-05-12_calc.json", fx.inspect_json(samples))
    import_paths([tmp_path / "src"], tmp_path / "out")
    batch = only_batch(tmp_path / "out")
    meta = read_batch_meta(batch)
    assert (meta.suite, meta.model, meta.provider) == ("calc_fix", "openai/gpt-4o-mini", "inspect")
    t = traces_of(batch)
    assert sorted(t) == ["1__e1", "1__e2", "2__e1"]
    assert t["1__e1"].start.task_id == "calc_fix/1"  # sample ids are per task
    verdicts = {k: (v.end.outcome.verdict_known, v.end.outcome.tests_passed) for k, v in t.items()}
    assert verdicts == {"1__e1": (True, True), "1__e2": (True, False), "2__e1": (False, False)}  # partial: unknown
    s = t["1__e1"]
    assert [x["function"]["name"] for x in s.start.tools] == ["bash"]
    assert s.start.tools[0]["function"]["parameters"]["required"] == ["cmd"]
    msgs = s.conversation()
    check_shape(msgs)
    assert msgs[2] == {
        "role": "assistant",
        "content": "Check.",
        "tool_calls": [
            {"id": "b1", "type": "function", "function": {"name": "bash", "arguments": '{"cmd": "cat calc.py"}'}}
        ],
    }
    assert s.final.summary == "ANSWER: 4"
    assert (s.end.outcome.tokens_in, s.end.outcome.tokens_out, s.end.duration_s) == (210, 12, 3.5)


@pytest.mark.parametrize("method", [0, 8, 93], ids=["stored", "deflate", "zstd"])
def test_inspect_eval_zip(tmp_path: Path, method: int) -> None:
    fx.inspect_eval(
        tmp_path / "src" / "calc.eval", [fx.inspect_sample(1, 1, True), fx.inspect_sample(2, 1, False)], method=method
    )
    report = import_paths([tmp_path / "src"], tmp_path / "out")
    assert (report.files[0].status, report.files[0].format, report.files[0].rollouts) == ("imported", "inspect", 2)
    t = traces_of(only_batch(tmp_path / "out"))
    assert {k: v.end.outcome.tests_passed for k, v in t.items()} == {"1__e1": True, "2__e1": False}


def test_inspect_format3_message_pool(tmp_path: Path) -> None:
    fx.inspect_eval(
        tmp_path / "src" / "pooled.eval", [fx.inspect_sample("s1", 1, "C", pooled=True)], method=93, version=3
    )
    import_paths([tmp_path / "src"], tmp_path / "out")
    t = traces_of(only_batch(tmp_path / "out"))["s1__e1"]
    msgs = t.conversation()
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool", "assistant"]  # pool + the output
    assert msgs[-1]["content"] == "ANSWER: 4"
    assert json.loads(msgs[2]["tool_calls"][0]["function"]["arguments"]) == {"cmd": "cat calc.py"}
