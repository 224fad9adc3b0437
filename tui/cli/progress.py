"""The CLI's progress line and its warnings before a long run, one look for every command."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

from agent.untrusted import neutralise


def progress_line(console: Console, command: str, *, elapsed: bool = True) -> Progress:
    """``[command] ━━━━ 3/10 0:00:12 description``, gone when the work is done (transient)."""
    columns: list[ProgressColumn] = [TextColumn(f"\\[{command}]"), BarColumn(), MofNCompleteColumn()]
    if elapsed:
        columns.append(TimeElapsedColumn())
    columns.append(TextColumn("{task.description}"))
    return Progress(*columns, console=console, transient=True)


def warn_if_unsandboxed(console: Console) -> None:
    """Say so before running model-written or mutated code without bubblewrap, or, run by a
    normal user, in sandboxes that all keep the user's own uid (what they then share)."""
    from agent.sandbox import sandbox_sharing_note, sandbox_warning

    if warning := sandbox_warning():
        console.print(f"[yellow]warning:[/] {neutralise(warning)}")
    elif note := sandbox_sharing_note():
        console.print(f"note: {neutralise(note)}")
