"""The test sandbox: real subprocess pytest runs, real bwrap where it works, the rlimit fallback."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from agent import cgroups, uid_lease
from agent import sandbox as sb
from agent.sandbox import AS_LIMIT, SandboxError, run_command, sandbox_kind, sandbox_warning
from agent.scoring import resolve_argv, run_tests
from agent.suites.models import Task
from agent.uid_lease import UID_BASE, UID_COUNT, LeaseError


def _task(**kw) -> Task:
    # A generous per-test limit by default: no test here that keeps it hangs.
    fields = dict(id="t", source={"kind": "dir", "path": "."}, goal="g", timeout_s=30.0, per_test_timeout_s=10.0)
    fields.update(kw)
    return Task(**fields)


def _project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def _alive_with(marker: str) -> list[int]:
    """Host pids whose command line holds ``marker`` (zombies count as gone)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmd and state != "Z":
            found.append(int(pid))
    return found


def test_kind_and_warning_agree():
    kind = sandbox_kind()
    assert kind in ("bwrap", "rlimit")
    if kind == "bwrap":
        assert sandbox_warning() is None
    else:
        assert "resource limits" in sandbox_warning()
    if shutil.which("bwrap") is None:
        assert kind == "rlimit"


def test_env_forces_rlimit(monkeypatch):
    monkeypatch.setenv("REPO_AGENT_SANDBOX", "rlimit")
    assert sandbox_kind() == "rlimit"
    assert "rlimit" in sandbox_warning()


def test_unknown_kind_refused(tmp_path):
    with pytest.raises(SandboxError, match="unknown sandbox kind"):
        run_command(["true"], tmp_path, timeout_s=5, sandbox="docker")


def test_resolve_argv_binds_this_python():
    assert resolve_argv("python -m pytest -q") == [sys.executable, "-m", "pytest", "-q"]
    assert resolve_argv(["pytest", "tests"]) == [sys.executable, "-m", "pytest", "tests"]
    assert resolve_argv(["make", "test"]) == ["make", "test"]


def test_counts_and_verdict(tmp_path, sandbox):
    ws = _project(
        tmp_path / "ws",
        {
            "m.py": "def f(x):\n    return x + 1\n",
            "tests/test_m.py": "from m import f\n\ndef test_a():\n    assert f(1) == 2\n\ndef test_b():\n    assert f(2) == 4\n",
        },
    )
    r = run_tests(ws, _task(), sandbox=sandbox)
    assert not r.passed
    assert (r.counts.passed, r.counts.failed, r.counts.collected) == (1, 1, 2)
    assert r.exit_code == 1 and not r.timed_out
    assert r.summary.startswith("1 failed, 1 passed")
    assert "assert 3 == 4" in r.output
    (ws / "tests/test_m.py").write_text("from m import f\n\ndef test_a():\n    assert f(1) == 2\n")
    r = run_tests(ws, _task(), sandbox=sandbox)
    assert r.passed and r.counts.passed == 1 and r.exit_code == 0
    # the run leaves no caches behind in the workspace
    assert sorted(p.name for p in ws.rglob("*")) == ["m.py", "test_m.py", "tests"]


def test_verdict_never_from_output_text(tmp_path):
    """Printing '3 passed' and exiting non-zero is a failure; a pytest run with no tests too."""
    ws = _project(tmp_path / "ws", {"liar.py": "print('3 passed in 0.01s')\nraise SystemExit(1)\n"})
    r = run_tests(ws, _task(test_command=["python", "liar.py"]))
    assert not r.passed and r.exit_code == 1
    (ws / "tests").mkdir()
    (ws / "tests" / "test_x.py").write_text("def helper():\n    print('5 passed')\n")
    r = run_tests(ws, _task(test_command=["python", "-m", "pytest", "-q", "tests"]))
    assert not r.passed and r.counts.collected == 0 and r.exit_code == 5


def test_collection_error_is_a_failure(tmp_path):
    ws = _project(tmp_path / "ws", {"tests/test_x.py": "import not_a_module_anywhere\n\ndef test_a():\n    pass\n"})
    r = run_tests(ws, _task(test_command="python -m pytest -q tests"))
    assert not r.passed and r.counts.errors >= 1 and r.exit_code == 2


