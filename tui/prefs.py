"""What the studio remembers between runs: the diff view, the theme, the last launch.

One small JSON file beside the label store (so each project keeps its own), written
atomically. A missing or unreadable file means defaults; nothing here is ever secret
(the launch form holds no keys: those come from the environment).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

PREFS_FILE = "studio-prefs.json"
DIFF_VIEWS = ("unified", "split", "ab")


def prefs_path(db_path: Path) -> Path:
    return Path(db_path).with_name(PREFS_FILE)


def load_prefs(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_prefs(path: Path, prefs: dict[str, Any]) -> None:
    """Write atomically; a read-only project directory only loses the memory."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".prefs-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(prefs, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass
