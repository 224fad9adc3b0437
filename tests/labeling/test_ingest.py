"""Ingest: incremental by file, tolerant of torn/invalid lines, exact offsets."""

from __future__ import annotations

import json
import os

import pytest

from labeling import indexer
from labeling.store import StoreError
from tests.labeling.conftest import FIX, Call, Spec, make_batch, write_rollout

BACKENDS = ("sqlite", "postgres")  # the store tests run on both (conftest.py)


def test_ingest_indexes_rollouts_steps_and_calls(env):
    specs = [Spec("t1", 1, passed=True, patch=FIX, steps=2), Spec("t1", 2, steps=4)]
    env.batch("b1", specs)
    rep = env.store.ingest([env.root])
    assert (rep.files_seen, rep.files_read, rep.new_rollouts, rep.finished_rollouts) == (2, 2, 2, 2)
    assert rep.invalid_lines == 0 and rep.torn_lines == 0 and not rep.warnings
    r = env.store.rollout("b1/t1__s1")
    assert (r.task_id, r.status, r.tests_passed, r.steps, r.tool_calls, r.patch) == ("t1", "finished", True, 2, 2, FIX)
    assert r.summary == "done" and r.files == ["prog.py"] and r.model == "m-7b"
    steps = env.store.steps("b1/t1__s2")
    assert [s.step for s in steps] == [1, 2, 3, 4]
    assert all(
        len(s.calls) == 1 and s.calls[0].ok is True and s.calls[0].args == {"rel_path": "prog.py"} for s in steps
    )
    [b] = env.store.batches()
    assert (b.batch_id, b.rollouts, b.finished, b.passed, b.planned, b.status) == ("b1", 2, 2, 1, 2, "finished")


def test_step_offsets_point_at_the_steps_first_event_even_with_non_ascii(env):
    env.batch("b1", [Spec("t1", 1, steps=3, extra_text="é✓ ünïcode 🙂")])
    env.store.ingest([env.root])
    path = env.store.rollout("b1/t1__s1").trace_path
    data = open(path, "rb").read()
    for s in env.store.steps("b1/t1__s1"):
        line = data[s.offset : data.index(b"\n", s.offset)]
        ev = json.loads(line)
        assert ev["kind"] == "llm_call" and ev["step"] == s.step
        call = s.calls[0]
        ev = json.loads(data[call.offset : data.index(b"\n", call.offset)])
        assert ev["kind"] == "tool_call" and ev["call_id"] == call.call_id


def test_reingest_of_unchanged_files_opens_nothing(env, monkeypatch):
    env.batch("b1", [Spec("t1", i) for i in range(5)])
    env.store.ingest([env.root])

    def no_open(*a, **k):
        raise AssertionError(f"opened {a[0]}")

    monkeypatch.setattr(indexer, "open", no_open, raising=False)
    monkeypatch.setattr(indexer, "open_regular", no_open)
    rep = env.store.ingest([env.root])
    assert (rep.files_seen, rep.files_read, rep.files_unchanged, rep.bytes_read, rep.events) == (5, 0, 5, 0, 0)
    assert rep.pairs is None  # nothing finished: pairs not rebuilt


def test_growing_trace_is_read_from_its_offset(env):
    bdir = env.root / "b1"
    make_batch(env.root, "b1", [], finished=False)
    spec = Spec("t1", 1, passed=True, patch=FIX, steps=3)
    path = write_rollout(bdir, spec)
    full = path.read_bytes()
    lines = full.splitlines(keepends=True)
    # cut: the first 6 lines, then part of the 7th (a tool_result: its tool_call is before the cut)
    cut = sum(len(x) for x in lines[:6])
    assert json.loads(lines[5])["kind"] == "tool_call" and json.loads(lines[6])["kind"] == "tool_result"
    path.write_bytes(full[: cut + 10])
    rep = env.store.ingest([env.root])
    assert rep.torn_lines == 1 and not rep.warnings  # the batch is still running: no warning
    r = env.store.rollout("b1/t1__s1")
    assert r.status == "running" and r.steps == 1 and r.tool_calls == 1
    assert env.store.steps(r.uid)[0].calls[0].ok is None  # result not read yet

    path.write_bytes(full)
    rep = env.store.ingest([env.root])
    assert rep.files_read == 1 and rep.updated_rollouts == 1 and rep.new_rollouts == 0
    assert rep.changed == ["b1/t1__s1"]
    assert rep.bytes_read == len(full) - cut  # resumed at the last complete line
    assert rep.events == len(lines) - 6
    r = env.store.rollout("b1/t1__s1")
    assert r.status == "finished" and r.steps == 3 and r.tests_passed
    steps = env.store.steps(r.uid)
    assert [s.step for s in steps] == [1, 2, 3]
    assert steps[0].calls[0].ok is True and steps[0].calls[0].output_chars == 120  # matched across reads
    assert sum(len(s.calls) for s in steps) == 3  # nothing duplicated


