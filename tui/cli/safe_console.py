"""The CLI's consoles: every string they render passes through `agent.untrusted.neutralise`.

Rich turns each string it is given (a printed line, a table cell, a title) into text in
``Console.render_str``; neutralising there (controls only: the markup of our own lines
stays markup) means an escape code from a trace, a file name or a model never reaches the
terminal, even where a call site forgot. Markup in values is escaped at the call sites
(``neutralise(value)``), since only they know which part of a line is a value.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from agent.untrusted import neutralise


class SafeConsole(Console):
    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(neutralise(text, markup=False), **options)
