"""`repo-agent import` over folders: a mixed folder, broken files, idempotence, the command's lines."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from agent.importers import find_foreign, import_paths
from agent.trace import find_batches, read_batch_meta
from labeling.store import LabelStore
from tests.agent import import_fixtures as fx
from tui.cli import main

REPO = Path(__file__).resolve().parents[2]


def mixed_folder(root: Path) -> Path:
    """All four formats, a companion file, one of our own batches, and files to ignore."""
    fx.write_json(root / "swe" / "run-a" / "calc__calc-1.traj", fx.swe_agent_fc("calc__calc-1"))
    fx.write_json(root / "swe" / "run-a" / "results.json", {"resolved_ids": ["calc__calc-1"]})
    fx.write_json(root / "mini" / "calc__calc-1.traj.json", fx.mini_toolcall(submission=fx.patch("2")))
    fx.write_jsonl(root / "openhands" / "output.jsonl", fx.openhands_output_rows())
    fx.write_json(root / "openhands" / "trajs" / "session.json", fx.openhands_events())
    fx.inspect_eval(root / "inspect" / "calc.eval", [fx.inspect_sample(1, 1, "C")], method=93)
    fx.write_json(root / "inspect" / "calc.json", fx.inspect_json([fx.inspect_sample(1, 1, "I")]))
    shutil.copytree(REPO / "sample_traces", root / "ours")  # our own batches are not re-imported
    (root / "notes.md").write_text("not a trajectory")
    (root / ".hidden").mkdir()
    fx.write_json(root / ".hidden" / "x.traj", fx.swe_agent_fc("hidden"))
    return root


def broken_files(root: Path) -> dict[str, str]:
    """name -> words its line must contain."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "torn.traj").write_text(json.dumps(fx.swe_agent_fc("t"))[:500])
    (root / "empty.json").write_text("")
    (root / "notzip.eval").write_text("PK but not really")
    fx.write_zip(root / "noheader.eval", {"samples/1_epoch_1.json": (b"{}", 8)})
    (root / "rows.jsonl").write_text(json.dumps({"instance_id": "x", "history": []}) + "\n{bad\n")
    fx.write_json(root / "config.json", {"model": "gpt", "temperature": 0})
    fx.write_json(root / "silent.json", [{"action": "message", "source": "user", "args": {"content": "hi"}}])
    fx.write_json(root / "nosamples.json", fx.inspect_json([]))
    return {
        "torn.traj": "not JSON",
        "empty.json": "empty file",
        "notzip.eval": "not a known trajectory format",
        "noheader.eval": "no header.json",
        "rows.jsonl": "line 2 is not JSON",
        "config.json": "not a known trajectory format",
        "silent.json": "no agent turn",
        "nosamples.json": "log has no samples",
    }


def test_mixed_folder_imports_every_format_one_batch_per_run(tmp_path: Path) -> None:
    src = mixed_folder(tmp_path / "src")
    report = import_paths([src], tmp_path / "out")
    by_name = {f.path.relative_to(src).as_posix(): (f.status, f.format) for f in report.files}
    assert by_name == {
        "inspect/calc.eval": ("imported", "inspect"),
        "inspect/calc.json": ("imported", "inspect"),
        "mini/calc__calc-1.traj.json": ("imported", "mini-swe-agent"),
        "openhands/output.jsonl": ("imported", "openhands"),
        "openhands/trajs/session.json": ("imported", "openhands"),
        "swe/run-a/calc__calc-1.traj": ("imported", "swe-agent"),
        "swe/run-a/results.json": ("skipped", None),
    }
    batches = find_batches(tmp_path / "out")
    assert len(batches) == 6 == len(report.batches)
    assert sorted(read_batch_meta(b).provider for b in batches) == [
        "inspect", "inspect", "mini-swe-agent", "openhands", "openhands", "swe-agent"
    ]  # fmt: skip
    # nothing downstream knows where a batch came from: the store ingests and pairs them as ours
    store = LabelStore(tmp_path / "out" / "labels.sqlite")
    store.ingest([tmp_path / "out"])
    rows = store.rollouts()
    assert len(rows) == 8 and all(r.finished for r in rows)
    by_task: dict[str, list] = {}
    for r in rows:
        by_task.setdefault(r.task_id, []).append((r.provider, r.verdict_known, r.tests_passed))
    assert sorted(by_task["calc__calc-1"]) == [
        ("mini-swe-agent", False, False),
        ("openhands", True, False),
        ("openhands", True, True),
        ("swe-agent", True, True),
    ]
    assert sorted(by_task["calc_fix/1"]) == [("inspect", True, False), ("inspect", True, True)]  # .eval and .json
    assert set(by_task) == {"calc__calc-1", "calc__calc-2", "calc_fix/1", "session"}
    store.close()


