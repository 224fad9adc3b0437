"""SFT examples from rollouts (docs/ARCHITECTURE.md, Exports).

Which rollouts: finished, tests passed and untampered; with
``include_failed_labeled_good`` also failed (untampered) rollouts a person preferred in
a confirmed or flipped pair. A step is *masked* when a person marked it bad or one of its
tool calls was invalid (the agent's schema check); a masked step is never a target.

Which assistant turns are trained (``train``): ``all`` valid turns, only the ``last``
turn, or only the ``final`` answer (the turn that calls ``finish``).

- ``trajectory``: the whole conversation, ``weight: 1`` on trained turns and ``weight: 0``
  on the others (tokens grow linearly with the trajectory).
- ``step``: one example per trained turn: the prompt (system + goal), the last K turns
  before it with tool outputs cut, and the turn as the target (weight 1; context turns
  weight 0). Tokens grow quadratically with the trajectory; the report shows both totals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.tools.registry import step_counts
from exports.layouts import Repairs, SftExample, clean_message, cut
from exports.options import SftOptions
from exports.suspect import leave_out_held
from exports.traces import Full, TraceCache
from labeling.records import PairFilter

if TYPE_CHECKING:
    from labeling.store import LabelStore

Progress = Callable[[str, int, int], None]


def select_rollouts(store: LabelStore, options: SftOptions, held: set[str], skipped: Counter) -> list:
    good_failed: set[str] = set()
    if options.include_failed_labeled_good:
        for p in store.pairs(PairFilter(verdict="labeled", include_stale=True)):
            if p.preferred_uid:
                good_failed.add(p.preferred_uid)
    out = []
    batches = set(options.batches)
    rows = store.rollouts(status="finished")
    copy_of = {r.uid: r.copy_of for r in rows if r.copy_of}
    good_failed |= {copy_of[u] for u in good_failed if u in copy_of}  # a verdict follows content
    for r in rows:
        if batches and r.batch_id not in batches:
            skipped["other_batch"] += 1
        elif not r.evidence:  # not judged (cancelled, error...), or a copy: one example per content
            skipped["copy" if r.state.judged else r.state.reason or r.state.status] += 1
        elif r.task_id in held:
            skipped["holdout"] += 1
        elif r.tests_tampered:
            skipped["tampered"] += 1
        elif r.passed or r.uid in good_failed:
            out.append(r)
        else:
            skipped["failed"] += 1
    return out


def marks_by_content(store: LabelStore) -> dict[str, dict[int, Any]]:
    """Step marks per rollout, a copy's marks given to its original (marks follow content)."""
    marks = dict(store.all_step_marks())
    for r in store.rollouts(with_patch=False):
        if r.copy_of and r.uid in marks:
            marks[r.copy_of] = {**marks[r.uid], **marks.get(r.copy_of, {})}
    return marks


def build_sft(
    store: LabelStore,
    options: SftOptions,
    held: set[str],
    cache: TraceCache,
    repairs: Repairs,
    skipped: Counter,
    progress: Progress | None = None,
) -> dict[str, list[SftExample]]:
    """Both styles' examples ({"trajectory": [...], "step": [...]}) so their costs compare."""
    rollouts = leave_out_held(store, select_rollouts(store, options, held, skipped), skipped)
    marks = marks_by_content(store)
    out: dict[str, list[SftExample]] = {"trajectory": [], "step": []}
    for i, r in enumerate(rollouts):
        if progress is not None and i % 100 == 0:
            progress("rollouts", i, len(rollouts))
        try:
            full = cache.full(r.trace_path)
        except OSError:
            skipped["unreadable_trace"] += 1
            continue
        masked = set(full.invalid_steps) | set(marks.get(r.uid, {}))
        msgs = [clean_message(m, repairs) for m in full.messages]
        targets, why = _targets(msgs, full, masked, options.train)
        if not targets:
            skipped[why] += 1
            continue
        meta = {"task_id": r.task_id, "uids": [r.uid], "passed": r.passed}
        out["trajectory"].append(_trajectory(r.task_id, msgs, full.tools, targets, meta, full))
        for idx in targets:
            out["step"].append(_step(r.task_id, msgs, full, idx, options, meta))
    if progress is not None:
        progress("rollouts", len(rollouts), len(rollouts))
    return out


def _targets(msgs: list[dict[str, Any]], full: Full, masked: set[int], train: str) -> tuple[list[int], str]:
    assistants = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
    if not assistants:
        return [], "no_assistant"
    if train == "last":
        pick = assistants[-1:]
    elif train == "final":
        pick = [
            i
            for i in assistants
            if any(step_counts(tc["function"]["name"]).finishes for tc in msgs[i].get("tool_calls", []))
        ][-1:]
        if not pick:
            return [], "no_final_answer"
    else:
        pick = assistants
    kept = [i for i in pick if full.steps[i] not in masked]
    return kept, "nothing_trained"


def _trajectory(
    task_id: str, msgs: list[dict[str, Any]], tools: list, targets: list[int], meta: dict, full: Full
) -> SftExample:
    end = max(i for i, m in enumerate(msgs) if m["role"] == "assistant") + 1  # trailing tool results teach nothing
    tset = set(targets)
    out = []
    for i, m in enumerate(msgs[:end]):
        if m["role"] == "assistant":
            m = {**m, "weight": 1 if i in tset else 0}
        out.append(m)
    return SftExample(
        task_id,
        out,
        tools,
        "trajectory",
        dict(
            meta, trained_steps=[full.steps[i] for i in targets], target_index=targets[0] if len(targets) == 1 else None
        ),
    )


def _step(
    task_id: str, msgs: list[dict[str, Any]], full: Full, idx: int, options: SftOptions, meta: dict
) -> SftExample:
    first = next(i for i, m in enumerate(msgs) if m["role"] == "assistant")
    prompt = msgs[:first]
    starts = [i for i in range(first, idx) if msgs[i]["role"] == "assistant"]
    keep_from = starts[-options.last_k :][0] if options.last_k and starts else idx
    context = []
    for m in msgs[keep_from:idx]:
        if m["role"] == "tool":
            m = {**m, "content": cut(m.get("content") or "", options.cut_chars)}
        elif m["role"] == "assistant":
            m = {**m, "weight": 0}
        context.append(m)
    target = {**msgs[idx], "weight": 1}
    return SftExample(task_id, prompt + context + [target], full.tools, "step", dict(meta, step=full.steps[idx]))
