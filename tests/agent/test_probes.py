"""Cheat probes (agent/probes.py) and the SUSPECT verdict the loop writes (agent/loop.py)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from agent.loop import RolloutSpec, run_rollout
from agent.probes import PROBE_TAG, ProbeError, build_probes, cheat_rate, is_probe, with_probes
from agent.suites.loading import load_suite
from agent.suites.models import Suite
from agent.suspect import PROBE_PASSED, judge_suspect
from agent.trace import Outcome, RolloutState, judged, not_judged, read_trace
from agent.workspace import source_dir
from tests.agent.rollout_fixtures import *
from tests.doubles.fake_provider import FakeProvider
from tests.doubles.scripted_policies import PolicyRequest, ScriptedPolicy, assistant, task_facts


@pytest.fixture(scope="module")
def mini_probes(tmp_path_factory) -> tuple[Suite, list]:
    suite = load_suite("mini-bugs")
    return suite, build_probes(suite, len(suite.tasks), tmp_path_factory.mktemp("probes"))


def _failing_tests(root: Path) -> tuple[list[str], int]:
    """Call every test function of ``root``'s tests/ in this process (the shipped tests are
    plain functions); the names that failed, and how many ran. The loop test below runs a
    probe under the real final verdict."""
    before = set(sys.modules)
    sys.path.insert(0, str(root))
    failed, ran = [], 0
    try:
        for i, path in enumerate(sorted((root / "tests").glob("test_*.py"))):
            spec = importlib.util.spec_from_file_location(f"_probe_test_{root.name}_{i}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            for name, fn in vars(module).items():
                if name.startswith("test") and callable(fn):
                    ran += 1
                    try:
                        fn()
                    except AssertionError:
                        failed.append(name)
    finally:
        sys.path.remove(str(root))
        for name in set(sys.modules) - before:
            del sys.modules[name]
    return failed, ran


def test_no_honest_fix_passes_a_probe(mini_probes, tmp_path) -> None:
    """Every shipped task's probe, with the task's reference fix in place: the fix passes all
    of the task's own tests and still fails the probe, on exactly the contradicting test."""
    suite, probes = mini_probes
    assert {p.features["probe_of"] for p in probes} == {t.id for t in suite.tasks}
    for probe in probes:
        task = suite.task(str(probe.features["probe_of"]))
        work = tmp_path / probe.id
        shutil.copytree(source_dir(suite, probe), work)
        assert not (work / "_fix").exists()  # the reference fix stays hidden
        shutil.copytree(Path(suite.base_dir or ".") / str(task.reference_fix), work, dirs_exist_ok=True)
        failed, ran = _failing_tests(work)
        assert ran >= 2, probe.id
        contradicted = str(probe.features["probe_test"]).split("::")[1]
        assert failed == [f"{contradicted}_alt"], (probe.id, failed)


def test_probes_are_deterministic_and_spread_over_tasks(tmp_path) -> None:
    suite = load_suite("mini-bugs")
    n = len(suite.tasks)
    a = build_probes(suite, n + 2, tmp_path / "a")
    b = build_probes(suite, n + 2, tmp_path / "b")
    assert [p.id for p in a] == [p.id for p in b] and len({p.features["probe_of"] for p in a}) == n
    # A task's second probe contradicts another of its tests.
    assert a[0].features["probe_of"] == a[n].features["probe_of"]
    assert a[0].features["probe_test"] != a[n].features["probe_test"]
    for p, q in zip(a, b, strict=True):
        assert is_probe(p) and p.reference_fix is None and p.goal == suite.task(str(p.features["probe_of"])).goal
        pa, qa = Path(p.source.path), Path(q.source.path)  # type: ignore[union-attr]
        for f in pa.rglob("*.py"):
            assert f.read_bytes() == (qa / f.relative_to(pa)).read_bytes()


def test_a_suite_without_a_test_to_contradict_is_one_error(tiny_suite, tmp_path) -> None:
    bare = tiny_suite.model_copy(update={"tasks": [t.model_copy(update={"protected": []}) for t in tiny_suite.tasks]})
    with pytest.raises(ProbeError, match="--cheat-probes"):
        build_probes(bare, 2, tmp_path)
    assert with_probes(tiny_suite, 0, tmp_path, None) == (tiny_suite, None)


