"""DPO exports from a team's labels take the settled verdict: the adjudicator's, else a
majority of at least ``min_agreement``; an unsettled pair is skipped and counted."""

from __future__ import annotations

import json
from pathlib import Path

from exports import DpoOptions, export_dpo
from labeling.store import LabelStore
from tests.exports.conftest import Spec


def test_settled_verdicts_decide_what_is_exported(env, tmp_path: Path) -> None:
    tasks = ("fix_gcd", "fix_bitcount", "fix_binsearch")
    env.batch("b1", [s for t in tasks for s in (Spec(t, 0, passed=True), Spec(t, 1, passed=False))])
    pid = {t: env.pair_for(t).pair_id for t in tasks}
    db = tmp_path / "labels.sqlite"
    team = {w: LabelStore(db, labeler=w) for w in ("ann", "ben", "cat", "boss")}
    try:
        # gcd: 2 flip vs 1 confirm; bitcount: confirm vs flip (a tie); binsearch: all confirm
        for who, v in (("ann", "flip"), ("ben", "flip"), ("cat", "confirm")):
            team[who].set_verdict(pid["fix_gcd"], v)
        team["ann"].set_verdict(pid["fix_bitcount"], "confirm")
        team["ben"].set_verdict(pid["fix_bitcount"], "flip")
        for who in ("ann", "ben"):
            team[who].set_verdict(pid["fix_binsearch"], "confirm")
        # the store's pair row holds the last verdict written (cat's confirm on gcd); the export must not
        out = tmp_path / "dpo.jsonl"

        def verdicts(opts: DpoOptions) -> tuple[dict[str, str], dict[str, int]]:
            report = export_dpo(env.store, out, opts)
            meta = json.loads(Path(report.meta_path).read_text())
            return {m["task_id"]: m["verdict"] for m in meta["lines"]}, report.skipped

        assert verdicts(DpoOptions()) == ({"fix_gcd": "flip", "fix_binsearch": "confirm"}, {"unsettled": 1})
        # 2 of 3 is below 0.7: gcd is unsettled too
        assert verdicts(DpoOptions(min_agreement=0.7)) == ({"fix_binsearch": "confirm"}, {"unsettled": 2})
        # the adjudicator settles the tie, whatever the majority
        team["boss"].set_verdict(pid["fix_bitcount"], "discard")
        got = verdicts(DpoOptions(adjudicator="boss"))
        assert got == ({"fix_gcd": "flip", "fix_binsearch": "confirm"}, {"discarded": 1})
        team["boss"].set_verdict(pid["fix_gcd"], "confirm")
        got = verdicts(DpoOptions(adjudicator="boss", min_agreement=1.0))
        assert got[0]["fix_gcd"] == "confirm"
        # the team's adjudicator, set in the store, is the default; an explicit one wins
        env.store.set_team_settings(adjudicator="boss")
        assert verdicts(DpoOptions(min_agreement=1.0))[0]["fix_gcd"] == "confirm"
        assert verdicts(DpoOptions(adjudicator="ann", min_agreement=1.0))[0]["fix_gcd"] == "flip"
    finally:
        for s in team.values():
            s.close()
