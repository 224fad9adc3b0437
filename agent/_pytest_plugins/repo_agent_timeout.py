"""A per-test timeout for sandboxed test runs (pytest-timeout is not a dependency).

Loaded with ``-p repo_agent_timeout`` (its directory on PYTHONPATH); the limit comes from
``REPO_AGENT_TEST_TIMEOUT`` (seconds). Each test's setup and call get a SIGALRM timer
whose handler fails that one test (``pytest.fail`` raises a BaseException, so a bare
``except Exception`` in the code under test cannot swallow it) and the run goes on to
the next test. Code stuck in C that never returns to the interpreter cannot be
interrupted by a signal handler, so faulthandler stands behind it and ends the process
two seconds later; the sandbox's wall-clock timeout stands behind both.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
from collections.abc import Callable, Generator
from types import FrameType
from typing import TextIO

import pytest

try:
    _LIMIT = float(os.environ.get("REPO_AGENT_TEST_TIMEOUT") or 0)
except ValueError:
    _LIMIT = 0.0
_HARD_STOP_AFTER = 2.0
# pytest's capture redirects fd 2 to a temp file while a test runs; keep the real one so
# the hard stop's traceback reaches the run's output. (-p plugins load before capture.)
_REAL_STDERR: TextIO
try:
    _REAL_STDERR = os.fdopen(os.dup(2), "w")
except OSError:
    _REAL_STDERR = sys.stderr


def _timed(phase: str) -> Callable[[pytest.Item], Generator[None, object, object]]:
    @pytest.hookimpl(wrapper=True)
    def hook(item: pytest.Item) -> Generator[None, object, object]:
        if _LIMIT <= 0 or not hasattr(signal, "setitimer"):
            return (yield)

        def on_alarm(signum: int, frame: FrameType | None) -> None:
            # "(per-test timeout)" is agent/scoring.py's PER_TEST_TIMEOUT_MARK (read by agent/slow_machine.py)
            pytest.fail(f"Timeout: test {phase} exceeded {_LIMIT:g}s (per-test timeout)", pytrace=False)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, _LIMIT)
        _REAL_STDERR.flush()
        faulthandler.dump_traceback_later(_LIMIT + _HARD_STOP_AFTER, exit=True, file=_REAL_STDERR)
        try:
            return (yield)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            faulthandler.cancel_dump_traceback_later()
            signal.signal(signal.SIGALRM, previous)

    return hook


pytest_runtest_setup = _timed("setup")
pytest_runtest_call = _timed("call")
