"""Round 3 of the sandbox review: attacks by a reviewer who did not build the sandbox.

Each test here is an attack that worked on the code it was found on; it is marked
``xfail(strict=True)`` until the sandbox engineer fixes it (then the marker goes).
Real bwrap, the mini-bugs ``fix_gcd`` task, the real ``final_test_run``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from agent.final_verdict import final_test_run
from agent.sandbox import run_command_full
from tests.security.conftest import (
    AS_NOBODY,
    PROJECT,
    allocate_in,
    gcd_workspace,
    give_to_nobody,
    memory_cgroup,
    printed_result,
    run_as,
)


def test_hard_links_past_the_host_limit_do_not_make_a_wrong_fix_an_infrastructure_error(mini_suite, tmp_path):
    """A wrong fix whose module makes 65001 hard links to one file at import: tmpfs takes
    them, the host's ext4 stops at 65000, so the copy-back raises and the final run ends in
    SandboxError (the rollout: not judged, "error") instead of the FAIL it earned."""
    ws = gcd_workspace(mini_suite, tmp_path)
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


def test_deep_directories_do_not_make_a_wrong_fix_an_infrastructure_error(mini_suite, tmp_path):
    """A wrong fix whose module nests 1200 directories (2400 bytes of path, well under
    PATH_MAX): the copy-back's ``os.walk`` (recursive in Python 3.11) raises RecursionError,
    which no ``except OSError`` catches; the final run raises and the rollout ends not
    judged ("error") instead of FAIL."""
    ws = gcd_workspace(mini_suite, tmp_path)
    _nest_at_import(ws.path / "gcd.py")
    try:
        result, tampered = final_test_run(ws)  # raises RecursionError today
    finally:  # pytest's own clean-up (shutil.rmtree) recurses too
        subprocess.run(["rm", "-rf", str(ws.path)], check=False)
    assert not result.passed and result.error is None


def test_a_fix_in_a_latin1_source_file_is_recorded_by_content_or_sha256(mini_suite, tmp_path):
    """Code run by the agent's run_tests rewrites gcd.py with the fix under a latin-1 coding
    cookie and one byte that is not UTF-8: Python runs it, the final run passes, and the
    patch says only "Binary files a/gcd.py and b/gcd.py differ": neither the judged code
    nor its sha256 is in the stored patch (issue 23: recorded by name and sha256)."""
    ws = gcd_workspace(mini_suite, tmp_path)
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
sig = ws + "/a-sig"  # "held" and "stop" pass through it: the sandbox writes a tmpfs of its own
os.mkdir(sig)
hog = threading.Thread(target=lambda: box.update(a=run_command([sys.executable, "hog.py"], ws + "/a", timeout_s=30, env={"SIG": sig}, extra_binds=(sig,))))
hog.start()
deadline = time.monotonic() + 20
while not os.path.exists(sig + "/held") and time.monotonic() < deadline:
    time.sleep(0.01)
out["beside"] = run_command([sys.executable, "b.py"], ws + "/b", timeout_s=30)[1]
open(sig + "/stop", "w").close()
hog.join()
out["a"] = box["a"][1]
print("RESULT", json.dumps(out))
"""
# Pipe sizes are accounted per user (pipe-user-pages-soft, 16384 pages), across user
# namespaces; F_SETPIPE_SZ books 256 pages a pipe with no memory behind them until written.
_PIPE_HOG = (
    "import fcntl, os, time\nheld = []\nwhile True:\n    r, w = os.pipe()\n    held.append((r, w))\n"
    "    try:\n        fcntl.fcntl(w, 1031, 1 << 20)\n    except OSError:\n        break\n"
    "held += [os.pipe() for _ in range(40)]\nprint('HELD', len(held), flush=True)\nopen(os.environ['SIG'] + '/held', 'w').close()\n"
    "for _ in range(2000):\n    if os.path.exists(os.environ['SIG'] + '/stop'):\n        break\n    time.sleep(0.01)\n"
)
# An honest test: a child writes 20 kB to a pipe and the parent waits before reading (fine
# with the usual 64 kB pipe; a deadlock with 8 kB).
_HONEST_PIPE_USER = (
    "import subprocess, sys\n"
    "p = subprocess.Popen([sys.executable, '-c', 'print(\"x\" * 20000)'], stdout=subprocess.PIPE)\n"
    "try:\n    p.wait(timeout=3)\n    print('B-OK', len(p.stdout.read()))\n"
    "except subprocess.TimeoutExpired:\n    p.kill()\n    print('B-DEADLOCK')\n"
)


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
    give_to_nobody(user_dir)
    cp = run_as(
        "nobody",
        [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir)],
        timeout=300,
    )
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout + cp.stderr
    assert "B-OK 20001" in result["alone"] and "HELD" in result["a"], result
    assert "B-OK 20001" in result["beside"], result


