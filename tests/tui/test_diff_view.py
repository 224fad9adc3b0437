"""DiffView and its model: parsing, word-level changes, split rows, long patches."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tests.bounded_call import finishes_within
from tests.tui.conftest import settle
from tui.diff_model import build_diff_model, diff_model_for
from tui.widgets.diff_view import DiffView

PATCH = """diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,4 +1,5 @@
 def area(w, h):
-    return w + h
+    return w * h
+
 def unchanged():
"""


def long_patch(lines: int) -> str:
    body = []
    for i in range(lines // 4):
        body += [f" def f_{i}(x):", f"-    return x + {i}", f"+    return x * {i}", " "]
    n = 3 * (lines // 4)
    return f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,{n} +1,{n} @@\n" + "\n".join(body) + "\n"


def test_model_lines_numbers_and_changed_words():
    m = build_diff_model(PATCH)
    kinds = [ln.kind for ln in m.unified]
    assert kinds == ["file", "hunk", "ctx", "del", "add", "add", "ctx"]
    assert (m.files, m.added, m.removed) == (1, 2, 1)
    old, new = m.unified[3], m.unified[4]
    assert (old.old_no, old.new_no, new.old_no, new.new_no) == (2, None, None, 2)
    # Only the operator changed: exactly it is marked, on both sides.
    assert [old.text.plain[a:b] for a, b in old.words] == ["+"]
    assert [new.text.plain[a:b] for a, b in new.words] == ["*"]
    # Split rows pair the removed line with the added one; the extra added line stands alone.
    assert [(l.kind if l else None, r.kind if r else None) for l, r in m.split[2:6]] == [
        ("ctx", "ctx"),
        ("del", "add"),
        (None, "add"),
        ("ctx", "ctx"),
    ]


def test_rewritten_lines_get_no_word_noise_and_bad_patches_never_raise():
    m = build_diff_model(PATCH.replace("+    return w * h", "+    raise NotImplementedError('soon')"))
    assert m.unified[3].words == [] and m.unified[4].words == []
    cut = "\n".join(PATCH.splitlines()[:6]) + "\n"  # hunk header promises more lines than follow
    assert [ln.kind for ln in build_diff_model(cut).unified][:4] == ["file", "hunk", "ctx", "del"]
    assert len(build_diff_model("not a patch at all").unified) == 0
    assert build_diff_model("").empty


def _long_line_patch(words: int) -> str:
    old, new = " ".join(["a"] * words), " ".join(["a", "b"] * (words // 2))
    return f"diff --git a/d.py b/d.py\n--- a/d.py\n+++ b/d.py\n@@ -1,1 +1,1 @@\n-{old}\n+{new}\n"


def test_words_are_compared_in_code_lines_not_in_a_patchs_long_one():
    """difflib's matching is cubic at worst and the patch is the rollout's: two lines of
    2,000 tokens ("a a a" against "a b a b") took 95 s for one row (round 22 sweep), 3,000
    some minutes; a code line's words are still marked."""
    short = build_diff_model(_long_line_patch(70))
    assert short.unified[2].words != [] and short.unified[3].words != []
    setup = (
        "from tui.diff_model import build_diff_model\n"
        "old, new = ' '.join(['a'] * 1500), ' '.join(['a', 'b'] * 750)\n"
        "patch = f'--- a/d.py\\n+++ b/d.py\\n@@ -1,1 +1,1 @@\\n-{old}\\n+{new}\\n'\n"
    )
    code = (
        "m = build_diff_model(patch)\n"
        "assert m.unified[2].kind == 'del' and m.unified[2].words == [] and m.unified[3].words == []\n"
    )
    assert finishes_within(40, code, setup), "one row of a long line's word diff still running after 40 s"


def test_model_is_built_once_and_cached():
    p = long_patch(400)
    assert diff_model_for(p) is diff_model_for(p)


class _One(App):
    def __init__(self, patch: str) -> None:
        super().__init__()
        self.patch = patch

    def compose(self) -> ComposeResult:
        yield DiffView(id="d")

    def on_mount(self) -> None:
        self.query_one(DiffView).set_patch(self.patch)


async def test_long_patch_renders_scrolls_and_splits():
    patch = long_patch(2000)
    app = _One(patch)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        view = app.query_one(DiffView)
        assert view.ready and view.virtual_size.height == len(view.model.unified) == 2002
        view.focus()
        await pilot.press("end")
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y > 1900
        shown = "\n".join(view.render_line(y).text for y in range(view.size.height))
        assert "return x * 499" in shown and "return x * 0" not in shown
        view.split = True
        await pilot.pause()
        assert view.virtual_size.height == len(view.model.split)
        await pilot.press("home")
        await pilot.pause()
        row = view.render_line(3).text  # first changed pair: both sides on one row
        assert "x + 0" in row and "x * 0" in row and "│" in row