def test_replaced_or_shrunk_file_is_reread_from_zero(env):
    bdir = env.batch("b1", [Spec("t1", 1, steps=5)])
    env.store.ingest([env.root])
    assert len(env.store.steps("b1/t1__s1")) == 5
    # a restarted rollout rewrites its trace (TraceWriter truncate=True): shorter this time
    write_rollout(bdir, Spec("t1", 1, steps=2, passed=True, patch=FIX))
    rep = env.store.ingest([env.root])
    assert rep.files_read == 1
    assert [s.step for s in env.store.steps("b1/t1__s1")] == [1, 2]
    assert env.store.rollout("b1/t1__s1").tests_passed
    # replaced by a longer, different file: same inode, new first bytes
    write_rollout(bdir, Spec("t1", 1, steps=7, model="other-model"))
    env.store.ingest([env.root])
    r = env.store.rollout("b1/t1__s1")
    assert (r.model, r.steps, len(env.store.steps(r.uid))) == ("other-model", 7, 7)


def test_invalid_and_torn_lines_are_counted_never_fatal(env):
    bdir = env.batch("b1", [Spec("t1", 1, steps=2), Spec("t1", 2, steps=2)])
    p = next((bdir / "traces").glob("t1__s1.jsonl"))
    lines = p.read_bytes().splitlines(keepends=True)
    bad = [
        b"not json\n",
        b'{"v":1,"rollout_id":"x","seq":9,"ts":0,"kind":"tool_call","step":1}\n',
        b'["a list"]\n',
        b'{"kind":"mystery"}\n',
        b"\n",
    ]
    p.write_bytes(b"".join(lines[:4]) + b"".join(bad) + b"".join(lines[4:]) + b'{"v":1,"rol')
    rep = env.store.ingest([env.root])
    assert rep.invalid_lines == 4 and rep.torn_lines == 1
    assert any("t1__s1.jsonl:5: not JSON" in w for w in rep.warnings)
    assert any("torn last line" in w for w in rep.warnings)  # the batch has finished
    r = env.store.rollout("b1/t1__s1")
    assert r.status == "finished" and r.steps == 2  # every good line kept
    assert env.store.rollout("b1/t1__s2").status == "finished"


def test_missing_root_is_a_clear_error(env, tmp_path):
    with pytest.raises(StoreError, match="no such directory"):
        env.store.ingest([tmp_path / "nope"])


def test_branch_info_and_several_roots(env, tmp_path):
    from agent.trace import BranchInfo

    env.batch("b1", [Spec("t1", 1, steps=4)])
    other = tmp_path / "elsewhere"
    make_batch(
        other,
        "b2",
        [
            Spec(
                "t1",
                2,
                steps=2,
                passed=True,
                patch=FIX,
                branch=BranchInfo(parent_rollout_id="t1__s1", parent_batch_id="b1", prefix_messages=5, at_step=2),
            )
        ],
    )
    rep = env.store.ingest([env.root, other, env.root / "b1"])  # b1 twice: counted once
    assert rep.batches == 2 and rep.files_read == 2
    r = env.store.rollout("b2/t1__s2")
    assert (r.branch_parent_uid, r.branch_at_step, r.prefix_messages) == ("b1/t1__s1", 2, 5)


def test_store_reopens_with_everything(env, tmp_path):
    env.batch("b1", [Spec("t1", 1, passed=True, patch=FIX), Spec("t1", 2)])
    env.store.ingest([env.root])
    env.store.close()
    with env.open() as again:
        assert len(again.rollouts()) == 2 and len(again.pairs()) == 1
        assert again.ingest([env.root]).files_read == 0
    env.store = env.open("alice")  # the fixture closes it


def test_touch_without_change_rereads_safely(env):
    bdir = env.batch("b1", [Spec("t1", 1, steps=3)])
    env.store.ingest([env.root])
    p = next((bdir / "traces").iterdir())
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    rep = env.store.ingest([env.root])
    assert rep.files_read == 1
    assert len(env.store.steps("b1/t1__s1")) == 3 and env.store.rollout("b1/t1__s1").tool_calls == 3