_USER_DEEP = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from agent.sandbox import run_command, sandbox_kind
out = {"kind": sandbox_kind(), "uid": os.getuid()}
try:
    out["run"] = run_command([sys.executable, "deep.py"], sys.argv[2], timeout_s=30)[1]
except Exception as exc:
    out["run"] = "RAISED %s" % type(exc).__name__
print("RESULT", json.dumps(out))
"""


def test_a_normal_users_deep_directories_are_no_exception_on_the_host(user_dir):
    """The normal-user path of the deep-directories attack: no copy-back there, but
    ``_reclaim`` walks the workspace (recursive ``os.walk``) and raises RecursionError out
    of ``run_command``: the rollout's own run becomes an exception of the host."""
    (user_dir / "runner.py").write_text(_USER_DEEP)
    (user_dir / "ws").mkdir()
    (user_dir / "ws/deep.py").write_text(
        "import os\nh = os.getcwd()\nfor _ in range(1200):\n    os.mkdir('n')\n    os.chdir('n')\n"
        "os.chdir(h)\nprint('deep made')\n"
    )
    give_to_nobody(user_dir)
    try:
        cp = run_as(
            "nobody",
            [sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(user_dir / "ws")],
            timeout=300,
        )
    finally:  # shutil.rmtree (the fixture's) recurses too
        subprocess.run(["rm", "-rf", str(user_dir / "ws")], check=False)
    result = printed_result(cp.stdout)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, cp.stdout + cp.stderr
    assert "deep made" in result["run"], result


_USER_SELF_KILL = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from agent.sandbox import run_command, sandbox_kind
out = {"kind": sandbox_kind(), "uid": os.getuid()}
# "started" and "go" pass through a directory bound in from the host's (sys.argv[3]): the
# workspace the sandbox writes is a tmpfs of its own, copied back after the run.
script = 'touch "$1/started"; while [ ! -e "$1/go" ]; do sleep 0.02; done; kill -9 $$'
try:
    out["code"] = run_command(["sh", "-c", script, "sh", sys.argv[3]], sys.argv[2], timeout_s=60, extra_binds=(sys.argv[3],))[0]
except Exception as exc:
    out["code"] = "RAISED %s: %s" % (type(exc).__name__, exc)
