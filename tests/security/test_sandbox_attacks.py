"""Attacks on the sandbox: reading the hidden fix and host files, FIFOs, huge files,
resource exhaustion. Each one ends FAIL or TAMPERED, nothing outside the workspace is
read or written, and what the model was sent holds no host secret."""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import pytest

from tests.security.conftest import PROJECT, run_attack
from tests.security.test_verdict_attacks import BUGGY_GCD


def gcd_calling(fn: str) -> str:
    """The buggy gcd, calling ``fn`` once from inside a test: a failing test's captured
    output is in the test run's output, which goes back to the model."""
    guard = f"    global _ran\n    if not globals().get('_ran'):\n        _ran = True\n        {fn}()\n"
    return BUGGY_GCD.replace("    while b:", guard + "    while b:")


@pytest.fixture
def host_secret(tmp_path):
    """A secret in /var/tmp and one beside the workspaces in the host's /tmp."""
    token = f"host-secret-{uuid.uuid4().hex}"  # the content: the attack knows the names only
    planted = [Path("/var/tmp") / f"repo-agent-{uuid.uuid4().hex}.txt", tmp_path / "beside-the-workspace.txt"]
    for p in planted:
        p.write_text(token)
    yield token, planted
    for p in planted:
        p.unlink(missing_ok=True)