def test_per_test_timeout_fails_only_the_looping_test(tmp_path, sandbox):
    ws = _project(
        tmp_path / "ws",
        {
            "tests/test_loop.py": (
                "def test_fast():\n    assert True\n\n"
                "def test_forever():\n    while True:\n        try:\n            pass\n        except Exception:\n            pass\n\n"
                "def test_after():\n    assert 1 + 1 == 2\n"
            ),
        },
    )
    # 3 s, not 1: the limit also times test_fast and test_after, honest tests on a loaded machine.
    r = run_tests(ws, _task(per_test_timeout_s=3.0, timeout_s=30.0), sandbox=sandbox)
    assert not r.passed and not r.timed_out
    assert (r.counts.passed, r.counts.failed) == (2, 1)
    assert "per-test timeout" in r.output
    assert r.duration_s < 15


def test_wall_clock_timeout_kills_the_whole_group(tmp_path, sandbox):
    marker = f"repo-agent-loop-{uuid.uuid4().hex}"
    ws = _project(
        tmp_path / "ws",
        {
            "spin.py": (
                "import subprocess, sys\n"
                f"subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True: time.sleep(0.05)', '{marker}'])\n"
                "while True:\n    pass\n"
            ),
        },
    )
    code, out, duration, timed_out = run_command(
        [sys.executable, "spin.py", marker], ws, timeout_s=1.5, sandbox=sandbox
    )
    assert timed_out and code is None
    assert 1.4 <= duration < 8
    assert _alive_with(marker) == []


def test_test_run_timeout_summary(tmp_path):
    ws = _project(tmp_path / "ws", {"tests/test_x.py": "def test_a():\n    while True:\n        pass\n"})
    r = run_tests(ws, _task(per_test_timeout_s=None, timeout_s=1.5), sandbox="rlimit")
    assert r.timed_out and not r.passed and r.exit_code is None
    assert r.summary == "timed out after 1.5s"


def test_rlimits_apply_in_the_child(tmp_path, sandbox):
    ws = _project(
        tmp_path / "ws",
        {
            "lim.py": "import resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0], resource.getrlimit(resource.RLIMIT_CPU)[0])\n"
        },
    )
    code, out, _, _ = run_command([sys.executable, "lim.py"], ws, timeout_s=10, sandbox=sandbox)
    assert code == 0
    as_soft, cpu_soft = map(int, out.split())
    # A bwrap sandbox with a memory cgroup of its own is capped by it, not by RLIMIT_AS (the
    # 130th thread of an honest test refused, round 16): it keeps this process's own.
    made = cgroups.SandboxCgroup.create(f"repo-agent-t{uuid.uuid4().hex[:8]}") if sandbox == "bwrap" else None
    own_memory = made is not None and made.has_memory()
    if made is not None:
        made.close()
    expected = resource.getrlimit(resource.RLIMIT_AS)[0] if own_memory else AS_LIMIT
    assert as_soft == expected and cpu_soft == 15


def test_clean_env_no_keys(tmp_path, monkeypatch, sandbox):
    monkeypatch.setenv("TOGETHER_API_KEY", "tg-secret-should-not-leak")
    ws = _project(tmp_path / "ws", {"env.py": "import os\nprint(sorted(k for k in os.environ if 'KEY' in k))\n"})
    code, out, _, _ = run_command([sys.executable, "env.py"], ws, timeout_s=10, sandbox=sandbox)
    assert code == 0 and out.strip() == "[]"