print("RESULT", json.dumps(out))
"""


def _oom_in_a_small_cgroup(tmp_name: str) -> None:
    """One OOM kill anywhere on the machine: a 64 MB allocation in a 32 MB memory cgroup."""
    with memory_cgroup(tmp_name, 32 * 1024**2) as d:
        assert allocate_in(d, 64) == -9


def test_a_normal_users_self_killed_run_is_not_blamed_on_an_unrelated_oom(user_dir):
    """Run by a normal user there is no memory cgroup, so a run that ended by SIGKILL is
    called the machine's OOM (SandboxError: not judged) whenever the kernel's machine-wide
    ``oom_kill`` count moved during it, and that count also moves for an OOM inside any
    small memory cgroup (a container, a service, a root-mode sandbox) while the machine has
    gigabytes free. A rollout whose tests SIGKILL themselves (its own FAIL) then is not
    judged."""
    if not Path("/sys/fs/cgroup/memory/cgroup.procs").is_file():
        pytest.fail("needs a cgroup v1 memory hierarchy to make an OOM kill of 32 MB", pytrace=False)
    (user_dir / "runner.py").write_text(_USER_SELF_KILL)
    ws, sig = user_dir / "ws", user_dir / "sig"
    ws.mkdir()
    sig.mkdir()
    give_to_nobody(user_dir)
    proc = subprocess.Popen(
        [*AS_NOBODY, sys.executable, str(user_dir / "runner.py"), str(PROJECT), str(ws), str(sig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (sig / "started").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        _oom_in_a_small_cgroup("repo-agent-atk")
        (sig / "go").touch()
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    result = printed_result(out)
    assert result.get("kind") == "bwrap" and result["uid"] == 65534, out + err
    assert result["code"] == 137, result  # its own SIGKILL: judged as its run


def _fill_the_tmpfs_at_import(gcd: Path) -> None:
    """gcd.py (left wrong, padded to one page) deletes the protected test file and fills the
    rest of the sandbox's 256 MB workspace tmpfs when the tests import it."""
    code = (
        "import os as _os\n"
        "if not _os.path.exists('fill0'):\n"
        "    _os.unlink('tests/test_gcd.py')\n"
        "    _b = b'x' * (1 << 20)\n"
        "    try:\n"
        "        for _i in range(8):\n"
        "            with open('fill%d' % _i, 'wb') as _f:\n"
        "                for _ in range(60): _f.write(_b); _f.flush()\n"
        "    except OSError:\n"
        "        pass\n"
        "    _f = open('fill%d' % _i, 'ab')\n"
        "    try:\n"
        "        while True: _f.write(b'x' * 4096); _f.flush()\n"
        "    except OSError:\n"
        "        pass\n" + gcd.read_text()
    )
    gcd.write_text(code + "#" * (4096 - len(code.encode()) - 1) + "\n")


def test_a_workspace_filled_to_the_cap_does_not_make_tampering_an_infrastructure_error(mini_suite, tmp_path):
    """The agent's run deletes tests/test_gcd.py (tampering) and fills its tmpfs to exactly
    256 MB; the final run's restore_protected puts the test file back on the host, the
    workspace is then a few hundred bytes over WORKSPACE_BYTES, CappedWorkspace refuses it (EFBIG)
    and the final run raises SandboxError: the rollout is not judged ("error") instead of
    TAMPERED."""
    ws = gcd_workspace(mini_suite, tmp_path)
    _fill_the_tmpfs_at_import(ws.path / "gcd.py")
    try:
        ws.run_tests()  # the agent's own run
        assert not (ws.path / "tests/test_gcd.py").exists()
        result, tampered = final_test_run(ws)  # raises SandboxError today
    finally:  # 256 MB: not left for pytest's kept tmp dirs
        for f in ws.path.glob("fill*"):
            f.unlink()
    assert "tests/test_gcd.py" in tampered and not result.passed


def test_hidden_reference_fixes_are_not_readable_through_a_non_editable_venv(mini_suite, tmp_path):
    """The sandbox mounts the whole venv of the interpreter read-only. Installed the usual
    way (``uv sync``: editable) the package stays in the checkout, which is not mounted; but
    installed as a wheel (``pip install .``, ``uv sync --no-editable``, ``uv tool install``,
    most container images) ``agent/suites/*/_fix`` and ``_heldout`` sit in site-packages, and
    model code reads every task's reference fix and held-out inputs. (Shown by hand in both
    modes with a real non-editable install; here a venv holding the package's files.)"""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    task_dir = Path(mini_suite.base_dir or ".") / "fix_gcd"
    shutil.copytree(task_dir, site / "agent/suites/mini_bugs/fix_gcd")
    ws = gcd_workspace(mini_suite, tmp_path / "w")
    fix = site / "agent/suites/mini_bugs/fix_gcd/_fix/gcd.py"
    read = f"import sys\ntry:\n    print('LEAK', open({str(fix)!r}).read())\nexcept OSError as e:\n    print('NO', e)\n"
    python = str(venv / "bin/python")
    run = run_command_full([python, "-c", read], ws.path, timeout_s=30, sandbox="bwrap", python=python)
    assert "LEAK" not in run.output, run.output