def test_broken_files_get_one_line_each_and_the_rest_imports(tmp_path: Path) -> None:
    src = tmp_path / "src"
    expected = broken_files(src / "bad")
    fx.write_json(src / "good" / "ok.traj", fx.swe_agent_fc("ok"))
    report = import_paths([src], tmp_path / "out")
    lines = {f.path.name: (f.status, f.reason) for f in report.files}
    assert lines.pop("ok.traj") == ("imported", "")
    assert set(lines) == set(expected)
    for name, words in expected.items():
        assert words in lines[name][1], (name, lines[name])
    assert lines["nosamples.json"][0] == "skipped" and lines["config.json"][0] == "skipped"
    assert lines["torn.traj"][0] == "broken" and lines["silent.json"][0] == "broken"
    assert len(report.batches) == 1


def test_a_corrupt_sample_is_left_out_of_its_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = fx.inspect_eval(
        tmp_path / "src" / "calc.eval", [fx.inspect_sample(1, 1, "C"), fx.inspect_sample(2, 1, "I")], method=93
    )
    data = log.read_bytes()
    at = data.find(b"\x28\xb5\x2f\xfd")  # the first zstd frame: samples/1_epoch_1.json
    log.write_bytes(data[:at] + b"\0\0\0\0" + data[at + 4 :])
    assert main(["import", str(log), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "calc.eval: inspect, 1 rollout" in out
    assert "left out: samples/1_epoch_1.json unreadable (ZstdError)" in out


def test_reimport_is_idempotent(tmp_path: Path) -> None:
    src = mixed_folder(tmp_path / "src")
    out = tmp_path / "out"
    first = import_paths([src], out)
    store = LabelStore(out / "labels.sqlite")
    store.ingest([out])
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json"))
    before = {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in files}
    again = import_paths([src], out)
    assert [f.status for f in again.files if f.format] == ["unchanged"] * (len(first.files) - 1)
    assert [b.batch_id for b in again.batches] == [b.batch_id for b in first.batches]
    after = {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in files}
    assert after == before  # not even rewritten: the store's incremental ingest reads nothing
    stats = store.ingest([out])
    assert stats.files_read == 0 and len(store.rollouts()) == 8
    store.close()


def test_changed_source_rewrites_only_its_trace(tmp_path: Path) -> None:
    src = tmp_path / "src" / "run"
    fx.write_json(src / "a.traj", fx.swe_agent_fc("a"))
    fx.write_json(src / "b.traj", fx.swe_agent_fc("b"))
    import_paths([tmp_path / "src"], tmp_path / "out")
    fx.write_json(src / "results.json", {"resolved_ids": ["a"]})  # evaluated later
    again = import_paths([tmp_path / "src"], tmp_path / "out")
    assert again.batches[0].changed == 1  # a's verdict changed, b's trace is the same
    assert {f.path.name: f.status for f in again.files} == {
        "a.traj": "imported",
        "b.traj": "unchanged",
        "results.json": "skipped",
    }


def test_forced_format_refuses_other_formats(tmp_path: Path) -> None:
    fx.write_json(tmp_path / "src" / "a.traj", fx.swe_agent_fc("a"))
    fx.write_json(tmp_path / "src" / "m.traj.json", fx.mini_bare())
    report = import_paths([tmp_path / "src"], tmp_path / "out", fmt="mini-swe-agent")
    assert {f.path.name: (f.status, f.reason) for f in report.files} == {
        "a.traj": ("skipped", "not a mini-swe-agent file"),
        "m.traj.json": ("imported", ""),
    }


def test_find_foreign_counts_formats_outside_our_batches(tmp_path: Path) -> None:
    src = mixed_folder(tmp_path / "src")
    assert find_foreign(src) == {"inspect": 2, "mini-swe-agent": 1, "openhands": 2, "swe-agent": 1}
    assert find_foreign(REPO / "sample_traces") == {}


# --------------------------------------------------------------------------- the command


def test_cli_lines_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    fx.write_json(src / "run" / "a.traj", fx.swe_agent_fc("a"))
    (src / "run" / "b.traj").write_text("{")
    results = fx.write_json(tmp_path / "report.json", {"a": {"resolved": True, "tests_status": {}}})
    rc = main(["import", str(src), "--out", str(tmp_path / "out"), "--results", str(results)])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith("imported") and "a.traj: swe-agent, 1 rollout -> import-swe-agent-run-" in lines[0]
    assert lines[1].startswith("broken") and "b.traj: not JSON" in lines[1]
    assert "1 imported, 0 unchanged, 0 skipped, 1 broken of 2 files; 1 rollouts in 1 batch under" in out
    t = next((tmp_path / "out").rglob("a.jsonl")).read_text().splitlines()
    assert json.loads(t[-1])["outcome"]["tests_passed"] is True
    main(["import", str(src), "--out", str(tmp_path / "out"), "--results", str(results)])
    assert "0 imported, 1 unchanged" in capsys.readouterr().out
    main(["import", str(src), "--out", str(tmp_path / "out")])  # without the verdict: rewritten, unknown
    assert "1 imported, 0 unchanged" in capsys.readouterr().out
    t = next((tmp_path / "out").rglob("a.jsonl")).read_text().splitlines()
    assert json.loads(t[-1])["outcome"]["verdict_known"] is False


def test_cli_user_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "r.json"
    bad.write_text('{"foo": 1}')
    assert main(["import", str(tmp_path), "--out", str(tmp_path / "out"), "--results", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "--results" in err and "no verdicts" in err and "Traceback" not in err


def test_cli_nothing_importable_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.json").write_text("[1, 2]")
    assert main(["import", str(tmp_path / "x.json"), "--out", str(tmp_path / "out")]) == 1
    assert "not a known trajectory format" in capsys.readouterr().out


def test_fifo_and_device_links_are_named_not_opened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Opening either would hang (a FIFO with no writer) or read forever (/dev/zero).
    src = tmp_path / "src"
    fx.write_json(src / "ok.traj", fx.swe_agent_fc("ok"))
    os.mkfifo(src / "pipe.traj")
    (src / "zero.json").symlink_to("/dev/zero")
    assert main(["import", str(src), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "pipe.traj: not a regular file (a FIFO); not opened" in out
    assert "zero.json: not a regular file (a device); not opened" in out
    assert "1 imported, 0 unchanged, 0 skipped, 2 broken of 3 files" in out
    # Named outright, the FIFO is reported the same way (not "no such file").
    assert main(["import", str(src / "pipe.traj"), "--out", str(tmp_path / "out2")]) == 1
    assert "pipe.traj: not a regular file (a FIFO)" in capsys.readouterr().out


def test_json_lines_holding_a_line_separator_in_a_string_read_whole(tmp_path: Path) -> None:
    """JSON may hold U+2028 / U+0085 unescaped; str.splitlines breaks a line there, so a valid
    JSON-lines file was "not JSON"."""
    import json as _json

    from agent.importers.detect import load
    from agent.importers.results import read_results_file

    rows = [
        {"instance_id": "a__b-1", "resolved": True, "note": "x\u2028y\x85z"},
        {"instance_id": "c__d-2", "resolved": False},
    ]
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(_json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    assert load(path) == rows
    assert read_results_file(path) == {"a__b-1": True, "c__d-2": False}
