"""`repo-agent report`: one self-contained HTML file anyone can open and read.

The signal report, the Stats charts (`tui/charts.py`, as `stats --plot`), the agreement
figures and the pairs (up to ``max_pairs``, labeled first, with how many were left out):
each with its flags, verdict, who gave it, each labeler's vote and both patches rendered as
diffs. Every value from traces or the store is escaped, there is no script, and a content
security policy forbids any request at view time (``default-src 'none'``), so a trace that
holds ``<img src=http://...>`` shows it as text and fetches nothing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from tui.charts import charts_svg, stats_charts

if TYPE_CHECKING:
    from labeling.records import PairRow, RolloutRow
    from labeling.stats import Agreement, SignalReport
    from labeling.store import LabelStore

DEFAULT_MAX_PAIRS = 500
MAX_DIFF_LINES = 400  # per side; the rest is counted, not shown
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


@dataclass(frozen=True)
class ReportFigures:
    pairs_total: int
    pairs_shown: int

    @property
    def left_out(self) -> int:
        return self.pairs_total - self.pairs_shown


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file beside ``path``, then rename: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # an ordinary file to share, not mkstemp's owner-only
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_report(
    store: LabelStore, report: SignalReport, *, title: str, max_pairs: int = DEFAULT_MAX_PAIRS
) -> tuple[str, ReportFigures]:
    """The whole page, and how many pairs it shows of how many."""
    pairs = store.pairs()
    pairs.sort(key=lambda p: not p.labeled)  # labeled first, each part in queue order
    shown = pairs[:max_pairs]
    rollouts: dict[str, RolloutRow] = {}
    for p in shown:
        for uid in (p.chosen_uid, p.rejected_uid):
            if uid not in rollouts:
                rollouts[uid] = store.rollout(uid)
    figures = ReportFigures(pairs_total=len(pairs), pairs_shown=len(shown))
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="dim">generated {escape(datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))}</p>',
        _summary(report),
        "<h2>Charts</h2>",
        f'<div class="charts">{charts_svg(stats_charts(report))}</div>',
        _agreement_section(report),
        f"<h2>Pairs ({figures.pairs_shown} of {figures.pairs_total} shown"
        + (f"; {figures.left_out} left out, raise --max-pairs to see them" if figures.left_out else "")
        + ")</h2>",
        *(_pair(p, rollouts[p.chosen_uid], rollouts[p.rejected_uid]) for p in shown),
    ]
    return _page(title, "\n".join(body)), figures


# ---------------------------------------------------------------------------- sections
def _summary(r: SignalReport) -> str:
    lo, hi = r.band
    rows = [
        ("rollouts", f"{r.rollouts} ({r.finished} finished, {r.running} running)"),
        ("tasks", f"{len(r.tasks)}; {len(r.learnable_tasks)} in the learnable band {lo:.0%}-{hi:.0%}"),
        ("all pass / all fail", f"{', '.join(r.all_pass_tasks) or '-'} / {', '.join(r.all_fail_tasks) or '-'}"),
        ("no contrast", ", ".join(r.no_contrast_tasks) or "-"),
        ("pairs", f"{r.pairs} ({r.clean_pairs} clean, {r.stale_pairs} stale kept); strategy {r.strategy}"),
        ("score order", " > ".join(r.score_order)),
        ("review", f"labeled {r.labeled}, remaining {r.remaining}"),
        ("tokens", f"{r.tokens_in:,} in, {r.tokens_out:,} out"),
        (
            "cost",
            f"${r.cost_usd:.4f}"
            + (f" ({r.cost_unknown_rollouts} rollouts without a known price)" if r.cost_unknown_rollouts else ""),
        ),
    ]
    return "<h2>Signal report</h2>" + _table(None, rows)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _agreement_row(name: str, a: Agreement) -> tuple[str, ...]:
    return (name, str(a.labeled), _pct(a.confirm_rate), _pct(a.flip_rate), _pct(a.discard_rate))


def _agreement_section(r: SignalReport) -> str:
    rows = [_agreement_row("all labeled pairs", r.agreement)]
    rows += [_agreement_row(f"contrast {k}", a) for k, a in sorted(r.agreement_by_contrast.items())]
    rows += [_agreement_row("clean pairs", r.agreement_clean), _agreement_row("noisy pairs", r.agreement_noisy)]
    out = ["<h2>Agreement</h2>", "<h3>Human verdicts against the auto preference</h3>"]
    out.append(_table(("pairs", "labeled", "confirm", "flip", "discard"), rows))
    team = r.team
    if team is not None:
        out.append("<h3>Between labelers</h3>")
        out.append(
            f"<p>labelers: {escape(', '.join(team.labelers))}; {team.overlapped} pairs with two or more verdicts, "
            f"{team.disagreements} disagreements</p>"
        )
        figs = [("overall", team.overall), ("alpha", team.alpha), *sorted(team.by_labeler_pair.items())]
        figs += [(f"contrast {k}", f) for k, f in sorted(team.by_contrast.items())]
        figs += [(f"flag {k}", f) for k, f in sorted(team.by_flag.items())]
        rows = [
            (
                name.replace("|", " & "),
                f.metric,
                "-" if f.value is None else f"{f.value:.2f}",
                "-" if not f.ci else f"{f.ci[0]:.2f}-{f.ci[1]:.2f}",
                str(f.pairs),
            )
            for name, f in figs
            if f is not None
        ]
        out.append(_table(("figure", "metric", "value", "95% CI", "pairs"), rows))
    return "\n".join(out)


def _badge(r: RolloutRow) -> tuple[str, str]:
    if not r.finished:
        return "RUNNING", "muted"
    if not r.verdict_known:
        return "NO VERDICT", "muted"
    if r.tests_tampered:
        return "TAMPERED", "bad"
    return ("PASS", "good") if r.tests_passed else ("FAIL", "bad")


def _side(letter: str, role: str, r: RolloutRow) -> str:
    text, tone = _badge(r)
    cost = "-" if r.cost_usd is None else f"${r.cost_usd:.4f}"
    return (
        f'<div class="side"><div class="sidehead"><b>{letter}</b> <span class="badge {tone}">{text}</span> '
        f"{escape(role)}</div>"
        f'<div class="dim">{escape(r.uid)} · {r.steps} steps · {r.tool_calls} calls '
        f"({r.invalid_tool_calls} invalid) · {r.files_touched} files · {cost}</div>"
        f'<div class="summary">{escape(r.summary) or "<i>(no summary)</i>"}</div>'
        f"{_diff(r.patch)}</div>"
    )


def _pair(p: PairRow, chosen: RolloutRow, rejected: RolloutRow) -> str:
    verdict = p.verdict or "unlabeled"
    who = f" by {escape(p.labeler)}" if p.labeler else ""
    when = f" at {escape(p.labeled_at)}" if p.labeled_at else ""
    flags = "".join(f'<span class="flag">{escape(f)}</span>' for f in p.flags) or '<span class="clean">clean</span>'
    votes = ", ".join(f"{escape(n)}: {escape(v)}" for n, v in sorted(p.verdicts.items()))
    note = f'<div class="note">note: {escape(p.note)}</div>' if p.note else ""
    tags = f'<div class="dim">tags: {escape(", ".join(p.tags))}</div>' if p.tags else ""
    return (
        f'<section class="pair" id="pair-{escape(p.pair_id)}">'
        f'<div class="pairhead"><b>{escape(p.task_id)}</b> · {escape(p.contrast)} · decided by '
        f"{escape(p.decided_by or '-')} · {flags} · "
        f'<span class="verdict {escape(verdict)}">{escape(verdict)}</span>{who}{when}'
        + (" · stale" if p.stale else "")
        + "</div>"
        + (f'<div class="dim">votes: {votes}</div>' if votes else "")
        + note
        + tags
        + f'<div class="sides">{_side("A", "auto-preferred", chosen)}{_side("B", "rejected", rejected)}</div>'
        + f'<div class="dim">pair {escape(p.pair_id)}</div></section>'
    )


def _diff(patch: str) -> str:
    if not patch.strip():
        return '<p class="dim">(no changes: empty patch)</p>'
    lines = patch.splitlines()
    out = []
    for line in lines[:MAX_DIFF_LINES]:
        if line.startswith(("diff --git", "--- ", "+++ ", "index ")):
            cls = "h"
        elif line.startswith("@@"):
            cls = "at"
        elif line.startswith("+"):
            cls = "add"
        elif line.startswith("-"):
            cls = "del"
        else:
            cls = "ctx"
        out.append(f'<span class="{cls}">{escape(line)}</span>')
    more = len(lines) - MAX_DIFF_LINES
    if more > 0:
        out.append(f'<span class="dim">… {more} more lines</span>')
    return '<pre class="diff">' + "".join(out) + "</pre>"  # each line a block span


def _table(columns: tuple[str, ...] | None, rows: Iterable[tuple[str, ...]]) -> str:
    th = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in columns) + "</tr>" if columns else ""
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{th}{body}</table>"


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1400px; padding: 0 16px; color: #1d232a; }
h1 { font-size: 22px; } h2 { margin-top: 32px; border-bottom: 1px solid #ddd; } h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee;
  text-align: left; vertical-align: top; }
.dim { color: #68727d; font-size: 12px; } .charts svg { max-width: 100%; height: auto; }
.pair { border: 1px solid #d6dbe0; border-radius: 6px; padding: 10px 12px; margin: 14px 0; }
.pairhead { margin-bottom: 4px; overflow-wrap: anywhere; }
.sides { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; margin-top: 8px; }
.side { min-width: 0; } .summary { margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.badge { padding: 0 6px; border-radius: 3px; color: #fff; font-size: 12px; font-weight: bold; }
.badge.good { background: #2e9d57; } .badge.bad { background: #d1495b; } .badge.muted { background: #9aa5b1; }
.flag { background: #fbe3a3; border-radius: 3px; padding: 0 5px; margin-right: 4px; font-size: 12px; }
.clean { color: #2e9d57; } .verdict { font-weight: bold; } .verdict.confirm { color: #2e9d57; }
.verdict.flip { color: #b07800; } .verdict.discard { color: #d1495b; } .verdict.unlabeled { color: #68727d; }
.note { font-style: italic; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.diff { background: #f7f8fa; border: 1px solid #e3e6ea; padding: 6px; overflow-x: auto; font-size: 12px;
  line-height: 1.35; max-height: 480px; }
pre.diff span { display: block; white-space: pre; } .add { background: #e6f6ea; } .del { background: #fbe9eb; }
.at { color: #3867b5; } .h { color: #68727d; font-weight: bold; }
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