def test_a_deeply_nested_verdict_record_does_not_make_a_wrong_fix_an_infrastructure_error(mini_suite, tmp_path):
    """A wrong fix whose module writes 100000 '[' to the verdict pipe (any pipe descriptor
    above 2 of its process) and SIGKILLs itself: ``_run`` asks ``_finish_status`` whether
    a finish record came, ``json.loads`` raises RecursionError (only ValueError is caught),
    and it leaves final_test_run: not judged ("error") instead of FAIL. (Both modes.)"""
    ws = gcd_workspace(mini_suite, tmp_path)
    gcd = ws.path / "gcd.py"
    gcd.write_text(
        "import os as _os\n"
        "for _d in _os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        if int(_d) > 2 and _os.readlink('/proc/self/fd/' + _d).startswith('pipe:'):\n"
        "            _os.write(int(_d), b'[' * 100000 + b'\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "_os.kill(_os.getpid(), 9)\n" + gcd.read_text()
    )
    result, tampered = final_test_run(ws)  # raises RecursionError today
    assert not result.passed


_JUDGE_LONG_LINE = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from agent.suites.loading import load_suite
from agent.workspace import Workspace
suite = load_suite("mini-bugs")
ws = Workspace.create(suite, suite.task("fix_gcd"), Path(sys.argv[2]))
gcd = ws.path / "gcd.py"
gcd.write_text("import atexit\natexit.register(print, '1 1' * 100000)\n" + gcd.read_text())
start = time.monotonic()
result = ws.run_tests()
print("JUDGED in %.1fs: %s" % (time.monotonic() - start, result.summary), flush=True)
"""


def test_a_long_output_line_does_not_freeze_the_host(tmp_path):
    """The tests print one 300 kB line ('1 1' repeated) at exit, after pytest's summary: scoring.run_tests looks for pytest's
    summary in the last 40 lines with ``_SUMMARY_RE``, whose ``(?:\\d+ \\w+(?:, )?)+.*?``
    backtracks quadratically (48 kB: 38 s; 300 kB: about 25 min; the 4 MB the output keeps:
    days). ``re`` holds the GIL: the whole host process (every concurrent rollout's thread,
    the studio) stops, and rollouts with a wall-clock ``timeout_s`` run out of it. A run
    that takes about 3 s here is killed after 120 (the bug's 25 minutes are far past it; a
    tighter limit failed honest runs on a loaded machine)."""
    (tmp_path / "judge.py").write_text(_JUDGE_LONG_LINE)
    try:
        cp = subprocess.run(
            [sys.executable, str(tmp_path / "judge.py"), str(PROJECT), str(tmp_path / "ws")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = cp.stdout + cp.stderr
    except subprocess.TimeoutExpired:
        out = "still judging after 120 s"
    assert "JUDGED" in out, out


_GCD_EXTENSION = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *gcd(PyObject *self, PyObject *args) {
    long long a, b, t;
    if (!PyArg_ParseTuple(args, "LL", &a, &b)) return NULL;
    while (b) { t = a % b; a = b; b = t; }
    return PyLong_FromLongLong(a);
}
static PyMethodDef M[] = {{"gcd", gcd, METH_VARARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef D = {PyModuleDef_HEAD_INIT, "gcd", NULL, -1, M};
PyMODINIT_FUNC PyInit_gcd(void) { return PyModule_Create(&D); }
"""


