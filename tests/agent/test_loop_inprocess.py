"""Loop unit tests with the in-process provider (no HTTP): the loop's own decisions."""

from __future__ import annotations

import threading

from agent.loop import RolloutConfig, RolloutSpec, run_rollout
from agent.providers import ProviderCancelled, ProviderError
from agent.trace import ErrorEvent, read_trace
from tests.agent.rollout_fixtures import *
from tests.doubles.fake_provider import FakeProvider
from tests.doubles.scripted_llm import ScriptedPolicy


def _run(suite, provider, tmp_path, *, cancel=None, **cfg):
    path = tmp_path / "r.jsonl"
    result = run_rollout(
        RolloutSpec(suite, suite.task("fix_gcd"), path, rollout_id="r", seed=7),
        provider,
        config=RolloutConfig(**cfg),
        cancel=cancel,
        workspace_root=tmp_path / "ws",
    )
    return result, read_trace(path)


def test_each_turn_sees_the_conversation_so_far(tiny_suite, tmp_path):
    provider = FakeProvider(tiny_suite, ScriptedPolicy(tiny_suite, "clean"))
    result, read = _run(tiny_suite, provider, tmp_path, temperature=0.2)
    assert result.stop_reason == "finished" and result.outcome.tests_passed
    assert len(provider.calls) == result.outcome.steps
    # The n-th call carried exactly the messages written before it, with the rollout's seed.
    messages = [e.message for e in read.events if e.kind == "message"]
    for call in provider.calls:
        assert call["seed"] == 7 and call["temperature"] == 0.2
        assert call["messages"] == messages[: len(call["messages"])]
    assert result.outcome.tokens_in == sum(10 * len(c["messages"]) for c in provider.calls)


def test_invalid_call_is_recorded_and_answered_with_a_tool_error(tiny_suite, tmp_path):
    provider = FakeProvider(tiny_suite, ScriptedPolicy(tiny_suite, "invalid_then_recover"))
    result, read = _run(tiny_suite, provider, tmp_path)
    assert result.outcome.invalid_tool_calls >= 1 and result.stop_reason == "finished"
    bad = next(e for e in read.events if e.kind == "tool_call" and not e.valid)
    answer = next(e for e in read.events if e.kind == "message" and e.message.get("tool_call_id") == bad.call_id)
    assert bad.violations and answer.message["content"]


def test_a_provider_failure_ends_the_rollout_as_error(tiny_suite, tmp_path):
    provider = FakeProvider(tiny_suite, ScriptedPolicy(tiny_suite, "clean")).fail_next(ProviderError("boom"))
    result, read = _run(tiny_suite, provider, tmp_path)
    assert result.stop_reason == "error" and result.error == "boom"
    assert any(isinstance(e, ErrorEvent) and e.message == "boom" for e in read.events)


def test_cancel_during_a_retry_backoff_ends_the_rollout_as_cancelled(tiny_suite, tmp_path):
    provider = FakeProvider(tiny_suite, ScriptedPolicy(tiny_suite, "clean")).fail_next(ProviderCancelled("stop"))
    result, read = _run(tiny_suite, provider, tmp_path, cancel=threading.Event())
    assert result.stop_reason == "cancelled" and result.error is None
    assert read.end is not None and read.end.stop_reason == "cancelled"
