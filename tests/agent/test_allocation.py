"""Rollout allocation (issue 6): fixed baseline, adaptive rounds, budget, resume, reports.

The "environment" is a deterministic fake: the k-th rollout of a task (its seed index,
as the batch runner numbers them) passes iff ``Random(f"{env}:{task}:{k}") < p[task]``,
with exact 0 and 1 among the pass probabilities.
"""

from __future__ import annotations

import json
import random

import pytest

from agent.allocation import AllocationConfig, Allocator, rollout_passed
from agent.trace import Outcome


class FakeEnv:
    def __init__(self, probs: dict[str, float], env_seed: int = 0):
        self.probs, self.env_seed = probs, env_seed

    def passes(self, task_id: str, k: int) -> bool:
        return random.Random(f"{self.env_seed}:{task_id}:{k}").random() < self.probs[task_id]


class Runner:
    """Round by round, like the batch runner: issue, give each rollout its index, record."""

    def __init__(self, alloc: Allocator, env: FakeEnv):
        self.alloc, self.env = alloc, env
        self.planned: list[str] = []  # task id of every issued rollout, in order (batch.json)
        self.results: list[tuple[str, bool]] = []  # finished ones (the ended traces)
        self.pending: list[tuple[str, int]] = []
        self.rounds = 0

    def issue(self) -> bool:
        ids = self.alloc.next_round()
        for t in ids:
            self.pending.append((t, self.planned.count(t)))
            self.planned.append(t)
        assert self.alloc.issued <= self.alloc.config.budget_rollouts
        self.rounds += bool(ids)
        return bool(ids)

    def finish(self, n: int | None = None) -> None:
        done, self.pending = self.pending[:n], self.pending[len(self.pending[:n]) :]
        for t, k in done:
            passed = self.env.passes(t, k)
            self.alloc.record(t, passed)
            self.results.append((t, passed))

    def run(self, max_rounds: int | None = None) -> Runner:
        while (max_rounds is None or self.rounds < max_rounds) and self.issue():
            self.finish()
        return self


def by_task(report):
    return {r.task_id: r for r in report.tasks}


def summary(report):
    return [(r.task_id, r.rollouts, r.passes, r.fails, r.status) for r in report.tasks]


MIXED = {"easy": 1.0, "hard": 0.0, "coin": 0.5, "rare": 0.15, "often": 0.85, "easy2": 1.0}


def test_fixed_spends_n_per_task_and_reports_verdicts():
    ids = list(MIXED)
    alloc = Allocator(ids, AllocationConfig(budget_rollouts=1000), strategy="fixed", rollouts_per_task=5)
    report = Runner(alloc, FakeEnv(MIXED)).run().alloc.report()
    assert [r.rollouts for r in report.tasks] == [5] * len(ids)
    assert report.rollouts == report.finished == 30 and report.unspent == 970 and report.done
    tasks = by_task(report)
    assert tasks["easy"].status == "too_easy" and tasks["easy"].pass_rate == 1.0
    assert tasks["hard"].status == "too_hard" and tasks["hard"].pass_rate == 0.0
    for r in report.tasks:
        assert r.pairs == r.pass_fail_pairs == min(r.passes, r.fails)  # pairs_per_task=0: disjoint pairs
        assert r.best_worst_pairs == (1 if r.passes and r.fails else 0)
        assert r.all_contrastive_pairs == r.passes * r.fails
        if r.passes and r.fails:
            assert r.status == "contrast_met"
    assert report.pairs == sum(r.pairs for r in report.tasks)
    assert report.pairs_per_100_rollouts == pytest.approx(100 * report.pairs / 30)


def test_fixed_below_give_up_is_capped_not_a_verdict():
    alloc = Allocator(["easy", "hard"], AllocationConfig(budget_rollouts=100), strategy="fixed", rollouts_per_task=3)
    report = Runner(alloc, FakeEnv(MIXED)).run().alloc.report()
    assert [(r.rollouts, r.status) for r in report.tasks] == [(3, "capped"), (3, "capped")]


