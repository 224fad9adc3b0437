"""DPO examples from the label store's pairs (docs/ARCHITECTURE.md, Exports).

Which pairs: confirmed and flipped ones (a flip swaps the sides), never discarded ones;
with ``auto`` also pairs nobody labeled, taken as auto-preferred, minus those flagged
with a noise flag in ``drop_flags`` (unless ``keep_noisy``).

What each side's single assistant message holds, by mode:

- ``final``: the agent's closing object ``{"summary", "changes"}`` as JSON;
- ``patch``: ``{"summary", "patch"}`` (the unified diff of the workspace);
- ``patch+trajectory``: the patch plus the last K tool calls with their results cut;
- ``step`` (step pairs only): ``input.messages`` is the conversation prefix both sides
  share and each output is that side's next assistant message with native tool_calls.

``input.messages`` is the real system prompt and goal (the messages before the first
assistant message) rebuilt from the trace; ``tools`` are the rollout's tool schemas.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from exports.layouts import DpoExample, Repairs, clean_message, cut
from exports.options import DpoOptions
from exports.suspect import pairs_without_held
from exports.traces import TraceCache
from labeling.agreement import ratings_from_events, settled_verdict
from labeling.records import PairFilter, PairRow, RolloutRow

if TYPE_CHECKING:
    from labeling.store import LabelStore

Progress = Callable[[str, int, int], None]


def select_pairs(
    store: LabelStore, options: DpoOptions, held: set[str], skipped: Counter
) -> list[tuple[PairRow, str, str, str]]:
    """(pair, preferred uid, non-preferred uid, decided_by) for each pair to export.

    A pair's verdict is the one its labelers settled on (`labeling.agreement.settled_verdict`):
    with one labeler that is their verdict; a team's disagreement without an adjudicator's
    verdict or a large enough majority is skipped as ``unsettled``. The adjudicator is the
    options' or else the store's team setting (labeling/team.py)."""
    out = []
    ratings = ratings_from_events(store.events())
    # No --adjudicator: the team's, set in the store (`repo-agent team --adjudicator NAME`).
    adjudicator = options.adjudicator if options.adjudicator is not None else store.team_settings().adjudicator
    want_step = options.mode == "step"
    drop = set(options.drop_flags)
    batches = set(options.batches)
    for p in store.pairs(PairFilter(include_stale=True)):
        if batches and not all(u.split("/", 1)[0] in batches for u in (p.chosen_uid, p.rejected_uid)):
            skipped["other_batch"] += 1
            continue
        if p.task_id in held:
            skipped["holdout"] += 1
            continue
        by = ratings.get(p.pair_id, {})
        if by:
            settled = settled_verdict(by, adjudicator=adjudicator, min_agreement=options.min_agreement)
            if settled is None:
                skipped["unsettled"] += 1
                continue
            if settled != p.verdict:
                p = p.model_copy(update={"verdict": settled})
        if p.verdict == "discard":
            skipped["discarded"] += 1
            continue
        if (p.kind == "step") != want_step:
            skipped["step_pair" if p.kind == "step" else "not_step_pair"] += 1
            continue
        if p.verdict is None:
            if not options.auto:
                skipped["unlabeled"] += 1
                continue
            if p.stale:
                skipped["stale"] += 1
                continue
            noisy = [f for f in p.flags if f in drop]
            if noisy and not options.keep_noisy:
                skipped[f"noisy:{noisy[0]}"] += 1
                continue
            out.append((p, p.chosen_uid, p.rejected_uid, "auto"))
        elif p.preferred_uid is not None and p.non_preferred_uid is not None:  # (a discarded pair has none)
            out.append((p, p.preferred_uid, p.non_preferred_uid, "human"))
    return evidence_only(store, out, skipped)


def evidence_only(
    store: LabelStore, picked: list[tuple[PairRow, str, str, str]], skipped: Counter
) -> list[tuple[PairRow, str, str, str]]:
    """Pairs over judged originals only, each pair of contents once (docs/ARCHITECTURE.md,
    Rollout state): a side that is not judged (cancelled, error...) or a copy of another
    rollout's content drops the pair (its verdict was carried to the pair over the originals,
    labeling/verdict_follow.py); two pairs over the same two contents, in either direction,
    give one line (a human verdict before an auto one)."""
    uids = {u for p, _, _, _ in picked if p.kind == "rollout" for u in (p.chosen_uid, p.rejected_uid)}
    rows = {r.uid: r for r in store.rollouts(uids=sorted(uids), with_patch=False)} if uids else {}
    out = []
    seen: set[frozenset[str]] = set()
    for item in sorted(picked, key=lambda t: t[3] != "human"):  # stable: human verdicts first
        p = item[0]
        if p.kind == "rollout":
            sides = [rows.get(u) for u in (p.chosen_uid, p.rejected_uid)]
            # a side that is not judged names the reason before a side that is a copy
            bad = min(
                (r for r in sides if r is not None and not r.evidence), key=lambda r: r.state.judged, default=None
            )
            if bad is not None:
                skipped["copy" if bad.state.judged else bad.state.reason or bad.state.status] += 1
                continue
            key = frozenset(p_uid for p_uid in (p.chosen_uid, p.rejected_uid))
            if key in seen:
                skipped["duplicate_pair"] += 1
                continue
            seen.add(key)
        out.append(item)
    return out


def build_dpo(
    store: LabelStore,
    options: DpoOptions,
    held: set[str],
    cache: TraceCache,
    repairs: Repairs,
    skipped: Counter,
    progress: Progress | None = None,
) -> list[DpoExample]:
    chosen = select_pairs(store, options, held, skipped)
    uids = {u for _, a, b, _ in chosen for u in (a, b)}
    rows = {r.uid: r for r in store.rollouts(uids=sorted(uids))} if uids else {}
    chosen = pairs_without_held(store, chosen, rows, skipped)  # SUSPECT until cleared, probes
    marks = store.all_step_marks() if options.mode == "step" else {}
    out: list[DpoExample] = []
    total = len(chosen)
    for i, (p, pref, non, decided) in enumerate(chosen):
        if progress is not None and i % 200 == 0:
            progress("pairs", i, total)
        a, b = rows.get(pref), rows.get(non)
        if a is None or b is None or not a.trace_path or not b.trace_path:
            skipped["missing_rollout"] += 1
            continue
        try:
            if options.mode == "step":
                ex = _step_example(p, a, b, cache, marks, repairs, skipped)
            else:
                ex = _outcome_example(p, a, b, options, cache, repairs, skipped)
        except OSError:
            skipped["unreadable_trace"] += 1
            continue
        if ex is None:
            continue
        ex.meta = {
            "pair_id": p.pair_id,
            "task_id": p.task_id,
            "uids": [pref, non],
            "verdict": p.verdict,
            "decided_by": decided,
            "contrast": p.contrast,
            "flags": list(p.flags),
        }
        if p.kind == "step":
            ex.meta["at_step"] = p.at_step
        out.append(ex)
    if progress is not None:
        progress("pairs", total, total)
    return out


def _outcome_example(
    p: PairRow, a: RolloutRow, b: RolloutRow, options: DpoOptions, cache: TraceCache, repairs: Repairs, skipped: Counter
) -> DpoExample | None:
    ha, hb = cache.head(a.trace_path), cache.head(b.trace_path)
    if not ha.prompt:
        skipped["no_prompt"] += 1
        return None
    if ha.prompt != hb.prompt:
        skipped["prompt_mismatch"] += 1  # DPO compares two answers to one prompt
        return None
    ca = _answer(a, options, cache)
    cb = _answer(b, options, cache)
    if ca == cb:
        skipped["identical_outputs"] += 1
        return None
    return DpoExample(
        task_id=p.task_id,
        prompt=[clean_message(m, repairs) for m in ha.prompt],
        tools=ha.tools,
        chosen={"role": "assistant", "content": ca},
        rejected={"role": "assistant", "content": cb},
    )


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _answer(r: RolloutRow, options: DpoOptions, cache: TraceCache) -> str:
    if options.mode == "final":
        final = cache.final(r.trace_path) or {"summary": "", "changes": None}
        return _dumps({"summary": final["summary"], "changes": final["changes"]})
    obj: dict[str, Any] = {"summary": r.summary, "patch": r.patch}
    if options.mode == "patch+trajectory":
        obj["trajectory"] = last_tool_calls(cache.tail(r.trace_path, options.last_k), options.last_k, options.cut_chars)
    return _dumps(obj)


def last_tool_calls(messages: list[dict[str, Any]], k: int, cut_chars: int) -> list[dict[str, Any]]:
    """The last ``k`` tool calls with their results (cut), in order."""
    calls: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for m in messages:
        if m.get("role") == "assistant":
            for tc in m.get("tool_calls") or []:
                fn = tc.get("function") or {}
                raw = fn.get("arguments")
                try:
                    args = json.loads(raw) if isinstance(raw, str) else raw
                except ValueError:
                    args = raw
                entry = {"tool": fn.get("name"), "arguments": args, "result": None}
                calls.append(entry)
                by_id[tc.get("id") or ""] = entry
        elif m.get("role") == "tool":
            answered = by_id.get(m.get("tool_call_id") or "")
            if answered is not None:
                answered["result"] = cut(str(m.get("content") or ""), cut_chars)
    return calls[-k:] if k else []


def _step_example(
    p: PairRow, a: RolloutRow, b: RolloutRow, cache: TraceCache, marks: dict, repairs: Repairs, skipped: Counter
) -> DpoExample | None:
    fa, fb = cache.full(a.trace_path), cache.full(b.trace_path)
    n = 0
    limit = min(len(fa.messages), len(fb.messages))
    while n < limit and fa.messages[n] == fb.messages[n]:
        n += 1
    if n == 0 or n >= len(fa.messages) or n >= len(fb.messages):
        skipped["no_decision_point"] += 1
        return None
    ma, mb = fa.messages[n], fb.messages[n]
    if ma.get("role") != "assistant" or mb.get("role") != "assistant" or fa.messages[n - 1].get("role") == "assistant":
        skipped["no_decision_point"] += 1
        return None
    step = fa.steps[n]
    if step is not None and step in marks.get(a.uid, {}):
        skipped["bad_step_preferred"] += 1  # a step marked bad is never a trained target
        return None
    if step is not None and step in fa.invalid_steps:
        skipped["invalid_step_preferred"] += 1
        return None
    return DpoExample(
        task_id=p.task_id,
        prompt=[clean_message(m, repairs) for m in fa.messages[:n]],
        tools=fa.tools,
        chosen=clean_message(ma, repairs),
        rejected=clean_message(mb, repairs),
    )
