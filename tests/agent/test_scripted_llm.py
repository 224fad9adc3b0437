"""The scripted chat-completions server: protocol, faults, and its policies."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.agent.rollout_fixtures import *
from tests.doubles.scripted_llm import FAILING, PASSING, SCRIPTS, MixedPolicy, PolicyRequest, ScriptedPolicy, task_facts

GOAL = "The function in task fix_largest returns wrong results. Find and fix the bug."


def _post(url: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_speaks_chat_completions_and_records_requests(tiny_suite, scripted):
    server = scripted(ScriptedPolicy(tiny_suite, "clean"), model="m0")
    body = {"model": "x", "seed": 5, "messages": [{"role": "user", "content": GOAL}]}
    status, data = _post(server.base_url + "/chat/completions", json.dumps(body).encode())
    assert status == 200 and data["object"] == "chat.completion" and data["id"]
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "tool_calls"
    assert set(data["usage"]) >= {"prompt_tokens", "completion_tokens"}
    assert server.requests == [body]
    assert _post(server.base_url + "/nope", b"{}")[0] == 404
    assert _post(server.base_url + "/chat/completions", b"not json")[0] == 400


def test_fail_next_then_recovers(tiny_suite, scripted):
    server = scripted(ScriptedPolicy(tiny_suite, "clean"))
    server.fail_next(2, status=429)
    body = json.dumps({"messages": [{"role": "user", "content": GOAL}]}).encode()
    codes = [_post(server.base_url + "/chat/completions", body)[0] for _ in range(3)]
    assert codes == [429, 429, 200]


def test_task_facts_come_from_the_hidden_reference_fix(tiny_suite):
    f = task_facts(tiny_suite, tiny_suite.task("fix_largest"))
    assert f.bug_file == "largest.py" and f.test_file == "test_largest.py"
    assert "xs[1:]:" in f.fix_files["largest.py"] and "xs[1:-1]" in f.source_files["largest.py"]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_each_script_is_well_formed_and_deterministic(name, tiny_suite):
    pol = ScriptedPolicy(tiny_suite, name)
    task = tiny_suite.task("fix_gcd")
    a, b = pol.script_for(task, 7), pol.script_for(task, 7)
    assert a == b and a
    for i, msg in enumerate(a[:20], start=1):
        assert msg["role"] == "assistant" and msg["tool_calls"]
        assert all(c["id"].startswith(f"call_{i}_") for c in msg["tool_calls"])
    names = [c["function"]["name"] for m in a for c in m["tool_calls"]]
    assert (names[-1] == "finish") == (name != "never_finish")


def test_invalid_script_holds_each_invalid_kind(tiny_suite):
    s = ScriptedPolicy(tiny_suite, "invalid_then_recover").script_for(tiny_suite.task("fix_gcd"), 0)
    raw = [c["function"]["arguments"] for m in s[:3] for c in m["tool_calls"]]
    assert "rel_dir" not in json.loads(raw[0]) and json.loads(raw[1])["rel_dir"] == ""
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw[2])


def test_mixed_policy_is_deterministic_and_follows_pass_prob(tiny_suite):
    mixed = MixedPolicy(tiny_suite, pass_prob={"fix_gcd": 1.0, "fix_largest": 0.0})
    assert all(mixed.choose("fix_gcd", s) in PASSING for s in range(30))
    assert all(mixed.choose("fix_largest", s) in FAILING for s in range(30))
    half = MixedPolicy(tiny_suite, pass_prob=0.5)
    picks = [half.choose("fix_gcd", s) for s in range(40)]
    assert picks == [MixedPolicy(tiny_suite, pass_prob=0.5).choose("fix_gcd", s) for s in range(40)]
    assert 8 < sum(p in PASSING for p in picks) < 32 and len(set(picks)) >= 5
    pinned = MixedPolicy(tiny_suite, plan={("fix_gcd", 3): "tamper"})
    assert pinned.choose("fix_gcd", 3) == "tamper"


def test_policy_resolves_the_task_from_the_goal_and_the_turn_from_history(tiny_suite):
    pol = ScriptedPolicy(tiny_suite, "clean")
    script = pol.script_for(tiny_suite.task("fix_largest"), 2)
    history = [{"role": "user", "content": GOAL}, script[0], {"role": "tool", "tool_call_id": "x", "content": "ok"}]
    from tests.doubles.scripted_llm import resolve_task

    req = PolicyRequest({"seed": 2, "messages": history}, resolve_task(tiny_suite, history), tiny_suite)
    assert req.task.id == "fix_largest" and req.step == 2 and pol(req) == script[1]
