"""Exports against odd traces: they read only what ingest accepted, with ingest's own
warnings; surrogates and special files never crash or hang an export; every good
rollout is still exported."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from agent.trace_io import loads
from exports import DpoOptions, SftOptions, check_file, export_dpo, export_sft
from labeling.store import LabelStore
from tests.exports.conftest import Spec, make_batch, read_lines
from tui.cli import main

SPECS = [Spec(t, s, passed=s == 0) for t in ("fix_gcd", "fix_roman") for s in (0, 1)]


def _edit_line(path: Path, pick, fn) -> int:
    """Rewrite the first line whose event satisfies ``pick``; returns its 1-based number."""
    lines = path.read_bytes().split(b"\n")
    for i, raw in enumerate(lines):
        if raw and pick(loads(raw)):
            lines[i] = fn(raw)
            path.write_bytes(b"\n".join(lines))
            return i + 1
    raise AssertionError("no such line")


def _trace(root: Path, spec: Spec) -> Path:
    return root / "b1" / "traces" / f"{spec.rollout_id}.jsonl"


def _assistant_msg(step: int):
    return lambda ev: ev["kind"] == "message" and ev.get("step") == step and ev["message"]["role"] == "assistant"


def test_a_line_ingest_rejects_is_skipped_by_the_exporter_with_the_same_warning(env, tmp_path):
    make_batch(env.root, "b1", SPECS)
    path = _trace(env.root, SPECS[0])
    # The assistant turn of step 2 says "step": 1.5: ingest rejects the line.
    n = _edit_line(path, _assistant_msg(2), lambda raw: raw.replace(b'"step":2', b'"step":1.5', 1))
    rep = env.store.ingest([env.root])
    expected = f"{path}:{n}: step is not an integer"
    assert rep.warnings == [expected] and rep.invalid_lines == 1

    out = tmp_path / "sft.jsonl"
    report = export_sft(env.store, out, SftOptions())
    assert report.warnings == [expected]
    assert report.examples == 2 and check_file(out).ok  # both passing rollouts, the damaged one too
    [damaged] = [x for x in read_lines(out) if "fix_gcd" in json.dumps(x)]
    calls = [m["tool_calls"][0]["function"]["name"] for m in damaged["messages"] if m["role"] == "assistant"]
    assert calls == ["list_dir", "write_file", "run_tests", "finish"]  # step 2 (read_file) and its result gone
    assert not any(m.get("tool_call_id") == "call_2_0" for m in damaged["messages"])


def test_the_exporter_reads_no_further_than_ingest_did(env, tmp_path):
    make_batch(env.root, "b1", SPECS)
    env.store.ingest([env.root])
    path = _trace(env.root, SPECS[0])
    extra = {"v": 1, "rollout_id": SPECS[0].rollout_id, "seq": 999, "ts": 1.0, "kind": "message", "step": 9}
    extra["message"] = {"role": "assistant", "content": "appended after the ingest"}
    with open(path, "a") as f:
        f.write(json.dumps(extra) + "\n")
    out = tmp_path / "sft.jsonl"
    export_sft(env.store, out, SftOptions())
    assert "appended after the ingest" not in out.read_text()


def test_lone_surrogates_in_tool_output_and_summary_export_as_escaped_text(env, tmp_path):
    make_batch(env.root, "b1", SPECS)
    path = _trace(env.root, SPECS[0])
    _edit_line(
        path,
        lambda ev: ev["kind"] == "message" and ev["message"]["role"] == "tool",
        lambda raw: raw.replace(b'"content":"', b'"content":"\\ud800 \xff ', 1),
    )
    _edit_line(
        path, lambda ev: ev["kind"] == "final", lambda raw: raw.replace(b'"summary":"', b'"summary":"\\udc00', 1)
    )
    rep = env.store.ingest([env.root])
    assert rep.invalid_lines == 0 and rep.new_rollouts == 4

    out = tmp_path / "sft.jsonl"
    assert export_sft(env.store, out, SftOptions()).examples == 2 and check_file(out).ok
    assert "\\ud800 \\xff " in json.dumps(read_lines(out), ensure_ascii=False).replace("\\\\", "\\")
    for mode in ("final", "patch+trajectory"):
        out = tmp_path / f"dpo-{mode.replace('+', '_')}.jsonl"
        report = export_dpo(env.store, out, DpoOptions(auto=True, mode=mode))
        assert report.examples == 2 and check_file(out).ok
        out.read_bytes().decode("utf-8")  # strict UTF-8: nothing unencodable reached the file


def test_a_trace_swapped_for_a_fifo_after_ingest_is_skipped_not_waited_on(env, tmp_path):
    make_batch(env.root, "b1", SPECS)
    env.store.ingest([env.root])
    path = _trace(env.root, SPECS[2])  # fix_roman seed 0: a passing rollout
    path.unlink()
    os.mkfifo(path)
    out = tmp_path / "sft.jsonl"
    done: list = []
    worker = threading.Thread(target=lambda: done.append(export_sft(env.store, out, SftOptions())), daemon=True)
    worker.start()
    worker.join(timeout=60)
    blocked = worker.is_alive()
    if blocked:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # let the blocked open() go
        worker.join(timeout=60)
    assert not blocked, "export blocked on a FIFO"
    [report] = done
    assert report.examples == 1 and report.skipped.get("unreadable_trace") == 1


def test_export_command_warns_about_special_files_and_copies_and_counts_once(tmp_path, capsys):
    root = tmp_path / "runs"
    make_batch(root, "b1", SPECS)
    fifo = root / "b1" / "traces" / "f.jsonl"
    os.mkfifo(fifo)
    copy = root / "b1" / "traces" / "copy.jsonl"
    copy.write_bytes(_trace(root, SPECS[0]).read_bytes())
    out = tmp_path / "sft.jsonl"
    assert main(["export", "sft", str(root), "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert "examples        2" in cap.out
    assert f"warning: {fifo}: a FIFO, not a regular file: skipped" in cap.err
    assert f"warning: {copy}: a copy of {_trace(root, SPECS[0])}" in cap.err
    assert len(read_lines(out)) == 2


def test_export_from_another_working_directory_after_a_relative_ingest(tmp_path, monkeypatch, capsys):
    root = tmp_path / "runs"
    make_batch(root, "b1", SPECS)
    monkeypatch.chdir(tmp_path)
    assert main(["ingest", "runs"]) == 0
    monkeypatch.chdir("/")
    out = tmp_path / "dpo.jsonl"
    assert main(["export", "dpo", str(root), "--out", str(out), "--auto"]) == 0
    cap = capsys.readouterr()
    assert "unreadable_trace" not in cap.out and "examples        2" in cap.out


def test_a_garbage_store_is_one_line_from_export(tmp_path, capsys):
    root = tmp_path / "runs"
    make_batch(root, "b1", SPECS)
    (root / "labels.sqlite").write_bytes(b"garbage\n" * 500)
    assert main(["export", "sft", str(root), "--out", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "is not a usable label store" in err
    assert not LabelStore.default_path(root).read_bytes().startswith(b"SQLite")  # left as it was