def test_fixed_is_capped_at_budget_and_spreads_it():
    alloc = Allocator(["a", "b", "c"], AllocationConfig(budget_rollouts=7), strategy="fixed", rollouts_per_task=3)
    report = Runner(alloc, FakeEnv({"a": 0.0, "b": 0.0, "c": 0.0})).run().alloc.report()
    assert [r.rollouts for r in report.tasks] == [3, 2, 2]
    assert [r.status for r in report.tasks] == ["capped", "budget_exhausted", "budget_exhausted"]
    assert report.unspent == 0 and report.tasks_by_status["budget_exhausted"] == 2


def test_adaptive_stops_spending_on_all_pass_and_all_fail_tasks():
    cfg = AllocationConfig(budget_rollouts=1000, pairs_per_task=1, give_up_after=5)
    report = Runner(Allocator(list(MIXED), cfg), FakeEnv(MIXED)).run().alloc.report()
    tasks = by_task(report)
    for t in ("easy", "easy2"):
        assert (tasks[t].rollouts, tasks[t].passes, tasks[t].status) == (5, 5, "too_easy")
    assert (tasks["hard"].rollouts, tasks["hard"].fails, tasks["hard"].status) == (5, 5, "too_hard")
    assert tasks["coin"].status == "contrast_met"
    for r in report.tasks:  # nobody got more than it took to resolve it
        assert r.status in ("contrast_met", "too_easy", "too_hard")
        assert r.rollouts <= 5
    assert report.done and report.in_flight == 0 and report.unspent > 900
    for verdict in ("too_easy", "too_hard"):
        assert report.rollouts_by_status[verdict] == 5 * report.tasks_by_status[verdict]


def test_as_many_pairs_as_the_budget_buys_spends_it_all_on_the_contrasting_tasks():
    # pairs_per_task=0 (the default): easy and hard tasks stop at give_up_after, and the
    # rest of the budget goes to the tasks with contrast, the ones nearest 50% most.
    probs = {"easy": 1.0, "hard": 0.0, "coin": 0.5, "rare": 0.15, "easy2": 1.0}
    cfg = AllocationConfig(budget_rollouts=100, give_up_after=4, round_size=6)
    report = Runner(Allocator(list(probs), cfg), FakeEnv(probs, 1)).run().alloc.report()
    tasks = by_task(report)
    for t, verdict in (("easy", "too_easy"), ("easy2", "too_easy"), ("hard", "too_hard")):
        assert (tasks[t].rollouts, tasks[t].status) == (4, verdict)
    assert report.rollouts == report.finished == 100 and report.unspent == 0 and report.done
    assert tasks["coin"].status == "contrast_met" and tasks["coin"].rollouts > tasks["rare"].rollouts
    assert tasks["coin"].rollouts + tasks["rare"].rollouts == 100 - 12
    assert report.pairs == report.pass_fail_pairs == sum(min(r.passes, r.fails) for r in report.tasks)
    assert report.best_worst_pairs == sum(1 for r in report.tasks if r.passes and r.fails)
    assert report.rollouts_by_status["too_easy"] + report.rollouts_by_status["too_hard"] == 12


def test_as_many_as_the_budget_buys_leaves_it_unspent_when_no_task_can_contrast():
    probs = {"easy": 1.0, "hard": 0.0}
    report = Runner(Allocator(list(probs), AllocationConfig(budget_rollouts=50)), FakeEnv(probs)).run().alloc.report()
    assert report.done and report.rollouts == 8 and report.unspent == 42 and report.pairs == 0


def test_adaptive_stops_a_task_once_it_has_its_contrast():
    alloc = Allocator(["t", "u"], AllocationConfig(budget_rollouts=50, pairs_per_task=2))
    assert alloc.next_round() == ["t", "u", "t", "u"]  # initial_per_task=2, breadth first
    for t, passed in [("t", True), ("u", True), ("t", False), ("u", True)]:
        alloc.record(t, passed)
    # t (1 pass, 1 fail) needs one more pass and one more fail; u (2 passes) two fails.
    assert sorted(alloc.next_round()) == ["t", "t", "u", "u"]
    for t, passed in [("t", True), ("t", False), ("u", False), ("u", True)]:
        alloc.record(t, passed)
    tasks = by_task(alloc.report())
    assert (tasks["t"].status, tasks["t"].pairs, tasks["t"].all_contrastive_pairs) == ("contrast_met", 2, 4)
    assert (tasks["u"].status, tasks["u"].pairs) == ("open", 1)
    assert alloc.next_round() == ["u"]  # t gets nothing more
    alloc.record("u", False)
    assert alloc.next_round() == [] and alloc.done
    assert alloc.report().tasks_by_status["contrast_met"] == 2


