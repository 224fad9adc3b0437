"""Round 3 of the sandbox review: attacks by a reviewer who did not build the sandbox.

Each test here is an attack that worked on the code it was found on; it is marked
``xfail(strict=True)`` until the sandbox engineer fixes it (then the marker goes).
Real bwrap, the mini-bugs ``fix_gcd`` task, the real ``final_test_run``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.final_verdict import final_test_run
from agent.suites.loading import load_suite
from agent.suites.models import Suite
from agent.workspace import Workspace
from tests.security.test_sandbox_attacks import _AS_A_USER, user_dir  # noqa: F401 (a fixture)

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gcd_suite() -> Suite:
    return load_suite("mini-bugs")


def _gcd_workspace(suite: Suite, root: Path) -> Workspace:
    return Workspace.create(suite, suite.task("fix_gcd"), root)


def test_hard_links_past_the_host_limit_do_not_make_a_wrong_fix_an_infrastructure_error(gcd_suite, tmp_path):
    """A wrong fix whose module makes 65001 hard links to one file at import: tmpfs takes
    them, the host's ext4 stops at 65000, so the copy-back raises and the final run ends in
    SandboxError (the rollout: not judged, "error") instead of the FAIL it earned."""
    ws = _gcd_workspace(gcd_suite, tmp_path)
    gcd = ws.path / "gcd.py"
    gcd.write_text(
        "import os as _os\n"
        "if not _os.path.isdir('l'):\n"
        "    open('one', 'w').close(); _os.mkdir('l')\n"
        "    for _i in range(65001): _os.link('one', 'l/%d' % _i)\n" + gcd.read_text()
    )
    result, tampered = final_test_run(ws)  # raises SandboxError today
    assert not result.passed and result.error is None


def _nest_at_import(gcd: Path, depth: int = 1200) -> None:
    """gcd.py (left wrong) makes ``depth`` nested directories when the tests import it."""
    gcd.write_text(
        "import os as _os\n"
        "if not _os.path.isdir('n'):\n"
        "    _here = _os.getcwd()\n"
        f"    for _i in range({depth}): _os.mkdir('n'); _os.chdir('n')\n"
        "    _os.chdir(_here)\n" + gcd.read_text()
    )


def test_deep_directories_do_not_make_a_wrong_fix_an_infrastructure_error(gcd_suite, tmp_path):
    """A wrong fix whose module nests 1200 directories (2400 bytes of path, well under
    PATH_MAX): the copy-back's ``os.walk`` (recursive in Python 3.11) raises RecursionError,
    which no ``except OSError`` catches; the final run raises and the rollout ends not
    judged ("error") instead of FAIL."""
    ws = _gcd_workspace(gcd_suite, tmp_path)
    _nest_at_import(ws.path / "gcd.py")
    try:
        result, tampered = final_test_run(ws)  # raised RecursionError
    finally:
        ws.cleanup()  # pytest's own clean-up of old tmp dirs (shutil.rmtree) would recurse
    assert not result.passed and result.error is None
    assert not ws.path.exists()


def test_a_fix_in_a_latin1_source_file_is_recorded_by_content_or_sha256(gcd_suite, tmp_path):
    """Code run by the agent's run_tests rewrites gcd.py with the fix under a latin-1 coding
    cookie and one byte that is not UTF-8: Python runs it, the final run passes, and the
    patch says only "Binary files a/gcd.py and b/gcd.py differ": neither the judged code
    nor its sha256 is in the stored patch (issue 23: recorded by name and sha256)."""
    ws = _gcd_workspace(gcd_suite, tmp_path)
    (ws.path / "conftest.py").write_text(
        "import os\n"
        "p = os.path.join(os.path.dirname(__file__), 'gcd.py')\n"
        "s = open(p, 'rb').read().replace(b'return b', b'return a')\n"
        "open(p, 'wb').write(b'# -*- coding: latin-1 -*-\\n# \\xff\\n' + s)\n"
        "os.unlink(__file__)\n"
    )
    ws.run_tests()
    patch = ws.patch()
    judged = (ws.path / "gcd.py").read_bytes()
    result, tampered = final_test_run(ws)
    assert result.passed and not tampered  # the fix is judged
    assert "return a" in patch or hashlib.sha256(judged).hexdigest() in patch, patch


# Run as nobody: honest rollout B alone, then again while rollout A holds the user's pipe pages.
_USER_PIPES = r"""
import json, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
from agent.sandbox import run_command, sandbox_kind
ws = sys.argv[2]
out = {"kind": sandbox_kind(), "uid": os.getuid()}
out["alone"] = run_command([sys.executable, "b.py"], ws + "/b", timeout_s=30)[1]
box = {}
hog = threading.Thread(target=lambda: box.update(a=run_command([sys.executable, "hog.py"], ws + "/a", timeout_s=30)))
hog.start()
deadline = time.monotonic() + 20
while not os.path.exists(ws + "/a/held") and time.monotonic() < deadline:
    time.sleep(0.01)
