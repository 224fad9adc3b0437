"""A parse of hostile text run in a process of its own under a time limit: a pattern that is
linear again shows as a finished call, a return to a backtracking one as a timeout of that
process, never as a hung test run (the project has no pytest-timeout)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def finishes_within(seconds: float, code: str) -> bool:
    """Whether ``code`` (Python run from the repository's root, building its own input) ran
    to its end within ``seconds``; an exception in it fails the caller's test."""
    try:
        cp = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    assert cp.returncode == 0, cp.stderr[-2000:]
    return True
