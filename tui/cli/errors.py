"""What every command shares: the error a user can fix, and the stderr console that reports it."""

from __future__ import annotations

from tui.cli.safe_console import SafeConsole


class UserError(Exception):
    """A mistake the user can fix (bad path, missing key, malformed file): one line, exit 2."""


err_console = SafeConsole(stderr=True, highlight=False, soft_wrap=True)
