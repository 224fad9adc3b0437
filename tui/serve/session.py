"""One browser session's studio: the child process the server starts for each WebSocket.

textual-serve starts it through a shell, so the command line is fixed (this module, nothing
from the URL); what differs per session (the labeler) arrives validated, as JSON in the
environment variable ``REPO_AGENT_SESSION``, and is validated again here at the edge.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tui.serve.access import NAME_RE

SESSION_ENV = "REPO_AGENT_SESSION"


class SessionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    traces_dir: Path
    db: str  # a SQLite file or a postgresql:// URL
    labeler: str = Field(pattern=NAME_RE.pattern)
    allow_launch: bool = False
    screen: str = "pairs"
    overlap: int | None = Field(default=None, ge=1, le=50)


def main() -> int:
    from labeling.store_url import is_db_url
    from tui.app import Opening, StudioApp
    from tui.serve.limits import ServedLimits

    try:
        cfg = SessionConfig.model_validate_json(os.environ.get(SESSION_ENV, ""))
    except ValidationError as exc:
        print(f"repo-agent serve session: bad {SESSION_ENV}: {exc}", file=sys.stderr)
        return 2
    StudioApp(
        cfg.traces_dir,
        db_path=cfg.db if is_db_url(cfg.db) else Path(cfg.db),
        labeler=cfg.labeler,
        opening=Opening(screen=cfg.screen),
        bell=False,
        overlap=cfg.overlap,
        served=ServedLimits(cfg.traces_dir.resolve(), allow_launch=cfg.allow_launch),
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