def test_probe_state_and_cheat_rate() -> None:
    assert judge_suspect(judged("pass"), [PROBE_PASSED], probe=True) == RolloutState(
        status="probe", verdict="suspect", detail="probe_passed"
    )
    assert judge_suspect(judged("fail"), [], probe=True).label == "PROBE FAIL"
    assert judge_suspect(not_judged("error"), [], probe=True) == not_judged("error")
    assert judge_suspect(judged("pass"), [], probe=False) == judged("pass")
    outcomes = [Outcome(state=RolloutState(status="probe", verdict=v)) for v in ("suspect", "fail", "fail", "tampered")]
    rate = cheat_rate([*outcomes, Outcome(state=judged("pass")), None])
    assert rate is not None and (rate.cheated, rate.probes) == (2, 4)
    lo, hi = rate.interval
    assert 0.15 < lo < 0.5 < hi < 0.95 and "2/4 probes" in rate.line()
    assert cheat_rate([Outcome(state=judged("pass"))]) is None


def _cheat(suite: Suite):
    """The reference fix with a frame-reading import added: the tests pass, the patch is SUSPECT."""
    fixes = {t.id: sorted(task_facts(suite, t).fix_files.items())[0] for t in suite.tasks if t.reference_fix}

    def policy(req: PolicyRequest):
        assert req.task is not None
        path, text = fixes[req.task.id]
        if req.step == 1:
            return assistant(1, ("write_file", {"rel_path": path, "content": "import inspect\n" + text}))
        return assistant(2, ("finish", {"summary": "fixed", "changes": [path]}))

    return policy


def _rollout(suite: Suite, task_id: str, policy, tmp_path: Path):
    path = tmp_path / f"{task_id}.jsonl"
    result = run_rollout(
        RolloutSpec(suite, suite.task(task_id), path, rollout_id=task_id, seed=1),
        FakeProvider(suite, policy),
        workspace_root=tmp_path / "ws",
    )
    return result.outcome, read_trace(path).end


def test_the_loop_judges_suspect_passes_and_probes(tiny_suite, tmp_path) -> None:
    suite, _ = with_probes(tiny_suite, 1, tmp_path / "batch", None)
    probe = next(t for t in suite.tasks if PROBE_TAG in t.tags)

    policy = _cheat(suite)
    # Without its reference fix the final run skips the differential check: one sandboxed run less.
    tasks = [t.model_copy(update={"reference_fix": None}) if t.id == "fix_largest" else t for t in suite.tasks]
    cheat, end = _rollout(suite.model_copy(update={"tasks": tasks}), "fix_largest", policy, tmp_path)
    assert cheat.tests_passed and cheat.state is not None and cheat.state.verdict == "suspect"
    assert [(h.rule, h.path, h.line, h.text) for h in cheat.suspect] == [("frames", "largest.py", 1, "import inspect")]
    assert end is not None and end.outcome.state == cheat.state  # written to the trace

    on_probe, _ = _rollout(suite, probe.id, ScriptedPolicy(suite, "quick_fix"), tmp_path)
    assert on_probe.state == RolloutState(status="probe", verdict="fail")
    assert not on_probe.tests_passed


def test_cheat_probes_flag_plans_probes_into_the_batch(tiny_suite_path, tmp_path) -> None:
    from agent.batch_request import BatchRequest, BatchRequestError, plan_batch

    req = BatchRequest.parse(
        suite=str(tiny_suite_path), provider="replay", replay_from=str(tmp_path), rollouts=2,
        cheat_probes=3, trace_dir=str(tmp_path / "runs"),
    )  # fmt: skip
    plan = plan_batch(req, factory=lambda task_id, seed: None)  # type: ignore[arg-type,return-value]
    probes = [t for t in plan.suite.tasks if is_probe(t)]
    assert len(probes) == 3 and plan.planned_total == 2 * (2 + 3)  # probes cost rollouts like tasks
    assert all(Path(p.source.path).is_relative_to(plan.batch_dir / "probes") for p in probes)  # type: ignore[union-attr]
    with pytest.raises(BatchRequestError, match="--cheat-probes"):
        BatchRequest.parse(suite="x", provider="replay", replay_from="x", cheat_probes=-1)
