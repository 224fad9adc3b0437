"""Adaptive allocation in the batch runner (issue 6), against the scripted server.

Tasks whose scripted pass probability is 1, 0 and in between: the batch stops spending on
the all-pass and all-fail ones, spends the rest of its budget on the contrasting one,
never goes past the budget, and resumes after a cancel without re-running a finished
rollout (checked on the server's request log).
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from pathlib import Path

import pytest

from agent.allocation import AllocationConfig, AllocationReport
from agent.batch import BatchMismatch, run_batch
from agent.batch_spec import BatchSpec
from agent.loop import RolloutConfig
from agent.suites.loading import load_suite
from agent.trace import read_batch_meta, read_trace, rollout_id_for, trace_path
from tests.agent.rollout_fixtures import _FILES, model_flags, openai_for, scripted, scripted_batch  # noqa: F401
from tests.doubles.scripted_llm import MixedPolicy
from tui.cli import main

PROBS = {"easy": 1.0, "hard": 0.0, "mid": 0.5}
# Fast scripts: a clean fix passes (one test run), a bare "finish" fails.
FAST = {"passing": ("clean",), "failing": ("summary_only",)}


# Plain asserts instead of pytest: a test run takes milliseconds (pass = exit status 0).
FILES = {
    "src/gcd.py": _FILES["fix_gcd"]["src/gcd.py"],
    "src/check_gcd.py": "from gcd import gcd\n\nassert gcd(12, 8) == 4\nassert gcd(5, 0) == 5\n",
    "fix/gcd.py": _FILES["fix_gcd"]["fix/gcd.py"],
}


def write_suite(root: Path, ids=tuple(PROBS)) -> Path:
    tasks = []
    files = FILES
    for tid in ids:
        for rel, text in files.items():
            p = root / tid / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        tasks.append(
            {
                "id": tid,
                "source": {"kind": "dir", "path": f"{tid}/src"},
                "goal": f"The function in task {tid} returns wrong results. Find and fix the bug.",
                "test_command": ["python", "-S", "check_gcd.py"],
                "timeout_s": 30,
                "per_test_timeout_s": 5,
                "protected": ["check_gcd.py"],
                "reference_fix": f"{tid}/fix",
            }
        )
    path = root / "suite.json"
    path.write_text(json.dumps({"name": "alloc", "tasks": tasks}))
    return path


@pytest.fixture(scope="module")
def suite_path(tmp_path_factory) -> Path:
    return write_suite(tmp_path_factory.mktemp("alloc_suite"))


@pytest.fixture
def suite(suite_path):
    return load_suite(str(suite_path))


def policy(suite):
    # mid: the first two rollouts pinned to one pass and one fail, so it shows contrast at once.
    return MixedPolicy(suite, PROBS, plan={("mid", 0): "clean", ("mid", 1): "summary_only"}, **FAST)


def rollouts_started(server) -> Counter:
    """(task, seed) -> how many times a rollout of it asked its first question."""
    starts = Counter()
    for body in server.requests:
        msgs = body["messages"]
        if sum(m["role"] == "assistant" for m in msgs) == 0:
            task = re.search(r"task (\w+) returns", msgs[1]["content"])[1]
            starts[(task, body["seed"])] += 1
    return starts


def _run(suite, server, batch_dir, tmp_path, cfg, **kw):
    provider = openai_for(server)
    return scripted_batch(
        suite,
        lambda t, s: provider,
        batch_dir,
        tmp_path,
        allocation="adaptive",
        allocation_config=cfg,
        config=RolloutConfig(max_iters=6),
        **kw,
    )


# The CLI's adaptive batch on this suite: give up after 3 rollouts, 2 workers, short rollouts.
ADAPTIVE_FLAGS = ["--allocation", "adaptive", "--give-up-after", "3", "--max-workers", "2", "--max-iters", "6"]

CFG = AllocationConfig(budget_rollouts=12, give_up_after=3, initial_per_task=2)


def test_adaptive_batch_stops_on_all_pass_and_all_fail_and_spends_the_rest_on_contrast(suite, scripted, tmp_path):
    server = scripted(policy(suite))
    summary = _run(suite, server, tmp_path / "b", tmp_path, CFG, max_workers=2)
    meta = read_batch_meta(tmp_path / "b")
    report = AllocationReport.model_validate(meta.allocation)
    tasks = {t.task_id: t for t in report.tasks}
    assert (tasks["easy"].rollouts, tasks["easy"].passes, tasks["easy"].status) == (3, 3, "too_easy")
    assert (tasks["hard"].rollouts, tasks["hard"].fails, tasks["hard"].status) == (3, 3, "too_hard")
    assert tasks["mid"].rollouts == 6 and tasks["mid"].status == "contrast_met"
    assert report.rollouts == report.finished == 12 and report.unspent == 0 and report.done
    # Seeds are base + k for a task's k-th rollout; each rollout ran once, each planned one ran.
    assert [p.rollout_id for p in meta.planned if p.task_id == "mid"] == [rollout_id_for("mid", k) for k in range(6)]
    assert rollouts_started(server) == Counter({(p.task_id, p.seed): 1 for p in meta.planned})
    assert len(summary.results) == 12 and meta.stop_reason == "finished"
    assert meta.params.allocation == "adaptive" and meta.params.budget_rollouts == 12
    assert (meta.params.give_up_after, meta.params.pairs_per_task) == (3, 0)
    for p in meta.planned:  # outcomes as the policy decides them
        passed = read_trace(trace_path(tmp_path / "b", p.rollout_id)).end.outcome.tests_passed
        assert passed == (policy(suite).choose(p.task_id, p.seed) == "clean")


def test_cancel_then_resume_stays_in_budget_and_reruns_no_finished_rollout(suite, scripted, tmp_path, capsys):
    server = scripted(policy(suite))
    cancel = threading.Event()
    done_first: list[tuple[str, int, str]] = []

    def on_end(result, done, total):
        assert total == 12
        done_first.append((result.task_id, result.seed, result.stop_reason))
        if done >= 5:
            cancel.set()

    first = _run(suite, server, tmp_path / "b", tmp_path, CFG, max_workers=2, cancel=cancel, on_rollout_end=on_end)
    assert first.cancelled and read_batch_meta(tmp_path / "b").stop_reason == "cancelled"
    meta1 = read_batch_meta(tmp_path / "b")
    assert 5 <= len(meta1.planned) < 12
    finished_first = {(t, s) for t, s, stop in done_first if stop != "cancelled"}
    assert len(finished_first) >= 5

    # Resume from the command line: the batch's own allocation settings are the defaults.
    rc = main(
        [
            "run",
            "--suite",
            str(suite.base_dir / "suite.json"),
            *model_flags(server),
            "--max-workers",
            "2",
            "--max-iters",
            "6",
            "--resume",
            str(tmp_path / "b"),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "adaptive, budget 12 rollouts" in out
    meta = read_batch_meta(tmp_path / "b")
    report = AllocationReport.model_validate(meta.allocation)
    assert meta.stop_reason == "finished" and report.done and report.rollouts <= 12
    assert [p.rollout_id for p in meta.planned[: len(meta1.planned)]] == [p.rollout_id for p in meta1.planned]
    assert len({p.rollout_id for p in meta.planned}) == len(meta.planned) == report.rollouts
    starts = rollouts_started(server)
    for key in finished_first:  # a finished rollout never ran again
        assert starts[key] == 1
    for t, s, stop in done_first:  # a cancelled one ran again
        if stop == "cancelled":
            assert starts[(t, s)] == 2
    assert set(starts) == {(p.task_id, p.seed) for p in meta.planned}
    assert out.count("(resumed)") == len(finished_first)
    # It ends where an uninterrupted batch with the same model ends.
    whole = _run(suite, scripted(policy(suite)), tmp_path / "w", tmp_path, CFG, max_workers=2)
    assert {t.task_id: t.status for t in report.tasks} == {
        t.task_id: t.status for t in AllocationReport.model_validate(whole.meta.allocation).tasks
    }


def test_resuming_with_another_allocation_is_refused(suite, scripted, tmp_path):
    server = scripted(policy(suite))
    _run(suite, server, tmp_path / "b", tmp_path, AllocationConfig(budget_rollouts=2))
    with pytest.raises(BatchMismatch, match="adaptive allocation"):
        run_batch(
            BatchSpec(suite, lambda t, s: openai_for(server), tmp_path / "b", model="scripted", allocation="fixed")
        )


def test_run_command_adaptive_prints_where_the_budget_went(suite_path, suite, scripted, tmp_path, capsys):
    server = scripted(policy(suite))
    rc = main(
        [
            "run",
            "--suite",
            str(suite_path),
            *model_flags(server),
            *ADAPTIVE_FLAGS,
            "--budget-rollouts",
            "12",
            "--trace-dir",
            str(tmp_path / "runs"),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "adaptive, budget 12 rollouts" in out
    assert re.search(r"allocation adaptive: 12 of 12 rollouts spent \(0 unspent\)", out)
    assert re.search(r"easy\s+3\s+3\s+0\s+100%\s+0\s+too_easy", out)
    assert re.search(r"hard\s+3\s+0\s+3\s+0%\s+0\s+too_hard", out)
    assert re.search(r"mid\s+6\s+\d\s+\d\s+\d+%\s+\d\s+contrast_met", out)
    assert re.search(r"budget went to: contrast_met 6 \(1 tasks\), too_easy 3 \(1 tasks\), too_hard 3 \(1 tasks\)", out)


def test_run_command_allocation_mistakes_are_one_line(suite_path, capsys):
    base = ["run", "--suite", str(suite_path), "--model", "m", "--base-url", "http://127.0.0.1:9/v1"]
    assert main(base + ["--allocation", "adaptive"]) == 2
    assert "needs --budget-rollouts" in capsys.readouterr().err
    assert main(base + ["--pairs-per-task", "2"]) == 2
    assert "needs --allocation adaptive" in capsys.readouterr().err
    assert main(base + ["--allocation", "adaptive", "--budget-rollouts", "5", "--give-up-after", "1"]) == 2
    assert "give_up_after" in capsys.readouterr().err


def test_prefs_command_adaptive_shows_the_allocation_and_exports_pass_fail_pairs(
    suite_path, suite, scripted, tmp_path, capsys
):
    server = scripted(policy(suite))
    out_file = tmp_path / "pairs.jsonl"
    rc = main(
        [
            "prefs",
            "--suite",
            str(suite_path),
            *model_flags(server),
            *ADAPTIVE_FLAGS,
            "--budget-rollouts",
            "10",
            "--pair-strategy",
            "pass-fail",
            "--out",
            str(out_file),
            "--trace-dir",
            str(tmp_path / "runs"),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "[prefs] Allocation: adaptive, budget 10 rollouts" in out
    assert re.search(r"\[prefs\] allocation adaptive: 10 of 10 rollouts spent", out)
    assert re.search(r"\[prefs\] budget went to: contrast_met 4 \(1 tasks\), too_easy 3", out)
    lines = out_file.read_text().splitlines()
    [batch] = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    mid = AllocationReport.model_validate(read_batch_meta(batch).allocation).tasks[2]
    from labeling.store import LabelStore

    with LabelStore(LabelStore.default_path(tmp_path / "runs")) as store:
        pairs = [p for p in store.pairs() if p.task_id == "mid"]
    assert mid.task_id == "mid" and len(pairs) == mid.passes * mid.fails  # pass-fail: every pass x fail
    # the scripted passes (and fails) say the same words: one line each, never a line twice (issue 25)
    assert 1 <= len(lines) == len(set(lines)) <= len(pairs)


def test_signal_report_counts_pairs_by_allocation_and_where_the_budget_went(suite, scripted, tmp_path, capsys):
    from labeling.stats import signal_report
    from labeling.store import LabelStore

    server = scripted(policy(suite))
    provider = openai_for(server)
    root = tmp_path / "runs"
    fixed = run_batch(
        BatchSpec(
            suite,
            lambda t, s: provider,
            root / "fixed",
            rollouts=3,
            provider_name="openai",
            model="scripted",
            workspace_root=tmp_path / "ws",
            config=RolloutConfig(max_iters=6),
        )
    )
    adaptive = _run(
        suite, server, root / "adaptive", tmp_path, AllocationConfig(budget_rollouts=10, give_up_after=3), max_workers=2
    )
    with LabelStore(LabelStore.default_path(root)) as store:
        store.ingest([root])
        rep = signal_report(store)
    by = {s.strategy: s for s in rep.by_allocation}
    assert set(by) == {"fixed", "adaptive"}

    def disjoint(results):
        tally = Counter()
        for r in results:
            tally[(r.task_id, r.outcome.tests_passed)] += 1
        return sum(min(tally[(t, True)], tally[(t, False)]) for t in PROBS)

    for name, batch in (("fixed", fixed), ("adaptive", adaptive)):
        s = by[name]
        tokens = sum(r.outcome.tokens_in + r.outcome.tokens_out for r in batch.results)
        assert (s.batches, s.rollouts, s.tokens) == (1, len(batch.results), tokens)
        assert s.pass_fail_pairs == disjoint(batch.results) > 0
        assert s.pairs_per_1k_rollouts == round(1000 * s.pass_fail_pairs / s.rollouts, 2)
        assert s.pairs_per_mtok == round(1e6 * s.pass_fail_pairs / tokens, 2)
    assert by["adaptive"].budget_rollouts == 10 and by["fixed"].budget_rollouts is None
    assert by["adaptive"].rollouts_by_status == {"too_easy": 3, "too_hard": 3, "contrast_met": 4}
    assert by["fixed"].rollouts_by_status == {"capped": 6, "contrast_met": 3}  # 3 alike: undecided
    assert main(["stats", str(root)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^adaptive\s+1\s+10\s+\d+\s+[\d.]+\s+[\d,.]+\s+1\s*$", out, re.M), out
    assert re.search(r"^fixed\s+1\s+9\s+1\s+111\.1\s", out, re.M), out
    assert "adaptive rollouts went to: contrast_met 4, too_easy 3, too_hard 3" in out
