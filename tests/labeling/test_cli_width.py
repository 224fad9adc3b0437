"""`repo-agent pairs list` / `steps list` at the terminal's width: one line per row at 80 columns,
everything at 120 (tui/cli/fit_table.py)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from tui.cli import main
from tui.cli.fit_table import Col, fit, fit_table
from tui.cli.label_store import console

SAMPLE = Path(__file__).resolve().parents[2] / "sample_traces"
GCD_NOTE = "passing patch fixes the gcd sign bug; rejected one loops"
CELSIUS_NOTE = "both fail, but the shorter one is closer"


@pytest.fixture
def sample(tmp_path, monkeypatch, capsys):
    """A copy of the shipped sample, two pairs labeled with notes, one tagged."""
    monkeypatch.setenv("REPO_AGENT_LABELER", "cli-user")
    root = tmp_path / "traces"
    shutil.copytree(SAMPLE, root)
    assert main(["pairs", "list", str(root), "--json"]) == 0
    ids = {p["task_id"]: p["pair_id"] for p in json.loads(capsys.readouterr().out)}
    assert main(["pairs", "set", str(root), ids["fix_gcd"], "confirm", "--note", GCD_NOTE]) == 0
    assert main(["pairs", "set", str(root), ids["fix_celsius"], "flip", "--note", CELSIUS_NOTE]) == 0
    assert main(["pairs", "tag", str(root), ids["fix_celsius"], "needs-second-look"]) == 0
    return root, ids


def columns(monkeypatch, n: int) -> None:
    """The terminal is ``n`` columns wide, as Rich learns it: from $COLUMNS."""
    monkeypatch.setenv("COLUMNS", str(n))
    monkeypatch.setattr(console, "_width", None)  # as if the console had been made under this $COLUMNS


def listing(capsys, *argv: str) -> list[str]:
    capsys.readouterr()
    assert main(["pairs", "list", *argv]) == 0
    return capsys.readouterr().out.splitlines()


def test_pairs_list_is_one_line_per_pair_at_80_columns(sample, capsys, monkeypatch):
    root, ids = sample
    columns(monkeypatch, 80)
    lines = listing(capsys, str(root))
    assert all(Text(line).cell_len <= 80 for line in lines)
    rows = [line for line in lines if any(pid in line for pid in ids.values())]
    # each pair exactly once, whole; no other line between the header and the rows' end (no continuation)
    assert sorted(row.split()[0] for row in rows) == sorted(ids.values())
    assert lines[0].startswith("6 pairs (2 labeled, 4 remaining)")
    assert lines[1].split()[:2] == ["pair", "task"] and "verdict" in lines[1]
    assert lines[2 : 2 + len(ids)] == rows
    assert len(lines) == 2 + len(ids) + 1 and lines[-1].startswith("left out: by, note / tags")
    by_task = {task: next(r for r in rows if pid in r) for task, pid in ids.items()}
    assert by_task["fix_gcd"].split()[-1] == "confirm" and by_task["fix_celsius"].split()[-1] == "flip"
    assert "fix_parse_query" in by_task["fix_parse_query"]  # the task is whole when it fits
    assert GCD_NOTE[:10] not in "\n".join(lines)  # the note went first


def test_pairs_list_at_120_columns_shows_the_notes_and_every_column(sample, capsys, monkeypatch):
    root, ids = sample
    columns(monkeypatch, 120)
    lines = listing(capsys, str(root))
    out = "\n".join(lines)
    assert all(Text(line).cell_len <= 120 for line in lines) and "left out" not in out
    assert lines[1].split() == ["pair", "task", "contrast", "by", "ch", ">", "rej", "flags", "verdict", "note"]
    gcd_row = next(line for line in lines if ids["fix_gcd"] in line)
    assert "pass_fail" in gcd_row and "confirm" in gcd_row and GCD_NOTE[:20] in gcd_row
    # the note folds onto more lines rather than being cut: all of it is there
    assert " ".join(out.split()).count(" ".join(GCD_NOTE.split())[-20:]) == 1
    assert "#needs-second-look" in out and "both_fail summary_only" in out


def test_pairs_list_json_does_not_depend_on_the_width(sample, capsys, monkeypatch):
    root, _ = sample
    columns(monkeypatch, 80)
    narrow = listing(capsys, str(root), "--json")
    columns(monkeypatch, 200)
    assert listing(capsys, str(root), "--json") == narrow
    pairs = json.loads("\n".join(narrow))
    assert GCD_NOTE in [p["note"] for p in pairs] and pairs[0]["chosen_uid"].startswith("mini-bugs-scripted-sample/")


def test_team_verdicts_are_one_line_at_80_columns(sample, capsys, monkeypatch):
    root, ids = sample
    for who, verdict in (("ann", "confirm"), ("ben", "flip")):
        assert main(["pairs", "set", str(root), ids["fix_mergesort"], verdict, "--labeler", who]) == 0
    columns(monkeypatch, 80)
    lines = listing(capsys, str(root), "--disagree")
    rows = [line for line in lines if ids["fix_mergesort"] in line]
    assert len(rows) == 1 and rows[0].rstrip().endswith("DISAGREE ann confirm, ben flip")
    assert lines.index(rows[0]) == len(lines) - 2  # the last row, then the "left out" line: no continuation


def test_steps_list_is_one_line_per_step_at_80_columns(sample, capsys, monkeypatch):
    root, _ = sample
    uid = "mini-bugs-scripted-sample/fix_parse_query__s0"
    text = "reads the same file again and again without changing anything at all"
    assert main(["steps", "mark", str(root), uid, "2", "loop", "--text", text]) == 0
    columns(monkeypatch, 80)
    capsys.readouterr()
    assert main(["steps", "list", str(root), uid]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == uid and lines[1].split() == ["step", "calls", "auto", "flags", "mark"]
    assert all(Text(line).cell_len <= 80 for line in lines)
    assert [line.split()[0] for line in lines[2:]] == [str(n) for n in range(1, len(lines) - 1)]
    assert "loop reads the same" in lines[3] and lines[3].rstrip().endswith("…")
    columns(monkeypatch, 120)
    assert main(["steps", "list", str(root), uid]) == 0
    assert text in capsys.readouterr().out


COLS = (
    Col("id"),
    Col("task", give=3, min_width=4),
    Col("flags", give=2, min_width=5),
    Col("verdict"),
    Col("note", give=1, min_width=6, wrap=True),
)
ROWS = [["abcdef012345", "fix_parse_query", "both_fail summary_only", "confirm", "a long note " * 5]]


@pytest.mark.parametrize("width", range(24, 131))
def test_fit_gives_way_in_order_and_never_cuts_the_kept_columns(width):
    f = fit(COLS, ROWS, width)
    kept = [c.header for c, w in zip(COLS, f.widths, strict=True) if w is not None]
    assert kept[0] == "id" and "verdict" in kept
    assert f.widths[0] == 12 and f.widths[3] == 7  # whole
    gone = f.left_out(COLS)
    assert ["note", "flags", "task"][: len(gone)] == sorted(gone, key=["note", "flags", "task"].index)  # in order
    table, _ = fit_table(COLS, ROWS, width)
    out = io.StringIO()
    Console(width=width, file=out).print(table)
    lines = out.getvalue().splitlines()
    assert all(len(line.rstrip()) <= width for line in lines)
    assert len(lines) == 2 or (f.folded and width >= 120)  # header + the row, unless the note folds


def test_stats_allocation_table_keeps_its_headers_whole_at_80_columns(sample, capsys, monkeypatch):
    root, _ = sample
    columns(monkeypatch, 80)
    capsys.readouterr()
    assert main(["stats", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # possible pass/fail pairs here, pairs built above: never the one word "pairs" for both
    at = lines.index("pass/fail pairs possible by allocation (disjoint: no rollout in two)")
    header, row = lines[at + 1].split(), lines[at + 2].split()
    assert header == ["allocation", "batches", "rollouts", "possible", "/1k", "rollouts", "/1M", "tokens"] + [
        "best-worst"
    ]
    assert "pairs built by kind" in lines and lines[lines.index("pairs built by kind") + 1].split() == ["kind", "built"]
    assert row[0] == "fixed" and len(row) == 7 and lines[at + 3].startswith("spent:")


def test_stats_keeps_long_task_ids_whole_one_line_each_at_80_columns(tmp_path, capsys, monkeypatch):
    from tests.labeling.conftest import FIX, Spec, make_batch

    long_a, long_b = "astropy__astropy-12907", "django__django-11099_hard"  # SWE-bench ids differ at their end
    make_batch(
        tmp_path,
        "b1",
        [Spec(long_a, 1, passed=True, patch=FIX), Spec(long_a, 2, steps=5), Spec(long_b, 1), Spec(long_b, 2)],
    )
    columns(monkeypatch, 80)
    capsys.readouterr()
    assert main(["stats", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("pass rate per task (learnable band 20%-60%)")
    assert lines[at + 1].split() == ["task", "judged", "passed", "rate", "built"]  # short headers
    assert lines[at + 2].split() == [long_a, "2", "1", "50%", "learnable", "1"]
    assert lines[at + 3].split() == [long_b, "2", "0", "0%", "all", "fail", "no", "contrast", "0"]
    assert lines[at + 4].startswith("learnable: 1")


def test_stats_team_agreement_rows_are_one_line_at_80_columns(sample, capsys, monkeypatch):
    root, ids = sample
    for pid in ids.values():
        for who in ("ann", "ben[bold]"):  # a labeler name is data, never markup
            assert main(["pairs", "set", str(root), pid, "confirm", "--labeler", who]) == 0
    columns(monkeypatch, 80)
    capsys.readouterr()
    assert main(["stats", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("agreement between labelers"))
    assert "ben[bold]" in lines[at] and lines[at + 1].split() == ["over", "metric", "value", "pairs"]
    end = next(i for i, line in enumerate(lines) if line.startswith("pairs with >= 2 verdicts"))
    assert end > at + 2 and any("ann vs ben[bold]" in line for line in lines[at + 2 : end])
    assert all(Text(line).cell_len <= 80 for line in lines[at:end])


def test_a_middle_column_keeps_both_ends_of_an_id():
    cols = (Col("pair"), Col("task", give=1, min_width=8, middle=True), Col("verdict"))
    rows = [["abcdef012345", "django__django-11099", "confirm"], ["0123456789ab", "django__django-12907", "flip"]]
    out = io.StringIO()
    Console(width=35, file=out).print(fit_table(cols, rows, 35)[0])
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines[1:]] == ["django…11099", "django…12907"]  # 12 wide: head and tail


def test_pairs_list_into_a_pipe_keeps_every_column(sample, capsys, monkeypatch):
    """Output to a pipe is not a terminal: not cut to a guessed 80 columns (task, contrast and
    flags used to go missing from `pairs list | grep`)."""
    root, ids = sample
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(console, "_width", None)
    assert not console.is_terminal
    lines = listing(capsys, str(root))
    header = lines[1].split()
    assert {"task", "contrast", "flags", "verdict", "note"} <= set(header)
    gcd = next(line for line in lines if ids["fix_gcd"] in line)
    assert "fix_gcd" in gcd and GCD_NOTE in gcd  # the whole note, on the pair's own line
    assert not any("left out" in line for line in lines)
