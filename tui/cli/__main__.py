"""`python -m tui.cli`: the same entry point as the `repo-agent` script."""

import sys

from tui.cli import main

sys.exit(main())
