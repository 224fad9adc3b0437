"""Hold-out leakage is impossible (property-style); an interrupted export leaves the old file."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent.suites.loading import load_suite
from exports import DpoOptions, ExportError, SftOptions, export_dpo, export_sft
from exports.writer import ExportCheckFailed, write_lines_atomic
from tests.exports.conftest import GOALS, REPO, Spec

TASKS = sorted(GOALS)


def _random_store(env, rng: random.Random, name: str) -> list[str]:
    tasks = rng.sample(TASKS, rng.randint(2, len(TASKS)))
    specs = []
    for t in tasks:
        outcomes = [True, False] + [rng.random() < 0.5 for _ in range(rng.randint(0, 1))]
        specs += [Spec(t, seed, passed=ok) for seed, ok in enumerate(outcomes)]
    env.batch(name, specs)
    return tasks


def test_no_held_out_task_ever_reaches_the_training_file(env, tmp_path: Path) -> None:
    rng = random.Random(20261122)
    tasks: set[str] = set()
    for b in range(3):
        tasks |= set(_random_store(env, rng, f"b{b}"))
    known = sorted(tasks)
    written = 0
    for case in range(40):
        if rng.random() < 0.5:
            opts = {"holdout_fraction": rng.choice([0.1, 0.2, 0.34, 0.5, 0.7]), "seed": rng.randint(0, 10_000)}
        else:
            opts = {"holdout_tasks": rng.sample(known, rng.randint(1, len(known) - 1))}
        kind = rng.choice(["dpo", "sft"])
        out = tmp_path / f"case{case}.jsonl"
        try:
            if kind == "dpo":
                report = export_dpo(
                    env.store,
                    out,
                    DpoOptions(
                        auto=True, keep_noisy=True, mode=rng.choice(["final", "patch", "patch+trajectory"]), **opts
                    ),
                )
            else:
                report = export_sft(env.store, out, SftOptions(style=rng.choice(["trajectory", "step"]), **opts))
        except ExportError as exc:  # everything held out: nothing to train on, nothing written
            assert "nothing to export" in str(exc) and not out.exists()
            continue
        written += 1
        held = set(report.holdout_tasks)
        assert held and held < tasks
        if "holdout_tasks" in opts:
            assert held == set(opts["holdout_tasks"])
        text = out.read_text(encoding="utf-8")
        for t in held:
            assert GOALS[t] not in text, (case, t)  # not a prompt, not a goal, nothing of it
        meta = json.loads(Path(report.meta_path).read_text())
        assert not {m["task_id"] for m in meta["lines"]} & held
        assert not {u.split("/")[1].split("__")[0] for m in meta["lines"] for u in m["uids"]} & held
        suite = load_suite(report.holdout_suite_path)  # loadable by `repo-agent run --suite`
        assert {t.id for t in suite.tasks} == held
    assert written >= 30  # the property was exercised, not skipped


def test_fraction_is_seeded_and_reproducible(env, tmp_path: Path) -> None:
    env.batch("b0", [Spec(t, s, passed=s == 0) for t in TASKS for s in (0, 1)])
    a = export_sft(env.store, tmp_path / "a.jsonl", SftOptions(holdout_fraction=0.34, seed=7), dry_run=True)
    b = export_sft(env.store, tmp_path / "b.jsonl", SftOptions(holdout_fraction=0.34, seed=7), dry_run=True)
    assert a.holdout_tasks == b.holdout_tasks and len(a.holdout_tasks) == 2
    with pytest.raises(ExportError, match="not in the store: fix_nope"):
        export_sft(env.store, tmp_path / "c.jsonl", SftOptions(holdout_tasks=["fix_nope"]))


def test_holdout_needs_a_known_suite(env, tmp_path: Path) -> None:
    env.batch("b0", [Spec("fix_gcd", 0), Spec("fix_roman", 0)], suite_path=None)
    with pytest.raises(ExportError, match="pass --suite"):
        export_sft(env.store, tmp_path / "a.jsonl", SftOptions(holdout_tasks=["fix_gcd"]))
    r = export_sft(env.store, tmp_path / "a.jsonl", SftOptions(holdout_tasks=["fix_gcd"], suite="mini-bugs"))
    assert r.examples == 1 and load_suite(r.holdout_suite_path).tasks[0].id == "fix_gcd"


KILL_SCRIPT = """
import sys
from labeling.store import LabelStore
from exports import DpoOptions, export_dpo
store = LabelStore(sys.argv[1])
export_dpo(store, sys.argv[2], DpoOptions(auto=True, mode="patch+trajectory"))
print("finished", flush=True)
"""


def test_export_killed_mid_write_leaves_the_old_file(env, tmp_path: Path) -> None:
    env.batch("b0", [Spec(t, s, passed=s == 0) for t in TASKS for s in (0, 1)])
    out = tmp_path / "dpo.jsonl"
    export_dpo(env.store, out, DpoOptions(auto=True, mode="final", holdout_tasks=["fix_gcd"]))
    old = out.read_bytes()
    old_meta = (tmp_path / "dpo.meta.json").read_bytes()
    env_vars = {**os.environ, "REPO_AGENT_EXPORT_KILL_AFTER": "2", "PYTHONPATH": str(REPO)}

    def export_in_child() -> subprocess.CompletedProcess:
        argv = [sys.executable, "-c", KILL_SCRIPT, str(env.store.path), str(out)]
        return subprocess.run(argv, env=env_vars, capture_output=True, text=True, timeout=60)

    proc = export_in_child()
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "finished" not in proc.stdout
    assert out.read_bytes() == old and (tmp_path / "dpo.meta.json").read_bytes() == old_meta
    stray = list(tmp_path.glob(".dpo.jsonl.tmp-*"))
    assert len(stray) == 1 and stray[0].read_text().count("\n") == 2  # what the killed export had written
    env_vars.pop("REPO_AGENT_EXPORT_KILL_AFTER")
    proc = export_in_child()
    assert proc.returncode == 0 and "finished" in proc.stdout, proc.stderr
    assert out.read_bytes() != old and not list(tmp_path.glob(".dpo.jsonl.tmp-*"))  # temp cleaned
    assert json.loads((tmp_path / "dpo.meta.json").read_text())["mode"] == "patch+trajectory"


def test_a_file_that_fails_the_check_is_never_renamed_into_place(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    out.write_text("previous\n")
    good = json.dumps({"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]})
    with pytest.raises(ExportCheckFailed, match="line 2: weight"):
        write_lines_atomic(out, [good, good.replace('"a"}', '"a", "weight": 5}')], "together-sft")
    assert out.read_text() == "previous\n" and not list(tmp_path.glob(".x.jsonl.tmp-*"))
    sha, n = write_lines_atomic(out, [good, good], "together-sft")
    assert n == 2 and out.read_text() == good + "\n" + good + "\n"


def test_the_held_out_suite_file_names_no_path_of_its_own(env, tmp_path: Path) -> None:
    """The hold-out file selects tasks of the suite they come from (whose paths stay confined in
    its own folder, docs/hostile-files.md); it loads anywhere, and a selection of a selection is
    refused rather than followed."""
    import json

    from agent.suites.loading import SuiteError

    env.batch("b0", [Spec("fix_gcd", 0), Spec("fix_roman", 0)], suite_path=None)
    r = export_sft(env.store, tmp_path / "a.jsonl", SftOptions(holdout_tasks=["fix_gcd"], suite="mini-bugs"))
    data = json.loads(Path(r.holdout_suite_path).read_text())
    assert data["from"] == {"suite": "mini-bugs", "tasks": ["fix_gcd"]} and "tasks" not in data
    suite = load_suite(r.holdout_suite_path)
    assert [t.id for t in suite.tasks] == ["fix_gcd"] and suite.base_dir is not None
    again = tmp_path / "again.suite.json"
    again.write_text(json.dumps({"name": "x", "from": {"suite": str(r.holdout_suite_path), "tasks": ["fix_gcd"]}}))
    with pytest.raises(SuiteError, match="not another selection"):
        load_suite(again)
