"""The agent loop end to end: real scripted server, real openai client, real workspace,
real (sandboxed) pytest runs."""

from __future__ import annotations

import json

from agent.loop import RolloutConfig, RolloutSpec, run_rollout
from agent.providers import ReplayProvider
from agent.trace import (
    BranchInfo,
    ErrorEvent,
    FinalEvent,
    LlmCall,
    MessageEvent,
    RolloutEnd,
    RolloutStart,
    ToolCallEvent,
    ToolResultEvent,
    read_trace,
)
from agent.trace import (
    TestRun as TraceTestRun,
)
from tests.agent.rollout_fixtures import *
from tests.doubles.scripted_llm import ScriptedPolicy
from tests.factories import TOOL_NAMES


def _run(suite, provider, tmp_path, task_id="fix_gcd", seed=3, name="r", **cfg):
    path = tmp_path / f"{name}.jsonl"
    result = run_rollout(
        RolloutSpec(suite, suite.task(task_id), path, rollout_id=name, seed=seed),
        provider,
        config=RolloutConfig(**cfg),
        workspace_root=tmp_path / "ws",
    )
    return result, read_trace(path)


def test_clean_rollout_passes_and_trace_holds_every_event(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    result, read = _run(tiny_suite, openai_for(server), tmp_path, price_in=1.0, price_out=2.0, temperature=0.3)

    assert not read.warnings
    assert result.stop_reason == "finished" and result.outcome.tests_passed
    kinds = [e.kind for e in read.events]
    assert kinds[0] == "rollout_start" and kinds[-1] == "rollout_end"
    start = read.start
    assert isinstance(start, RolloutStart) and start.seed == 3 and start.provider == "openai"
    assert {t["function"]["name"] for t in start.tools} == set(TOOL_NAMES)
    # Every request carried the rollout's seed and temperature.
    assert server.requests and all(b["seed"] == 3 and b["temperature"] == 0.3 for b in server.requests)
    # One llm_call per step; tool_call/tool_result pairs share step and call_id.
    steps = [e for e in read.events if isinstance(e, LlmCall)]
    assert [e.step for e in steps] == list(range(1, result.outcome.steps + 1))
    calls = [(e.step, e.call_id) for e in read.events if isinstance(e, ToolCallEvent)]
    results = [(e.step, e.call_id) for e in read.events if isinstance(e, ToolResultEvent)]
    assert calls == results and len(calls) == result.outcome.tool_calls
    tests = [e for e in read.events if isinstance(e, TraceTestRun)]
    assert tests[-1].final and tests[-1].passed and tests[-1].step is None
    assert any(not t.final and t.step is not None for t in tests)  # the agent's own run_tests
    final = read.final
    assert isinstance(final, FinalEvent) and final.summary and final.test_result["passed"] is True
    end = read.end
    assert end.outcome == result.outcome and end.stop_reason == "finished"
    assert end.outcome.files == ["gcd.py"] and end.outcome.files_touched == 1
    assert "a % b" in end.outcome.patch and "diff --git" in end.outcome.patch
    assert end.outcome.tokens_in > 0 and end.outcome.tokens_out > 0
    expected_cost = (end.outcome.tokens_in * 1.0 + end.outcome.tokens_out * 2.0) / 1e6
    assert abs(end.outcome.cost_usd - expected_cost) < 1e-9


def test_conversation_from_trace_equals_what_the_server_received(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "wandering"))
    result, read = _run(tiny_suite, openai_for(server), tmp_path)
    conv = read.conversation()
    last = server.requests[-1]["messages"]
    assert len(server.requests) == result.outcome.steps
    # The last request saw the whole conversation up to the final assistant turn; after
    # it come that turn (the finish call) and its tool result.
    assert conv[: len(last)] == last
    assert conv[len(last)]["role"] == "assistant"
    assert conv[len(last)]["tool_calls"][0]["function"]["name"] == "finish"
    assert [m["role"] for m in conv[len(last) + 1 :]] == ["tool"]
    # And every earlier request was a prefix of it.
    for body in server.requests:
        assert conv[: len(body["messages"])] == body["messages"]
    # A step with two tool calls (wandering step 3) gives two tool messages after it.
    step3 = [e.message for e in read.events if isinstance(e, MessageEvent) and e.step == 3]
    assert len(step3[0]["tool_calls"]) == 2 and [m["role"] for m in step3[1:]] == ["tool", "tool"]