def test_a_compiled_module_beside_a_wrong_source_is_not_a_pass_with_an_opaque_patch(mini_suite, tmp_path):
    """Model code compiles a correct ``gcd`` extension in the sandbox (gcc and the Python
    headers are mounted) and deletes its C source: Python imports ``gcd.<EXT_SUFFIX>``
    before ``gcd.py``, so the tests and the held-out check pass while gcd.py stays wrong,
    and the patch records only "Binary files /dev/null and b/gcd...so differ" (no
    content, no sha256): a wrong gcd.py is a PASS whose judged code no patch reproduces."""
    if shutil.which("gcc") is None:
        pytest.fail("needs gcc to build the extension the model would", pytrace=False)
    ws = gcd_workspace(mini_suite, tmp_path)
    (ws.path / "gcdmod.c").write_text(_GCD_EXTENSION)
    include, suffix = sysconfig.get_paths()["include"], sysconfig.get_config_var("EXT_SUFFIX")
    build = f"gcc -shared -fPIC -O1 -I{include} -o gcd{suffix} gcdmod.c && rm gcdmod.c"
    run = run_command_full(["sh", "-c", build], ws.path, timeout_s=60, sandbox="bwrap")
    assert run.exit_code == 0 and (ws.path / f"gcd{suffix}").is_file(), run.output
    patch = ws.patch()
    result, tampered = final_test_run(ws)
    assert (ws.path / "gcd.py").read_text().rstrip().endswith("return b")  # the source is still wrong
    assert not (result.passed and not tampered), patch


_HOST_THAT_DIES = r"""
import sys
sys.path.insert(0, sys.argv[1])
from agent.sandbox import run_command
run_command(["sleep", sys.argv[3]], sys.argv[2], timeout_s=20)
"""


def _processes_running(args: str) -> dict[int, int]:
    """pid -> uid of the processes whose command line is exactly ``args``."""
    found: dict[int, int] = {}
    for name in os.listdir("/proc"):
        try:
            if (
                name.isdigit()
                and Path(f"/proc/{name}/cmdline").read_bytes() == args.replace(" ", "\0").encode() + b"\0"
            ):
                found[int(name)] = os.stat(f"/proc/{name}").st_uid
        except OSError:
            continue
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="root mode: the launcher's setresuid clears bwrap's parent-death signal")
def test_a_sandbox_does_not_outlive_its_killed_host(tmp_path):
    """bwrap's ``--die-with-parent`` is PR_SET_PDEATHSIG on the sandbox's pid 1, and the
    kernel clears it when that process changes its credentials: the launcher's setresuid to
    the leased uid. When the host process dies (SIGKILL, the OOM killer, or the CLI's own
    second Ctrl-C, which calls os._exit), bwrap dies with it but the sandbox runs on past
    its timeout, as its uid, in its cgroup, its tmpfs still mounted: until that uid happens
    to be leased again (1 of 4096), or for ever."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "host.py").write_text(_HOST_THAT_DIES)
    tag = f"{600 + os.getpid() % 1000}.25"  # a sleep no other process runs
    host = subprocess.Popen([sys.executable, str(tmp_path / "host.py"), str(PROJECT), str(ws), tag])
    left: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 30
        while not _processes_running(f"sleep {tag}") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_running(f"sleep {tag}"), "the sandbox never started"
        host.kill()
        host.wait()
        deadline = time.monotonic() + 5
        while (left := _processes_running(f"sleep {tag}")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:  # what the host left: the sandbox (its pid 1 ends the rest) and its tmpfs mount
        host.kill()
        for pid, uid in _processes_running(f"sleep {tag}").items():
            status = Path(f"/proc/{pid}/status").read_text()
            pid1 = int(status.split("\nPPid:")[1].split()[0])
            for p in (pid1, pid):
                os.kill(p, signal.SIGKILL)
            for line in Path("/proc/self/mountinfo").read_text().splitlines():
                if f"uid={uid}," in line + ",":
                    subprocess.run(["umount", "-l", line.split()[4]], check=False)
    assert not left, f"sandbox processes {sorted(left)} outlived the host"
