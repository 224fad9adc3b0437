"""Pair selection, noise flags and the review-queue order (docs/ARCHITECTURE.md, Label store and pairs). Pure functions.

Strategies (only finished rollouts take part; the chosen side has the higher score):

* ``best-worst``: per task, one pair: the best-scoring vs the worst-scoring rollout
  (ties broken by the smaller uid, so the choice is stable).
* ``pass-fail``: per task, every passing rollout paired with every failing one.
* ``all-contrastive``: per task, every two rollouts whose scores differ.

Whatever the strategy, a *step pair* is added for each branched rollout (one that
replayed a parent's prefix, then sampled on) whose finished parent scores differently,
and for each two sibling branches (same parent, same decision point) that score
differently: the two sides share the conversation up to ``prefix_messages`` and diverge
at ``at_step``.

Contrast: ``pass_fail`` when one side passes (tests passed, not tampered) and the other
does not; otherwise ``efficiency``; ``step`` for step pairs.

Noise flags, each about one pair (winner = the auto-chosen side, loser = the other):

* ``both_fail``: neither side passes.
* ``identical_patch``: the patches are equal after whitespace normalisation
  (`labeling.patches.normalize_patch`); two empty patches are identical too.
* ``tiebreak_only``: the scores are equal on every component of the score order but the
  last one, i.e. only the final tie-breaker (by default ``-files_touched``) decided.
* ``flaky``: the winner's or the loser's normalised patch occurs in two rollouts of the
  task with different test outcomes (``tests_passed``), the pair's own sides included.
* ``tests_tampered``: either side changed a protected (test) file.
* ``non_minimal``: both sides have a patch and the winner's touches a file the loser's
  does not, or changes more than twice as many lines as the loser's and at least
  ``NON_MINIMAL_LINES`` (10) more.
* ``summary_only``: the winner has no patch at all (only its closing summary).
* ``unknown_outcome``: neither side has a verdict (imported rollouts their source never
  evaluated). Such rollouts pair only with each other, on the score's other components,
  so the preference is efficiency at best and a person has to judge it; they never meet a
  rollout with a verdict and never form a pass/fail pair. ``both_fail`` and ``flaky`` are
  never set for them: nothing is known to have failed.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from labeling.records import PAIR_FLAGS, STRATEGIES
from labeling.score import first_difference, score

NON_MINIMAL_LINES = 10
CONTRAST_RANK = {"pass_fail": 0, "efficiency": 1, "step": 2}


class StrategyError(ValueError):
    pass


@dataclass
class Candidate:
    """What pair building needs of a finished rollout (no patch text: its digest and size)."""

    uid: str
    task_id: str
    tests_passed: bool
    tests_tampered: bool
    steps: int
    tool_calls: int
    invalid_tool_calls: int
    files_touched: int
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    duration_s: float | None = None
    patch_digest: str = ""
    patch_files: list[str] = field(default_factory=list)
    patch_lines: int = 0
    branch_parent_uid: str | None = None
    branch_at_step: int | None = None
    prefix_messages: int | None = None
    verdict_known: bool = True  # False: no verdict exists (tests_passed means nothing)
    suspect: bool = False  # a SUSPECT verdict: the pair is flagged

    @property
    def passed(self) -> bool:
        return bool(self.tests_passed) and not self.tests_tampered

    @property
    def has_patch(self) -> bool:
        return bool(self.patch_files) or self.patch_lines > 0


PAIR_ID = re.compile(r"[0-9a-f]{12}")  # what pair_id_for makes: a full pair id


def pair_id_for(task_id: str, chosen_uid: str, rejected_uid: str, at_step: int | None = None) -> str:
    key = f"{task_id}\x1f{chosen_uid}\x1f{rejected_uid}"
    if at_step is not None:  # a step pair of the same two rollouts is another pair
        key += f"\x1fstep{at_step}"
    return hashlib.sha1(key.encode()).hexdigest()[:12]


def _flags(win: Candidate, lose: Candidate, sw: tuple, sl: tuple, flaky_digests: set[str]) -> list[str]:
    flags: set[str] = set()
    if not win.verdict_known:  # _groups never pairs a rollout with a verdict with one without
        flags.add("unknown_outcome")
    elif not win.passed and not lose.passed:
        flags.add("both_fail")
    if win.patch_digest == lose.patch_digest:
        flags.add("identical_patch")
    if len(sw) > 1 and first_difference(sw, sl) == len(sw) - 1:
        flags.add("tiebreak_only")
    if win.patch_digest in flaky_digests or lose.patch_digest in flaky_digests:
        flags.add("flaky")
    if win.tests_tampered or lose.tests_tampered:
        flags.add("tests_tampered")
    if win.has_patch and lose.has_patch:
        extra_files = set(win.patch_files) - set(lose.patch_files)
        if extra_files or (
            win.patch_lines > 2 * lose.patch_lines and win.patch_lines - lose.patch_lines >= NON_MINIMAL_LINES
        ):
            flags.add("non_minimal")
    if not win.has_patch:
        flags.add("summary_only")
    if win.suspect or lose.suspect:
        flags.add("suspect")
    return [f for f in PAIR_FLAGS if f in flags]


def build_pairs(
    cands: Sequence[Candidate], strategy: str, order: Sequence[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Select pairs. Returns (pair dicts without verdicts, no-contrast task ids)."""
    if strategy not in STRATEGIES:
        raise StrategyError(f"unknown pair strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
    by_task: dict[str, list[Candidate]] = defaultdict(list)
    for c in sorted(cands, key=lambda c: c.uid):
        by_task[c.task_id].append(c)
    by_uid = {c.uid: c for c in cands}
    scores = {c.uid: score(c, order) for c in cands}

    out: list[dict[str, Any]] = []
    no_contrast: list[str] = []

    def add(win: Candidate, lose: Candidate, flaky: set[str], kind: str = "rollout") -> None:
        sw, sl = scores[win.uid], scores[lose.uid]
        diff = first_difference(sw, sl)
        at_step = (
            win.branch_at_step
            if kind == "step" and win.branch_parent_uid == lose.uid
            else (lose.branch_at_step if kind == "step" else None)
        )
        prefix = (
            (win.prefix_messages if win.branch_parent_uid == lose.uid else lose.prefix_messages)
            if kind == "step"
            else None
        )
        if kind == "step":
            contrast = "step"
        else:
            contrast = "pass_fail" if win.passed != lose.passed else "efficiency"
        out.append(
            {
                "pair_id": pair_id_for(win.task_id, win.uid, lose.uid, at_step if kind == "step" else None),
                "task_id": win.task_id,
                "kind": kind,
                "chosen_uid": win.uid,
                "rejected_uid": lose.uid,
                "strategy": strategy if kind == "rollout" else "branch",
                "contrast": contrast,
                "decided_by": order[diff].lstrip("-") if diff is not None else "",
                "flags": _flags(win, lose, sw, sl, flaky),
                "at_step": at_step,
                "prefix_messages": prefix,
            }
        )

    flat: set[str] = set()  # tasks with a group whose rollouts all score equal...
    contrast: set[str] = set()  # ...and with one that does not
    for task_id, group in _groups(by_task):
        outcomes: dict[str, set[bool]] = defaultdict(set)
        for c in group:
            if c.verdict_known:
                outcomes[c.patch_digest].add(bool(c.tests_passed))
        flaky = {d for d, o in outcomes.items() if len(o) > 1}
        if len({scores[c.uid] for c in group}) <= 1:
            flat.add(task_id)
            continue
        contrast.add(task_id)
        if strategy == "best-worst":
            best = max(group, key=lambda c: scores[c.uid])
            worst = min(group, key=lambda c: scores[c.uid])
            add(best, worst, flaky)
        elif strategy == "pass-fail":
            if not group[0].verdict_known:
                continue  # no verdict: neither pass nor fail
            for p in (c for c in group if c.passed):
                for f in (c for c in group if not c.passed):
                    add(p, f, flaky)
        else:
            for a, b in combinations(group, 2):
                if scores[a.uid] != scores[b.uid]:
                    win, lose = (a, b) if scores[a.uid] > scores[b.uid] else (b, a)
                    add(win, lose, flaky)
        # step pairs: a branch vs its (finished) parent
        for c in group:
            parent = by_uid.get(c.branch_parent_uid) if c.branch_parent_uid else None
            if parent is not None and scores[c.uid] != scores[parent.uid]:
                win, lose = (c, parent) if scores[c.uid] > scores[parent.uid] else (parent, c)
                add(win, lose, flaky, kind="step")
        # ...and siblings: branches of one parent at one decision point share the exact prefix too
        points: dict[tuple, list[Candidate]] = defaultdict(list)
        for c in group:
            if c.branch_parent_uid:
                points[(c.branch_parent_uid, c.branch_at_step, c.prefix_messages)].append(c)
        for siblings in points.values():
            for a, b in combinations(siblings, 2):
                if scores[a.uid] != scores[b.uid]:
                    win, lose = (a, b) if scores[a.uid] > scores[b.uid] else (b, a)
                    add(win, lose, flaky, kind="step")
    no_contrast.extend(sorted(flat - contrast))
    return out, no_contrast


def _groups(by_task: dict[str, list[Candidate]]) -> list[tuple[str, list[Candidate]]]:
    """Per task, the rollouts with a verdict and, apart, those without: the two never pair, since
    the score's first component (pass) is unknown on one side."""
    out: list[tuple[str, list[Candidate]]] = []
    for task_id, group in sorted(by_task.items()):
        known = [c for c in group if c.verdict_known]
        unknown = [c for c in group if not c.verdict_known]
        out.extend((task_id, g) for g in (known, unknown) if g)
    return out


def queue_key(pair: Any) -> tuple:
    """Review order: unlabeled first; pass/fail before efficiency before step pairs; within
    those, clean pairs first, then noisy pairs grouped by their exact flag set (so a run
    of, say, both_fail pairs can be discarded in a row); then task id, then pair id."""
    return (
        pair.verdict is not None,
        CONTRAST_RANK.get(pair.contrast, 9),
        bool(pair.flags),
        ",".join(pair.flags),
        pair.task_id,
        pair.pair_id,
    )
