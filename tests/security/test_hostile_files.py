"""Files a user is handed cannot hurt them (issue 24): suites, trajectories, traces, stores,
keymaps, training files. Each test feeds a file from tests/security/hostile_inputs.py."""

from __future__ import annotations

import itertools
import json
import os
import re
import sqlite3
import threading
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from agent.suites.loading import load_suite
from agent.suites.models import SuiteError
from agent.untrusted import neutralise
from exports.check import UnreadableFile, check_file
from labeling.errors import StoreError
from labeling.store import LabelStore
from tests.bounded_call import finishes_within
from tests.factories import Rollout, write_batch
from tests.security import hostile_inputs as h
from tui.keymap import KeymapError, load_keymap

PROJECT = Path(__file__).resolve().parents[2]


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """repo-agent's CLI in this process (fast); (exit status, stdout, stderr)."""
    from tui.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_suite_cannot_name_paths_outside_its_workspace(tmp_path, capsys):
    victim_dir = tmp_path / "elsewhere" / "precious"
    victim_dir.mkdir(parents=True)
    (victim_dir / "keep.txt").write_text("mine")
    victim_file = tmp_path / "elsewhere" / "notes.txt"
    victim_file.write_text("mine too")
    suite = h.suite_escaping_protected(tmp_path, victim_dir, victim_file)

    with pytest.raises(SuiteError, match=r"protected.*leads outside the workspace"):
        load_suite(suite)
    code, _, err = run_main(capsys, "suite", "check", str(suite))
    assert code == 2 and "leads outside the workspace" in err
    assert (victim_dir / "keep.txt").read_text() == "mine" and victim_file.read_text() == "mine too"


def test_a_suite_fix_outside_its_folder_is_refused(tmp_path):
    suite = h.suite_escaping_protected(tmp_path, tmp_path / "x", tmp_path / "y")
    data = json.loads(suite.read_text())
    data["tasks"][0].update(protected=["tests"], reference_fix="../..")
    suite.write_text(json.dumps(data))
    with pytest.raises(SuiteError, match=r"reference_fix '\.\./\.\.' leads outside the suite's folder"):
        load_suite(suite)


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("handed")
    h.fifo_eval(folder)
    h.zero_eval(folder)
    h.zip_bomb_eval(folder, entries=2, entry_mb=80)  # over the 48 MB entry cap: never decompressed
    h.deep_json(folder)
    h.dense_json(folder, mb=7)  # millions of [] (a gigabyte as Python objects at the file cap)
    h.nan_input_refs(folder)
    h.markup_path(folder)
    h.good_trajectory(folder)
    return folder


def test_import_reports_each_hostile_file_and_imports_the_rest(hostile_folder, tmp_path, capsys):
    # In a thread: a FIFO that blocks the import fails the test instead of stopping the suite.
    result: list[tuple[int, str, str]] = []
    worker = threading.Thread(
        target=lambda: result.append(run_main(capsys, "import", str(hostile_folder), "--out", str(tmp_path / "out"))),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=120)
    assert result, "import hung (or died) on a hostile file"
    code, out, err = result[0]
    assert code == 0, err
    assert "\x1b" not in out + err  # the escape in a file name is shown as text
    lines = {
        line.split(":")[0].split("/")[-1]: line for line in out.splitlines() if line.startswith(("broken", "skip"))
    }
    assert "not a regular file" in lines["run.eval"]
    assert "not a regular file" in lines["zero.eval"]
    assert "larger than 48 MB" in out  # bomb.eval's samples, named, not decompressed
    assert "nested too deep" in lines["deep.json"]
    assert "more than 3,000,000 JSON values" in lines["dense.json"]
    assert "NaN" in lines["nan.json"]
    assert "a[/]b/x\\x1b]0;MARK_PATH_TITLE\\x07.json" in out
    assert "1 imported" in out and "ok_task" in out


def test_the_studios_import_scan_skips_hostile_files(hostile_folder):
    from agent.importers import find_foreign

    # The FIFO and the /dev/zero link are passed over unopened; the bomb's header says "inspect".
    assert find_foreign(hostile_folder) == {"inspect": 1, "swe-agent": 1}


