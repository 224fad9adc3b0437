"""The conversation on the Rollout screen (`c`) and the reasoning beside each step (Steps)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tui.conftest import settle, wait_until
from tui.conversation_model import ConversationLayout
from tui.live_trace import LiveTrace, Turn
from tui.widgets.conversation import ConversationView

REASONING = "The loop never ends:\nn ^= n - 1 should be n &= n - 1."
HOSTILE = "see \x1b[2J\x1b]0;owned\x07 here"


def rows(layout: ConversationLayout) -> list[str]:
    return [layout.row(y)[0] for y in range(layout.height)]


def test_layout_folds_prompts_and_long_results_and_unfolds_on_toggle():
    big = "\n".join(f"line {i}" for i in range(100_000))
    turns = [
        Turn("system", None, "You are careful.\nRule two."),
        Turn("user", None, "Fix bitcount.\nIt hangs."),
        Turn("assistant", 1, "Let me look.", REASONING, [("read_file", '{"rel_path": "bitcount.py"}')]),
        Turn("tool", 1, big, tool="read_file"),
    ]
    layout = ConversationLayout()
    layout.width = 40
    layout.extend(turns)
    shown = rows(layout)
    assert shown[0].startswith("▸ system · 2 lines (space: unfold) · You are careful.")
    assert "Rule two." not in "\n".join(shown) and "It hangs." not in "\n".join(shown)
    # The reasoning, marked, before the text and the call; wrapped at the width, never cut.
    assert "│ The loop never ends:" in shown and "│ n ^= n - 1 should be n &= n - 1." in shown
    assert shown.index("│ The loop never ends:") < shown.index("  Let me look.") < shown.index("  → read_file")
    assert "    rel_path: bitcount.py" in shown
    assert "  … 99992 more lines (space: unfold)" in shown and "  line 7" in shown and "  line 8" not in shown
    layout.toggle(3)
    assert layout.height > 100_000 and layout.row(layout.starts[3] + 100_000)[0] == "  line 99999"
    layout.relayout(8)  # narrower: long lines wrap into more rows, none is lost
    said = [layout.row(y)[0] for y in range(layout.starts[2], layout.starts[3])]
    assert "".join(r[2:] for r in said if r.startswith("│ ")).replace(" ", "") == REASONING.replace("\n", "").replace(
        " ", ""
    )


def test_a_folded_one_line_prompt_says_1_line():
    layout = ConversationLayout()
    layout.extend([Turn("system", None, "sys")])
    assert rows(layout)[0] == "▸ system · 1 line (space: unfold) · sys"


def test_a_folded_message_of_tool_calls_counts_its_calls():
    layout = ConversationLayout()
    layout.extend([Turn("assistant", 2, "", "", calls=[("write_file", "{}"), ("run_tests", "{}")])])
    layout.toggle(0)
    assert rows(layout)[0] == "▸ assistant · step 2 · 2 calls (space: unfold) · write_file run_tests"


def test_control_characters_never_reach_the_screen():
    layout = ConversationLayout()
    layout.extend([Turn("assistant", 1, HOSTILE, "think \x1b[31mred")])
    text = "\n".join(rows(layout))
    assert "\x1b" not in text and "\x07" not in text
    # Shown, not obeyed (how a control character is drawn is the neutralising function's say).
    assert "see " in text and "[2J" in text and "]0;owned" in text and "│ think " in text and "[31mred" in text


def test_a_lone_surrogate_is_drawn_as_one_mark():
    """A trace's undecodable bytes arrive as lone surrogates, which no terminal can encode: one
    mark each, so the row's width is what the layout measured."""
    layout = ConversationLayout()
    layout.extend([Turn("assistant", 1, "bad \udcff byte", "")])
    [row] = [r for r in rows(layout) if "bad" in r]
    assert "\udcff" not in row and "bad \ufffd byte" in row
    row.encode("utf-8")  # would raise UnicodeEncodeError on a surrogate


def test_wide_characters_wrap_by_cells_never_overflowing_a_row():
    """CJK and emoji take two terminal cells: a row holds half as many of them, a wide
    character is never cut in two, and nothing is lost (a tab is drawn as four cells)."""
    from rich.cells import cell_len

    said = "修复排序函数的错误" * 5 + " 🐛🔧 done"
    layout = ConversationLayout()
    layout.width = 22  # 20 cells after the indent
    layout.extend([Turn("assistant", 1, said + "\n\tx = '日本'", "")])
    shown = [r for r in rows(layout)[1:] if r.strip()]
    assert all(cell_len(r) <= 22 for r in shown), [(r, cell_len(r)) for r in shown]
    assert "".join(r[2:] for r in shown[:-1]) == said  # every character, in order, once
    assert shown[0] == "  " + said[:10]  # ten wide characters: twenty cells
    assert shown[-1] == "      x = '日本'"
    layout.relayout(80)
    assert [r for r in rows(layout)[1:] if r.strip()][0] == "  " + said[:39]


def test_a_short_line_of_wide_characters_still_wraps_by_cells():
    """Lines are measured only when their UTF-8 bytes could overflow a row (measuring millions
    of lines of a big output is slow): twelve CJK characters are short by count, not by cells."""
    from rich.cells import cell_len

    layout = ConversationLayout()
    layout.width = 22  # 20 cells after the indent
    layout.extend([Turn("assistant", 1, "日本語" * 4 + "\né ü \x1b ok\n\t修复", "")])
    shown = [r for r in rows(layout)[1:] if r.strip()]
    assert shown == ["  " + "日本語" * 3 + "日", "  本語", "  é ü \ufffd ok", "      修复"]
    assert all(cell_len(r) <= 22 for r in shown)