def test_adaptive_gives_the_budget_to_the_most_promising_task_first():
    # After the initial round: "mid" has 1 pass / 1 fail, "low" 0 / 2, "flat" 2 / 0.
    alloc = Allocator(["low", "flat", "mid"], AllocationConfig(budget_rollouts=8, pairs_per_task=2, round_size=1))
    script = {"low": [False, False], "flat": [True, True], "mid": [True, False]}
    for _ in range(6):
        [t] = alloc.next_round()
        alloc.record(t, script[t].pop(0))
    assert alloc.next_round() == ["mid"]  # nearest a 50% pass rate
    alloc.record("mid", True)
    assert alloc.next_round() == ["mid"]  # 2/1: still better odds than 0/2 or 2/0
    alloc.record("mid", True)
    assert alloc.next_round() == [] and alloc.done  # budget spent
    statuses = {r.task_id: r.status for r in alloc.report().tasks}
    assert statuses == {"low": "budget_exhausted", "flat": "budget_exhausted", "mid": "budget_exhausted"}


def test_an_unlimited_round_spreads_by_promise_and_keeps_half_the_budget_for_later():
    alloc = Allocator(list("abcd"), AllocationConfig(budget_rollouts=20, pairs_per_task=3))
    assert alloc.next_round() == list("abcdabcd")
    for t, passed in zip("abcdabcd", [True, True, False, True, False, False, False, True]):
        alloc.record(t, passed)
    # 12 left, so at most 6 now; a and b (1 pass, 1 fail) beat c (0/2) and d (2/0), and
    # take turns, since each rollout already given makes a task's next one less promising.
    assert alloc.next_round() == list("ababab")


def test_a_promising_task_does_not_take_a_whole_round():
    alloc = Allocator(["a", "c"], AllocationConfig(budget_rollouts=100, pairs_per_task=4, round_size=5))
    assert alloc.next_round() == list("acac")
    for t, passed in zip("acac", [True, False, False, False]):
        alloc.record(t, passed)
    # a (1/1) needs 6 more at least; once 4 of them are assumed to fail, its odds (2 in 8)
    # are no better than c's (0/2: 1 in 4) and c, with fewer rollouts, gets the 5th slot.
    assert alloc.next_round() == list("aaaac")


def test_adaptive_gives_up_on_a_mixed_task_at_the_same_odds():
    # pairs_per_task=2 on a task that passes 1 in 10: after 1 pass and 9 fails the chance of
    # another pass is no better than after give_up_after=4 straight fails: stop.
    alloc = Allocator(["rare"], AllocationConfig(budget_rollouts=100, pairs_per_task=2, round_size=1))
    outcomes = iter([True] + [False] * 20)
    while ids := alloc.next_round():
        alloc.record(ids[0], next(outcomes))
    [r] = alloc.report().tasks
    assert (r.passes, r.fails, r.status, r.pairs) == (1, 9, "too_hard", 1)


def test_max_per_task_caps_a_task():
    alloc = Allocator(["coin"], AllocationConfig(budget_rollouts=100, pairs_per_task=3, max_per_task=4))
    report = Runner(alloc, FakeEnv({"coin": 0.5})).run().alloc.report()
    [r] = report.tasks
    assert r.rollouts == 4 and r.status in ("capped", "too_easy", "too_hard")


