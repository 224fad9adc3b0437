"""Round 22 attacks on the sandbox (open: each xfail strict until fixed).

Each runs real bwrap as root (a leased uid, cgroups, a tmpfs workspace copy) and/or as a
normal user (nobody, through ``as_nobody``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.security.conftest import AS_NOBODY, NOBODY, memory_cgroup, printed_result, run_as
from tests.security.test_attacks_round19_sandbox import _DRIVER, _workspace

REPO = Path(__file__).resolve().parents[2]

# r22s-1: two sandboxes at once under a container's limit (REPO_AGENT_SANDBOXES=2: each gets
# (limit - 64 MB) / 2). The honest one holds 60 MB of its 88 MB part for 8 s. The hostile one
# stays within its own part too (a 40 MB file in its workspace) and writes 63 MB of lines to
# the verdict pipe: repo-agent keeps them (MAX_VERDICT_RECORD_BYTES, 64 MB) and joins them at
# the run's end (twice that), past the 64 MB margin the parts leave it, so the container runs
# out of memory and the OOM killer ends the honest neighbour: its run is "out of memory", not
# judged, whatever its tests said.
_TWO_AT_ONCE = textwrap.dedent(
    """\
    import json, sys, threading
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from agent.sandbox import SandboxError, run_command_full
    flood = sys.argv[2] == "flood"
    HONEST = (
        "import time\\nb = bytearray(60 * 2**20)\\nb[::4096] = b'x' * len(b[::4096])\\n"
        "time.sleep(8)\\nprint('honest done')\\n"
    )
    HOSTILE = (
        "import os, time\\nf = open('big', 'wb')\\nfor _ in range(40): f.write(b'y' * 2**20)\\n"
        "f.close()\\ntime.sleep(1)\\nfd = int(os.environ['REPO_AGENT_VERDICT_FD'])\\n"
        "blob = b'{\\"k\\":\\"x\\"}\\\\n' * 100000\\nn = 0\\n"
        "while n < 63 * 10**6 and FLOOD:\\n    n += os.write(fd, blob)\\nprint('hostile done')\\n"
    ).replace("FLOOD", str(flood))
    out = {}

    def go(name, code):
        ws = Path(sys.argv[3]) / name
        ws.mkdir()
        try:
            r = run_command_full([sys.executable, "-c", code], ws, timeout_s=30, sandbox="bwrap", verdict_pipe="n0nce")
            out[name] = {"code": r.exit_code, "out": r.output[-300:]}
        except SandboxError as exc:
            out[name] = {"error": str(exc)}

    ts = [threading.Thread(target=go, args=a) for a in (("honest", HONEST), ("hostile", HOSTILE))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("RESULT " + json.dumps(out))
    """
)


def _two_sandboxes_in_a_container(tmp_path: Path, mode: str) -> dict:
    (tmp_path / "two.py").write_text(_TWO_AT_ONCE)
    (tmp_path / "ws").mkdir()
    argv = [sys.executable, str(tmp_path / "two.py"), str(REPO), mode, str(tmp_path / "ws")]
    env = {**os.environ, "REPO_AGENT_SANDBOXES": "2"}
    with memory_cgroup("r22s-1", 240 * 2**20) as cgroup:
        cp = run_as("root", argv, cgroup=cgroup, timeout=120, env=env)
    assert cp.returncode == 0, cp.stderr[-2000:]
    return printed_result(cp.stdout)


def test_r22s_1_control_two_sandboxes_fit_the_container(tmp_path):
    """The control: the same two runs, the hostile one writing no records: both end as they did."""
    got = _two_sandboxes_in_a_container(tmp_path, "idle")
    assert got["honest"] == {"code": 0, "out": "honest done\n"}, got
    assert got["hostile"]["code"] == 0, got


def test_r22s_1_verdict_records_kill_an_honest_neighbour(tmp_path):
    got = _two_sandboxes_in_a_container(tmp_path, "flood")
    assert got["hostile"]["code"] == 0, got  # the attack ran to its end within its own part
    assert got["honest"] == {"code": 0, "out": "honest done\n"}, got


# r22s-2: POSIX record locks, kernel memory no cap of the sandbox's sees (the class of r17-9
# memfd, r19s-1 SysV IPC, r19s-2 vmsplice). Each fcntl(F_SETLK) range not touching another is a
# ``struct file_lock`` (192 bytes of slab); nothing bounds how many one descriptor holds
# (RLIMIT_LOCKS is not enforced), and the kernel charges them to no memory cgroup (the
# accounting was reverted in Linux 5.16). Two processes, each capped at 64 MB of address
# space, take 400,000 locks each on 1,000 files of /tmp (~2 s): ~146 MB of slab. As a normal
# user that is past their 2 x 64 MB RLIMIT_AS; as root, past the sandbox's 88 MB memory
# cgroup (its part of a 240 MB container, two sandboxes at once): no OOM kill, nothing counted.
# NOFILE x NPROC descriptors, each with as many locks as time allows.
_LOCKS = r"""
import fcntl, os, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (64 << 20, 64 << 20))
kids = []
for k in range(2):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        n = 0
        for i in range(1000):
            fd = os.open("/tmp/l%d-%d" % (k, i), os.O_RDWR | os.O_CREAT, 0o600)
            for j in range(400):
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 2 * j)
                except OSError:
                    break
                n += 1
        os.write(w, b"%d" % n)
        time.sleep(3)
        os._exit(0)
    kids.append((pid, r))
    os.close(w)
