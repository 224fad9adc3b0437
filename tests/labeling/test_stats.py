"""The signal report: pass-rate bands, pairs by contrast/flag, agreement, validity, cost."""

from __future__ import annotations

import json

from labeling.stats import signal_report
from tests.labeling.conftest import FIX, Call, Spec, make_patch

BACKENDS = ("sqlite", "postgres")  # the store tests run on both (conftest.py)

OTHER = make_patch("prog.py", ["    return x - 1"], ["    return x * 2"])


def test_signal_report(env):
    specs = []
    # learnable: 2 of 5 pass (40%)
    specs += [Spec("learn", i, passed=i < 2, patch=FIX if i < 2 else OTHER, steps=2 + i) for i in range(5)]
    # easy: 4 of 5 (80%); hard: 1 of 10 (10%)
    specs += [Spec("easy", i, passed=i < 4, patch=FIX if i < 4 else OTHER, steps=2 + i) for i in range(5)]
    specs += [Spec("hard", i, passed=i == 0, patch=FIX if i == 0 else OTHER, steps=2 + i) for i in range(10)]
    # all pass / all fail (with efficiency contrast) and a flat one
    specs += [Spec("allpass", i, passed=True, patch=FIX, steps=2 + i) for i in range(2)]
    specs += [
        Spec(
            "allfail",
            i,
            patch=OTHER,
            steps=2 + i,
            model="big-model",
            cost_usd=None,
            calls=[[Call("list_dir", {"rel_dir": ""}, valid=False)]] * (2 + i),
        )
        for i in range(2)
    ]
    specs += [Spec("flat", i, patch=OTHER) for i in range(2)]
    specs += [Spec("running", 0, finished=False)]
    env.batch("b1", specs)
    env.store.ingest([env.root])
    pairs = {p.task_id: p for p in env.store.pairs()}
    env.store.set_verdict(pairs["learn"].pair_id, "confirm")
    env.store.set_verdict(pairs["easy"].pair_id, "confirm")
    env.store.set_verdict(pairs["hard"].pair_id, "flip")
    env.store.set_verdict(pairs["allfail"].pair_id, "discard")

    rep = signal_report(env.store)
    bands = {t.task_id: t.band for t in rep.tasks}
    assert bands == {
        "learn": "learnable",
        "easy": "easy",
        "hard": "hard",
        "allpass": "all_pass",
        "allfail": "all_fail",
        "flat": "all_fail",
        "running": "none",
    }
    assert rep.learnable_tasks == ["learn"] and rep.all_pass_tasks == ["allpass"]
    assert rep.all_fail_tasks == ["allfail", "flat"]
    assert rep.no_contrast_tasks == ["flat"]  # "running" has no finished rollout yet: not judged
    # its batch ended (batch.json says so, no process holds its lock): the trace without an end was interrupted
    assert (rep.rollouts, rep.finished, rep.running, rep.left_out) == (27, 26, 0, {"interrupted": 1})
    learn = next(t for t in rep.tasks if t.task_id == "learn")
    assert (learn.rollouts, learn.passed, learn.pass_rate, learn.pairs) == (5, 2, 0.4, 1)
    assert rep.by_contrast == {"pass_fail": 3, "efficiency": 2}
    assert rep.by_flag == {"both_fail": 1, "identical_patch": 2}  # allfail: both; allpass: identical
    assert (rep.pairs, rep.labeled, rep.remaining) == (5, 4, 1)
    a = rep.agreement
    assert (a.labeled, a.confirm, a.flip, a.discard) == (4, 2, 1, 1)
    assert (a.confirm_rate, a.flip_rate, a.discard_rate) == (0.5, 0.25, 0.25)
    assert rep.agreement_by_contrast["pass_fail"].confirm == 2
    assert rep.agreement_noisy.discard == 1 and rep.agreement_clean.discard == 0
    validity = {m.model: (m.tool_calls, m.invalid_tool_calls, m.validity_rate) for m in rep.validity_by_model}
    assert validity["big-model"] == (5, 5, 0.0)
    assert validity["m-7b"][1] == 0 and validity["m-7b"][2] == 1.0
    assert rep.cost_unknown_rollouts == 2
    assert rep.cost_usd == round(0.01 * 24, 6)  # 24 finished rollouts with a price, + 1 running with none yet
    assert rep.tokens_in == sum(r.tokens_in for r in env.store.rollouts())
    assert json.loads(rep.model_dump_json())["band"] == [0.2, 0.6]
