"""A suite named on the command line (a path, a suite.json or a built-in name), loaded or one UserError."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tui.cli.errors import UserError

if TYPE_CHECKING:  # the suite code loads only when a command runs, not to build the parser
    from agent.suites.models import Suite


def load_suite_arg(spec: str) -> Suite:
    from agent.suites.loading import SuiteError, load_suite

    try:
        return load_suite(os.path.expanduser(spec))
    except SuiteError as exc:
        raise UserError(str(exc)) from None