def files_patch(files: int, hunks: int) -> str:
    out = []
    for f in range(files):
        out += [f"diff --git a/f{f}.py b/f{f}.py", f"--- a/f{f}.py", f"+++ b/f{f}.py"]
        for h in range(hunks):
            at = 1 + 100 * h
            out += [f"@@ -{at},3 +{at},3 @@", f" def g{h}():", f"-    return {h}", f"+    return {h} + 1", " "]
    return "\n".join(out) + "\n"


def test_the_model_keeps_offsets_and_highlights_only_what_is_shown():
    patch = files_patch(3, 40)
    m = build_diff_model(patch)
    assert len(m.unified) == 3 * (1 + 40 * 5) and m.files == 3 and len(m.hunk_rows) == 120
    assert not m._windows  # nothing highlighted until a row is asked for
    row = m.unified[300]
    assert len(m._windows) == 1 and (row.kind, row.text.plain, row.new_no) == ("add", "    return 19 + 1", 1902)
    assert [row.text.plain[a:b] for a, b in row.words] == [" + 1"]
    # A removed line "--- x" counted by its hunk stays a removed line, not a file header.
    tricky = "--- a/t.py\n+++ b/t.py\n@@ -1,2 +1,2 @@\n--- x\n+++ y\n ok\n"
    assert [(ln.kind, ln.text.plain) for ln in build_diff_model(tricky).unified] == [
        ("file", "t.py"),
        ("hunk", "@@ -1,2 +1,2 @@"),
        ("del", "-- x"),
        ("add", "++ y"),
        ("ctx", "ok"),
    ]


async def test_keys_jump_to_the_next_hunk_and_file_at_once():
    patch = files_patch(4, 30)
    app = _One(patch)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        view = app.query_one(DiffView)
        view.focus()
        per_file = 1 + 30 * 5
        await pilot.press("right_square_bracket")
        assert view.scroll_y == 1  # the first hunk's header, under the file's
        await pilot.press("right_square_bracket")
        assert view.scroll_y == 6
        await pilot.press("right_curly_bracket")
        assert view.scroll_y == per_file  # the second file's header, with no scroll animation
        await pilot.press("left_square_bracket")
        assert view.scroll_y == per_file - 5  # the last hunk of the first file
        await pilot.press("left_curly_bracket")
        assert view.scroll_y == 0
        view.split = True
        await pilot.pause()
        await pilot.press("right_curly_bracket", "right_curly_bracket")
        top = view.render_line(0).text
        assert "f2.py" in top  # the split layout has its own rows: the header is still on top
        await pilot.press("pagedown")
        assert view.scroll_y == view.model.next_header(0, 1, split=True, files=True) * 2 + view.size.height


def test_a_files_header_says_what_became_of_it():
    """A file made empty and a removed one show the same removed lines: the header's
    ``deleted file mode`` tells them apart (round 24 r24v-8: an emptied helpers.py is not a
    removed one), as ``new file mode`` tells a new empty file and ``old mode``/``new mode``
    a script made executable, where no hunk shows anything."""
    from agent.patch_format import EXECUTABLE, REGULAR, file_diff

    patch = (
        file_diff("emptied.py", b"a = 1\n", b"")
        + file_diff("removed.py", b"a = 1\n", None)
        + file_diff("pkg/__init__.py", None, b"")
        + file_diff("run.sh", b"echo\n", b"echo\n", (REGULAR, EXECUTABLE))
    )
    m = build_diff_model(patch)
    rows = [(ln.kind, ln.text.plain) for ln in m.unified]
    assert rows == [
        ("file", "emptied.py"),
        ("hunk", "@@ -1 +0,0 @@"),
        ("del", "a = 1"),
        ("file", "removed.py"),
        ("meta", "deleted file mode 100644"),
        ("hunk", "@@ -1 +0,0 @@"),
        ("del", "a = 1"),
        ("file", "pkg/__init__.py"),
        ("meta", "new file mode 100644"),
        ("file", "run.sh"),
        ("meta", "old mode 100644"),
        ("meta", "new mode 100755"),
    ]
    assert (m.files, m.added, m.removed) == (4, 0, 2)
