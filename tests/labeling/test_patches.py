"""`identical_patch` and `flaky` read patches through `labeling.patches.normalize_patch`: equal
after whitespace that carries no meaning is dropped, never after a change of meaning."""

from __future__ import annotations

import difflib

from labeling.patches import patch_digest

BASE = "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    x = 1\n    return a\n"


def _patch(new: str, old: str = BASE, path: str = "gcd.py") -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}")
    return f"diff --git a/{path} b/{path}\n" + "".join(lines)


def test_a_line_indented_into_a_loop_is_another_fix() -> None:
    """Round 16's r16-1: `return a` inside the while loop (a wrong gcd) and after it (right)
    had one digest: their PASS/FAIL pair was flagged identical_patch and both sides flaky."""
    right = BASE.replace("    x = 1\n", "    x = 2\n")
    wrong = BASE.replace("    x = 1\n", "        x = 2\n")
    assert patch_digest(_patch(right)) != patch_digest(_patch(wrong))


def test_the_same_line_added_at_another_place_is_another_fix() -> None:
    first = BASE.replace("    x = 1\n", "    b = abs(b)\n    x = 1\n")
    later = BASE.replace("    return a\n", "    b = abs(b)\n    return a\n")
    assert patch_digest(_patch(first)) != patch_digest(_patch(later))


def test_spaces_in_a_string_are_data() -> None:
    one = BASE.replace("    x = 1\n", '    x = "a b"\n')
    two = BASE.replace("    x = 1\n", '    x = "a  b"\n')
    assert patch_digest(_patch(one)) != patch_digest(_patch(two))


def test_a_line_separator_inside_a_line_hides_nothing() -> None:
    """Round 16's r16-5: str.splitlines cut a changed line at U+2028 (inside a string literal)
    and the part after it started no diff line: dropped, so two fixes differing there had
    one digest."""
    right = BASE.replace("    x = 1\n", "    x = {'\u2028': a}['\u2028']\n")
    wrong = BASE.replace("    x = 1\n", "    x = {'\u2028': b}['\u2028']\n")
    assert patch_digest(_patch(right)) != patch_digest(_patch(wrong))


def test_a_carriage_return_inside_a_line_is_a_line_break() -> None:
    """Round 17's r17-15: "#\r    return b" is a comment and a return to Python; collapsed as
    blank it read as the comment "# return b", so a wrong fix had a right one's digest."""
    right = BASE.replace("    x = 1\n", "    # return b\n")
    wrong = BASE.replace("    x = 1\n", "    #\r    return b\n")
    assert patch_digest(_patch(right)) != patch_digest(_patch(wrong))
    crlf = BASE.replace("    x = 1\n", "    x = 2\r\n")  # a CRLF line's end is no change of meaning
    assert patch_digest(_patch(crlf)) == patch_digest(_patch(BASE.replace("    x = 1\n", "    x = 2\n")))


def test_formatting_alone_is_the_same_fix() -> None:
    """Inner runs of spaces, trailing space and an added blank line mean nothing."""
    plain = BASE.replace("    x = 1\n", "    x = abs(b) + 1\n")
    spaced = BASE.replace("    x = 1\n", "    x  =  abs(b)   + 1   \n\n")
    assert patch_digest(_patch(plain)) == patch_digest(_patch(spaced))
    assert patch_digest(_patch(plain)) != patch_digest(_patch(BASE.replace("    x = 1\n", "    x = abs(b) + 2\n")))
    assert patch_digest("") == ""


def test_an_older_stores_digests_are_computed_again(tmp_path) -> None:
    """Schema 11: a store written before keeps no digest of the old rule, or a patch ingested
    before would never equal the same patch ingested after."""
    import sqlite3

    from labeling.store import LabelStore
    from tests.exports.conftest import Spec, make_batch

    root = tmp_path / "traces"
    root.mkdir()
    make_batch(root, "b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
    db = tmp_path / "labels.sqlite"
    store = LabelStore(db, labeler="tester")
    store.ingest([root])
    store.close()
    with sqlite3.connect(db) as c:
        c.execute("UPDATE rollouts SET patch_digest = 'old rule'")
        c.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
    LabelStore(db, labeler="tester").close()
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT patch, patch_digest FROM rollouts").fetchall()
    assert rows and all(digest == patch_digest(patch) != "old rule" for patch, digest in rows)


def test_the_files_of_a_patch_are_its_headers_files() -> None:
    """A file whose entry has no hunk (made empty and new, removed when empty, only its mode
    changed) is a file the patch changes: ``patch_files`` read names from ``---``/``+++``
    lines alone and left it out, and a rollout whose patch only made ``pkg/__init__.py`` had
    no patch (``summary_only``). A name the patch quotes is the file's name."""
    from agent.patch_format import EXECUTABLE, REGULAR, file_diff
    from labeling.patches import patch_stats

    patch = (
        file_diff("pkg/__init__.py", None, b"")
        + file_diff("empty.py", b"", None)
        + file_diff("run.sh", b"echo\n", b"echo\n", (REGULAR, EXECUTABLE))
        + file_diff("my file.py", b"x = 1\n", b"x = 2\n")
    )
    assert patch_stats(patch) == (["pkg/__init__.py", "empty.py", "run.sh", "my file.py"], 2)


def test_a_line_inside_a_hunk_is_a_line_whatever_it_reads() -> None:
    """A removed line ``-- x`` reads ``--- x`` and an added ``++ y`` reads ``+++ y``: each
    is one changed line of gcd.py, never the name of another file."""
    from labeling.patches import patch_stats

    old, new = "-- x\na = 1\n", "++ y\na = 1\n"
    assert patch_stats(_patch(new, old)) == (["gcd.py"], 2)


def test_a_script_made_executable_is_another_fix() -> None:
    """The patch records the executable bit (``old mode``/``new mode``): a test running
    ``./run.sh`` passes on one and not the other, never one ``identical_patch``."""
    from agent.patch_format import EXECUTABLE, REGULAR, file_diff

    old, new = b"echo\n", b"echo ok\n"
    runnable = file_diff("run.sh", old, new, (REGULAR, EXECUTABLE))
    assert patch_digest(runnable) != patch_digest(file_diff("run.sh", old, new))
