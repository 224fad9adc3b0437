"""Agreement between labelers: Cohen's kappa, Krippendorff's alpha, settled verdicts.

A team labels the same pairs (``--overlap K``); whether their verdicts mean anything is
read from how often they agree beyond chance. Each labeler's verdict on a pair is their
latest *active* verdict event in the human log (undo/redo honoured, a cleared verdict
counts as none), so the figures follow the log exactly like the queue does.

* Cohen's kappa: two labelers, over the pairs both judged; ``(p_o - p_e) / (1 - p_e)``
  with ``p_e`` from each labeler's own verdict shares.
* Krippendorff's alpha (nominal: confirm / flip / discard): any number of labelers and
  missing verdicts; ``1 - D_o / D_e`` over the coincidence matrix of the pairs with at
  least two verdicts.
* Confidence intervals: a percentile bootstrap over pairs (resampled with replacement,
  seeded, so the same store gives the same interval). Both coefficients depend only on
  how many pairs got each combination of verdicts, so a round redraws those counts.

A figure is None where it is undefined (no pairs, or every verdict the same so chance
agreement is already perfect).
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import combinations

from pydantic import BaseModel, Field

from labeling.records import PAIR_FLAGS, LabelEvent, PairRow
from labeling.team_sql import fold_votes

# pair_id -> labeler -> verdict
Ratings = dict[str, dict[str, str]]


def ratings_from_events(events: Iterable[LabelEvent]) -> Ratings:
    """Each labeler's current verdict per pair, from the human log (oldest first)."""
    # The same fold as the store's derived votes (labeling/team_sql.py), so both agree.
    return fold_votes((e.target, e.labeler, e.value) for e in events if e.kind == "verdict" and e.undone_by is None)


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Kappa over (labeler A's verdict, labeler B's verdict) per pair both judged."""
    return kappa_from_table(Counter(pairs))


def kappa_from_table(table: Counter) -> float | None:
    """Kappa from the contingency counts ``{(a, b): n}``."""
    n = sum(table.values())
    if not n:
        return None
    p_o = sum(w for (a, b), w in table.items() if a == b) / n
    ca: Counter[str] = Counter()
    cb: Counter[str] = Counter()
    for (a, b), w in table.items():
        ca[a] += w
        cb[b] += w
    p_e = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1.0 - p_e)


def krippendorff_alpha(units: Sequence[Sequence[str]]) -> float | None:
    """Nominal alpha over units (each: the verdicts one pair got; units with < 2 ignored)."""
    return alpha_from_units(Counter(tuple(sorted(u)) for u in units))


def _coincidences(values: tuple[str, ...]) -> dict[tuple[str, str], float]:
    """One unit's coincidences: weight 1/(m-1) per ordered pair of its values."""
    o: dict[tuple[str, str], float] = defaultdict(float)
    m = len(values)
    if m < 2:
        return o
    for i, c in enumerate(values):
        for j, k in enumerate(values):
            if i != j:
                o[(c, k)] += 1.0 / (m - 1)
    return o


def alpha_from_units(units: Counter) -> float | None:
    """Alpha from the counts of unit kinds ``{sorted verdicts of a pair: n}`` (a unit's
    coincidences depend only on its multiset of verdicts)."""
    o: dict[tuple[str, str], float] = defaultdict(float)
    for values, count in units.items():
        for ck, x in _coincidences(values).items():
            o[ck] += count * x
    n_c: dict[str, float] = defaultdict(float)
    for (c, _), w in o.items():
        n_c[c] += w
    n = sum(n_c.values())
    if n <= 1:
        return None
    d_o = sum(w for (c, k), w in o.items() if c != k) / n
    d_e = sum(n_c[c] * n_c[k] for c in n_c for k in n_c if c != k) / (n * (n - 1))
    if d_e <= 0:
        return None
    return 1.0 - d_o / d_e


# A round redraws how many pairs fall in each kind, kind by kind from the conditional
# binomials: exactly (inverse transform) where the expected count or its complement is
# small, from the normal approximation where both exceed SMALL_MEAN (there it differs from
# the binomial by far less than the interval's own sampling noise). Cost per round: the
# number of kinds, not of pairs, so a 50,000-pair store's Stats take well under a second.
SMALL_MEAN = 30.0


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if n * p <= SMALL_MEAN:  # inverse transform over the pmf: O(n p) expected steps
        u = rng.random()
        k, prob = 0, (1.0 - p) ** n
        cdf = prob
        while u > cdf and k < n:
            prob *= (n - k) / (k + 1) * p / (1.0 - p)
            k += 1
            cdf += prob
        return k
    if n * (1.0 - p) <= SMALL_MEAN:
        return n - _binomial(rng, n, 1.0 - p)
    return min(n, max(0, round(rng.gauss(n * p, math.sqrt(n * p * (1.0 - p))))))


def _multinomial(rng: random.Random, n: int, weights: list[int]) -> list[int]:
    out = []
    left, rest = n, float(sum(weights))
    for w in weights[:-1]:
        k = _binomial(rng, left, w / rest if rest > 0 else 0.0)
        out.append(k)
        left -= k
        rest -= w
    out.append(left)
    return out


