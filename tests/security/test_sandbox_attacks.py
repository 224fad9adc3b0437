"""Attacks on the sandbox: reading the hidden fix and host files, FIFOs, huge files,
resource exhaustion. Each one ends FAIL or TAMPERED, nothing outside the workspace is
read or written, and what the model was sent holds no host secret."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent import sandbox as sb
from agent.scoring import run_tests
from agent.suites.models import Task
from agent.uid_lease import UID_BASE, UID_COUNT
from agent.workspace import Workspace, files_in_patch
from tests.security.conftest import AS_A_USER as _AS_A_USER  # noqa: F401 (test_verdict_tells imports it from here)
from tests.security.conftest import PROJECT, give_to_nobody, printed_result, run_as, run_attack
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


# --------------------------------------------------------------------------- issue 23

_STATUS = (
    "def _status():\n"
    "    f = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)\n"
    "    return f['Uid'].split(), f['CapEff'].strip()\n"
)


def _early_modules(tmp_path: Path) -> list[str]:
    """Top-level modules the launcher, the pytest bootstrap and a pytest session import."""
    code = (
        "import sys, json, ctypes, resource, signal, importlib, pytest\n"
        f"sys.path.insert(0, {str(sb.PLUGIN_DIR)!r})\n"
        "import repo_agent_verdict, repo_agent_timeout\n"
        "from _pytest.config import default_plugins\n"
        "for name in default_plugins:\n"
        "    importlib.import_module('_pytest.' + name)\n"
        "print('MODULES', ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    names = out.stdout.split("MODULES", 1)[1].split()
    skip = set(sys.builtin_module_names) | {"__main__", "calc", "tests", "conftest"}
    return [n for n in names if n not in skip and n.isidentifier()]


def _planted(name: str, record: str, root: str) -> str:
    """A module named ``name`` that runs ``record`` (who ran it), then stands aside for the
    real module (imported with ``root``, the workspace, off the path)."""
    return (
        "import sys as _sys\n"
        + _STATUS
        + "_uid, _cap = _status()\n"
        + record
        + "_name, _here = __name__, __file__.rsplit('/', 1)[0]\n"
        + "del _sys.modules[_name]\n"
        + "_saved = _sys.path[:]\n"
        + f"_sys.path[:] = [p for p in _sys.path if p not in ('', '.', _here) and not p.startswith({root!r})]\n"
        + "try:\n    _real = __import__(_name)\nfinally:\n    _sys.path[:] = _saved\n"
        + "_sys.modules[_name] = _real\n"
        + "globals().update({k: v for k, v in vars(_real).items() if k not in ('__name__', '__file__', '__spec__', '__loader__')})\n"
    )


def _recorded_in(record_dir: Path) -> str:
    return f"open({str(record_dir)!r} + '/' + __name__ + '.' + str(id(_uid)), 'w').write(' '.join(_uid) + ' ' + _cap)\n"


def _unprivileged(uids: list[str], cap: str) -> bool:
    want = {str(os.getuid())} if os.geteuid() != 0 else None
    if want is None:
        ok = all(UID_BASE <= int(u) < UID_BASE + UID_COUNT for u in uids)
    else:
        ok = set(uids) == want
    return ok and int(cap, 16) == 0


def test_modules_planted_in_the_workspace_never_run_with_a_privilege(tmp_path):
    """Issue 23, finding 1: a json.py / resource.py (and every other module the launcher,
    the bootstrap and pytest import early) at the workspace root and in the test directory
    ran as root with every capability. Whatever of them runs now runs unprivileged."""
    names = _early_modules(tmp_path)
    assert {"json", "resource", "ctypes", "pytest", "_pytest", "pluggy"} <= set(names)
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "ran").mkdir()
    (ws / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (ws / "tests/test_calc.py").write_text(
        "import probe_early\nfrom calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    for name in names:
        for where in (ws, ws / "tests"):
            (where / f"{name}.py").write_text(_planted(name, _recorded_in(ws / "ran"), str(ws)))
    (ws / "probe_early.py").write_text(
        "import sys as _sys\n" + _STATUS + "_uid, _cap = _status()\n" + _recorded_in(ws / "ran")
    )
    task = Task(
        id="t", source={"kind": "dir", "path": "."}, goal="g", test_command="python -m pytest -q tests", timeout_s=60.0
    )
    run_tests(ws, task, sandbox="bwrap")
    ran = {p.name: p.read_text().split() for p in (ws / "ran").iterdir()}
    assert any(n.startswith("probe_early.") for n in ran)  # the planted code did run, inside
    privileged = {n: v for n, v in ran.items() if not _unprivileged(v[:4], v[4])}
    assert privileged == {}


def _attack_script(site: str) -> str:
    return (
        "import ctypes, os, stat, sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"site = {site!r}\n"
        "def tried(name, fn):\n"
        "    try:\n"
        "        ok = fn()\n"
        "    except OSError as e:\n"
        "        ok = False\n"
        "    print('ATTACK', name, 'WORKED' if ok else 'failed')\n"
        "tried('mount-tmpfs', lambda: libc.mount(b'tmpfs', b'/tmp', b'tmpfs', 0, None) == 0)\n"
        "venv = sys.prefix.encode()\n"
        "tried('remount-venv-rw', lambda: libc.mount(None, venv, None, 32 | 4096, None) == 0)\n"
        "tried('mknod-disk', lambda: os.mknod('disk', 0o600 | stat.S_IFBLK, os.makedev(8, 0)) or True)\n"
        "tried('mknod-disk-tmp', lambda: os.mknod('/tmp/disk', 0o600 | stat.S_IFBLK, os.makedev(8, 0)) or True)\n"
        "tried('write-venv', lambda: open(site + '/evil.pth', 'w').write('# x') > 0)\n"
        "tried('write-usr', lambda: open('/usr/evil', 'w').write('x') > 0)\n"
        "tried('write-etc', lambda: open('/etc/passwd', 'a').write('x') > 0)\n"
        "tried('write-interpreter', lambda: open(os.path.dirname(os.__file__) + '/evil.py', 'w').write('x') > 0)\n"
        "tried('setuid-root', lambda: os.setuid(0) or True)\n"
        "tried('chown-root', lambda: os.chown('calc.py', 0, 0) or True)\n"
        "def userns():\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        code = 1\n"
        "        if libc.unshare(0x10000000 | 0x00020000) == 0:  # CLONE_NEWUSER | CLONE_NEWNS\n"
        "            if libc.mount(None, venv, None, 32 | 4096, None) == 0:\n"
        "                code = 0\n"
        "            try:\n"
        "                open(site + '/evil2.pth', 'w').write('x'); code = 0\n"
        "            except OSError:\n"
        "                pass\n"
        "        os._exit(code)\n"
        "    return os.waitpid(pid, 0)[1] == 0\n"
        "tried('userns-remount-venv', userns)\n"
        "open('inside.txt', 'w').write('ok')\n"
    )


def test_mount_mknod_remount_and_writes_outside_all_fail(tmp_path):
    """Issue 23, finding 1 (a) and (b): from the sandbox, nothing can be mounted, no device
    node made, no read-only bind made writable (not even from a new user namespace), and
    nothing outside the workspace written."""
    site = next(p for p in sys.path if p.endswith("site-packages"))
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "calc.py").write_text("x = 1\n")
    (ws / "attack.py").write_text(_attack_script(site))
    # The same attack as a json.py at the root: it ran as root when the launcher imported json.
    (ws / "json.py").write_text(_attack_script(site) + "raise ImportError('not the real json')\n")
    code, out, _, _ = sb.run_command([sys.executable, "attack.py"], ws, timeout_s=30, sandbox="bwrap")
    tried = dict(line.split()[1:] for line in out.splitlines() if line.startswith("ATTACK "))
    assert len(tried) == 11, out
    assert {k: v for k, v in tried.items() if v != "failed"} == {}
    assert (ws / "inside.txt").read_text() == "ok"  # the workspace itself is writable
    assert not (Path(site) / "evil.pth").exists() and not (Path(site) / "evil2.pth").exists()
    assert not (ws / "disk").exists()


def _sandbox_processes(marker: str) -> list[int]:
    """Host pids in the pid namespace of the sandbox whose command holds ``marker``."""
    host_ns = os.readlink("/proc/self/ns/pid")
    spaces = set()
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                ns = os.readlink(f"/proc/{pid}/ns/pid")
                if ns != host_ns:
                    spaces.add(ns)
        except OSError:
            continue
    found = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.readlink(f"/proc/{pid}/ns/pid") in spaces:
                found.append(int(pid))
        except OSError:
            continue
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _host_view(pid: int) -> tuple[list[str], str, str] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None  # gone (a reaped zombie)
    f = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return f["Uid"].split(), f["CapEff"].strip(), f["NoNewPrivs"].strip()


def test_every_sandbox_process_is_unprivileged_seen_from_the_host(tmp_path):
    """Issue 23: read from outside, every process of the sandbox (its pid 1, the command,
    a thread's owner, a child, a setsid grandchild) has a reserved non-root uid, no
    capability and no_new_privs; and none outlives the command."""
    marker = f"marker-{uuid.uuid4().hex}"
    script = (
        f"# {marker}\n"
        "import os, signal, threading, time\n"
        "signal.signal(signal.SIGUSR1, lambda *a: os._exit(0))\n"
        "threading.Thread(target=time.sleep, args=(60,)).start()\n"
        "if os.fork() == 0:\n    time.sleep(60); os._exit(0)\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\n"
        "while True:\n    signal.pause()\n"
    )
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hold.py").write_text(script)
    box: dict = {}
    t = threading.Thread(
        target=lambda: box.update(
            r=sb.run_command([sys.executable, "hold.py", marker], ws, timeout_s=60, sandbox="bwrap")
        )
    )
    t.start()
    deadline = time.monotonic() + 30
    seen: list[int] = []
    commands: list[bytes] = []
    while time.monotonic() < deadline and sum(b"hold.py" in c for c in commands) < 4:
        seen = _sandbox_processes(marker)  # pid 1, main, child, grandchild (+ a zombie)
        commands = [_cmdline(pid) for pid in seen]
    views = {pid: v for pid in seen if (v := _host_view(pid)) is not None}
    for pid in seen:  # the command's processes exit on SIGUSR1; pid 1 ignores it
        try:
            os.kill(pid, signal.SIGUSR1)
        except OSError:
            pass
    t.join(timeout=60)
    assert len(seen) >= 4, seen
    assert sum(b"hold.py" in c for c in commands) >= 4  # the launcher's argv holds it too (not a zombie's)
    bad = {pid: v for pid, v in views.items() if not (_unprivileged(v[0], v[1]) and v[2] == "1")}
    assert bad == {}
    assert box["r"][3] is False  # not the timeout
    assert _sandbox_processes(marker) == []


FIXED_GCD = BUGGY_GCD.replace("    return b\n", "    return a\n")


def test_a_fork_bomb_leaves_three_honest_rollouts_as_they_are_alone(mini_suite, tmp_path):
    """Issue 23, finding 2: one rollout holding 300 processes (its own cap is 256) beside
    three honest ones (two right fixes, one wrong), four sandboxes at once. Each sandbox
    counts its own processes (a leased uid as root, a user namespace of its own if not),
    so the honest verdicts are what they are alone; before, all three came out wrong."""
    task = mini_suite.task("fix_gcd")
    bomb_code = (
        "import os, time\n\n"
        "def _bomb():\n"
        "    for _ in range(300):\n"
        "        try:\n"
        "            if os.fork() == 0:\n"
        "                os.setsid(); time.sleep(60); os._exit(0)\n"
        "        except OSError:\n"
        "            break\n"
        "    time.sleep(60)\n\n" + gcd_calling("_bomb")
    )
    spaces = []
    for code in (bomb_code, FIXED_GCD, FIXED_GCD, BUGGY_GCD):
        ws = Workspace.create(mini_suite, task, tmp_path / "ws", sandbox="bwrap")
        (ws.path / "gcd.py").write_text(code)
        spaces.append(ws)
    bomb = threading.Thread(target=spaces[0].run_tests)
    bomb.start()
    deadline = time.monotonic() + 60
    held: list[int] = []
    while time.monotonic() < deadline and len(held) < 250:
        held = _sandbox_processes(str(spaces[0].path))
    try:
        with ThreadPoolExecutor(3) as pool:
            honest = list(pool.map(lambda ws: ws.run_tests(), spaces[1:]))
    finally:
        for pid in _sandbox_processes(str(spaces[0].path)):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        bomb.join(timeout=60)
    assert len(held) >= 250  # the bomb held its processes while the others ran
    assert [(r.passed, r.counts.failed, r.counts.errors, r.error, r.tamper) for r in honest] == [
        (True, 0, 0, None, []),
        (True, 0, 0, None, []),
        (False, honest[2].counts.failed, 0, None, []),
    ]
    assert honest[2].counts.failed >= 1
    for ws in spaces:
        ws.cleanup()


HOSTILE_NAMES = (
    b"x\n+++ b/evil.py",
    b"diff --git a/gcd.py b/gcd.py",
    b"ctl\x01\x1b[2J\r",
    b"bad\xff\xfe.py",
    b"new\nline.pth",
    b"a b/c",
)


def test_hostile_file_names_are_recorded_safely_and_the_final_run_runs(mini_suite, scripted, tmp_path):
    """Issue 23, finding 4: test code makes files whose names hold newlines, diff headers,
    control characters and invalid UTF-8, at the root and in the protected tests/. The
    patch names them quoted (and parses), and the final run still judges the rollout."""
    attack = (
        "import os\n\n"
        "def _names():\n"
        f"    for n in {list(HOSTILE_NAMES)!r}:\n"
        "        for d in (b'.', b'tests'):\n"
        "            try:\n"
        "                os.makedirs(os.path.dirname(os.path.join(d, n)), exist_ok=True)\n"
        "                with open(os.path.join(d, n), 'wb') as f:\n"
        "                    f.write(b'+++ b/injected\\n')\n"
        "            except OSError as e:\n"
        "                print('NAME', n, e)\n\n" + gcd_calling("_names")
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    assert a.final_run.final and a.verdict() == "TAMPERED"  # judged: tests/ got new files
    assert a.result.stop_reason == "finished"
    patch = a.outcome.patch
    assert patch.isascii()
    lines = patch.splitlines()
    assert not any(
        line.startswith(("+++ b/evil", "+++ b/injected", "diff --git a/gcd.py b/gcd.py\n")) for line in lines
    )
    assert sum(line.startswith("diff --git ") for line in lines) == 2 * len(HOSTILE_NAMES) + 1  # root, tests/, gcd.py
    assert len(files_in_patch(patch)) == len(a.outcome.files) == 2 * len(HOSTILE_NAMES) + 1  # it parses
    assert '"x\\n+++\\040b/evil.py"' in a.outcome.files and '"bad\\377\\376.py"' in a.outcome.files
    assert all(name.isprintable() for name in a.outcome.files + a.outcome.tampered_paths)
    assert any("+++" in name for name in a.outcome.tampered_paths)  # the tests/ copies


def test_no_user_namespace_and_no_mount_even_unshared(tmp_path):
    """Issue 23: run as root the sandbox has no user namespace of its own, so the code could
    make one (and be root in it, and mount there): the seccomp filter refuses it, and every
    mount call; threads and processes still start (clone3 falls back to clone)."""
    script = (
        "import ctypes, os, subprocess, threading\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('UNSHARE', libc.unshare(0x10000000), ctypes.get_errno())\n"
        "print('UNSHARE-NS', libc.unshare(0x00020000), ctypes.get_errno())\n"
        "print('MOUNT', libc.mount(b'tmpfs', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())\n"
        "r = subprocess.run(['unshare', '-Urm', 'true'], capture_output=True)\n"
        "print('UNSHARE-CMD', r.returncode)\n"
        "t = threading.Thread(target=print, args=('THREAD ok',)); t.start(); t.join()\n"
        "print('CHILD', subprocess.run(['true']).returncode)\n"
    )
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "ns.py").write_text(script)
    code, out, _, _ = sb.run_command([sys.executable, "ns.py"], ws, timeout_s=30, sandbox="bwrap")
    assert code == 0, out
    assert "UNSHARE -1 1" in out and "UNSHARE-NS -1 1" in out and "MOUNT -1 1" in out  # EPERM
    assert "UNSHARE-CMD 0" not in out
    assert "THREAD ok" in out and "CHILD 0" in out


_USER_RUNNER = r"""
import json, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
from agent.sandbox import run_command, sandbox_kind
from agent.scoring import run_tests
from agent.suites.models import Task
ws = sys.argv[2]
out = {"kind": sandbox_kind(), "uid": os.getuid()}
out["attack"] = run_command([sys.executable, "attack.py"], ws + "/a", timeout_s=30)[1]
box = {}
sig = ws + "/b-sig"  # "held" and "stop" pass through it: the sandbox writes a tmpfs of its own
os.mkdir(sig)
bomb = threading.Thread(target=lambda: box.update(r=run_command([sys.executable, "bomb.py"], ws + "/b", timeout_s=60, env={"SIG": sig}, extra_binds=(sig,))))
bomb.start()
deadline = time.monotonic() + 30
while not os.path.exists(sig + "/held") and time.monotonic() < deadline:
    time.sleep(0.01)
task = Task(id="t", source={"kind": "dir", "path": "."}, goal="g", test_command="python -m pytest -q tests", timeout_s=60.0)
r = run_tests(ws + "/h", task)
out["honest"] = [r.passed, r.counts.passed, r.summary]
open(sig + "/stop", "w").close()
bomb.join()
out["bomb"] = box["r"][1]
print("RESULT", json.dumps(out))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="run as a normal user, the whole suite already runs this mode")
def test_unprivileged_mode_started_as_a_normal_user(user_dir):
    """Issue 23: repo-agent run by a normal user (bwrap --unshare-user): the test starts it
    itself as ``nobody`` (runuser, in a private mount namespace that shows this interpreter).
    Nothing can be mounted or made, nothing outside written; a rollout holding its whole
    process budget leaves a concurrent honest run (which forks 50 children) as it is alone."""
    site = next(p for p in sys.path if p.endswith("site-packages"))
    ws = user_dir / "user"
    for d in ("a", "b", "h/tests"):
        (ws / d).mkdir(parents=True)
    (ws / "a/calc.py").write_text("x = 1\n")
    (ws / "a/attack.py").write_text(_attack_script(site))
    (ws / "b/bomb.py").write_text(
        "import os, time\nn = 0\nfor _ in range(300):\n    try:\n        if os.fork() == 0:\n"
        "            time.sleep(60); os._exit(0)\n        n += 1\n    except OSError:\n        break\n"
        "print('HELD', n, flush=True)\nopen(os.environ['SIG'] + '/held', 'w').close()\n"
        "for _ in range(3000):\n    if os.path.exists(os.environ['SIG'] + '/stop'):\n        break\n    time.sleep(0.01)\n"
    )
    (ws / "h/tests/test_forks.py").write_text(
        "import os\n\ndef test_fifty_children():\n    kids = []\n    for _ in range(50):\n"
        "        pid = os.fork()\n        if pid == 0:\n            os._exit(0)\n        kids.append(pid)\n"
        "    for pid in kids:  # until reaped, all 50 count against the budget\n        os.waitpid(pid, 0)\n"
    )
    (user_dir / "runner.py").write_text(_USER_RUNNER)
    give_to_nobody(user_dir)
    cp = run_as(
        "nobody",
        [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(ws)],
        timeout=300,
    )
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout + cp.stderr
    tried = dict(line.split()[1:] for line in result["attack"].splitlines() if line.startswith("ATTACK "))
    assert len(tried) == 11 and {k: v for k, v in tried.items() if v != "failed"} == {}, result["attack"]
    held = int(result["bomb"].split("HELD")[1].split()[0])
    assert 200 <= held < 256  # the bomb met its own cap
    assert result["honest"][:2] == [True, 1], result["honest"]
