"""The model's reasoning: recorded in its own field of the assistant message event (from the
provider's reasoning content, from the imported formats' thoughts), never in the message."""

from __future__ import annotations

from pathlib import Path

from agent.importers import import_paths
from agent.trace import MessageEvent, read_trace
from tests.agent import import_fixtures as fx
from tests.agent.rollout_fixtures import *
from tests.agent.test_importers import only_batch, traces_of
from tests.agent.test_loop import _run


def thinking(req):
    """An answer with no tool call, and the reasoning an OpenAI-compatible API returns apart."""
    return {"role": "assistant", "content": "Let me look.", "reasoning_content": f"I think step {req.step} is next."}


def test_the_loop_records_provider_reasoning_in_its_own_field(tiny_suite, scripted, tmp_path):
    server = scripted(thinking, suite=tiny_suite)
    _, read = _run(tiny_suite, openai_for(server), tmp_path, max_iters=2)
    said = [e for e in read.events if e.kind == "message" and e.message["role"] == "assistant"]
    assert [e.reasoning for e in said] == ["I think step 1 is next.", "I think step 2 is next."]
    assert [e.message for e in said] == [{"role": "assistant", "content": "Let me look."}] * 2
    assert len(server.requests) == 2  # the conversation sent back holds no reasoning
    assert all(set(m) <= {"role", "content", "tool_calls", "tool_call_id"} for m in server.requests[1]["messages"])


def test_a_message_without_reasoning_keeps_its_bytes():
    line = '{"v":1,"rollout_id":"r","seq":2,"ts":1.0,"kind":"message","message":{"role":"user","content":"hi"},"step":null}'
    event = MessageEvent.model_validate_json(line)
    assert event.reasoning is None and event.model_dump_json(exclude_none=False) == line
    with_it = event.model_copy(update={"reasoning": "why"}).model_dump_json(exclude_none=False)
    assert MessageEvent.model_validate_json(with_it).reasoning == "why"


def test_swe_agent_thought_apart_from_its_text_becomes_reasoning(tmp_path: Path):
    traj = fx.swe_agent_fc("calc__calc-1")
    said = [m for m in traj["history"] if m.get("role") == "assistant"]
    said[0]["thought"] = "The bug is probably in add."  # not in the message text: reasoning
    said[1]["thinking_blocks"] = [{"type": "thinking", "thinking": "end_line is needed"}]
    fx.write_json(tmp_path / "src" / "run1" / "calc__calc-1" / "calc__calc-1.traj", traj)
    import_paths([tmp_path / "src"], tmp_path / "out")
    t = traces_of(only_batch(tmp_path / "out"))["calc__calc-1"]
    reasoning = [e.reasoning for e in t.events if e.kind == "message" and e.message["role"] == "assistant"]
    # The third thought ("Submit.") is the message's own text: not recorded twice.
    assert reasoning == ["The bug is probably in add.", "end_line is needed", None]
    assert all(set(m) <= {"role", "content", "tool_calls", "tool_call_id"} for m in t.conversation())


def test_inspect_reasoning_part_becomes_reasoning(tmp_path: Path):
    sample = fx.inspect_sample(1, 1, "C")
    m3 = sample["messages"][2]
    m3["content"] = [{"type": "reasoning", "reasoning": "cat the file first"}, *m3["content"]]
    fx.write_json(tmp_path / "src" / "logs" / "2025-05-12_calc.json", fx.inspect_json([sample]))
    import_paths([tmp_path / "src"], tmp_path / "out")
    t = read_trace(next((only_batch(tmp_path / "out") / "traces").glob("*.jsonl")))
    said = [e for e in t.events if e.kind == "message" and e.message["role"] == "assistant"]
    assert said[0].reasoning == "cat the file first" and said[0].message["content"] == "Check."