print("LOCKS", sum(int(os.read(r, 32)) for _, r in kids), flush=True)
for pid, _ in kids:
    os.waitpid(pid, 0)
"""


def _lock_slab() -> int:
    """Bytes of the kernel's ``file_lock_cache`` slab (every POSIX lock of the machine)."""
    for line in Path("/proc/slabinfo").read_text().splitlines():
        if line.startswith("file_lock_cache "):
            fields = line.split()
            return int(fields[2]) * int(fields[3])
    raise AssertionError("no file_lock_cache in /proc/slabinfo")


def _locks_held(user: str) -> tuple[int, int, str]:
    """The locks the sandbox's two processes took, the most lock slab (MB) seen meanwhile, the output."""
    ws = _workspace({"locks.py": _LOCKS}, NOBODY if user == "nobody" else None)
    argv = [sys.executable, "-c", _DRIVER, str(REPO), str(ws), json.dumps([sys.executable, "locks.py"]), "30"]
    before = most = _lock_slab()
    try:
        with memory_cgroup("r22s-2", 240 * 2**20) as cgroup:
            cmd = [*AS_NOBODY, *argv] if user == "nobody" else argv
            env = {**os.environ, "REPO_AGENT_SANDBOXES": "2"}
            proc = subprocess.Popen(
                ["sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "$@"', "sh", *cmd],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd="/",
                env=env,
            )
            while proc.poll() is None:
                most = max(most, _lock_slab())
                time.sleep(0.05)
            out, err = proc.communicate(timeout=60)
    finally:
        subprocess.run(["rm", "-rf", str(ws)], check=False)
    assert proc.returncode == 0, err[-2000:]
    run = json.loads(out.strip().splitlines()[-1])["out"]
    taken = [int(line.split()[1]) for line in run.splitlines() if line.startswith("LOCKS")]
    assert taken, run
    return taken[0], (most - before) >> 20, run


@pytest.mark.parametrize(("user", "cap_mb"), [("nobody", 128), ("root", 88)])
@pytest.mark.xfail(
    strict=True, reason="open: r22s-2 POSIX record locks hold kernel memory no cap sees (RLIMIT_AS, memory cgroup)"
)
def test_r22s_2_file_locks_hold_memory_past_every_cap(user, cap_mb):
    taken, held_mb, run = _locks_held(user)
    assert taken == 800_000 or "LOCKS" not in run, run  # every lock was granted
    assert held_mb <= cap_mb, f"{taken} locks held {held_mb} MB of slab past the sandbox's {cap_mb} MB: {run}"