def with_reasoning(traces: Path) -> Path:
    """The first trace of the test batch, its first assistant message with reasoning recorded."""
    path = sorted(traces.glob("*/traces/*.jsonl"))[0]
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        e = json.loads(line)
        if e["kind"] == "message" and e["message"]["role"] == "assistant":
            e["reasoning"] = REASONING
            e["message"]["content"] = HOSTILE
            lines[i] = json.dumps(e)
            break
    path.write_text("\n".join(lines) + "\n")
    return path


def test_live_trace_keeps_every_message_and_each_steps_words(traces):
    trace = LiveTrace(with_reasoning(traces))
    trace.poll()
    assert [t.role for t in trace.turns[:3]] == ["system", "user", "assistant"]
    first = trace.turns[2]
    assert first.reasoning == REASONING and first.text == HOSTILE and first.calls
    assert trace.step_words()[first.step] == (HOSTILE, REASONING)
    result = next(t for t in trace.turns if t.role == "tool")
    assert result.tool == first.calls[0][0]


def screen_text(view: ConversationView) -> str:
    return "\n".join(view.render_line(y).text for y in range(view.size.height))


async def test_rollout_conversation_and_steps_reasoning_at_80x24(traces, make_app):
    path = with_reasoning(traces)
    app = make_app(traces)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        uid = next(r.uid for r in app.store.rollouts() if Path(r.trace_path).name == path.name)
        app.open_rollout(uid)
        await settle(pilot)
        view = app.screen.query_one(ConversationView)
        assert not view.display
        await pilot.press("c")
        await wait_until(pilot, lambda: view.display and view.has_focus and view.size.height > 0)
        text = screen_text(view)
        assert "▾ assistant · step 1" in text and "│ The loop never ends:" in text
        assert "\x1b" not in text and "see " in text and "[2J" in text
        await pilot.press("home")
        await pilot.pause()
        assert screen_text(view).startswith("▸ system · ")  # folded by default
        await pilot.press("k", "k", "space")  # from step 1's message up to the system prompt
        await pilot.pause()
        assert view.cursor == 0 and "You fix bugs with tools." in screen_text(view)
        assert view.model.blocks[0].parts and not view.model.blocks[0].folded
        await pilot.press("j", "j")  # system -> user -> assistant, step 1
        await pilot.press("enter")  # marks the step the conversation is on
        await wait_until(pilot, lambda: app.screen.MODE == "steps")
        await settle(pilot)
        box = app.screen.query_one("#step-detail-text")
        detail = "\n".join(box.render_line(y).text for y in range(box.size.height))
        assert "reasoning" in detail and "The loop never ends:" in detail and "\x1b" not in detail


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_steps_show_written_file_content_as_text(traces, make_app, size):
    """write_file's content: the file's lines below its key, not a JSON string of \\n's;
    untrusted like every argument (an escape shown, markup left as text)."""
    trace = sorted(traces.glob("*/traces/*.jsonl"))[2]  # fix_bitcount s2: step 5 writes bitcount.py
    lines = trace.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if '"kind":"tool_call"' in line and "write_file" in line)
    head, sep, args = lines[at].partition('"args":')
    lines[at] = head + sep + args.replace("count += 1", "count += 1  # [red]x\\u001b[2J", 1)
    trace.write_text("\n".join(lines) + "\n")
    app = make_app(traces)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        uid = next(r.uid for r in app.store.rollouts() if Path(r.trace_path).name == trace.name)
        app.open_rollout(uid)
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.MODE == "steps")
        await settle(pilot)
        await pilot.press("down", "down", "down", "down")  # step 5
        await settle(pilot)
        box = app.screen.query_one("#step-detail-text")
        detail = [box.render_line(y).text.rstrip() for y in range(box.size.height)]
        assert "rel_path: bitcount.py" in detail and "content:" in detail
        body = detail[detail.index("content:") + 1 :]
        assert body[:3] == ["  def bitcount(n):", "      count = 0", "      while n:"]  # the file, indented
        assert not any("\\n" in line for line in detail)
        hostile = next(line for line in body if "count += 1" in line)
        assert "\x1b" not in hostile and "[red]x" in hostile and "[2J" in hostile


def test_a_trace_line_that_is_json_but_no_event_never_ends_the_goal_read(tmp_path):
    """``["message"]`` is JSON and holds the word: the goal reader skips it (it raised
    AttributeError on the UI thread and ended the studio); a FIFO is never opened."""
    import os

    from tui.task_goal import task_goal

    path = tmp_path / "r.jsonl"
    user = {"kind": "message", "message": {"role": "user", "content": "Fix gcd."}}
    path.write_text('["message"]\n' + json.dumps(user) + "\n")
    assert task_goal(str(path)) == "Fix gcd."
    fifo = tmp_path / "f.jsonl"
    os.mkfifo(fifo)
    assert task_goal(str(fifo)) is None  # returns at once, never waits for a writer


def test_a_hunk_header_past_a_c_int_never_ends_the_diff_build():
    from tui.diff_model import build_diff_model

    patch = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -4294967296,1 +4294967296,1 @@\n-a\n+b\n"
    model = build_diff_model(patch)
    assert len(model.kinds) >= 3
