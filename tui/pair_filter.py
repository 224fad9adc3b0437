"""The Pairs screen's filter line: ``task:ID flag:NAME verdict:... disagree words`` to a
`PairFilter` and back (what `/` edits and the footer shows)."""

from __future__ import annotations

import shlex

from labeling.records import CONTRASTS, PAIR_FLAGS, VERDICTS, PairFilter

FILTER_HINT = (
    "task:ID  flag:NAME|noisy|clean (a flag alone too: suspect)  tag:T  batch:ID\n"
    "verdict:unlabeled|labeled|all|confirm|flip|discard  contrast:pass_fail|efficiency|step\n"
    "other words search ids/notes · disagree: pairs whose labelers' verdicts differ\n"
    "empty: the unlabeled queue · enter applies · escape keeps the current filter"
)
FILTER_VALUES = {
    "flag": (*PAIR_FLAGS, "noisy", "clean"),
    "verdict": ("unlabeled", "labeled", "all", *VERDICTS),
    "contrast": CONTRASTS,
}


class FilterError(ValueError):
    """A filter word with a value the queue does not know (named in the message)."""


def parse_filter(text: str) -> PairFilter:
    fields: dict[str, str | bool | None] = {"verdict": "unlabeled"}
    free: list[str] = []
    disagree = False
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    for w in words:
        if w == "disagree":  # the adjudication queue (team review): every verdict state unless asked
            disagree = True
            continue
        key, sep, value = w.partition(":")
        if not sep and w in FILTER_VALUES["flag"] and "flag" not in fields:
            key, sep, value = "flag", ":", w  # a flag's name alone, as in the header's flag badges
        if sep and key in ("task", "flag", "verdict", "tag", "batch", "contrast"):
            known = FILTER_VALUES.get(key)
            if known is not None and value not in known:
                raise FilterError(f"unknown {key} “{value}”: one of {', '.join(known)}")
            name = {"task": "task_id", "batch": "batch_id"}.get(key, key)
            fields[name] = None if (key == "verdict" and value == "all") else value
        else:
            free.append(w)
    if free:
        fields["text"] = " ".join(free)
    if disagree:
        fields["disagree"] = True
        if not any(w.startswith("verdict:") for w in words):
            fields["verdict"] = None
    return PairFilter.model_validate(fields)


def filter_text(f: PairFilter) -> str:
    parts = ["disagree"] if f.disagree else []
    if f.verdict != (None if f.disagree else "unlabeled"):
        parts.append(f"verdict:{f.verdict or 'all'}")
    for key, name in (
        ("task", "task_id"),
        ("flag", "flag"),
        ("tag", "tag"),
        ("batch", "batch_id"),
        ("contrast", "contrast"),
    ):
        if getattr(f, name):
            parts.append(f"{key}:{getattr(f, name)}")
    if f.text:
        parts.append(f.text)
    return " ".join(parts)
