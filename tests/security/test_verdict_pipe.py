"""Records on the verdict pipe written by code under test (issue 26): a forged ``finish``.

The code under test runs in the process the verdict plugin reports from, so it can find the
pipe (the plugin's module, or any open descriptor) and write records of its own. A forged
``finish`` once chose the run's exit status and ended it early: the host killed the
"lingering" session a second later and took the forged status, so a failing test that the
forger reported as passed, and the tests after it that never ran, made a PASS. The plugin's
own ``finish`` now carries a per-run nonce handed over on a descriptor it closes before any
conftest or test module is imported; any other ``finish`` is tampering."""

from __future__ import annotations

from agent.scoring import run_tests
from agent.suites.loading import load_suite
from agent.workspace import Workspace
from tests.agent.conftest import write_suite

# test_zero passes with the bug, test_small fails, test_last never runs once the forger stops.
SUM_TASK = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "tests/test_calc.py": (
        "from calc import add\n\n\n"
        "def test_zero():\n    assert add(0, 0) == 0\n\n\n"
        "def test_small():\n    assert add(1, 2) == 3\n\n\n"
        "def test_last():\n    assert add(2, 2) == 4\n"
    ),
    "_fix/calc.py": "def add(a, b):\n    return a + b\n",
}

# The first call it would get wrong: report the running test passed, finish the session with
# status 0, and wait to be killed as a lingering process.
FORGED_FINISH = """import json
import os
import sys
import time


def _say(fd, rec):
    os.write(fd, (json.dumps(rec, separators=(",", ":")) + "\\n").encode())


def add(a, b):
    if a or b:
        fd = sys.modules["repo_agent_verdict"]._fd
        nodeid = os.environ["PYTEST_CURRENT_TEST"].split(" ")[0]
        for when in ("call", "teardown"):
            _say(fd, {"k": "report", "id": nodeid, "when": when, "outcome": "passed", "xfail": False})
        _say(fd, {"k": "finish", "exitstatus": 0})
        time.sleep(2)  # past the host's grace for a lingering session (LINGER_S)
    return a - b
"""


def _run(tmp_path, calc: str):
    suite = load_suite(write_suite(tmp_path / "suite", {"t": SUM_TASK}))
    task = suite.task("t")
    with Workspace.create(suite, task, tmp_path / "ws") as ws:
        (ws.path / "calc.py").write_text(calc, encoding="utf-8")
        return run_tests(ws.path, task)


def test_a_forged_finish_neither_ends_the_run_with_a_pass_nor_chooses_its_status(tmp_path):
    result = _run(tmp_path, FORGED_FINISH)
    assert not result.passed, result.summary
    assert any("finish" in t for t in result.tamper), (result.tamper, result.error)


def test_the_plugins_own_finish_still_ends_an_honest_run(tmp_path):
    result = _run(tmp_path, "def add(a, b):\n    return a + b\n")
    assert result.passed and not result.tamper and result.error is None, (result.summary, result.tamper)
    assert result.counts.passed == 3


def test_a_swapped_pipe_is_seen_in_the_records_themselves(tmp_path):
    """Round 6, R6-1: the code under test puts a pipe of its own at the verdict pipe's
    descriptor and forwards the plugin's records, "failed" rewritten to "passed". The records
    are sealed with the run's secret (agent/verdict_seal.py): the parent sees the rewrite in
    what it receives, without the source scan."""
    from tests.security.test_verdict_attacks_round6 import PIPE_SWAP

    result = _run(tmp_path, PIPE_SWAP)
    assert not result.passed, result.summary
    assert any("did not seal" in t for t in result.tamper), (result.tamper, result.error)
