"""agent.trace_io and the agent.trace readers on hostile files: regular files only, never
blocking; bad bytes and lone surrogates escaped, the line kept."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from agent import trace_io
from agent.trace import FinalEvent, MessageEvent, RolloutStart, TraceWriter, read_batch_meta, read_trace
from tui.live_trace import LiveTrace


def _trace(path: Path) -> Path:
    with TraceWriter(path, "r1") as w:
        w.emit(RolloutStart, task_id="t", suite="s", provider="p", model="m", max_iters=3)
        w.emit(MessageEvent, message={"role": "user", "content": "fix it"})
        w.emit(FinalEvent, summary="done")
    return path


def _without_blocking(fn, fifo: Path):
    """Run ``fn``; if it blocks on ``fifo``, fail (after unblocking it so pytest can exit)."""
    out: list = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # returned to the test, which asserts on it
            out.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    blocked = worker.is_alive()
    if blocked:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=60)
    assert not blocked, f"blocked on the FIFO {fifo}"
    return out[0]


def test_loads_escapes_lone_surrogates_and_bad_bytes():
    obj = trace_io.loads(b'{"a": "x\\ud800y", "b\\udfff": ["\xff\xfe ok"], "pair": "\\ud83d\\ude00"}')
    assert obj == {"a": "x\\ud800y", "b\\udfff": ["\\xff\\xfe ok"], "pair": "\U0001f600"}
    json.dumps(obj, ensure_ascii=False).encode("utf-8")  # encodable now
    assert trace_io.loads(b'{"enc": "\xed\xa0\x80 \xed\x95\x9c"}') == {"enc": "\\ud800 \ud55c"}  # + a Hangul char
    with pytest.raises(ValueError):
        trace_io.loads(b'{"a": ')


def test_read_trace_keeps_a_line_with_a_surrogate_or_a_bad_byte(tmp_path):
    path = _trace(tmp_path / "r1.jsonl")
    data = path.read_bytes().replace(b'"fix it"', b'"fix \\ud800 it \xff"').replace(b'"done"', b'"do\\udc00ne"')
    path.write_bytes(data)
    read = read_trace(path)
    assert not read.warnings and len(read.events) == 3
    assert read.conversation() == [{"role": "user", "content": "fix \\ud800 it \\xff"}]
    assert read.final.summary == "do\\udc00ne"


@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory"])
def test_open_regular_refuses_what_is_not_a_regular_file(tmp_path, kind):
    path = tmp_path / "f.jsonl"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        path.symlink_to(_trace(tmp_path / "real.jsonl"))
    else:
        path.mkdir()
    exc = _without_blocking(lambda: read_trace(path), path if kind == "fifo" else tmp_path / "none")
    assert isinstance(exc, trace_io.NotRegularFile)
    assert str(exc) == f"{path}: a {'FIFO' if kind == 'fifo' else kind}, not a regular file: skipped"


def test_a_fifo_batch_json_raises_instead_of_blocking(tmp_path):
    (tmp_path / "traces").mkdir()
    os.mkfifo(tmp_path / "batch.json")
    exc = _without_blocking(lambda: read_batch_meta(tmp_path), tmp_path / "batch.json")
    assert isinstance(exc, trace_io.NotRegularFile)


def test_the_studio_tail_of_a_fifo_says_why_and_returns(tmp_path):
    path = tmp_path / "r1.jsonl"
    os.mkfifo(path)
    live = LiveTrace(path)
    assert _without_blocking(live.poll, path) is False
    assert live.problem == f"{path}: a FIFO, not a regular file: skipped"
    path.unlink()
    _trace(path)  # replaced by a real trace: the tail reads it
    assert live.poll() is True and live.problem is None and live.final.summary == "done"


def test_replay_from_a_batch_with_a_fifo_skips_it(tmp_path):
    from agent.providers import replay_factory

    bdir = tmp_path / "b1"
    _trace(bdir / "traces" / "r1.jsonl")
    (bdir / "batch.json").write_text("{}")
    fifo = bdir / "traces" / "f.jsonl"
    os.mkfifo(fifo)
    factory = _without_blocking(lambda: replay_factory(bdir), fifo)
    assert not isinstance(factory, BaseException), factory
    assert factory("t", 0).model == "m"


def test_lines_from_end_raise_at_a_line_no_reader_takes(tmp_path, monkeypatch):
    """Read backwards, a line past MAX_LINE_BYTES ends the lines with ``LineTooLong``: a hostile
    trace of one endless line is never held whole in memory (every reader refuses such a line
    anyway), and the lines before it are unknown, never silently none (round 12's review: a
    ``rollout_end`` behind such a line read as "no end", "not rejudged since")."""
    monkeypatch.setattr(trace_io, "MAX_LINE_BYTES", 8)
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"first\n" + b"x" * 20 + b"\nlast\n\n")
    lines = trace_io.lines_from_end(path, block=3)
    assert next(lines) == b"last"
    with pytest.raises(trace_io.LineTooLong, match="t.jsonl: a line longer than 8 bytes"):
        next(lines)
    path.write_bytes(b"y" * 50)
    with pytest.raises(trace_io.LineTooLong):
        list(trace_io.lines_from_end(path, block=3))
    with pytest.raises(OSError):  # what callers that take an unreadable trace as not judged catch
        trace_io.last_line(path, block=3)
    path.write_bytes(b"first\nsecond\n")
    assert list(trace_io.lines_from_end(path, block=3)) == [b"second", b"first"]


def test_lines_read_backwards_are_the_files_lines(tmp_path) -> None:
    """Blank lines skipped, lines across block edges and longer than a block whole, any tail
    (exports/rejudged.py reads traces' ends through it; its own copy of it went)."""
    from agent.trace_io import lines_from_end

    block = 1 << 16
    lines = [b"a", b"", b"x" * (3 * block + 7), b"  ", b"b" * block, b"c", b"d" * (block - 1)]
    for tail in (b"", b"\n", b"\n\n"):
        path = tmp_path / "t.jsonl"
        path.write_bytes(b"\n".join(lines) + tail)
        assert list(lines_from_end(str(path))) == [x for x in reversed(lines) if x.strip()]
