"""The trace contract: writer, tolerant reader, conversation rebuild."""

from agent.trace import (
    FinalEvent,
    LlmCall,
    MessageEvent,
    Outcome,
    RolloutEnd,
    RolloutStart,
    TraceWriter,
    read_events_from,
    read_trace,
)


def _write_small(path):
    with TraceWriter(path, "t__s1") as w:
        w.emit(RolloutStart, task_id="t", suite="s", seed=1, provider="openai", model="m", max_iters=5)
        w.emit(MessageEvent, message={"role": "system", "content": "sys"})
        w.emit(MessageEvent, message={"role": "user", "content": "fix it"})
        w.emit(LlmCall, step=1, latency_s=0.1, usage={"prompt_tokens": 10, "completion_tokens": 3})
        w.emit(MessageEvent, message={"role": "assistant", "content": "done"}, step=1)
        w.emit(FinalEvent, summary="done")
        w.emit(RolloutEnd, outcome=Outcome(tests_passed=True, steps=1), stop_reason="finished", duration_s=1.0)


def test_roundtrip_and_conversation(tmp_path):
    p = tmp_path / "t.jsonl"
    _write_small(p)
    r = read_trace(p)
    assert not r.warnings and not r.torn_tail
    assert [e.seq for e in r.events] == list(range(7))
    assert r.start.task_id == "t" and r.end.outcome.tests_passed
    assert [m["role"] for m in r.conversation()] == ["system", "user", "assistant"]


def test_torn_last_line_and_invalid_line_are_tolerated(tmp_path):
    p = tmp_path / "t.jsonl"
    _write_small(p)
    lines = p.read_bytes().splitlines(keepends=True)
    # an invalid event in the middle, and a torn tail
    bad = b'{"v":1,"rollout_id":"t__s1","seq":99,"ts":0,"kind":"llm_call"}\n'
    p.write_bytes(b"".join(lines[:3]) + bad + b"not json\n" + b"".join(lines[3:]) + b'{"v":1,"rollo')
    r = read_trace(p)
    assert len(r.events) == 7  # every good line kept
    assert [w.line_no for w in r.warnings] == [4, 5, 10]
    assert r.torn_tail and "torn" in r.warnings[-1].reason


def test_incremental_read_stops_before_partial_line(tmp_path):
    p = tmp_path / "t.jsonl"
    _write_small(p)
    full = p.read_bytes()
    cut = full.index(b"\n", 100) + 20
    p.write_bytes(full[:cut])
    first = read_events_from(p, 0)
    assert first.torn_tail and not first.warnings
    p.write_bytes(full)
    rest = read_events_from(p, first.end_offset)
    assert len(first.events) + len(rest.events) == 7
