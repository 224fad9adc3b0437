"""Charts of the signal report: plain data in, SVG (or PNG) out.

Two steps, so other renderers can share the first: `stats_charts` turns a `SignalReport`
into `BarChart`s (labels, values, an optional band), and `chart_svg` / `charts_svg` draw
them as standalone SVG, every label escaped. `repo-agent stats --plot` and the HTML report
(`tui/report.py`) draw the same charts; `svg_png` rasterises the SVG (resvg, with the
bundled Roboto Mono, so a machine without fonts still shows the labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rich.text import Text

    from labeling.compare import Comparison
    from labeling.stats import SignalReport

Tone = Literal["plain", "good", "bad", "warn", "muted"]
TONES: dict[str, str] = {
    "plain": "#4c78a8",
    "good": "#2e9d57",
    "bad": "#d1495b",
    "warn": "#e0a100",
    "muted": "#9aa5b1",
}
FONT = "Roboto Mono, DejaVu Sans Mono, monospace"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # a count, or a rate in [0, 1] (a missing rate: 0, with a note saying so)
    note: str = ""  # shown after the value, e.g. "no verdict yet"
    tone: Tone = "plain"
    interval: tuple[float, float] | None = None  # a rate's confidence interval, drawn as a whisker


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    unit: Literal["count", "rate"] = "count"
    band: tuple[float, float] | None = None  # a rate chart's shaded band (the learnable pass rates)


# ---------------------------------------------------------------------------- data
BAND_TONE: dict[str, Tone] = {
    "learnable": "good",
    "all_pass": "warn",
    "all_fail": "bad",
    "easy": "plain",
    "hard": "plain",
    "none": "muted",
    "unknown": "muted",
}
FLAG_TONE: dict[str, Tone] = {"tests_tampered": "bad", "both_fail": "bad"}


def stats_charts(report: SignalReport) -> list[BarChart]:
    """The Stats screen's charts: pass rate per task against the band, pairs by contrast and
    noise, human verdicts against the auto preference, labeled and remaining, tool-call validity."""
    lo, hi = report.band
    charts = [
        BarChart(
            f"Pass rate per task (shaded: the learnable band {lo:.0%}-{hi:.0%})",
            tuple(
                Bar(
                    t.task_id,
                    t.pass_rate or 0.0,
                    note="no verdict" if t.pass_rate is None else f"{t.passed}/{t.rollouts}",
                    tone=BAND_TONE.get(t.band, "plain"),
                )
                for t in report.tasks
            ),
            unit="rate",
            band=report.band,
        ),
        BarChart(
            "Pairs built by contrast kind and noise flag",
            (
                *(Bar(f"contrast {k}", n) for k, n in sorted(report.by_contrast.items())),
                Bar("clean", report.clean_pairs, tone="good"),
                *(Bar(f, n, tone=FLAG_TONE.get(f, "warn")) for f, n in report.by_flag.items()),
            ),
        ),
        BarChart(
            "Human verdicts against the auto preference",
            (
                Bar("confirm", report.agreement.confirm, tone="good"),
                Bar("flip", report.agreement.flip, tone="warn"),
                Bar("discard", report.agreement.discard, tone="bad"),
            ),
        ),
        BarChart(
            "Review progress",
            (Bar("labeled", report.labeled, tone="good"), Bar("remaining", report.remaining, tone="muted")),
        ),
    ]
    if report.validity_by_model:
        charts.append(
            BarChart(
                "Tool-call validity by model",
                tuple(
                    Bar(m.model, m.validity_rate or 0.0, note=f"{m.invalid_tool_calls} invalid of {m.tool_calls}")
                    for m in report.validity_by_model
                ),
                unit="rate",
            )
        )
    return charts


def compare_chart(comparison: Comparison) -> BarChart:
    """The compare view's chart: the two models' pass rates, each with its interval."""
    level = round(100 * comparison.difference.level)
    return BarChart(
        f"Pass rate by model ({level}% intervals)",
        tuple(
            Bar(
                f"{tag} {s.model}",
                s.pass_rate or 0.0,
                note="no verdict" if s.pass_rate is None else f"{s.passed}/{s.rollouts}",
                tone="muted" if s.pass_rate is None else "plain" if tag == "A" else "good",
                interval=(s.ci.lo, s.ci.hi) if s.ci else None,
            )
            for tag, s in (("A", comparison.a), ("B", comparison.b))
        ),
        unit="rate",
    )


# ---------------------------------------------------------------------------- terminal
TERMINAL_LABEL = 24  # label column of a chart drawn in the terminal, in cells


def chart_text(chart: BarChart, width: int = 80) -> Text:
    """One chart drawn in the terminal: a row per bar (label, bar, value), a rate chart's band
    shaded behind its bars. Labels are untrusted (task ids, models): plain Text, never markup."""
    from rich.text import Text

    from tui.conversation_model import printable

    label_w = min(TERMINAL_LABEL, max(8, width // 4))
    values = max((len(_value_text(b, chart.unit)) for b in chart.bars), default=0)
    bar_w = max(10, width - label_w - values - 3)  # the values stay whole: the bars give way
    top = 1.0 if chart.unit == "rate" else max((b.value for b in chart.bars), default=0) or 1
    lo, hi = (int(chart.band[0] * bar_w), int(chart.band[1] * bar_w)) if chart.band else (0, 0)
    out = Text(printable(chart.title), style="bold", no_wrap=True, overflow="ellipsis")
    for bar in chart.bars:
        filled = round(bar_w * min(bar.value, top) / top)
        # the interval's cells: inside the bar a lighter shade, beyond it a whisker
        ci_lo, ci_hi = (round(bar_w * bar.interval[0]), round(bar_w * bar.interval[1])) if bar.interval else (0, 0)
        out.append("\n")
        out.append(_cut(printable(bar.label), label_w).ljust(label_w + 1))
        for i in range(bar_w):
            in_ci = ci_lo <= i < max(ci_hi, ci_lo + 1) if bar.interval else False
            if i < filled:
                out.append("▓" if in_ci else "█", style=TONES[bar.tone])
            elif in_ci:
                out.append("─", style=TONES[bar.tone])
            else:
                out.append("░" if lo <= i < hi else "·", style="#e0a100" if lo <= i < hi else "dim")
        out.append(" " + printable(_value_text(bar, chart.unit)), style="dim" if bar.tone == "muted" else "")
    if not chart.bars:
        out.append("\n(nothing yet)", style="dim")
    return out


# ---------------------------------------------------------------------------- drawing
ROW = 22
TITLE_H = 30
LABEL_CHARS = 28


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _value_text(bar: Bar, unit: str) -> str:
    shown = f"{bar.value:.0%}" if unit == "rate" else f"{bar.value:g}"
    if bar.interval:
        shown += f" ({bar.interval[0]:.0%}-{bar.interval[1]:.0%})"
    return f"{shown}  {bar.note}" if bar.note else shown


def chart_group(chart: BarChart, *, width: int = 720, y0: int = 0) -> tuple[str, int]:
    """One chart as an SVG ``<g>`` at ``y0``, and its height."""
    label_w = 8 * LABEL_CHARS
    plot_x = label_w + 12
    plot_w = max(80, width - plot_x - 190)
    rows = chart.bars or (Bar("(nothing yet)", 0, tone="muted"),)
    top = max([b.value for b in rows] + [1.0]) if chart.unit == "count" else 1.0
    height = TITLE_H + ROW * len(rows) + 10
    out = [f'<g transform="translate(0,{y0})">']
    out.append(f'<text x="4" y="20" class="t">{escape(chart.title)}</text>')
    if chart.band is not None:
        bx = plot_x + plot_w * chart.band[0]
        bw = plot_w * (chart.band[1] - chart.band[0])
        out.append(
            f'<rect x="{bx:.1f}" y="{TITLE_H - 4}" width="{bw:.1f}" height="{ROW * len(rows) + 4}" class="band"/>'
        )
    for i, bar in enumerate(rows):
        y = TITLE_H + i * ROW
        w = plot_w * max(0.0, min(bar.value / top, 1.0)) if top else 0.0
        out.append(
            f'<text x="{label_w}" y="{y + 15}" text-anchor="end" class="l">{escape(_cut(bar.label, LABEL_CHARS))}'
            f"<title>{escape(bar.label)}</title></text>"
        )
        out.append(
            f'<rect x="{plot_x}" y="{y + 3}" width="{w:.1f}" height="{ROW - 7}" fill="{TONES[bar.tone]}" rx="2"/>'
        )
        value_x = plot_x + w + 6
        if bar.interval:  # a whisker from the interval's low end to its high end
            x0, x1 = (plot_x + plot_w * max(0.0, min(v, 1.0)) for v in bar.interval)
            mid = y + ROW // 2
            out.append(f'<path d="M{x0:.1f} {mid - 5}v10M{x0:.1f} {mid}H{x1:.1f}M{x1:.1f} {mid - 5}v10" class="ci"/>')
            value_x = max(value_x, x1 + 6)
        out.append(f'<text x="{value_x:.1f}" y="{y + 15}" class="v">{escape(_value_text(bar, chart.unit))}</text>')
    out.append("</g>")
    return "".join(out), height


STYLE = (
    f".t{{font:bold 14px {FONT};fill:#222}} .l{{font:12px {FONT};fill:#333}} "
    f".v{{font:12px {FONT};fill:#555}} .band{{fill:#f3e3a0;opacity:.6}} "
    ".ci{stroke:#222;stroke-width:1.5;fill:none}"
)


def charts_svg(charts: list[BarChart], *, width: int = 720) -> str:
    """The charts stacked in one standalone SVG document."""
    parts, y = [], 0
    for chart in charts:
        group, h = chart_group(chart, width=width, y0=y)
        parts.append(group)
        y += h + 12
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" viewBox="0 0 {width} {y}" '
        f'role="img"><style>{STYLE}</style><rect width="100%" height="100%" fill="#fff"/>{"".join(parts)}</svg>'
    )


def chart_svg(chart: BarChart, *, width: int = 720) -> str:
    return charts_svg([chart], width=width)


def svg_png(svg: str) -> bytes:
    """The SVG as PNG bytes (resvg), drawn with the Roboto Mono that textual-serve ships."""
    from importlib.util import find_spec

    import resvg_py

    fonts: list[str] = []
    spec = find_spec("textual_serve")
    if spec and spec.origin:
        from pathlib import Path

        fonts = [str(p) for p in (Path(spec.origin).parent / "static" / "fonts").glob("*.ttf")]
    return bytes(
        resvg_py.svg_to_bytes(svg_string=svg, font_files=fonts, font_family="Roboto Mono", background="#ffffff")
    )