def test_streaming_runner_does_not_pile_onto_tasks_in_flight():
    alloc = Allocator(["a", "b"], AllocationConfig(budget_rollouts=20, pairs_per_task=1, round_size=3))
    first = alloc.next_round()
    assert first == ["a", "b", "a"]
    assert alloc.next_round() == ["b"]  # the rest of the initial round
    assert alloc.next_round() == [] and not alloc.done  # waiting on results, not finished
    for t in first + ["b"]:
        alloc.record(t, False)
    assert sorted(alloc.next_round()) == ["a", "b"]


@pytest.mark.parametrize("seed", range(300))
def test_never_exceeds_budget_whatever_the_config(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 10)
    ids = [f"t{i}" for i in range(n)]
    probs = {t: rng.choice([0.0, 1.0, rng.random(), rng.random()]) for t in ids}
    initial = rng.randint(1, 3)
    cfg = AllocationConfig(
        budget_rollouts=rng.randint(0, 60),
        pairs_per_task=rng.randint(0, 3),
        initial_per_task=initial,
        give_up_after=rng.randint(max(2, initial), 6),
        max_per_task=rng.choice([None, rng.randint(initial, 10)]),
        round_size=rng.choice([None, rng.randint(1, 8)]),
    )
    strategy = rng.choice(["fixed", "adaptive"])
    alloc = Allocator(ids, cfg, strategy=strategy, rollouts_per_task=rng.randint(1, 8) if strategy == "fixed" else None)
    env = FakeEnv(probs, seed)
    runner = Runner(alloc, env)
    # Streaming: ask for work at random moments, finish a random part of what is in flight,
    # sometimes cancel one (its budget comes back).
    for _ in range(500):
        runner.issue()
        if runner.pending and rng.random() < 0.1:
            t, _k = runner.pending.pop(rng.randrange(len(runner.pending)))
            runner.planned.remove(t)
            alloc.cancel(t)
        runner.finish(rng.randint(0, len(runner.pending)))
        assert alloc.issued <= cfg.budget_rollouts
        assert alloc.in_flight == len(runner.pending)
        if alloc.done:
            break
    assert alloc.done, "the allocation must come to an end"
    report = alloc.report()
    assert report.rollouts == report.finished <= cfg.budget_rollouts
    assert sum(report.rollouts_by_status.values()) == report.rollouts
    assert report.tasks_by_status["open"] == 0
    for r in report.tasks:
        if cfg.max_per_task is not None:
            assert r.rollouts <= cfg.max_per_task
        if strategy == "fixed":
            assert r.rollouts <= alloc.rollouts_per_task
        elif r.status in ("too_easy", "too_hard") and (r.passes == 0 or r.fails == 0):
            assert r.rollouts == cfg.give_up_after
        assert env.probs[r.task_id] not in (0.0, 1.0) or r.pairs == 0


def uninterrupted(ids, cfg, env):
    return Runner(Allocator(ids, cfg), env).run().alloc.report()


SUITE = {f"t{i}": p for i, p in enumerate([0.0, 1.0, 0.5, 0.3, 0.97, 0.02, 0.6, 1.0, 0.0, 0.8])}


@pytest.mark.parametrize("stop_after", [1, 2, 3, 5])
def test_resume_at_a_round_boundary_ends_like_an_uninterrupted_run(stop_after):
    ids, cfg, env = list(SUITE), AllocationConfig(budget_rollouts=45, pairs_per_task=2, round_size=4), FakeEnv(SUITE, 7)
    expected = uninterrupted(ids, cfg, env)
    first = Runner(Allocator(ids, cfg), env).run(max_rounds=stop_after)

    # From the saved state (e.g. in batch.json) ...
    saved = json.loads(json.dumps(first.alloc.state_dict()))
    resumed = Runner(Allocator.from_state(saved), env)
    resumed.planned = list(first.planned)
    assert resumed.run().alloc.report() == expected
    # ... or rebuilt from the finished traces alone.
    rebuilt = Runner(Allocator.rebuild(ids, cfg, results=first.results), env)
    rebuilt.planned = list(first.planned)
    assert rebuilt.run().alloc.report() == expected
    assert expected.rollouts <= 45