@pytest.mark.parametrize(
    "build, reason",
    [
        (h.huge_int_batch, ":3: not JSON"),
        (h.nan_ts_batch, ":3: not JSON"),
        (h.deep_trace_batch, ":3: not an event object"),
        (lambda root: h.long_line_batch(root, 33 << 20), ":2: line longer than 32 MiB"),
    ],
    ids=["4000-digit-step", "nan-ts", "deep", "33MiB-line"],
)
def test_ingest_lists_a_hostile_line_and_indexes_the_rest(tmp_path, build, reason):
    build(tmp_path / "traces")
    with LabelStore(tmp_path / "labels.sqlite") as store:
        rep = store.ingest([tmp_path / "traces"])
        assert rep.new_rollouts == 2
        assert any(reason in w for w in rep.warnings), rep.warnings
        assert sorted(r.finished for r in store.rollouts()) == [True, True]


def test_a_store_with_a_foreign_trigger_is_refused(tmp_path, capsys):
    path = h.foreign_trigger_store(tmp_path / "labels.sqlite")
    with pytest.raises(StoreError, match=r"did not create \(trigger flip_it\)"):
        LabelStore(path)
    code, _, err = run_main(capsys, "stats", str(tmp_path), "--db", str(path))
    assert code == 2 and "trigger flip_it" in err


def test_a_store_whose_own_trigger_was_replaced_is_refused(tmp_path):
    path = h.altered_trigger_store(tmp_path / "labels.sqlite")
    with pytest.raises(StoreError, match=r"trigger label_events_no_update \(altered\)"):
        LabelStore(path)


def test_a_store_repo_agent_made_opens_again(tmp_path):
    LabelStore(tmp_path / "labels.sqlite").close()
    LabelStore(tmp_path / "labels.sqlite").close()


def test_keymaps_with_escape_codes_or_deep_nesting_are_one_error(tmp_path):
    with pytest.raises(KeymapError, match=r"confirm = '\\x1b\]0;MARK_KEY\\x07': a key is a printable name"):
        load_keymap(h.escape_keymap(tmp_path / "esc.toml"))
    with pytest.raises(KeymapError, match="nested too deep"):
        load_keymap(h.deep_keymap(tmp_path / "deep.toml"))


def test_check_names_special_files_and_flags_duplicate_keys(tmp_path, capsys):
    fifo = tmp_path / "out.jsonl"
    os.mkfifo(fifo)
    (tmp_path / "zero.jsonl").symlink_to("/dev/zero")
    for path, kind in ((fifo, "a FIFO"), (tmp_path / "zero.jsonl", "a device"), (tmp_path, "a directory")):
        with pytest.raises(UnreadableFile, match=kind):
            check_file(path)
    code, _, err = run_main(capsys, "check", str(fifo))
    assert code == 2 and "a FIFO" in err
    report = check_file(h.duplicate_key_file(tmp_path / "dup.jsonl"))
    assert [e.rule for e in report.errors] == ["duplicate-key"]


def test_neutralise_leaves_no_control_character_and_no_markup():
    shown = neutralise(h.PAYLOAD)
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert "\\x1b]0;MARK_TITLE\\x07" in shown
    console = Console(force_terminal=True, width=400)
    with console.capture() as cap:
        console.print(shown)
    text = cap.get()
    assert "[bold red]MARK_MARKUP[/]" in Text.from_markup(shown).plain
    assert "\x1b]8;" not in text and "\x1b]0;" not in text  # no hyperlink, no title
    # A file name's undecodable byte (surrogateescape) is shown as that byte, never sent raw.
    assert neutralise("run\udc9b2J.json") == "run\\x9b2J.json"
    controls_only = neutralise(h.PAYLOAD, markup=False)
    assert neutralise(controls_only, markup=False) == controls_only  # a second pass changes nothing


def test_stats_prints_escape_codes_in_ids_as_text(tmp_path, capsys):
    h.escape_batch(tmp_path)
    code, out, err = run_main(capsys, "stats", str(tmp_path))
    assert code == 0, err
    assert "\x1b" not in out and "\\x1b]0;MARK_TASK_TITLE" in out