def test_invalid_calls_are_recorded_and_the_rollout_recovers(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "invalid_then_recover"))
    result, read = _run(tiny_suite, openai_for(server), tmp_path, task_id="fix_largest")
    assert result.outcome.tests_passed and result.outcome.invalid_tool_calls == 3
    bad = [e for e in read.events if isinstance(e, ToolCallEvent) and not e.valid]
    assert [e.name for e in bad] == ["list_dir", "list_dir", "read_file"]
    assert all(e.violations for e in bad)
    assert any("rel_dir" in v for v in bad[0].violations)  # missing
    assert any("rel_dir" in v for v in bad[1].violations)  # empty
    assert bad[2].parse_error and bad[2].args is None and bad[2].arguments.startswith('{"rel_path"')
    # The model was answered with an error it can act on, as a tool message.
    tool_msgs = {
        e.message["tool_call_id"]: e.message["content"]
        for e in read.events
        if isinstance(e, MessageEvent) and e.message["role"] == "tool"
    }
    assert all(tool_msgs[e.call_id] for e in bad)


def test_tampering_is_caught_by_the_final_run(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "tamper"))
    result, read = _run(tiny_suite, openai_for(server), tmp_path)
    step_runs = [e for e in read.events if isinstance(e, TraceTestRun) and not e.final]
    assert step_runs[-1].passed  # the edited test file passed inside the rollout...
    assert result.outcome.tests_tampered and result.outcome.tampered_paths == ["test_gcd.py"]
    assert not result.outcome.tests_passed  # ...but the real tests decide


def test_max_iters_ends_a_rollout_that_never_finishes(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "never_finish"))
    result, read = _run(tiny_suite, openai_for(server), tmp_path, max_iters=4)
    assert result.stop_reason == "max_iters" and result.outcome.steps == 4
    assert len(server.requests) == 4 and read.final is None and not result.outcome.tests_passed


def test_provider_failure_ends_the_rollout_with_error(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    server.fail_when(lambda body: len(body["messages"]) > 2, status=500)  # step 2 on
    result, read = _run(tiny_suite, openai_for(server), tmp_path)
    assert result.stop_reason == "error" and result.outcome.steps == 1
    err = [e for e in read.events if isinstance(e, ErrorEvent)]
    assert err and err[0].step == 2 and "500" in err[0].message and "retries" in err[0].message
    assert isinstance(read.end, RolloutEnd) and not read.warnings
    assert len(server.requests) == 1 + 1 + FAST_RETRY.max_retries


def test_reflection_message_follows_a_failed_test_run(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "wrong_fix"))
    _, read = _run(tiny_suite, openai_for(server), tmp_path, seed=0, reflection=True)
    conv = read.conversation()
    i = next(i for i, m in enumerate(conv) if m["role"] == "tool" and "FAIL" in (m["content"] or "").upper())
    assert conv[i + 1]["role"] == "user" and "reflect" in conv[i + 1]["content"]


def test_replay_reproduces_a_recording_without_network_and_reports_divergence(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    original, rec = _run(tiny_suite, openai_for(server), tmp_path, name="orig")
    server.close()  # from here on, no network
    replayed, rep = _run(tiny_suite, ReplayProvider(tmp_path / "orig.jsonl"), tmp_path, name="again")
    assert replayed.stop_reason == "finished" and replayed.outcome.tests_passed
    assert replayed.outcome.patch == original.outcome.patch
    assert [m for m in rep.conversation() if m["role"] == "assistant"] == [
        m for m in rec.conversation() if m["role"] == "assistant"
    ]
    # The same recording on another task: the goal differs, so the replay stops at once.
    other, read = _run(
        tiny_suite, ReplayProvider(tmp_path / "orig.jsonl"), tmp_path, task_id="fix_largest", name="other"
    )
    assert other.stop_reason == "diverged" and other.outcome.steps == 0
    assert "differs from the recording" in [e for e in read.events if isinstance(e, ErrorEvent)][0].message
    # Fewer turns allowed than the recording needs is fine; more than it has is divergence.
    short, _ = _run(tiny_suite, ReplayProvider(tmp_path / "orig.jsonl"), tmp_path, name="short", max_iters=2)
    assert short.stop_reason == "max_iters"


def test_replay_runs_out_of_recorded_turns(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "never_finish"))
    _run(tiny_suite, openai_for(server), tmp_path, name="rec", max_iters=2)
    result, read = _run(tiny_suite, ReplayProvider(tmp_path / "rec.jsonl"), tmp_path, name="more", max_iters=5)
    assert result.stop_reason == "diverged" and result.outcome.steps == 2
    assert "only 2 assistant turns" in [e for e in read.events if isinstance(e, ErrorEvent)][0].message


