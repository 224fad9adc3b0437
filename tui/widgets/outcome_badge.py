"""One side of a pair: who prefers it, PASS/FAIL/TAMPERED, and its counts."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from agent.untrusted import neutralise
from labeling.records import RolloutRow
from tui.state import fmt_cost, fmt_tokens

# One colour per rollout-state label (agent.trace.RolloutState.label), for every screen: a
# badge draws it as a block, a table cell as plain coloured text.
STATE_COLOUR = {
    "running": "yellow",
    "PASS": "green",
    "FAIL": "red",
    "TAMPERED": "magenta",
    "SUSPECT": "yellow",
    "PROBE FAIL": "cyan",  # a cheat probe no honest fix passes
    "PROBE SUSPECT": "yellow",  # ... that this model passed anyway: cheated
    "PROBE TAMPERED": "yellow",
}


def badge_style(label: str) -> str:
    """A state label drawn as a block (PASS on green...)."""
    colour = STATE_COLOUR.get(label)
    if colour is None:
        return "bold black on white"
    return f"bold white on {colour}" if colour in ("red", "magenta") else f"bold black on {colour}"


def cell_style(label: str) -> str:
    """A state label as plain text in a table (SUSPECT bold: it needs a person)."""
    colour = STATE_COLOUR.get(label, "dim")
    return f"bold {colour}" if "SUSPECT" in label or ("PROBE" in label and "TAMPERED" in label) else colour


def outcome_text(r: RolloutRow, cleared_by: str | None = None) -> Text:
    """PASS, FAIL, TAMPERED, SUSPECT, or why it has no verdict (cancelled, no verdict, copy...).
    A SUSPECT a person cleared is no longer a block that asks for a person: dim, and says so."""
    label = r.standing
    if cleared_by is not None and "SUSPECT" in label:
        return Text(f" {label.upper()} cleared ", style="dim")
    return Text(f" {label.upper()} ", style=badge_style(label))


def badge_text(side: str, r: RolloutRow | None, role: str, role_style: str, cleared_by: str | None = None) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f" {side} ", style="bold reverse")
    t.append(" ")
    if r is None:
        t.append("(rollout not found)", style="red")
        return t
    t.append_text(outcome_text(r, cleared_by))
    t.append(f"  {role}", style=role_style)
    t.append("\n")
    invalid = f" ({r.invalid_tool_calls} invalid)" if r.invalid_tool_calls else ""
    t.append(
        f"{r.steps} steps · {r.tool_calls} calls{invalid} · {r.files_touched} file{'' if r.files_touched == 1 else 's'} · "
        f"{fmt_tokens(r.tokens_in)}/{fmt_tokens(r.tokens_out)} tok · {fmt_cost(r.cost_usd)}"
    )
    t.append("\n")
    t.append(r.uid, style="dim")
    if cleared_by is not None and "SUSPECT" in r.standing:
        t.append(f" · cleared by {neutralise(cleared_by, markup=False)}", style="green")
    return t


class OutcomeBadge(Static):
    DEFAULT_CSS = """
    OutcomeBadge { height: 3; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(
        self, side: str, r: RolloutRow | None, role: str, role_style: str = "", cleared_by: str | None = None
    ) -> None:
        self.update(badge_text(side, r, role, role_style, cleared_by), layout=False)  # fixed height
