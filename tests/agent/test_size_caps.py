"""Size caps on what code under test can make big: patches and trace lines."""

from __future__ import annotations

import hashlib

from agent.patch_format import PATCH_FILE_MAX_BYTES
from agent.trace import MAX_EVENT_CHARS, MessageEvent, TraceWriter, read_trace
from agent.workspace import Workspace, files_in_patch


def test_big_files_are_in_the_patch_by_name_size_and_hash(add_suite, tmp_path):
    with Workspace.create(add_suite, add_suite.tasks[0], tmp_path / "runs") as ws:
        big = b"y" * (PATCH_FILE_MAX_BYTES + 1)
        (ws.path / "big.txt").write_bytes(big)
        (ws.path / "add.py").write_text("def add(a, b):\n    return a + b\n")
        patch = ws.patch()
        assert len(patch) < 2_000
        assert f"b {len(big)} bytes sha256 {hashlib.sha256(big).hexdigest()}" in patch
        assert "+    return a + b" in patch  # small files still diffed
        assert files_in_patch(patch) == ["add.py", "big.txt"]


def test_an_oversized_event_is_cut_to_fit_and_still_reads(tmp_path):
    path = tmp_path / "t.jsonl"
    with TraceWriter(path, "r") as w:
        w.emit(MessageEvent, message={"role": "tool", "tool_call_id": "c", "content": "z" * (MAX_EVENT_CHARS + 10)})
        w.emit(MessageEvent, message={"role": "user", "content": "after"})
    lines = path.read_bytes().splitlines()
    assert len(lines[0]) <= MAX_EVENT_CHARS + 100
    read = read_trace(path)
    assert not read.warnings and len(read.events) == 2
    content = read.events[0].message["content"]
    assert content.startswith("zzz") and content.endswith(f"[... cut: {MAX_EVENT_CHARS + 10} chars, trace event cap]")
    assert read.events[1].message["content"] == "after"