@pytest.mark.parametrize("stop_after,finished_of_round", [(1, 0), (2, 1), (3, 2), (4, 3)])
def test_resume_mid_round_reruns_the_unfinished_and_ends_the_same(stop_after, finished_of_round):
    ids, cfg, env = list(SUITE), AllocationConfig(budget_rollouts=40, pairs_per_task=2, round_size=4), FakeEnv(SUITE, 3)
    expected = uninterrupted(ids, cfg, env)
    crashed = Runner(Allocator(ids, cfg), env).run(max_rounds=stop_after - 1)
    crashed.issue()
    crashed.finish(finished_of_round)  # then the process died

    alloc = Allocator.rebuild(ids, cfg, planned=crashed.planned, results=crashed.results)
    assert alloc.in_flight == 4 - finished_of_round and alloc.issued == len(crashed.planned)
    resumed = Runner(alloc, env)
    resumed.planned = list(crashed.planned)
    resumed.pending = list(crashed.pending)  # the planned rollouts with no rollout_end: re-run
    resumed.finish()
    assert resumed.run().alloc.report() == expected
    assert expected.rollouts <= cfg.budget_rollouts


def test_resume_after_the_budget_was_spent_issues_nothing_more():
    ids, cfg, env = list(SUITE), AllocationConfig(budget_rollouts=12), FakeEnv(SUITE)
    done = Runner(Allocator(ids, cfg), env).run()
    again = Allocator.rebuild(ids, cfg, planned=done.planned, results=done.results)
    assert again.next_round() == [] and again.done and again.report() == done.alloc.report()


def test_fixed_resumes_too():
    cfg = AllocationConfig(budget_rollouts=100, round_size=3)
    whole = Runner(Allocator(list(SUITE), cfg, strategy="fixed", rollouts_per_task=4), FakeEnv(SUITE)).run()
    half = Runner(Allocator(list(SUITE), cfg, strategy="fixed", rollouts_per_task=4), FakeEnv(SUITE)).run(5)
    rest = Allocator.rebuild(list(SUITE), cfg, results=half.results, strategy="fixed", rollouts_per_task=4)
    runner = Runner(rest, FakeEnv(SUITE))
    runner.planned = list(half.planned)
    assert runner.run().alloc.report() == whole.alloc.report()


def test_misuse_is_a_clear_error():
    with pytest.raises(ValueError, match="give_up_after"):
        AllocationConfig(budget_rollouts=10, initial_per_task=3, give_up_after=2)
    with pytest.raises(ValueError, match="budget_rollouts"):
        AllocationConfig(budget_rollouts=-1)
    with pytest.raises(ValueError, match="rollouts_per_task"):
        Allocator(["a"], AllocationConfig(budget_rollouts=10), strategy="fixed")
    with pytest.raises(ValueError, match="rollouts_per_task"):
        Allocator(["a"], AllocationConfig(budget_rollouts=10), strategy="fixed", rollouts_per_task=0)
    with pytest.raises(ValueError, match="round_size"):
        AllocationConfig(budget_rollouts=10, round_size=0)
    with pytest.raises(ValueError, match="max_per_task"):
        Allocator(["a"], AllocationConfig(budget_rollouts=10), strategy="adaptive", rollouts_per_task=4)
    with pytest.raises(ValueError, match="unknown task"):
        state = Allocator(["a"], AllocationConfig(budget_rollouts=10)).state_dict()
        Allocator.from_state({**state, "counts": {"b": [1, 0, 0]}})
    with pytest.raises(ValueError, match="unique"):
        Allocator(["a", "a"], AllocationConfig(budget_rollouts=10))
    alloc = Allocator(["a"], AllocationConfig(budget_rollouts=10))
    with pytest.raises(ValueError, match="in flight"):
        alloc.record("a", True)
    with pytest.raises(ValueError, match="unknown task"):
        alloc.record("zzz", True)


def test_rollout_passed_needs_untampered_passing_tests():
    assert rollout_passed(Outcome(tests_passed=True))
    assert not rollout_passed(Outcome(tests_passed=True, tests_tampered=True))
    assert not rollout_passed(Outcome(tests_passed=False))
    assert not rollout_passed(None)  # crashed or errored: a fail
