"""A parse of hostile text run in a process of its own under a time limit: a pattern that is
linear again shows as a finished call, a return to a backtracking one as a timeout of that
process, never as a hung test run (the project has no pytest-timeout).

The limit is on the call alone: the clock starts once the process has run its ``setup`` (its
imports, its input built), which on a busy machine took 8 s of a 40 s limit (importing a
Textual test module) and is no part of what is measured."""

from __future__ import annotations

import select
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_READY = "bounded-call: set up"
# How long the setup may take before the child is taken for hung: a bound on the test run,
# not the measure (an import on a loaded machine is seconds; a hang is for ever).
SETUP_MAX_S = 600


def finishes_within(seconds: float, code: str, setup: str = "") -> bool:
    """Whether ``code`` ran to its end within ``seconds`` of ``setup``'s end (both Python run
    from the repository's root, in that order, in one fresh process); an exception in either,
    or a setup that never ends, fails the caller's test."""
    child = f"{setup}\nprint({_READY!r}, flush=True)\n{code}"
    with tempfile.TemporaryFile() as err:  # (a pipe could fill and stop the child)
        proc = subprocess.Popen([sys.executable, "-c", child], cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        try:
            # "" at once when the setup raised; nothing until the bound when it hangs
            ready = select.select([proc.stdout], [], [], SETUP_MAX_S)[0] and proc.stdout.readline()
            if ready == _READY + "\n":
                proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
            err.seek(0)
            said = err.read().decode(errors="replace")[-2000:]
    assert ready == _READY + "\n", f"the setup did not end: {said}"
    assert proc.returncode == 0, said
    return True
