"""What every source's fixture shares: the task, its patch, file writers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SYSTEM = "You fix bugs in the repository. Use the tools."
GOAL = "calc.add(2, 2) returns 5. Fix it."


def patch(variant: str = "1") -> str:
    return (
        "diff --git a/calc.py b/calc.py\nindex 1111111..2222222 100644\n--- a/calc.py\n+++ b/calc.py\n"
        f"@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a + b + 1\n+    return a + b{'' if variant == '1' else ' + 0'}\n"
    )


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
