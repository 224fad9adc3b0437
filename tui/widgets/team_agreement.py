"""The Stats screen's small table of agreement between labelers (labeling/agreement.py)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from labeling.agreement import AgreementFigure, TeamAgreement


def _value(f: AgreementFigure) -> Text:
    if f.value is None:
        return Text("-", style="dim")
    # Landis & Koch's bands, roughly: below .4 is weak agreement for a training signal.
    style = "green" if f.value >= 0.6 else "yellow" if f.value >= 0.4 else "red"
    t = Text(f"{f.value:.2f}", style=style)
    if f.ci:
        t.append(f" [{f.ci[0]:.2f}, {f.ci[1]:.2f}]", style="dim")
    return t


def team_table(team: TeamAgreement) -> Table:
    """One row per figure: overall, each labeler pair, each contrast kind, each flag."""
    t = Table(
        title=f"Between labelers ({len(team.labelers)}; {team.disagreements}/{team.overlapped} disagree)",
        title_justify="left",
        title_style="bold",
        box=None,
    )
    t.add_column("")
    t.add_column("", justify="left")
    t.add_column("value [95% CI]")
    t.add_column("pairs", justify="right")
    rows: list[tuple[str, AgreementFigure | None]] = [("overall", team.overall)]
    if team.alpha is not None and team.alpha is not team.overall:
        rows.append(("overall", team.alpha))
    rows += [(k.replace("|", "~"), f) for k, f in team.by_labeler_pair.items()]
    rows += [(k, f) for k, f in team.by_contrast.items()]
    rows += [(k, f) for k, f in team.by_flag.items()]
    for name, f in rows:
        if f is not None:
            t.add_row(name, f.metric, _value(f), str(f.pairs))
    return t
