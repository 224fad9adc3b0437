"""Providers against the real local chat-completions server: openai and Together SDKs."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from agent.providers import (
    MissingApiKey,
    OpenAIProvider,
    ProviderCancelled,
    ProviderConfigError,
    ProviderError,
    RetryPolicy,
    TogetherProvider,
    provider_factory,
    replay_factory,
)
from tests.agent.rollout_fixtures import *
from tests.bounded_call import finishes_within
from tests.doubles.scripted_llm import ScriptedPolicy

GOAL = "The function in task fix_gcd returns wrong results. Find and fix the bug."
MESSAGES = [{"role": "system", "content": "sys"}, {"role": "user", "content": GOAL}]
TOOLS = [{"type": "function", "function": {"name": "list_dir", "parameters": {"type": "object", "properties": {}}}}]


@pytest.mark.parametrize("kind", ["openai", "together"])
def test_completion_shape_seed_and_usage(kind, tiny_suite, scripted, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    cls = OpenAIProvider if kind == "openai" else TogetherProvider
    p = cls("my-model", base_url=server.base_url, retry=FAST_RETRY)  # local: no key needed
    c = p.complete(MESSAGES, TOOLS, seed=41, temperature=0.5)
    body = server.requests[-1]
    assert body["seed"] == 41 and body["temperature"] == 0.5 and body["model"] == "my-model"
    assert body["messages"] == MESSAGES and body["tools"] == TOOLS
    msg = c.message
    assert msg["role"] == "assistant" and set(msg) == {"role", "content", "tool_calls"}
    call = msg["tool_calls"][0]
    assert call["type"] == "function" and call["id"] == "call_1_0" and isinstance(call["function"]["arguments"], str)
    assert c.finish_reason == "tool_calls" and c.retries == 0
    assert c.usage.prompt_tokens > 0 and c.usage.completion_tokens > 0


@pytest.mark.parametrize("kind", ["openai", "together"])
def test_429_then_success_is_retried_and_counted(kind, tiny_suite, scripted):
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    server.fail_next(2, status=429)
    cls = OpenAIProvider if kind == "openai" else TogetherProvider
    c = cls("m", base_url=server.base_url, retry=FAST_RETRY).complete(MESSAGES, TOOLS, seed=1)
    assert c.retries == 2 and len(server.requests) == 3  # the SDK's own retries are off
    assert c.message["tool_calls"]


def test_5xx_retries_exhausted_raise_with_count(tiny_suite, scripted):
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    server.fail_when(lambda b: True, status=503)
    with pytest.raises(ProviderError) as info:
        openai_for(server).complete(MESSAGES, TOOLS, seed=1)
    assert info.value.retries == FAST_RETRY.max_retries and info.value.status == 503
    assert len(server.requests) == FAST_RETRY.max_retries + 1


def test_client_errors_are_not_retried(tiny_suite, scripted):
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    server.fail_next(1, status=400)
    with pytest.raises(ProviderError) as info:
        openai_for(server).complete(MESSAGES, TOOLS)
    assert info.value.retries == 0 and info.value.status == 400 and len(server.requests) == 1


def test_a_hanging_request_times_out_and_is_retried(tiny_suite, scripted):
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    server.hang_next(1)
    # The timeout also bounds the retry's honest answer: 0.3 s cut one on a loaded machine.
    c = openai_for(server, timeout_s=2.0).complete(MESSAGES, TOOLS)
    assert c.retries == 1 and len(server.requests) == 2


def test_cancel_ends_a_backoff_wait_at_once(tiny_suite, scripted):
    retry = RetryPolicy(max_retries=4, base_delay_s=600, max_delay_s=600)
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    # The batch is cancelled while the first request is failing: the 600 s backoff must not be slept.
    server.fail_when(lambda body: retry.cancel.set() or True, status=503)
    with pytest.raises(ProviderCancelled) as info:
        openai_for(server, retry=retry).complete(MESSAGES, TOOLS)
    assert info.value.retries == 0 and len(server.requests) == 1


def test_backoff_doubles_and_is_capped():
    r = RetryPolicy(base_delay_s=0.5, max_delay_s=3)
    assert [r.delay(i) for i in range(5)] == [0.5, 1.0, 2.0, 3, 3]


@pytest.mark.parametrize("kind,env", [("openai", "OPENAI_API_KEY"), ("together", "TOGETHER_API_KEY")])
def test_missing_key_is_a_typed_error_unless_local(kind, env, monkeypatch):
    monkeypatch.delenv(env, raising=False)
    with pytest.raises(MissingApiKey, match=env):
        provider_factory(kind, "m", base_url="https://api.example.com/v1")
    with pytest.raises(MissingApiKey, match=env):
        provider_factory(kind, "m")
    assert provider_factory(kind, "m", base_url="http://127.0.0.1:9/v1")("t", 0).name == kind


def test_factory_config_errors(tmp_path):
    with pytest.raises(ProviderConfigError, match="--replay-from"):
        provider_factory("replay")
    with pytest.raises(ProviderConfigError, match="unknown provider"):
        provider_factory("nope", "m", base_url="http://localhost:1/v1")
    with pytest.raises(ProviderConfigError, match="--model"):
        provider_factory("openai", None, base_url="http://localhost:1/v1")
    with pytest.raises(ProviderConfigError, match="neither"):
        replay_factory(tmp_path / "missing")


# The replay provider's normaliser up to round 22, the reference its linear patterns keep.
_VOLATILE_BEFORE = [
    (re.compile(r"\d+(\.\d+)?s\b"), "<t>"),
    (re.compile(r"(/[\w.\-]+)*/(tmp|var)/[^\s'\":]*"), "<path>"),
    (re.compile(r"0x[0-9a-f]+"), "<addr>"),
]
_OUTPUT_PARTS = ["/", "tmp", "var", "a", ".", "-", "1", "s", " ", ":", "'", "0x", "é", "٣"]


def _normalised_before(text: str) -> str:
    for rx, sub in _VOLATILE_BEFORE:
        text = rx.sub(sub, text)
    return text


def test_replay_normalises_tool_outputs_as_before():
    from agent.providers import _norm

    texts = ["".join(t) for n in range(5) for t in itertools.product(_OUTPUT_PARTS, repeat=n)]
    rnd = random.Random(22)
    texts += ["".join(rnd.choices(_OUTPUT_PARTS, k=rnd.randint(5, 25))) for _ in range(20_000)]
    assert [_norm(t) for t in texts] == [_normalised_before(t) for t in texts]
    assert _norm("ran /x/tmp/ws-1/a.py in 0.25s at 0x7f") == "ran <path> in <t> at <addr>"


@pytest.mark.parametrize("output", ["'1' * 40_000", "'/a' * 20_000"], ids=["digits", "path"])
def test_replay_normalises_a_hostile_tool_output_at_once(output):
    """A run of digits or a path without /tmp/ began a new search at each character, to the
    run's end: quadratic, 8,000 characters cost seconds a message (round 22 sweep); 40,000
    minutes."""
    setup = f"from agent.providers import _norm\ntext = {output}\n"
    assert finishes_within(20, "assert _norm(text) == text\n", setup), (
        "the replay provider still normalising one tool output after 20 s"
    )