@pytest.mark.skipif(sandbox_kind() != "bwrap", reason="bwrap is not usable on this machine")
def test_bwrap_isolation(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    ws = _project(
        tmp_path / "ws",
        {
            "probe.py": (
                "import os, socket\n"
                f"try:\n    open({str(outside / 'x')!r}, 'w').write('escaped')\n    print('write-outside: yes')\n"
                "except OSError:\n    print('write-outside: no')\n"
                "open('inside.txt', 'w').write('ok')\n"
                "print('pids:', len([p for p in os.listdir('/proc') if p.isdigit()]))\n"
                "print('nets:', sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]))\n"
            ),
        },
    )
    code, out, _, _ = run_command([sys.executable, "probe.py"], ws, timeout_s=10, sandbox="bwrap")
    assert code == 0, out
    assert "write-outside: no" in out
    assert not (outside / "x").exists()
    assert (ws / "inside.txt").read_text() == "ok"
    pids = int(out.split("pids:")[1].split()[0])
    assert pids <= 4  # its own pid namespace: bwrap's init, the launcher-exec'd python
    assert out.split("nets:")[1].strip() == "['lo']"  # no network: loopback only


def test_runaway_output_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(sb, "MAX_OUTPUT_BYTES", 10_000)
    ws = _project(tmp_path / "ws", {"spam.py": "import sys\nsys.stdout.write('x' * 200_000)\n"})
    code, out, _, _ = run_command([sys.executable, "spam.py"], ws, timeout_s=10, sandbox="rlimit")
    assert code == 0
    assert len(out) < 11_000 and "200000 bytes total" in out


def test_ancestor_pytest_config_is_ignored_own_config_respected(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-k nothing_matches"\n')
    (tmp_path / "conftest.py").write_text("raise RuntimeError('ancestor conftest must not load')\n")
    ws = _project(tmp_path / "deep" / "ws", {"tests/test_a.py": "def test_a():\n    assert True\n"})
    r = run_tests(ws, _task(test_command="python -m pytest -q tests"))
    assert r.passed and r.counts.passed == 1, r.output
    # the workspace's own config is used (here: a different test file pattern)
    (ws / "pytest.ini").write_text("[pytest]\npython_files = check_*.py\n")
    (ws / "tests" / "check_b.py").write_text("def test_b():\n    assert True\n\ndef test_c():\n    assert True\n")
    r = run_tests(ws, _task(test_command="python -m pytest -q tests"))
    assert r.passed and r.counts.passed == 2, r.output


def test_hard_stop_when_the_alarm_cannot_interrupt(tmp_path):
    """A test stuck in C code ignores SIGALRM: faulthandler ends the run soon after."""
    ws = _project(tmp_path / "ws", {"tests/test_c.py": "def test_stuck():\n    sum(range(10**13))\n"})
    r = run_tests(ws, _task(per_test_timeout_s=0.5, timeout_s=60), sandbox="rlimit")
    assert not r.passed and not r.timed_out and r.exit_code not in (0, None)
    assert r.duration_s < 20
    assert "Timeout" in r.output and "test_stuck" in r.output
    assert r.summary.startswith("stopped: a test ignored the per-test timeout of 0.5s")


def test_missing_command_is_a_clear_failure(tmp_path):
    ws = _project(tmp_path / "ws", {"a.txt": "x"})
    r = run_tests(ws, _task(test_command=["no-such-test-runner", "--all"]))
    assert not r.passed and r.exit_code == 127
    assert "cannot run 'no-such-test-runner'" in r.output


def test_fallback_when_bwrap_missing_or_broken(tmp_path, monkeypatch):
    monkeypatch.setattr(sb, "_probed", None)  # probe afresh; restored after the test
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert sandbox_kind() == "rlimit"
    assert "bwrap (bubblewrap) is not installed" in sandbox_warning()

    # a bwrap that is installed but cannot create namespaces (as in some containers)
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sb, "_probed", None)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    assert sandbox_kind() == "rlimit"
    warning = sandbox_warning()
    assert "installed but cannot start here (bwrap: No permissions to create new namespace)" in warning
    with pytest.raises(SandboxError, match="cannot start here"):
        run_command(["true"], tmp_path, timeout_s=5, sandbox="bwrap")
    # "auto" refuses to run model-written code without a sandbox ...
    ws = _project(tmp_path / "ws", {"ok.py": "open('ran', 'w').write('x')\nprint('ran')\n"})
    monkeypatch.delenv(sb.UNSAFE_ENV, raising=False)
    with pytest.raises(SandboxError, match="does not run without a sandbox.*--unsafe-no-sandbox"):
        run_command([sys.executable, "ok.py"], ws, timeout_s=10)
    assert not (ws / "ran").exists()
    assert "model-written code will not run" in sandbox_warning()
    # ... unless the user says --unsafe-no-sandbox: then it runs, with limits
    monkeypatch.setenv(sb.UNSAFE_ENV, "1")
    assert "--unsafe-no-sandbox" in sandbox_warning()
    code, out, _, _ = run_command([sys.executable, "ok.py"], ws, timeout_s=10)
    assert code == 0 and out.strip() == "ran"


def test_rlimit_fallback_kills_setsid_daemons(tmp_path):
    """Without bwrap there is no pid namespace: the launcher, a child subreaper, kills
    what the command left behind, a setsid double-forked daemon included."""
    marker = f"repo-agent-daemon-{uuid.uuid4().hex}"
    ws = _project(
        tmp_path / "ws",
        {
            "daemon.py": (
                "import os, sys, time\n"
                "if os.fork() == 0:\n"
                "    os.setsid()\n"
                "    if os.fork() == 0:\n"
                f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'])\n"
                "    os._exit(0)\n"
                "time.sleep(0.5)\n"
                "print('parent done')\n"
            )
        },
    )
    code, out, _, _ = run_command([sys.executable, "daemon.py"], ws, timeout_s=20, sandbox="rlimit")
    assert code == 0 and "parent done" in out
    assert _alive_with(marker) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop happens only when running as root")
def test_bwrap_never_runs_tests_as_root(tmp_path):
    ws = _project(
        tmp_path / "ws", {"who.py": "import os\nopen('mine', 'w').write('x')\nprint(os.getuid(), os.getgid())\n"}
    )
    code, out, _, _ = run_command([sys.executable, "who.py"], ws, timeout_s=10, sandbox="bwrap")
    uid, gid = map(int, out.split())
    assert code == 0 and uid == gid and UID_BASE <= uid < UID_BASE + UID_COUNT
    assert (ws / "mine").read_text() == "x"


# --------------------------------------------------------------------------- issue 23

_HOLD_LEASE = (
    "import sys\n"
    f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
    "import agent.uid_lease as u\n"
    "u.UID_COUNT = 2\n"
    "lease = u.lease_uid()\n"
    "print(lease.uid, flush=True)\n"
    "sys.stdin.read()\n"
)


def test_two_processes_never_lease_the_same_uid(tmp_path, monkeypatch):
    """Issue 23: a uid is leased machine-wide (two ``run`` processes, Ray workers): with two
    uids in the range and two processes holding one each, a third caller gets none; a
    process that ends gives its uid back."""
    monkeypatch.setenv("REPO_AGENT_UID_LEASE_DIR", str(tmp_path / "leases"))
    monkeypatch.setattr(uid_lease, "LEASE_DIR", tmp_path / "leases")
    monkeypatch.setattr(uid_lease, "UID_COUNT", 2)
    procs = [
        subprocess.Popen([sys.executable, "-c", _HOLD_LEASE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        uids = [int(p.stdout.readline()) for p in procs if p.stdout]
        assert len(set(uids)) == 2
        with pytest.raises(LeaseError):
            uid_lease.lease_uid()  # both held by the other processes
    finally:
        for p in procs:
            p.communicate("")
    lease = uid_lease.lease_uid()  # their ends freed the uids
    assert lease.uid in uids
    lease.release()


def test_lingering_thread_after_the_session_finished_is_killed_at_once(tmp_path):
    """Issue 23, finding 5: a test that leaves a non-daemon thread (and a setsid grandchild)
    cost the whole timeout; now the run ends just after the session's finish record."""
    ws = _project(
        tmp_path / "ws",
        {
            "tests/test_left.py": (
                "import os, threading, time\n\n"
                "def test_leaves_things_running():\n"
                "    threading.Thread(target=time.sleep, args=(600,)).start()\n"
                "    if os.fork() == 0:\n"
                "        os.setsid(); time.sleep(600); os._exit(0)\n"
            ),
        },
    )
    start = time.monotonic()
    r = run_tests(ws, _task(timeout_s=40.0), sandbox="bwrap" if sandbox_kind() == "bwrap" else "rlimit")
    assert time.monotonic() - start < 20  # not the 40 s timeout
    assert r.passed and r.counts.passed == 1 and not r.timed_out and r.exit_code == 0
    ws2 = _project(
        tmp_path / "ws2", {"t.py": "import threading, time\nthreading.Thread(target=time.sleep, args=(600,)).start()\n"}
    )
    fake_finish = (
        'import os\nos.write(int(os.environ[\'REPO_AGENT_VERDICT_FD\']), b\'{"k":"finish","exitstatus":0}\\n\')\n'
    )
    (ws2 / "t.py").write_text(fake_finish + (ws2 / "t.py").read_text())
    run = sb.run_command_full(
        [sys.executable, "t.py"],
        ws2,
        timeout_s=40,
        sandbox="bwrap" if sandbox_kind() == "bwrap" else "rlimit",
        verdict_pipe=True,
    )
    assert run.lingered and run.exit_code == 0 and not run.timed_out and run.duration_s < 20


@pytest.mark.skipif(os.geteuid() != 0, reason="the workspace tmpfs needs root (documented)")
def test_disk_cap_holds_while_the_tests_write(tmp_path, monkeypatch):
    """Issue 23, finding 3: the workspace cap held only after the run; now writes past it
    fail while the tests run, and the host workspace never holds more."""
    monkeypatch.setattr(sb, "WORKSPACE_BYTES", 32 * 1024**2)
    ws = _project(
        tmp_path / "ws",
        {
            "fill.py": (
                "n = 0\n"
                "for i in range(6):\n"
                "    try:\n"
                "        with open(f'big{i}', 'wb') as f:\n"
                "            f.write(b'x' * (10 << 20))\n"
                "        n += 1\n"
                "    except OSError as e:\n"
                "        print('STOPPED', e.strerror)\n"
                "        break\n"
                "print('WROTE', n)\n"
            )
        },
    )
    code, out, _, _ = run_command([sys.executable, "fill.py"], ws, timeout_s=30, sandbox="bwrap")
    assert "WROTE 3" in out and "STOPPED No space left on device" in out
    assert sum(p.stat().st_size for p in ws.iterdir()) < 32 * 1024**2


def test_a_sandbox_that_cannot_start_is_an_error_not_a_verdict(tmp_path):
    """Issue 23: an infrastructure failure (here bwrap cannot set up a mount) raises
    SandboxError, which the rollout records as not judged ("error"), never FAIL."""
    ws = _project(tmp_path / "ws", {"tests/test_a.py": "def test_a():\n    pass\n"})
    with pytest.raises(SandboxError, match="could not start"):
        sb.run_command_full(
            [sys.executable, "-m", "pytest"], ws, timeout_s=30, sandbox="bwrap", ro_binds=(tmp_path / "missing",)
        )


def test_killed_while_the_machine_ran_out_of_memory_is_an_error(tmp_path, monkeypatch, sandbox):
    """Issue 23: a run the kernel's OOM killer ended is the machine's failure (SandboxError:
    not judged), never the rollout's FAIL; a run that kills itself with no OOM is its own."""
    ws = _project(tmp_path / "ws", {"die.py": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"})
    # No OOM kill during this run, whatever another test worker's sandbox does to the machine's count.
    monkeypatch.setattr(sb, "_oom_kills", lambda: 0)
    code, _, _, timed_out = run_command([sys.executable, "die.py"], ws, timeout_s=20, sandbox=sandbox)
    assert code in (-9, 137) and not timed_out
    if sandbox == "bwrap" and os.geteuid() == 0 and cgroups._own("memory") is not None:
        # A memory cgroup of its own: its counts answer (an OOM kill, its limit never hit)
        monkeypatch.setattr(cgroups.SandboxCgroup, "oom_kills", lambda self: 1)
        monkeypatch.setattr(cgroups.SandboxCgroup, "hit_limit", lambda self: False)
    else:
        counts = iter(range(100))
        monkeypatch.setattr(sb, "_oom_kills", lambda: next(counts))  # an OOM kill during the run
    with pytest.raises(SandboxError, match="out of memory"):
        run_command([sys.executable, "die.py"], ws, timeout_s=20, sandbox=sandbox)


@pytest.mark.skipif(os.geteuid() != 0 or sandbox_kind() != "bwrap", reason="a cgroup per sandbox needs root")
def test_a_sandbox_over_its_memory_cgroup_is_killed_and_it_is_its_own_doing(tmp_path, monkeypatch):
    """Issue 23: 256 processes of 2 GB each could take the machine's memory and get
    rollouts beside them killed; each sandbox has a memory cgroup of its own (where the
    machine has cgroup v1): going over it kills that sandbox only, judged as its own run
    (no SandboxError), and its cgroups are gone afterwards."""
    if cgroups._own("memory") is None:
        pytest.fail("no memory cgroup can be made here", pytrace=False)
    monkeypatch.setattr(cgroups, "MEMORY_BYTES", 64 * 1024**2)
    made: list[cgroups.SandboxCgroup] = []
    create = cgroups.SandboxCgroup.create

    def spy(name: str) -> cgroups.SandboxCgroup | None:
        g = create(name)
        if g is not None:
            made.append(g)
        return g

    monkeypatch.setattr(cgroups.SandboxCgroup, "create", staticmethod(spy))
    ws = _project(tmp_path / "ws", {"hog.py": "x = b'x' * (300 << 20)\nprint('SURVIVED')\n"})
    code, out, _, timed_out = run_command([sys.executable, "hog.py"], ws, timeout_s=30, sandbox="bwrap")
    assert code == 137 and not timed_out and "SURVIVED" not in out
    assert "went over its memory limit" in out
    # this sandbox's groups are gone (another test worker's sandbox may hold groups of its own)
    assert made and not [d for g in made for d in g.dirs if d.exists()]


def test_the_command_inherits_no_descriptor_but_its_own(tmp_path, sandbox):
    """Issue 23: bwrap's info pipe (which names the pid the host kills at the end) and any
    other descriptor of the host's never reach the command: only stdio."""
    ws = _project(
        tmp_path / "ws",
        {
            "fds.py": "import os\nopen_fds = []\nfor fd in range(3, 1024):\n    try:\n        os.fstat(fd)\n        open_fds.append(fd)\n    except OSError:\n        pass\nprint('FDS', open_fds)\n"
        },
    )
    code, out, _, _ = run_command([sys.executable, "fds.py"], ws, timeout_s=20, sandbox=sandbox)
    assert code == 0 and "FDS []" in out, out


def test_a_command_found_in_a_later_path_entry_runs(tmp_path, sandbox):
    """The launcher's check that the sandbox's uid can run the command looked at the first
    PATH entry holding a file of its name (round 12's review): one the uid cannot run there
    (a data file, a root-only tool) said "cannot run" where execvp runs the one further on.
    It resolves as shutil.which does, over the whole PATH; none runnable still says so."""
    first, later = tmp_path / "first", tmp_path / "later"
    for d in (first, later):
        d.mkdir()
        d.chmod(0o755)
    (first / "tool").write_text("not a program\n")
    (first / "tool").chmod(0o644)
    (later / "tool").write_text("#!/bin/sh\necho from-later\n")
    (later / "tool").chmod(0o755)
    ws = _project(tmp_path / "ws", {"a.txt": "x"})
    env = {"PATH": f"{first}:{later}:/usr/bin:/bin"}
    run = sb.run_command_full(["tool"], ws, timeout_s=30, sandbox=sandbox, env=env, ro_binds=(first, later))
    assert (run.exit_code, run.output.strip()) == (0, "from-later"), run.output
    (later / "tool").chmod(0o644)
    with pytest.raises(SandboxError, match=f"cannot run {first / 'tool'}: make it"):  # the first it finds
        sb.run_command_full(["tool"], ws, timeout_s=30, sandbox=sandbox, env=env, ro_binds=(first, later))


def test_a_run_whose_pid_namespace_ended_leaves_no_process_of_its_uid(tmp_path, monkeypatch):
    """The end of a root run looks for its uid's processes only where pid 1 was not seen gone:
    the kernel ends and reaps every process of a pid namespace before its pid 1 is gone, a
    forked child left sleeping too."""
    if os.geteuid() != 0 or sandbox_kind() != "bwrap":
        pytest.fail("runs as root with bwrap")
    leased: list[int] = []
    looked: list[int] = []

    def lease() -> uid_lease.UidLease:
        got = uid_lease.lease_uid()
        leased.append(got.uid)
        return got

    monkeypatch.setattr(sb, "lease_uid", lease)
    monkeypatch.setattr(sb, "kill_uid", lambda uid, *a, **k: looked.append(uid) or uid_lease.kill_uid(uid, *a, **k))
    left = "import os, time\nif os.fork() == 0:\n    os.close(1); os.close(2); time.sleep(60)\nprint('PARENT DONE')\n"
    r = sb.run_command_full([sys.executable, "-c", left], tmp_path, timeout_s=30)
    assert "PARENT DONE" in r.output and r.sandbox_gone, r
    assert looked == [] and leased and uid_lease.processes_of(leased[0]) == [], (looked, leased)


def test_sandbox_runs_draw_their_own_string_hash_seed() -> None:
    # r19v-4: no pinned seed (a set's order told a judge run), as in a user's shell.
    from agent.sandbox import base_env

    assert "PYTHONHASHSEED" not in base_env()


def test_a_finish_is_found_without_parsing_the_lines_around_it(monkeypatch):
    """r19s-4: the tests write what they like to the verdict pipe; each line parsed cost ~3 us
    of repo-agent's CPU. Only lines holding the finish token (or "finish", without a secret)
    are parsed; lines end as bytes.splitlines ends them."""
    from agent.verdict_seal import finish_token

    parsed: list[bytes] = []
    loads = sb.json.loads
    monkeypatch.setattr(sb.json, "loads", lambda s: parsed.append(s) or loads(s))
    token = finish_token("s3cret")
    real = b'{"k":"finish","exitstatus":1,"nonce":"%s"}' % token.encode()
    forged = b'{"k":"finish","exitstatus":0,"nonce":"x"}'
    records = b"junk\r" + real + b"\r\n" + b"\n" * 100_000 + forged + b"\n" + b"x\n" * 1000
    assert sb._finish_status(records, "s3cret") == 1
    assert parsed == [real]
    parsed.clear()
    assert sb._finish_status(records) == 0 and parsed == [forged]  # no secret: the newest finish
    assert sb._finish_status(b"\n" * 100_000 + b'"finish"\n' * 100, "") is None
    assert len(parsed) == 1 + sb._FINISH_CANDIDATES


def test_output_past_its_cap_is_counted_never_read_into_the_process(monkeypatch):
    """r19s-3: past the cap the rest of a pipe is dropped in the kernel (splice), counted."""
    import threading

    splice, spliced = os.splice, []
    monkeypatch.setattr(os, "splice", lambda *a: spliced.append(a[2]) or splice(*a))
    r, w = os.pipe()
    sink: list[bytes] = []
    total = [0]
    with os.fdopen(r, "rb") as stream:
        t = threading.Thread(target=sb._reader, args=(stream, sink, total, 10))
        t.start()
        for _ in range(64):
            os.write(w, b"y" * 65536)
        os.close(w)
        t.join(timeout=30)
    assert b"".join(sink) == b"y" * 10 and total[0] == 64 * 65536
    assert spliced, "the rest was read into this process"


def test_the_group_is_killed_before_the_launcher_is_reaped(monkeypatch):
    """Round 19, 17: ``_stop`` waited for bwrap by reaping it, then killed its process group:
    a group id whose leader is reaped may be a new process's. Now it waits on a pidfd."""
    proc = subprocess.Popen(["true"], start_new_session=True)
    pid1_fd = os.pidfd_open(proc.pid)  # "pid 1": here the launcher itself
    seen: list[bool] = []
    exited_unreaped = lambda pid: os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None  # noqa: E731
    monkeypatch.setattr(sb, "kill_group", lambda pid: seen.append(proc.returncode is None and exited_unreaped(pid)))
    try:
        assert sb._stop(proc, pid1_fd)
    finally:
        os.close(pid1_fd)
    assert seen == [True] and proc.returncode is not None


def test_records_kept_under_an_enclosing_limit_come_out_of_the_runs_part(tmp_path, monkeypatch, sandbox):
    """Round 22 r22s-1: the records repo-agent keeps for a run are the tests' choice, held
    outside the sandbox's cgroups (64 MB, joined into 128, ran a 240 MB container out and
    killed an honest neighbour). Under an enclosing limit it keeps at most a 16th of the run's
    part (``record_cap``), and a sandbox with a memory cgroup of its own has twice that less."""
    part = 256 * 2**20
    monkeypatch.setattr(cgroups, "enclosing_memory", lambda start=None: part)
    held: list[int] = []
    hold = cgroups.SandboxCgroup.hold_outside
    monkeypatch.setattr(cgroups.SandboxCgroup, "hold_outside", lambda self, n: (held.append(n), hold(self, n))[1])
    flood = "import os\nfd = int(os.environ['REPO_AGENT_VERDICT_FD'])\nfor _ in range(40):\n    os.write(fd, b'x' * 2**19)\n"
    ws = _project(tmp_path / "ws", {"flood.py": flood})
    run = sb.run_command_full([sys.executable, "flood.py"], ws, timeout_s=30, sandbox=sandbox, verdict_pipe="n0nce")
    cap = part // sb.RECORD_SHARE
    assert run.records_cap == cap and len(run.records) == cap and run.records_written == 20 * 2**20
    if sandbox == "bwrap" and os.geteuid() == 0 and cgroups._own("memory") is not None:
        assert 2 * cap in held, held
    assert sb.record_cap(sb.MAX_VERDICT_RECORD_BYTES, None) == sb.MAX_VERDICT_RECORD_BYTES
