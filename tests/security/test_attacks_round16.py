"""Round 16 attacks (sandbox and verdicts): each open one a strict xfail until it is fixed.

Self-contained: each test builds what it needs with the product's own API.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.suites.loading import load_suite
from agent.workspace import Workspace
from labeling.pairs import Candidate, build_pairs
from labeling.patches import patch_digest
from labeling.score import DEFAULT_ORDER

RIGHT_GCD = '''def gcd(a, b):
    """Greatest common divisor of two non-negative integers (Euclid)."""
    while b:
        a, b = b, a % b
    return a
'''
# The same line one level deeper: returns after the first step (gcd(12, 18) == 18), a FAIL.
WRONG_GCD = RIGHT_GCD.replace("    return a\n", "        return a\n")


def _candidate(uid: str, patch: str, passed: bool) -> Candidate:
    return Candidate(
        uid=uid,
        task_id="fix_gcd",
        tests_passed=passed,
        tests_tampered=False,
        steps=3,
        tool_calls=3,
        invalid_tool_calls=0,
        files_touched=1,
        patch_digest=patch_digest(patch),
        patch_files=["gcd.py"],
        patch_lines=2,
    )


@pytest.mark.xfail(
    strict=True,
    reason="open: r16-1 two fixes differing only in Python indentation share a patch digest: their"
    " PASS/FAIL pair is flagged identical_patch (dropped from exports by default) and both flaky",
)
def test_indentation_only_fixes_are_not_one_patch(tmp_path: Path) -> None:
    suite = load_suite("mini-bugs")
    task = suite.task("fix_gcd")
    patches = {}
    for name, text in (("right", RIGHT_GCD), ("wrong", WRONG_GCD)):
        ws = Workspace.create(suite, task, tmp_path / name)
        (ws.path / "gcd.py").write_text(text)
        patches[name] = ws.patch()
    assert patches["right"] != patches["wrong"]
    ns: dict = {}
    exec(WRONG_GCD, ns)  # the wrong one really is wrong
    assert ns["gcd"](12, 18) == 18
    pairs, _ = build_pairs(
        [_candidate("a-right", patches["right"], True), _candidate("b-wrong", patches["wrong"], False)],
        "pass-fail",
        DEFAULT_ORDER,
    )
    assert len(pairs) == 1
    flags = pairs[0]["flags"]
    assert "identical_patch" not in flags and "flaky" not in flags, flags
