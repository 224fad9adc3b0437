"""How the command line shows a team's labels: agreement between labelers in `repo-agent
stats` (labeling/agreement.py), each labeler's verdict in `repo-agent pairs list`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from agent.untrusted import neutralise
from tui.cli.fit_table import Col, print_table

if TYPE_CHECKING:  # the CLI imports labeling/ lazily (start-up time)
    from labeling.agreement import AgreementFigure, TeamAgreement


def figure_text(f: AgreementFigure | None) -> str:
    """``0.58 [0.21, 0.86]`` (value, 95% bootstrap interval); ``-`` where undefined."""
    if f is None or f.value is None:
        return "-"
    ci = f" [{f.ci[0]:.2f}, {f.ci[1]:.2f}]" if f.ci else ""
    return f"{f.value:.2f}{ci}"


def print_team(console: Console, team: TeamAgreement | None) -> None:
    if team is None:
        return
    console.print(
        f"agreement between labelers ({neutralise(', '.join(team.labelers))}; 95% bootstrap intervals)",
        style="table.title",
    )
    rows: list[list[str]] = []

    def row(over: str, f: AgreementFigure | None) -> None:
        if f is not None:
            rows.append([neutralise(over), f.metric, figure_text(f), str(f.pairs)])

    row("overall", team.overall)
    if team.overall is not team.alpha and team.alpha is not None:
        row("overall", team.alpha)
    for k, f in team.by_labeler_pair.items():
        row(k.replace("|", " vs "), f)
    for k, f in team.by_contrast.items():
        row(f"contrast {k}", f)
    for k, f in team.by_flag.items():
        row(k if k == "clean" else f"flag {k}", f)
    cols = (Col("over"), Col("metric"), Col("value"), Col("pairs", justify="right"))
    print_table(console, cols, rows)  # borderless, like the other `stats` tables
    console.print(f"pairs with >= 2 verdicts: {team.overlapped}, of which they disagree on {team.disagreements}")


def votes_cell(verdicts: dict[str, str]) -> str:
    """``DISAGREE alice confirm, bob flip`` (markup, one line: a row of `pairs list`): a pair's verdicts."""
    head = "[bold red]DISAGREE[/]" if len(set(verdicts.values())) > 1 else "[green]agree[/]"
    return head + " " + ", ".join(f"{neutralise(who)} {neutralise(v)}" for who, v in sorted(verdicts.items()))