def test_calls_with_invalid_args_and_parse_errors(env):
    calls = [
        [Call("list_dir", {"rel_dir": ""}, valid=False)],
        [Call("grep", None, valid=False, raw="{oops")],
        [Call("read_file", {"rel_path": "a.py"}, raw='{"rel_path": "a.py", "junk": 1}')],
        [Call("finish", {"summary": "x"})],
        # blanks around the raw text: json.loads reads them, the fast comparison defers to it
        [Call("read_file", {"rel_path": "c.py"}, raw=' {"rel_path": "b.py"}')],
        [Call("read_file", {"rel_path": "b.py"}, raw='\n{"rel_path": "b.py"} ')],
    ]
    env.batch("b1", [Spec("t1", 1, calls=calls)])
    env.store.ingest([env.root])
    steps = env.store.steps("b1/t1__s1")
    assert steps[0].calls[0].valid is False and steps[0].calls[0].violations == ["rel_dir: required"]
    assert steps[1].calls[0].arguments == "{oops" and steps[1].calls[0].args is None
    assert steps[2].calls[0].args == {"rel_path": "a.py"}  # args as the trace has them, not re-parsed
    assert steps[3].calls[0].args == {"summary": "x"}
    assert steps[4].calls[0].args == {"rel_path": "c.py"} and steps[5].calls[0].args == {"rel_path": "b.py"}
    assert env.store.rollout("b1/t1__s1").invalid_tool_calls == 2


def test_a_line_that_is_not_utf8_is_skipped_and_offsets_stay_exact(env):
    bdir = env.batch("b1", [Spec("t1", 1, steps=3, extra_text="naïve")])
    p = bdir / "traces" / "t1__s1.jsonl"
    lines = p.read_bytes().splitlines(keepends=True)
    p.write_bytes(b"".join(lines[:3]) + b'{"kind": "message", "bad": "\xff\xfe"}\n' + b"".join(lines[3:]))
    rep = env.store.ingest([env.root])
    assert rep.invalid_lines == 1 and "t1__s1.jsonl:4:" in rep.warnings[0]
    data = p.read_bytes()
    steps = env.store.steps("b1/t1__s1")
    assert len(steps) == 3 and env.store.rollout("b1/t1__s1").status == "finished"
    for s in steps:
        assert json.loads(data[s.offset : data.index(b"\n", s.offset)])["step"] == s.step


def test_progress_is_reported(env):
    env.batch("b1", [Spec("t1", i, steps=2) for i in range(3)])
    seen = []
    env.store.ingest([env.root], progress=seen.append)
    assert seen and seen[-1].files_done == seen[-1].files_total == 3
    assert seen[-1].bytes_done == seen[-1].bytes_total > 0
    assert [p.bytes_done for p in seen] == sorted(p.bytes_done for p in seen)


def test_malformed_batch_json_is_a_warning(env):
    bdir = env.batch("b1", [Spec("t1", 1, steps=2)])
    (bdir / "batch.json").write_text("{not json")
    rep = env.store.ingest([env.root])
    assert any("unreadable batch.json" in w for w in rep.warnings)
    assert rep.files_read == 1 and env.store.rollout("b1/t1__s1").status == "finished"
    [b] = env.store.batches()
    assert b.batch_id == "b1" and b.suite == ""


def test_a_running_adaptive_batch_counts_its_budget_as_planned(tmp_path):
    from agent.trace import BatchMeta, BatchParams, PlannedRollout, read_batch_meta, write_batch_meta
    from labeling.store import LabelStore

    bdir = tmp_path / "traces" / "adaptive-batch"
    meta = BatchMeta(
        id="adaptive-batch",
        suite="s",
        provider="openai",
        model="m",
        started="2026-11-22T08:00:00+00:00",
        params=BatchParams(allocation="adaptive", budget_rollouts=12),
        planned=[PlannedRollout(rollout_id=f"t__s{i}", task_id="t", seed=i) for i in range(4)],
    )
    write_batch_meta(bdir, meta)
    with LabelStore(tmp_path / "labels.sqlite") as store:
        store.ingest([tmp_path / "traces"])
        assert store.batches()[0].planned == 12  # round 1 planned 4 of a budget of 12
        done = read_batch_meta(bdir).model_copy(update={"finished": "2026-11-22T08:05:00+00:00"})
        write_batch_meta(bdir, done)
        store.ingest([tmp_path / "traces"])
        assert store.batches()[0].planned == 4  # ended early: every task settled