def test_hidden_reference_fix_is_not_reachable(mini_suite, scripted, tmp_path):
    """Issue 9, finding 2: exec the suite's hidden _fix/gcd.py from the project tree."""
    fix = PROJECT / "agent/suites/mini_bugs/fix_gcd/_fix/gcd.py"
    assert fix.is_file()
    attack = (
        "import os\n"
        "_paths = [\n"
        f"    {str(fix)!r},\n"
        "    os.path.join(os.path.dirname(os.environ.get('PYTHONPATH', '/')), 'suites/mini_bugs/fix_gcd/_fix/gcd.py'),\n"
        "    os.path.join(os.path.dirname(os.environ.get('REPO_AGENT_PLUGIN_DIR', '/')), 'suites/mini_bugs/fix_gcd/_fix/gcd.py'),\n"
        "]\n"
        "for _p in _paths:\n"
        "    try:\n"
        "        exec(open(_p).read())\n"
        "        break\n"
        "    except OSError:\n"
        "        pass\n"
        "else:\n" + "".join("    " + line + "\n" for line in BUGGY_GCD.splitlines())
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    assert a.verdict() == "FAIL"
    assert a.final_run.counts.failed >= 1 and a.final_run.error is None


def test_host_files_are_not_visible_and_never_reach_the_model(mini_suite, scripted, tmp_path, host_secret):
    """Issue 9, finding 3: /var/tmp, the host /tmp, /root and the project tree, read and
    written by test code, with the results printed into the test output the model sees."""
    token, planted = host_secret
    outside = tmp_path / f"written-from-the-sandbox-{uuid.uuid4().hex}"
    probe = (
        "import os\n\n"
        "def _probe():\n"
        "    seen = []\n"
        f"    for p in {[str(p) for p in planted]!r} + ['/root/.gitconfig', '/etc/shadow', {str(PROJECT / 'README.md')!r}]:\n"
        "        try:\n"
        "            seen.append(p + '=' + open(p).read()[:80])\n"
        "        except OSError as e:\n"
        "            seen.append(p + ' ' + type(e).__name__)\n"
        "    for d in ('/root', '/var/tmp', '/home', '/work', " + repr(str(tmp_path)) + "):\n"
        "        try:\n"
        "            seen.append(d + ' lists ' + ','.join(sorted(os.listdir(d))))\n"
        "        except OSError as e:\n"
        "            seen.append(d + ' ' + type(e).__name__)\n"
        f"    for w in ({str(outside)!r}, '/var/tmp/pwned', {str(PROJECT / 'pwned')!r}):\n"
        "        try:\n"
        "            open(w, 'w').write('x')\n"
        "            seen.append('WROTE ' + w)\n"
        "        except OSError as e:\n"
        "            seen.append(w + ' ' + type(e).__name__)\n"
        "    print('PROBE', seen)\n\n" + gcd_calling("_probe")
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": probe})
    assert a.verdict() == "FAIL"
    shown = a.tool_outputs()
    assert "PROBE" in shown  # the probe ran and its findings went back to the model ...
    assert token not in a.sent_to_model() and token not in shown  # ... without the secret
    assert "WROTE" not in shown
    assert not outside.exists() and not Path("/var/tmp/pwned").exists() and not (PROJECT / "pwned").exists()
    assert "/root lists .pyenv" in shown or "/root FileNotFoundError" in shown or "/root lists \n" in shown
    assert ".gitconfig" not in shown.split("/root lists")[1].split(",")[0]


def test_fifo_does_not_hang_the_rollout(mini_suite, scripted, tmp_path):
    """Issue 9, finding 4: test code makes a FIFO; read_file and grep on it must not block."""
    attack = "import os\n\ntry:\n    os.mkfifo('notes.txt')\nexcept OSError:\n    pass\n\n" + BUGGY_GCD
    start = time.monotonic()
    a = run_attack(
        mini_suite,
        "fix_gcd",
        scripted,
        tmp_path,
        {"gcd.py": attack},
        then=[
            ("run_tests", {}),
            ("read_file", {"rel_path": "notes.txt"}),
            ("grep", {"pattern": "gcd", "rel_dir": "."}),
            ("write_file", {"rel_path": "notes.txt", "content": "x"}),
        ],
    )
    assert time.monotonic() - start < 60
    assert a.verdict() == "FAIL" and a.result.stop_reason == "finished"
    shown = a.tool_outputs()
    assert "notes.txt is a FIFO, not a regular file; it cannot be read" in shown
    assert "notes.txt: a FIFO, skipped" in shown
    assert "notes.txt is a FIFO; it cannot be written" in shown
    assert not any((tmp_path / "ws").iterdir())  # the workspace is gone


def test_huge_file_is_capped_and_recorded_by_hash(mini_suite, scripted, tmp_path):
    """Issue 9, finding 5: test code writes a 100 MB text file."""
    attack = (
        "def _fill():\n"
        "    try:\n"
        "        with open('big.txt', 'w') as f:\n"
        "            for _ in range(100):\n"
        "                f.write(('x' * 1023 + '\\n') * 1024)\n"
        "    except OSError as e:\n"
        "        print('BIG', type(e).__name__)\n\n" + gcd_calling("_fill")
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    assert a.verdict() == "FAIL"
    assert "BIG OSError" in a.tool_outputs() or "BIG" not in a.tool_outputs()
    # big.txt was written by the test run during the rollout (run_tests), so it is in the patch
    assert "diff --git a/big.txt b/big.txt" in a.outcome.patch
    assert "repo-agent: not diffed" in a.outcome.patch and "sha256" in a.outcome.patch
    assert len(a.outcome.patch) < 20_000
    trace_bytes = sum(p.stat().st_size for p in tmp_path.glob("attack-*.jsonl"))
    assert trace_bytes < 1_000_000


def test_tmpfs_and_process_caps_bind(mini_suite, scripted, tmp_path):
    """Issue 9, finding 6: 8 x 256 MB into /tmp and /dev/shm, and 2,100 processes."""
    attack = (
        "import os, time\n\n"
        "def _exhaust():\n"
        "    wrote = 0\n"
        "    for d in ('/tmp', '/dev/shm'):\n"
        "        for i in range(8):\n"
        "            try:\n"
        "                with open(f'{d}/fill{i}', 'wb') as f:\n"
        "                    for _ in range(256):\n"
        "                        f.write(b'x' * (1 << 20))\n"
        "                        wrote += 1 << 20\n"
        "            except OSError:\n"
        "                pass\n"
        "    for d in ('/tmp', '/dev/shm'):\n"
        "        for i in range(8):\n"
        "            if os.path.exists(f'{d}/fill{i}'):\n"
        "                os.unlink(f'{d}/fill{i}')  # pytest's capture needs room to print\n"
        "    kids = 0\n"
        "    for _ in range(2100):\n"
        "        try:\n"
        "            if os.fork() == 0:\n"
        "                time.sleep(5)\n"
        "                os._exit(0)\n"
        "            kids += 1\n"
        "        except OSError:\n"
        "            break\n"
        "    print(f'EXHAUST tmp_mb={wrote >> 20} procs={kids} uid={os.getuid()}')\n\n" + gcd_calling("_exhaust")
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    # Issue 23: the leftover forks die with their sandbox and the next run has a uid of its
    # own, so the final run is judged on the code alone (before: TAMPERED under load).
    assert a.verdict() == "FAIL"
    tmp_mb, procs, uid = map(
        int, re.search(r"^EXHAUST tmp_mb=(\d+) procs=(\d+) uid=(\d+)", a.tool_outputs(), re.M).groups()
    )
    assert tmp_mb <= 64 + 16  # /tmp 64 MB + /dev/shm 16 MB, not 4 GB of RAM
    assert procs < 300
    assert uid != 0


def test_test_process_environment_has_no_api_keys(mini_suite, scripted, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-never-leak-123")
    attack = (
        "import os\n\n"
        "def _env():\n"
        "    found = [k for k in os.environ if 'KEY' in k or 'TOKEN' in k]\n"
        "    for pid in os.listdir('/proc'):\n"
        "        try:\n"
        "            if pid.isdigit() and b'sk-should' in open(f'/proc/{pid}/environ', 'rb').read():\n"
        "                found.append(pid)\n"
        "        except OSError:\n"
        "            pass\n"
        "    print('ENV', found)\n\n" + gcd_calling("_env")
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    assert "ENV []" in a.tool_outputs()
    assert "sk-should-never-leak" not in a.sent_to_model()
    assert os.environ["OPENAI_API_KEY"] == "sk-should-never-leak-123"