def test_prefix_messages_branch_from_a_recorded_step(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "wandering"))
    _, parent = _run(tiny_suite, openai_for(server), tmp_path, name="parent")
    conv = parent.conversation()
    # Branch right after step 6 (the wrong write): the workspace must hold the wrong fix.
    cut = max(i for i, e in enumerate(conv) if e["role"] == "tool" and e["tool_call_id"].startswith("call_6_")) + 1
    n_before = len(server.requests)
    path = tmp_path / "branch.jsonl"
    result = run_rollout(
        RolloutSpec(
            tiny_suite,
            tiny_suite.task("fix_gcd"),
            path,
            rollout_id="branch",
            seed=3,
            prefix_messages=conv[:cut],
            branch=BranchInfo(parent_rollout_id="parent", prefix_messages=cut, at_step=7),
        ),
        openai_for(server),
        workspace_root=tmp_path / "ws",
    )
    read = read_trace(path)
    assert read.conversation()[:cut] == conv[:cut]
    assert read.start.branch.at_step == 7
    first = server.requests[n_before]["messages"]
    assert first == conv[:cut]  # the branch's first request is exactly the parent's prefix
    assert result.outcome.tests_passed and result.outcome.steps == parent.end.outcome.steps


def test_rollout_wall_clock_timeout(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "never_finish"))
    result, read = _run(tiny_suite, openai_for(server), tmp_path, timeout_s=0.0)
    assert result.stop_reason == "timeout" and result.outcome.steps == 0 and not server.requests
    assert read.end.stop_reason == "timeout" and not read.warnings


def test_a_workspace_fault_is_an_error_rollout_with_a_valid_trace(tiny_suite, scripted, tmp_path):
    task = type(tiny_suite.task("fix_gcd")).model_validate(
        tiny_suite.task("fix_gcd").model_dump() | {"source": {"kind": "dir", "path": "no/such/dir"}}
    )
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    path = tmp_path / "t.jsonl"
    result = run_rollout(
        RolloutSpec(tiny_suite, task, path, rollout_id="t", seed=0), openai_for(server), workspace_root=tmp_path
    )
    read = read_trace(path)
    assert result.stop_reason == "error" and "source directory not found" in result.error
    assert [e.kind for e in read.events] == ["rollout_start", "error", "rollout_end"] and not server.requests


def test_a_rollout_through_the_together_sdk(tiny_suite, scripted, tmp_path):
    from agent.providers import TogetherProvider

    server = scripted(ScriptedPolicy(tiny_suite, "invalid_then_recover"))
    provider = TogetherProvider("scripted", base_url=server.base_url, retry=FAST_RETRY)
    result, read = _run(tiny_suite, provider, tmp_path, seed=9)
    assert result.outcome.tests_passed and result.outcome.invalid_tool_calls == 3
    assert read.start.provider == "together" and all(b["seed"] == 9 for b in server.requests)
    # The Together SDK sends the conversation unchanged, broken JSON arguments included.
    conv = read.conversation()
    for body in server.requests:
        assert conv[: len(body["messages"])] == body["messages"]


def test_a_branch_replays_the_prefixs_writes(tiny_suite, scripted, tmp_path):
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))

    def call(i: int, name: str, args: dict) -> dict:
        return {"id": f"call_x_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}

    calls = [
        call(0, "write_file", {"rel_path": "marker.txt", "content": "replayed\n"}),
        call(1, "list_dir", {"rel_dir": "."}),
    ]
    prefix = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "fix gcd"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        *({"role": "tool", "tool_call_id": c["id"], "content": "ok"} for c in calls),
    ]
    path = tmp_path / "branch.jsonl"
    result = run_rollout(
        RolloutSpec(
            tiny_suite,
            tiny_suite.task("fix_gcd"),
            path,
            rollout_id="branch",
            seed=0,
            prefix_messages=prefix,
            branch=BranchInfo(parent_rollout_id="parent", prefix_messages=len(prefix), at_step=2),
        ),
        openai_for(server),
        config=RolloutConfig(timeout_s=0.0),  # no new turn: only the replayed prefix acts on the workspace
        workspace_root=tmp_path / "ws",
    )
    assert not server.requests
    assert "marker.txt" in result.outcome.patch and "+replayed" in result.outcome.patch
