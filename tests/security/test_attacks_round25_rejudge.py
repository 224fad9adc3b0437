"""Round 25 findings on rejudge and the patch (open until fixed): each test fails today and is marked strict xfail."""

from __future__ import annotations

import os
from pathlib import Path

# A wrong gcd the tests never reach: gcd.py imports a wrong gcd_fast first and falls back to a
# right gcd_right. The rollout's run left gcd_fast.py mode 0000 (code it ran can chmod the
# files it wrote); the sandbox's uid cannot read it, the import fails, and the right one is
# judged. The patch records contents only (git keeps no mode but the executable bit), so the
# tree it records, rebuilt by `repo-agent rejudge` or by anyone who applies it, FAILs.
_FIRST_THE_FAST_ONE = """try:
    from gcd_fast import gcd
except Exception:
    from gcd_right import gcd
"""
_WRONG = "def gcd(a, b):\n    return 1\n"
_RIGHT = "import math\n\n\ndef gcd(a, b):\n    return math.gcd(a, b)\n"


def test_r25r_1_a_file_made_unreadable_is_judged_outside_the_patch(tmp_path):
    """The control: the same files readable FAIL the final run, and `rejudge` of the rollout's
    patch FAILs. The attack: with gcd_fast.py left mode 0000 the live final run PASSes (no
    SUSPECT hit), a verdict on a tree its patch does not record. As root (as CI runs): the
    sandbox's uid owns the handed-over file and its mode stays; a normal user's run gives
    every file back its owner's read and write after each run (agent/sandbox.py ``_reclaim``)."""
    from agent.final_verdict import final_test_run
    from agent.rejudge import rejudge_batch
    from agent.suites.loading import load_suite
    from agent.suspect import scan_patch, source_reader, workspace_reader
    from agent.workspace import Workspace
    from tests.security.conftest import passed_batch, write_into

    suite = load_suite("mini-bugs")
    task = suite.task("fix_gcd")
    files = {"gcd.py": _FIRST_THE_FAST_ONE, "gcd_fast.py": _WRONG, "gcd_right.py": _RIGHT}
    verdicts, patches = {}, {}
    for mode in (0o644, 0o000):
        where = tmp_path / f"mode{mode:o}"
        with Workspace.create(suite, task, where) as ws:
            write_into(ws, files)
            os.chmod(ws.path / "gcd_fast.py", mode)
            patches[mode] = ws.patch()
            hits = scan_patch(patches[mode], task.protected, source_reader(ws.source), workspace_reader(ws.path))
            result, tampered = final_test_run(ws)
        verdicts[mode] = (bool(result.passed and not tampered and not result.tamper), bool(hits))
    assert patches[0o644] == patches[0o000]  # the patch is the same tree
    assert verdicts[0o644][0] is False  # (SUSPECT too since round 31: its caught import of gcd_fast, r31v-17/18)
    batch = passed_batch(Path(tmp_path / "b"), "mini-bugs", "fix_gcd", {"r": patches[0o000]})
    [item] = rejudge_batch(batch, suite)
    assert item.after is not None and item.after.label == "FAIL"
    passed, suspect = verdicts[0o000]
    assert not passed or suspect