def test_a_store_migrated_from_before_the_loop_columns_still_opens(tmp_path):
    """A schema-2 store: rollouts without loops/loop_steps/stalls, which the migration adds
    with ALTER TABLE ... DEFAULT (so its table's SQL differs from a new store's)."""
    path = tmp_path / "labels.sqlite"
    LabelStore(path).close()
    conn = sqlite3.connect(path)
    for col in ("loops", "loop_steps", "stalls"):
        conn.execute(f"ALTER TABLE rollouts DROP COLUMN {col}")
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    LabelStore(path).close()  # migrated
    LabelStore(path).close()  # and opened again as it now is


def test_a_store_with_a_foreign_table_clause_is_refused(tmp_path):
    """A rule hidden in a table's own SQL: a second verdict on a pair replaces the first."""
    path = tmp_path / "labels.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE label_events (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
        "target TEXT NOT NULL UNIQUE ON CONFLICT REPLACE, value TEXT, note TEXT, labeler TEXT NOT NULL, "
        "at TEXT NOT NULL, ref INTEGER REFERENCES label_events(id))"
    )
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"table label_events \(altered\)"):
        LabelStore(path)


def test_a_nan_timestamp_makes_its_line_invalid_for_every_reader(tmp_path):
    from agent.trace import read_trace

    bdir = write_batch(tmp_path, "b", [Rollout(task_id="t", seed=0)])
    trace = next((bdir / "traces").iterdir())
    lines = trace.read_text().splitlines()
    lines[1] = re.sub(r'"ts":[0-9.e+]+', '"ts":NaN', lines[1])
    trace.write_text("\n".join(lines) + "\n")
    read = read_trace(trace)
    assert [w.line_no for w in read.warnings] == [2]
    assert all(e.ts == e.ts for e in read.events)  # no NaN among the events read


def test_a_trace_bigger_than_one_read_loses_no_line_at_the_seams(tmp_path, monkeypatch):
    """Ingest reads MAX_LINE_BYTES at a time (1 MiB here): 40 lines of 100 KB cross seams, all are read."""
    import labeling.indexer

    monkeypatch.setattr(labeling.indexer, "MAX_LINE_BYTES", 1 << 20)
    bdir = write_batch(tmp_path / "traces", "big", [Rollout(task_id="t", seed=0, passed=True)])
    trace = next((bdir / "traces").iterdir())
    lines = trace.read_bytes().splitlines(keepends=True)
    body = "x" * 100_000
    with open(trace, "wb") as f:
        f.write(lines[0])
        for seq in range(40):
            f.write(f'{{"v":1,"rollout_id":"t__s0","seq":{100 + seq},"ts":1.0,"kind":"message",'.encode())
            f.write(f'"message":{{"role":"tool","content":"{body}"}},"step":1}}\n'.encode())
        f.writelines(lines[1:])
    with LabelStore(tmp_path / "labels.sqlite") as store:
        rep = store.ingest([tmp_path / "traces"])
        assert rep.warnings == [] and rep.invalid_lines == 0
        assert rep.events == len(lines) + 40
        assert [r.finished for r in store.rollouts()] == [True]


# neutralise's markup pattern up to round 22 (rich.markup.escape's), the reference it keeps.
_MARKUP_BEFORE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def test_neutralise_escapes_markup_as_before(monkeypatch):
    import agent.untrusted as untrusted

    texts = ["".join(t) for n in range(7) for t in itertools.product("\\[]aB/ ", repeat=n)]
    now = [neutralise(t) for t in texts]
    monkeypatch.setattr(untrusted, "_MARKUP", _MARKUP_BEFORE)
    assert now == [neutralise(t) for t in texts]


def test_neutralise_reads_a_run_of_backslashes_at_once():
    """A search began inside each run of backslashes, to the run's end: quadratic, 8,000 of
    them 1.5 s (round 22 sweep); 60,000 minutes."""
    setup = "from agent.untrusted import neutralise\ntext = '[' + '\\\\' * 60_000\n"
    assert finishes_within(20, "assert neutralise(text).startswith('[')\n", setup), (
        "neutralise still reading 60,000 backslashes after 20 s"
    )