def bootstrap_ci(
    counts: Counter, stat: Callable[[Counter], float | None], *, rounds: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile interval of ``stat`` over the items counted in ``counts`` (item kind -> n),
    resampled with replacement (a multinomial draw over the kinds), seeded."""
    kinds = list(counts)
    weights = [counts[k] for k in kinds]
    n = sum(weights)
    if n < 2:
        return None
    rng = random.Random(seed)
    values = []
    for _ in range(rounds):
        drawn = _multinomial(rng, n, weights)
        v = stat(Counter({k: c for k, c in zip(kinds, drawn) if c}))
        if v is not None:
            values.append(v)
    if len(values) < rounds // 2:  # mostly undefined: an interval would mislead
        return None
    values.sort()
    lo = values[int((1 - level) / 2 * (len(values) - 1))]
    hi = values[int((1 + level) / 2 * (len(values) - 1))]
    return round(lo, 4), round(hi, 4)


class AgreementFigure(BaseModel):
    """One agreement coefficient over ``pairs`` pairs, with its bootstrap interval."""

    metric: str  # kappa | alpha
    value: float | None
    ci: tuple[float, float] | None = None
    pairs: int  # pairs the coefficient is computed over (>= 2 verdicts; kappa: both labelers)


class TeamAgreement(BaseModel):
    labelers: list[str]
    overlapped: int  # pairs with verdicts from at least two labelers
    disagreements: int  # of those, pairs whose labelers' verdicts differ
    overall: AgreementFigure | None = None  # kappa with exactly two labelers, alpha with more
    alpha: AgreementFigure | None = None
    by_labeler_pair: dict[str, AgreementFigure] = Field(default_factory=dict)  # "a|b" -> kappa
    by_contrast: dict[str, AgreementFigure] = Field(default_factory=dict)  # alpha
    by_flag: dict[str, AgreementFigure] = Field(default_factory=dict)  # alpha; "clean": no flag


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _kappa_figure(rows: list[tuple[str, str]], rounds: int) -> AgreementFigure:
    table = Counter(rows)
    return AgreementFigure(
        metric="kappa",
        value=_round(kappa_from_table(table)),
        ci=bootstrap_ci(table, kappa_from_table, rounds=rounds),
        pairs=len(rows),
    )


def _alpha_figure(units: list[list[str]], rounds: int) -> AgreementFigure:
    kinds = Counter(tuple(sorted(u)) for u in units if len(u) >= 2)
    return AgreementFigure(
        metric="alpha",
        value=_round(alpha_from_units(kinds)),
        ci=bootstrap_ci(kinds, alpha_from_units, rounds=rounds),
        pairs=sum(kinds.values()),
    )


def team_agreement(ratings: Ratings, pairs: Iterable[PairRow], *, rounds: int = 1000) -> TeamAgreement | None:
    """Agreement over ``ratings``; None when fewer than two labelers gave verdicts.

    ``pairs`` supplies each pair's contrast kind and flags for the breakdowns."""
    labelers = sorted({who for by in ratings.values() for who in by})
    if len(labelers) < 2:
        return None
    info = {p.pair_id: p for p in pairs}
    multi = {pid: by for pid, by in ratings.items() if len(by) >= 2}
    units = {pid: [by[w] for w in sorted(by)] for pid, by in multi.items()}
    rep = TeamAgreement(
        labelers=labelers,
        overlapped=len(multi),
        disagreements=sum(1 for u in units.values() if len(set(u)) > 1),
        alpha=_alpha_figure(list(units.values()), rounds),
    )
    for a, b in combinations(labelers, 2):
        rows = [(by[a], by[b]) for by in multi.values() if a in by and b in by]
        if rows:
            rep.by_labeler_pair[f"{a}|{b}"] = _kappa_figure(rows, rounds)
    if len(labelers) == 2:
        rep.overall = rep.by_labeler_pair.get(f"{labelers[0]}|{labelers[1]}")
    else:
        rep.overall = rep.alpha
    contrasts = sorted({info[pid].contrast for pid in units if pid in info})
    for c in contrasts:
        rep.by_contrast[c] = _alpha_figure(
            [u for pid, u in units.items() if pid in info and info[pid].contrast == c], rounds
        )
    for f in (*PAIR_FLAGS, "clean"):
        sel = [
            u
            for pid, u in units.items()
            if pid in info and ((f == "clean" and not info[pid].flags) or f in info[pid].flags)
        ]
        if sel:
            rep.by_flag[f] = _alpha_figure(sel, rounds)
    return rep


def settled_verdict(by: dict[str, str], *, adjudicator: str | None = None, min_agreement: float = 0.5) -> str | None:
    """The verdict a pair's labelers settled on: the adjudicator's if they gave one, else
    the most common verdict when its share of the labelers is at least ``min_agreement``
    (and it is the only one with that count); None when nothing is settled."""
    if adjudicator is not None and adjudicator in by:
        return by[adjudicator]
    if not by:
        return None
    top = Counter(by.values()).most_common()
    verdict, n = top[0]
    if len(top) > 1 and top[1][1] == n:
        return None
    return verdict if n / len(by) >= min_agreement else None
