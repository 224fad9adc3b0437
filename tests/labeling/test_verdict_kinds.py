"""`stats` says which kind of verdict each pair rests on (agent/verdict_kind.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from agent.batch_meta import read_batch_meta, write_batch_meta
from agent.suites.models import Differential, DifferentialTarget, DirSource, HiddenTests, Suite, Task
from labeling.stats import signal_report
from labeling.verdict_kinds import task_kind
from tests import factories
from tests.labeling.conftest import Spec, make_patch, to_rollout
from tui.cli import main

SRC = DirSource(path="src")
TARGET = DifferentialTarget(module="prog", function="f", inputs=[[1], [2]])


def _tasks() -> list[Task]:
    return [
        Task(id="quix", source=SRC, goal="g", reference_fix="fix", differential=Differential(targets=[TARGET])),
        Task(
            id="both",
            source=SRC,
            goal="g",
            reference_fix="fix",
            differential=Differential(targets=[TARGET]),
            hold_out_lines={"test_prog.py": 0.5},
        ),
        Task(
            id="swe",
            source=SRC,
            goal="g",
            reference_fix="fix",
            hidden_tests=HiddenTests(patch="hidden_tests/swe.patch", fail_to_pass=["tests/test_a.py::test_a"]),
        ),
        Task(id="plain", source=SRC, goal="g", reference_fix="fix"),
        Task(id="lines", source=SRC, goal="g", hold_out_lines={"test_prog.py": 0.5}),
    ]


def test_a_tasks_verdict_kind_is_what_its_final_run_uses():
    suite = Suite(name="s", tasks=_tasks())
    kinds = {t.id: task_kind(suite, t) for t in suite.tasks}
    assert kinds == {
        "quix": "differential",
        "both": "differential+hidden",
        "swe": "hidden",
        "plain": "tests",
        "lines": "hidden",
    }


def _batch(root: Path, name: str, tasks: list[str], *, suite_path: str | None) -> Path:
    # Each batch's own patches: a pair over contents seen in another batch is that batch's pair.
    fail = make_patch("prog.py", ["    return x - 1"], [f"    return x * 2  # {name}"])
    fix = make_patch("prog.py", ["    return x - 1"], [f"    return x + 1  # {name}"])
    specs = [Spec(t, s, passed=s == 1, patch=fix if s == 1 else fail) for t in tasks for s in (1, 2)]
    return factories.write_batch(root, name, [to_rollout(s) for s in specs], suite_path=suite_path)


def test_stats_counts_pairs_by_the_kind_of_verdict_they_rest_on(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative suite path is found from the batch's directory too
    suite_dir = tmp_path / "work" / "suites" / "mixed"
    suite_dir.mkdir(parents=True)
    suite = {"name": "mixed", "tasks": [t.model_dump(exclude_defaults=True) for t in _tasks()]}
    (suite_dir / "suite.json").write_text(json.dumps(suite))  # its sources are gone: still read
    root = tmp_path / "work" / "runs"
    _batch(root, "b1", ["quix", "both", "swe", "plain", "lines"], suite_path="suites/mixed")
    _batch(root, "b2", ["gone"], suite_path=str(tmp_path / "deleted" / "suite.json"))
    os.mkfifo(tmp_path / "fifo.json")  # a hostile batch.json naming a FIFO: never read (it would block)
    _batch(root, "b4", ["fifo"], suite_path=str(tmp_path / "fifo.json"))
    imported = _batch(root, "b3", ["imp"], suite_path=None)
    meta = read_batch_meta(imported)
    write_batch_meta(imported, meta.model_copy(update={"imported": {"format": "swe-agent", "path": "x"}}))

    assert main(["stats", str(root), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["pairs"] == 8
    assert rep["by_verdict_kind"] == {
        "differential": 1,
        "differential+hidden": 1,
        "hidden": 2,
        "tests": 1,
        "unknown": 2,  # b2: the suite it ran is gone; b4: a FIFO
        "imported": 1,  # b3: the source's verdict
    }
    assert main(["stats", str(root), "--no-ingest"]) == 0
    out = capsys.readouterr().out
    assert "verdict rests on" in out
    for line in ("held-out inputs and hidden tests", "hidden tests only", "pytest records only", "imported run's"):
        assert line in out


def test_a_suite_is_parsed_again_only_when_its_file_changed(tmp_path, monkeypatch):
    """Stats recompute on every store change: a batch's suite (up to 64 MB) is read once and
    again only when its file's (mtime, size) changed, not on every compute."""
    import labeling.verdict_kinds as vk
    from labeling.store import LabelStore

    suite_file = tmp_path / "mixed.json"
    tasks = [t.model_dump(exclude_defaults=True) for t in _tasks()]
    suite_file.write_text(json.dumps({"name": "mixed", "tasks": tasks}))
    root = tmp_path / "runs"
    _batch(root, "b1", ["quix", "plain"], suite_path=str(suite_file))
    reads: list[str] = []
    real = vk._suite_kinds
    monkeypatch.setattr(vk, "_suite_kinds", lambda spec, where: reads.append(spec) or real(spec, where))
    with LabelStore(root / "labels.sqlite") as store:
        store.ingest([root])
        assert signal_report(store).by_verdict_kind == {"differential": 1, "tests": 1}
        assert signal_report(store).by_verdict_kind == {"differential": 1, "tests": 1}
        assert len(reads) == 1  # the second compute used what the first read
        for t in tasks:
            t.pop("differential", None)  # the suite changed: quix is plain tests now
        suite_file.write_text(json.dumps({"name": "mixed", "tasks": tasks, "description": "edited"}))
        assert signal_report(store).by_verdict_kind == {"tests": 2}
        assert len(reads) == 2


def test_a_builtin_suite_is_read_by_name(tmp_path):
    from labeling.store import LabelStore

    root = tmp_path / "runs"
    _batch(root, "b1", ["fix_gcd"], suite_path="mini-bugs")
    with LabelStore(root / "labels.sqlite") as store:
        store.ingest([root])
        rep = signal_report(store)
    assert rep.by_verdict_kind == {"differential+hidden": 1}  # held-out inputs and held-out test files


def test_the_stats_screen_shows_what_pairs_rest_on_when_a_suite_is_known():
    from rich.console import Console

    from labeling.stats import SignalReport
    from tui.screens.stats import render_report

    def text(kinds: dict[str, int]) -> str:
        rep = SignalReport.model_validate({**_EMPTY_REPORT, "by_verdict_kind": kinds})
        console = Console(width=120, record=True)
        console.print(render_report(rep))
        return console.export_text()

    shown = text({"differential+hidden": 3, "tests": 5, "unknown": 1})
    assert "Verdict rests on" in shown and "held-out inputs and hidden tests" in shown
    assert "pytest records only" in shown and "unknown (the batch's suite is gone)" in shown
    assert "Verdict rests on" not in text({"unknown": 4})  # no suite found: nothing to say


_EMPTY_REPORT = {
    "strategy": "best-worst",
    "score_order": [],
    "band": (0.2, 0.6),
    "rollouts": 0,
    "finished": 0,
    "running": 0,
    "tasks": [],
    "learnable_tasks": [],
    "all_pass_tasks": [],
    "all_fail_tasks": [],
    "no_contrast_tasks": [],
    "pairs": 9,
    "stale_pairs": 0,
    "by_contrast": {},
    "by_flag": {},
    "clean_pairs": 9,
    "labeled": 0,
    "remaining": 9,
    "agreement": {},
    "validity_by_model": [],
    "tokens_in": 0,
    "tokens_out": 0,
    "cost_usd": 0.0,
    "cost_unknown_rollouts": 0,
}
