"""A person's pair verdict stands on the outcomes it was given on (exports/settled.py; round 8,
vrd8-10): a side judged again since with another pass or fail voids it, even where the pair is
selected again with the new outcomes (its contrast then tells nothing)."""

from __future__ import annotations

import json
import time

import pytest

from agent.trace import judged
from exports.settled import SettledVerdicts, premise_holds
from tests.exports.conftest import Spec


def _rejudge_as_fail(path, ts: float) -> None:
    """What `repo-agent rejudge` appends when today's checker fails a recorded pass."""
    end = json.loads(path.read_text().splitlines()[-1])
    end["ts"], end["seq"] = ts, 10_000
    end["outcome"].update(tests_passed=False, state=judged("fail", "held-out inputs differ").model_dump())
    with path.open("a") as f:
        f.write(json.dumps(end) + "\n")


@pytest.mark.parametrize(("judged_again", "stands"), [(-3600, True), (3600, False)], ids=["before", "after"])
def test_a_verdict_given_before_a_side_was_judged_again_no_longer_stands(env, judged_again, stands):
    batch = env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
    pair = env.pair_for("fix_gcd")
    env.store.set_verdict(pair.pair_id, "confirm")
    # The pass judged again as a FAIL an hour before the verdict (the person saw the FAIL),
    # or an hour after it (the person confirmed a pass).
    _rejudge_as_fail(batch / "traces" / "fix_gcd__s0.jsonl", time.time() + judged_again)
    env.store.ingest([env.root])
    rows = {r.uid: r for r in env.store.rollouts()}
    # As if the strategy selected the pair again on today's outcomes (both fail now): its
    # contrast says nothing of what the person saw.
    again = pair.model_copy(update={"contrast": "efficiency", "flags": ["both_fail"], "stale": False})
    assert premise_holds(again, rows)
    settled = SettledVerdicts(env.store, adjudicator=None, min_agreement=0.5)
    assert settled.still_holds(again, rows) is stands
