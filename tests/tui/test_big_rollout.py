"""A rollout with huge tool outputs: their text stays in the trace file until shown."""

from __future__ import annotations

import os
from pathlib import Path

from tests import factories
from tui.conversation_model import ConversationLayout
from tui.lazy_trace import BIG_LINE
from tui.live_trace import LiveTrace

# Quotes, backslashes, a non-ASCII character and an escape code: the cut-out content must
# decode to exactly what the tool said, and the content ends with an escaped quote.
TRICKY_END = 'ends with "quoted \\" text\\\\" é \x1b[2J "'


def big_output(n: int) -> str:
    return "".join(f"line {i}: a = b + {i}\n" for i in range(n)) + TRICKY_END


def trace_with(tmp_path: Path, outputs: list[str]) -> Path:
    steps: list[factories.Step | list[factories.Call]] = [
        [factories.Call("read_file", {"rel_path": f"f{i}.py"}, output=out)] for i, out in enumerate(outputs)
    ]
    r = factories.Rollout("fix_big", 0, steps=steps)
    bdir = factories.write_batch(tmp_path, "b", [r])
    return next(bdir.rglob("*.jsonl"))


def test_big_results_are_read_when_shown_and_read_back_exactly(tmp_path):
    big = big_output(20_000)
    assert len(big) > 4 * BIG_LINE
    path = trace_with(tmp_path, [big, "small output"])
    trace = LiveTrace(path)
    trace.poll()
    call, small = trace.calls
    assert call.result_source is not None and call.result == ""  # left in the file
    assert small.result_source is None and small.result == "small output"
    assert call.status == "ok" and trace.end is not None  # the rest of the trace reads as ever
    shown = call.shown_result()
    assert shown is not None and shown.startswith("line 0: a = b + 0\n") and len(shown) < 5000
    assert shown.endswith("MB in all (c: the conversation shows it whole)")
    assert call.result_source.text() == big
    tool_turn = next(t for t in trace.turns if t.role == "tool" and t.source is not None)
    assert tool_turn.full_text() == big

    layout = ConversationLayout()
    layout.width = 60
    layout.extend(trace.turns)
    at = trace.turns.index(tool_turn)
    block = [layout.row(y)[0] for y in range(layout.starts[at], layout.starts[at + 1])]
    assert "  line 7: a = b + 7" in block and "  line 8: a = b + 8" not in block
    assert any(r.startswith("  … 0.") and r.endswith("MB in all (space: unfold)") for r in block)
    layout.toggle(at)
    last = [layout.row(y)[0] for y in range(layout.starts[at], layout.starts[at + 1])][-2]
    assert last.startswith("  ends with") and "\x1b" not in last  # unfolded: the whole, neutralised


def test_a_trace_growing_past_a_big_line_keeps_its_place(tmp_path):
    path = trace_with(tmp_path, [big_output(10_000)])
    data = path.read_bytes()
    cut = data.index(b"\n", data.index(b'"role":"tool"')) + 1 + 10  # mid-way into the next line
    path.write_bytes(data[:cut])
    trace = LiveTrace(path)
    trace.poll()
    assert trace.calls[0].result_source is not None and trace.end is None
    path.write_bytes(data)
    assert trace.poll() and trace.end is not None and trace.warnings == 0


def test_a_trace_truncated_while_it_is_read_ends_the_read_not_the_studio(tmp_path):
    """The reader mapped the trace: a file truncated under the map (a resumed rollout starts
    over) ended the studio with SIGBUS. Read by blocks, a shrunk file only ends the scan."""
    import json as _json

    from tui import lazy_trace

    path = tmp_path / "t.jsonl"
    line = _json.dumps({"k": "x", "pad": "y" * 100}) + "\n"
    path.write_text(line * 30_000)  # several blocks
    size = path.stat().st_size
    real = lazy_trace._BlockReader.find_newline
    calls = {"n": 0}

    def truncate_midway(self, pos):
        calls["n"] += 1
        if calls["n"] == 1_000:
            os.truncate(path, 100)
        return real(self, pos)

    lazy_trace._BlockReader.find_newline = truncate_midway
    try:
        read = lazy_trace.read_lazily(path, 0)
    finally:
        lazy_trace._BlockReader.find_newline = real
    assert read.end_offset < size and read.lines >= 999


async def test_unfolding_a_big_content_reads_it_off_the_ui_thread(tmp_path, monkeypatch):
    """space on a folded 100 MB tool output decoded and laid it out on the UI thread (seconds
    with every key waiting); it is read in a worker, the header says so meanwhile."""
    import threading

    from textual.app import App

    from tests.tui.conftest import wait_until
    from tui.lazy_trace import LazyText
    from tui.widgets.conversation import ConversationView

    big = big_output(20_000)
    trace = LiveTrace(trace_with(tmp_path, [big]))
    trace.poll()
    at = next(i for i, t in enumerate(trace.turns) if t.source is not None)
    readers: list[str] = []
    gate = threading.Event()
    whole = LazyText.text

    def text(self: LazyText) -> str:
        readers.append(threading.current_thread().name)
        gate.wait(10)  # held until the test has seen the header say it is reading
        return whole(self)

    monkeypatch.setattr(LazyText, "text", text)

    class One(App):
        def compose(self):
            yield ConversationView(id="talk")

    app = One()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(ConversationView)
        view.set_turns(trace.turns, reset=True)
        view.focus()
        view.show_step(trace.turns[at].step)
        view.cursor = at
        await pilot.press("space")
        await wait_until(pilot, lambda: readers != [])
        assert view.model.blocks[at].header().endswith("reading…")
        assert readers == [r for r in readers if r != threading.main_thread().name]
        gate.set()
        await wait_until(pilot, lambda: not view.model.blocks[at].folded)
        rows = [view.model.row(y)[0] for y in range(view.model.starts[at], view.model.height)]
        assert any(r.startswith("  ends with") for r in rows) and "reading" not in rows[0]


def test_a_big_result_read_whole_shows_its_head_in_the_call_pane(tmp_path):
    """A big line not in the writer's compact form is read whole (no skeleton): the call and
    Steps panes still get a head, not 100 MB to lay out (the studio never drew its first frame)."""
    import json as _json

    big = big_output(20_000)
    path = trace_with(tmp_path, [big])
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    spaced = [_json.dumps(_json.loads(ln)) + "\n" if len(ln) > BIG_LINE else ln for ln in lines]
    path.write_text("".join(spaced), encoding="utf-8")
    trace = LiveTrace(path)
    trace.poll()
    (call,) = trace.calls
    assert call.result_source is None and call.result == big  # read whole
    shown = call.shown_result()
    assert shown is not None and shown.startswith("line 0: a = b + 0\n") and len(shown) < 5000
    assert shown.endswith("M characters in all (c: the conversation shows it whole)")