out["beside"] = run_command([sys.executable, "b.py"], ws + "/b", timeout_s=30)[1]
open(ws + "/a/stop", "w").close()
hog.join()
out["a"] = box["a"][1]
print("RESULT", json.dumps(out))
"""
# Pipe sizes are accounted per user (pipe-user-pages-soft, 16384 pages), across user
# namespaces; F_SETPIPE_SZ books 256 pages a pipe with no memory behind them until written.
_PIPE_HOG = (
    "import fcntl, os, time\nheld = []\nwhile True:\n    r, w = os.pipe()\n    held.append((r, w))\n"
    "    try:\n        fcntl.fcntl(w, 1031, 1 << 20)\n    except OSError:\n        break\n"
    "held += [os.pipe() for _ in range(40)]\nprint('HELD', len(held), flush=True)\nopen('held', 'w').close()\n"
    "for _ in range(2000):\n    if os.path.exists('stop'):\n        break\n    time.sleep(0.01)\n"
)
# An honest test: a child writes 20 kB to a pipe and the parent waits before reading (fine
# with the usual 64 kB pipe; a deadlock with 8 kB).
_HONEST_PIPE_USER = (
    "import subprocess, sys\n"
    "p = subprocess.Popen([sys.executable, '-c', 'print(\"x\" * 20000)'], stdout=subprocess.PIPE)\n"
    "try:\n    p.wait(timeout=3)\n    print('B-OK', len(p.stdout.read()))\n"
    "except subprocess.TimeoutExpired:\n    p.kill()\n    print('B-DEADLOCK')\n"
)


@pytest.mark.xfail(strict=True, reason="open: pipe buffer pages are counted per user, across user namespaces")
def test_a_normal_users_rollout_cannot_shrink_a_neighbours_pipes(user_dir):
    """Run by a normal user, every sandbox is that user, and the kernel books pipe buffers
    per user across user namespaces: one rollout past pipe-user-pages-soft (no memory
    needed: F_SETPIPE_SZ only books pages) leaves every new pipe of a concurrent rollout
    8 kB instead of 64 kB, and an honest test that passes alone deadlocks beside it."""
    (user_dir / "runner.py").write_text(_USER_PIPES)
    for d in ("a", "b"):
        (user_dir / d).mkdir()
    (user_dir / "a/hog.py").write_text(_PIPE_HOG)
    (user_dir / "b/b.py").write_text(_HONEST_PIPE_USER)
    for p in [user_dir, *user_dir.rglob("*")]:
        os.chown(p, 65534, 65534)
    cp = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _AS_A_USER, "sh"]
        + [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(cp.stdout.split("RESULT", 1)[1]) if "RESULT" in cp.stdout else {}
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout + cp.stderr
    assert "B-OK 20001" in result["alone"] and "HELD" in result["a"], result
    assert "B-OK 20001" in result["beside"], result
