"""Round 11 attacks (the reviewer's own): each a strict xfail until it is defended."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.sandbox import run_command_full, sandbox_kind
from tests.agent.conftest import write_suite
from tests.security.conftest import PROJECT, give_to_nobody, memory_cgroup, run_as

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("bwrap") is None or os.geteuid() != 0 or sandbox_kind() != "bwrap",
    reason="real bwrap, run as root (the normal-user case runs as nobody from here)",
)


def _in_sandbox(ws: Path, script: str, setup: str = "", ro_binds: tuple[Path, ...] = ()) -> str:
    """Python that runs ``script`` (a file of ``ws``) in the sandbox as repo-agent runs a task's
    tests (``ro_binds`` bound read-only), after ``setup`` (one line): prints the run's output, then
    RETURNED and its exit code or RAISED and the SandboxError."""
    binds = tuple(str(b) for b in ro_binds)
    return textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(PROJECT)!r})
        from pathlib import Path
        import agent.sandbox
        from agent.sandbox import SandboxError, run_command_full
        {setup}
        try:
            run = run_command_full(
                [sys.executable, {script!r}], Path({str(ws)!r}), timeout_s=30, sandbox="bwrap",
                ro_binds=tuple(map(Path, {binds!r})),
            )
        except SandboxError as exc:
            print("RAISED", exc)
        else:
            print(run.output)
            print("RETURNED", run.exit_code)
        """
    )


# --------------------------------------------------------------------------- r11-1

# memfd_secret(2) (x86-64 number 447): every page of a secret memory area is taken out of
# the kernel's direct map, splitting the huge pages (2 MB, 1 GB) that map it. The split is
# never undone until reboot: a rollout's tests fragment the host kernel's direct map (seen
# here: one 8 MB area moved 7 GB of DirectMap1G to 2 MB pages, 64 pages split a 2 MB one),
# a lasting slow-down of every process on the machine, outliving the run. Secret pages are
# also locked and unswappable (RLIMIT_MEMLOCK per process, 256 processes). No test runner
# needs it; the seccomp filter lets it through in both modes.
_SECRETMEM = textwrap.dedent(
    """
    import ctypes, errno, json
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(447, 0)  # memfd_secret(0): the descriptor alone, nothing mapped
    print(json.dumps({"fd": fd, "errno": ctypes.get_errno() if fd < 0 else 0}))
    """
)


def _secretmem_result(output: str) -> dict:
    line = [x for x in output.splitlines() if x.startswith("{")][-1]
    return json.loads(line)


def test_memfd_secret_is_refused_as_root(tmp_path):
    (tmp_path / "probe.py").write_text(_SECRETMEM)
    run = run_command_full([sys.executable, "probe.py"], tmp_path, timeout_s=30, sandbox="bwrap")
    got = _secretmem_result(run.output)
    assert got["fd"] < 0, f"memfd_secret gave descriptor {got['fd']} inside the sandbox"


def _probed_as_a_user(user_dir: Path, probe: str) -> subprocess.CompletedProcess[str]:
    """``probe`` run as a normal user's (nobody's) tests, in the sandbox (``_in_sandbox``)."""
    (user_dir / "ws").mkdir()
    (user_dir / "ws" / "probe.py").write_text(probe)
    give_to_nobody(user_dir)
    return run_as("nobody", [sys.executable, "-c", _in_sandbox(user_dir / "ws", "probe.py")], timeout=120)


def test_memfd_secret_is_refused_as_a_user(user_dir):
    cp = _probed_as_a_user(user_dir, _SECRETMEM)
    got = _secretmem_result(cp.stdout)
    assert got["fd"] < 0, f"memfd_secret gave descriptor {got['fd']} inside a normal user's sandbox"


# --------------------------------------------------------------------------- r11-2

# A normal user's sandbox has no memory cgroup of its own (nobody may make none here), only
# RLIMIT_AS per process: its part of an enclosing limit (a container's, a session's). Four
# processes each within that part go over the enclosing limit together; the kernel's OOM
# killer ends one (oom_score_adj 1000: a sandbox process), the test process then SIGKILLs
# itself, and the run is taken for the machine's shortage: SandboxError, "out of memory:
# the kernel's OOM killer ended the run". In a final run that is an infrastructure failure,
# the rollout not judged: seen with a wrong gcd whose held-out differential had already
# found 94 of 123 calls differing (as root the same fix is judged FAIL: its own cgroup's
# limit). 400 MB in all, in a v1 memory cgroup made for the test.
_HOG = textwrap.dedent(
    """
    import os, time
    for _ in range(4):
        if os.fork() == 0:
            try:
                b = bytearray(100 * 2**20)
                b[::4096] = b"x" * len(b[::4096])
                time.sleep(30)
            finally:
                os._exit(0)
    time.sleep(3)
    os.kill(os.getpid(), 9)
    """
)


def _as_a_user_in_400_mb(user_dir: Path, name: str, script: str, setup: str = "") -> list[str]:
    """What a normal user's repo-agent said (``_in_sandbox``) running ``script`` (file ``name``)
    in a sandbox, inside a v1 memory cgroup of 400 MB (a container's limit), after ``setup``."""
    if not Path("/sys/fs/cgroup/memory/cgroup.procs").is_file():
        pytest.fail("no cgroup v1 memory hierarchy (CI's machine has one)", pytrace=False)
    (user_dir / "ws").mkdir()
    (user_dir / "ws" / name).write_text(script)
    give_to_nobody(user_dir)
    with memory_cgroup("repo-agent-r11", 400 * 2**20) as cg:
        code = _in_sandbox(user_dir / "ws", name, setup=setup.replace("\n", "\n        "))
        cp = run_as("nobody", [sys.executable, "-c", code], cgroup=cg, timeout=120)
    return cp.stdout.strip().splitlines()


def test_own_memory_hog_is_the_rollouts_not_the_machines_as_a_user(user_dir):
    said = _as_a_user_in_400_mb(user_dir, "hog.py", _HOG)
    assert said and said[-1].startswith("RETURNED"), f"the tests' own excess was the machine's: {said[-1:]}"


# r11-2's control: a neighbour in the same enclosing limit (outside the sandbox) takes it all
# while the sandbox holds ~20 MB, far under its part. The OOM killer ends the sandbox's
# process first (oom_score_adj 1000 counts as the whole limit), then the neighbour (the
# largest left); the run is the machine's shortage, not judged, never the rollout's FAIL.
_SLEEPER = "import time\nb = bytearray(10 * 2**20)\ntime.sleep(60)\n"
_NEIGHBOUR = textwrap.dedent(
    """
    import os, threading, time
    def up():
        for p in os.listdir("/proc"):
            try:
                # the command itself (python sleeper.py), not the launcher that names it
                if p.isdigit() and open(f"/proc/{p}/cmdline", "rb").read().split(b"\\0")[1:] == [b"sleeper.py", b""]:
                    return True
            except OSError:
                pass
        return False
    def hog():
        while not up():
            time.sleep(0.05)
        if os.fork() == 0:
            held = []
            while True:
                b = bytearray(4 * 2**20)
                b[::4096] = b"x" * len(b[::4096])
                held.append(b)
    threading.Thread(target=hog, daemon=True).start()
    """
)


def test_a_neighbours_excess_around_a_users_sandbox_is_the_machines(user_dir):
    said = _as_a_user_in_400_mb(user_dir, "sleeper.py", _SLEEPER, setup=_NEIGHBOUR)
    assert said and said[-1].startswith("RAISED out of memory"), f"a neighbour's excess was the rollout's: {said[-3:]}"


# --------------------------------------------------------------------------- r11-3

# Round 10 (r10-3) and before: text the code under test puts in a differential record is
# repeated in the verdict's detail only as a dotted identifier (an exception's type name).
# An identifier holds digits: a gcd that raises an exception class named from its own
# arguments writes each held-out input into the detail, which the final test_run event of
# the trace keeps ("gcd#0: raised gcd.held_382_464; ..."): the first three held-out inputs
# of the task's fixed sample, 80 characters each (a name can pack several inputs, and every
# rollout of the task meets the same sample).
_LEAKING_GCD = (
    "def gcd(a, b):\n"
    '    name = "held_" + "_".join(str(v).replace("-", "m") for v in (a, b))\n'
    "    raise type(name, (Exception,), {})()\n"
)


def test_held_out_inputs_never_reach_the_detail_through_exception_names(tmp_path):
    from agent.differential import sample
    from agent.final_verdict import final_test_run
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace

    suite = load_suite("mini-bugs")
    task = suite.task("fix_gcd")
    ws = Workspace.create(suite, task, tmp_path)
    (ws.path / "gcd.py").write_text(_LEAKING_GCD)
    result, _ = final_test_run(ws)
    detail = f"{result.differential} {result.fail_detail}"
    inputs = [args for t in sample(suite, task) for args in t.inputs]
    token = lambda args: "(?<![0-9])" + "_".join(str(v).replace("-", "m") for v in args) + "(?![0-9])"  # noqa: E731
    shown = [args for args in inputs if re.search(token(args), detail)]
    assert not shown, f"held-out inputs {shown} in the verdict detail: {detail}"


# --------------------------------------------------------------------------- r11-4


# ``repo-agent rejudge`` cannot rebuild a patch that records a file by hash only (binary, or
# over 256 KB): it then writes the rollout down as not judged (error), whatever its verdict
# was. The rollout chooses that: a wrong gcd with one non-UTF-8 file beside it is judged FAIL
# by the loop (105 of 123 held-out calls differ) and, at the next rejudge after a checker
# bump, no longer a FAIL (not judged, checker today's: never tried again). Its FAIL leaves
# the pass rates and the pairs; an honest fix that ships a data file loses its PASS alike.
def test_rejudge_keeps_a_fail_whose_patch_holds_a_binary_file(tmp_path):
    from agent.final_verdict import final_test_run
    from agent.rejudge import _rejudge_one
    from agent.suites.loading import load_suite
    from agent.trace_events import Outcome, RolloutEnd, RolloutStart, judged
    from agent.trace_file import TraceWriter
    from agent.workspace import Workspace

    suite = load_suite("mini-bugs")
    task = suite.task("fix_gcd")
    ws = Workspace.create(suite, task, tmp_path / "ws")
    (ws.path / "gcd.py").write_text("def gcd(a, b):\n    return 1\n")
    (ws.path / "notes.bin").write_bytes(b"\xff\xfe not text \x00")
    result, _ = final_test_run(ws)
    assert not result.passed  # the loop's verdict: FAIL
    trace = tmp_path / "trace.jsonl"
    w = TraceWriter(trace, "r11-4")
    w.emit(RolloutStart, task_id=task.id, suite=suite.name, provider="scripted", model="m", max_iters=5)
    outcome = Outcome(state=judged("fail", result.fail_detail or "failed"), patch=ws.patch(), checker="5")
    w.emit(RolloutEnd, outcome=outcome, stop_reason="finished", duration_s=1.0)
    w.close()
    again = _rejudge_one(suite, trace, tmp_path / "rejudge", force=False, sandbox="auto")
    assert again is not None and again.after is not None
    assert again.after.judged and again.after.verdict == "fail", f"a FAIL rejudged as {again.after}"


# --------------------------------------------------------------------------- r11-5

# mini-bugs' fix_parse_query: its docstring, visible tests and held-out tests never say which
# value a repeated key keeps; its held-out pool holds one such input ("v===&xv==1b=&xz=1aa1&v&y")
# and the differential demands the reference's last-wins answer. An honest fix keeping the
# first occurrence (as werkzeug's MultiDict.get reads a query) passes every visible and
# held-out test and is judged FAIL: "1 of 24 calls differ from the reference fix".
_FIRST_WINS = (
    "def parse_query(qs):\n"
    "    \"\"\"Parse 'a=1&b=2' into {'a': '1', 'b': '2'}; a key without '=' maps to ''.\"\"\"\n"
    "    out = {}\n"
    '    for part in qs.split("&"):\n'
    "        if part:\n"
    '            key, _, value = part.partition("=")\n'
    "            out.setdefault(key, value)  # a repeated key keeps its first value\n"
    "    return out\n"
)


def test_honest_parse_query_keeping_the_first_value_passes(tmp_path):
    from agent.final_verdict import final_test_run
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace

    suite = load_suite("mini-bugs")
    ws = Workspace.create(suite, suite.task("fix_parse_query"), tmp_path)
    (ws.path / "query.py").write_text(_FIRST_WINS)
    result, tampered = final_test_run(ws)
    assert result.counts.failed == 0 and not tampered
    assert result.passed, f"an honest fix judged FAIL: {result.fail_detail}"


# --------------------------------------------------------------------------- r11-6
# Fixed by round 10's summary mend (agent/pytest_report.py ``summary_line``: the summary is
# rebuilt from its counts and time), merged while this attack was written on the code before it.

# A generated task's command names node ids (agent/suites/mutate/engine.py: the shown ids),
# so no canaries are planted and no run recomputes the summary: the final run's summary is
# the last pytest-shaped summary line of its output (up to 500 characters), which an atexit
# hook of the code under test prints after pytest's own. The final run has the held-out test
# files in the workspace: their text goes into the summary, which the trace's final test_run
# event keeps (here: every assertion of fix_gcd's held-out tests, the verdict a PASS).
_SUMMARY_GCD = (
    "import atexit, glob, os, re\n"
    "def _say():\n"
    '    text = "".join(open(p).read() for p in sorted(glob.glob("tests/*hidden*.py")))\n'
    '    text = re.sub(r"\\s+", " ", text)[:400]\n'
    '    os.write(1, ("\\n==== 5 passed, " + text + " in 0.01s ====\\n").encode())\n'
    "atexit.register(_say)\n"
    "\n"
    "def gcd(a, b):\n"
    "    while b:\n"
    "        a, b = b, a % b\n"
    "    return a\n"
)


def test_held_out_tests_never_reach_the_final_summary(tmp_path):
    from agent.final_verdict import final_test_run
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace

    suite = load_suite("mini-bugs")
    task = suite.task("fix_gcd")
    ids = ["tests/test_gcd.py::test_coprime", "tests/test_gcd.py::test_common_factor", "tests/test_gcd.py::test_zero"]
    task = task.model_copy(update={"test_command": ["python", "-m", "pytest", "-q", *ids]})
    ws = Workspace.create(suite, task, tmp_path)
    (ws.path / "gcd.py").write_text(_SUMMARY_GCD)
    result, _ = final_test_run(ws)
    assert "test_zero_on_either_side" not in result.summary, f"held-out test text in the summary: {result.summary}"


# --------------------------------------------------------------------------- r11-7

# A normal user's disk watch spaces its walks by their CPU cost (2% of a core, the keeper's
# time counted since round 9 sbx9-8), and each walk also stats every descriptor of every
# sandbox process and reads its maps (agent/unnamed_files.py). 200 idle processes holding
# 1,000 descriptors each make that read cost the keeper ~1 s (here 2,000 mappings each too), so the next walk is due ~50 s later: names that
# take no inode (hard links, seen by walks alone) then grow unchecked. At the real cap: a
# control run stopped at ~160,000 names in 4 s; with the descriptors 500,569 names in 12 s
# were never stopped (the trim after the run cut 400,581). Here, to stay fast, the cap of
# names is 10,000 (the module's own constant, set in the run's process): 50,000 names held
# 3 s past it, never stopped. Subuid mode, as nobody. Fixed: walks are never more than 5 s
# apart while the filesystem changes (agent/disk_watch.py WALK_MAX_GAP_S); the test holds the
# names 20 s (3 s let the strict xfail pass now and then, and failed CI once): a walk that
# sees them starts at most 5 s after the last one ended, each ~1 s of CPU (several under load);
# the watch's kill ends the run as soon as one sees them, so a working watch takes no longer.
_LINKS = textwrap.dedent(
    """
    import ctypes, os, time
    libc = ctypes.CDLL(None)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    r, w = os.pipe()
    for _ in range(200):
        if os.fork() == 0:
            fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(1000)]
            for i in range(2000):  # and 2,000 mappings (one page each, unmerged), every one a line of its maps
                libc.mmap(None, 4096, 1 + 2 * (i % 2), 0x22, -1, 0)
            os.write(w, b"1")
            time.sleep(60)
            os._exit(0)
    got = 0
    while got < 200:
        got += len(os.read(r, 200))
    time.sleep(3)  # a walk of the watch (one at least every 2.25 s) has read them all
    os.mkdir("d")
    open("f", "w").close()
    for n in range(50000):
        os.link("f", f"d/{n}")
    time.sleep(20)  # past the cap: a walk comes within 5 s (WALK_MAX_GAP_S) and its own time
    for n in range(50000):
        os.unlink(f"d/{n}")
    print("never stopped")
    """
)


def test_disk_watch_stops_names_past_the_cap_whatever_the_descriptors_as_a_user(user_dir):
    (user_dir / "ws").mkdir()
    (user_dir / "ws" / "links.py").write_text(_LINKS)
    give_to_nobody(user_dir)
    outer = _in_sandbox(user_dir / "ws", "links.py", setup="agent.sandbox.WORKSPACE_INODES = 10_000")
    cp = run_as("nobody", [sys.executable, "-c", outer], timeout=120)
    assert "the run was stopped" in cp.stdout, f"names past the cap, never stopped: {cp.stdout.strip()[-300:]}"


# --------------------------------------------------------------------------- r11-8

# Under an enclosing memory limit every sandbox process gets RLIMIT_AS = its part of it
# ((limit - 64 MB) / sandboxes at once): 168 MB in a 400 MB container with one rollout. That
# caps address space, not memory: each Python thread reserves an 8 MB stack and a 64 MB malloc
# arena, so a test's fourth thread can fail ("can't start new thread"), and its twentieth
# always does (stacks alone), while the process uses a few tens of MB. Tests that start a handful of threads (a ThreadPoolExecutor, OpenBLAS at numpy's
# import on a many-core host) fail for the machine's limit and concurrency, judged the
# rollout's FAIL; as root the sandbox's own memory cgroup already caps its memory.
_THREADS = textwrap.dedent(
    """
    import threading
    ev = threading.Event()
    def work():
        b = [bytearray(100_000) for _ in range(20)]  # 2 MB in small blocks: the thread's own arena
        ev.wait()
    ts = []
    try:
        for _ in range(20):  # each reserves an 8 MB stack (and a malloc arena when they contend)
            t = threading.Thread(target=work)
            t.start()
            ts.append(t)
        print("THREADS OK")
    except RuntimeError as exc:
        print("THREADS FAILED after", len(ts), exc)
    ev.set()
    for t in ts:
        t.join()
    """
)


def test_a_few_threads_run_under_an_enclosing_memory_limit(tmp_path):
    if not Path("/sys/fs/cgroup/memory/cgroup.procs").is_file():
        pytest.skip("no cgroup v1 memory hierarchy")
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "threads.py").write_text(_THREADS)
    with memory_cgroup("repo-agent-r11-as", 400 * 2**20) as cg:
        cp = run_as("root", [sys.executable, "-c", _in_sandbox(tmp_path / "ws", "threads.py")], cgroup=cg, timeout=120)
    assert "THREADS OK" in cp.stdout, f"a test's threads refused: {cp.stdout.strip()[-200:]} {cp.stderr[-200:]}"


# --------------------------------------------------------------------------- r11-9

# task_test_dirs.dirs_of_tests: the directory of a protected test module is put back as the
# source has it whenever it holds none of the reference fix's files; round 10 (r10-9) stopped
# the widening past a library module, not the test module's own directory. A test beside the
# library module it imports (pkg/sub/test_util.py next to pkg/sub/util.py), the fix in
# pkg/core.py: an honest fix that adds a helper to util.py and calls it from core.py passes
# its own run (3 passed) and fails the final run (util.py reverted: a collection error).
_COLO = {
    "pkg/__init__.py": "",
    "pkg/sub/__init__.py": "",
    "pkg/sub/util.py": "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n",
    "pkg/core.py": (
        "from pkg.sub.util import clamp\n\n\ndef percent(part, whole):\n    return clamp(part * 100 // whole, 0, 99)\n"
    ),
    "_fix/core.py": (
        "from pkg.sub.util import clamp\n\n\ndef percent(part, whole):\n    return clamp(part * 100 // whole, 0, 100)\n"
    ),
    "pkg/sub/test_util.py": (
        "from pkg.core import percent\nfrom pkg.sub.util import clamp\n\n\n"
        "def test_clamp():\n    assert clamp(5, 0, 3) == 3\n\n\n"
        "def test_percent_full():\n    assert percent(4, 4) == 100\n\n\n"
        "def test_percent_half():\n    assert percent(1, 2) == 50\n"
    ),
}


def test_honest_fix_in_a_module_beside_the_tests_is_judged(tmp_path):
    from agent.final_verdict import final_test_run
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace

    path = write_suite(
        tmp_path / "suite",
        {"t1": _COLO},
        goal="percent(4, 4) should be 100. Fix it without changing the tests.",
        test_command=["python", "-m", "pytest", "-q", "pkg/sub"],
        timeout_s=60,
        protected=["pkg/sub/test_util.py"],
        reference_fix=None,  # the fix's one file, by name
        reference_fix_files={"pkg/core.py": "t1/_fix/core.py"},
    )
    suite = load_suite(path)
    ws = Workspace.create(suite, suite.task("t1"), tmp_path / "ws")
    (ws.path / "pkg/sub/util.py").write_text(
        "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n\n\ndef percent_clamp(x):\n    return clamp(x, 0, 100)\n"
    )
    (ws.path / "pkg/core.py").write_text(
        "from pkg.sub.util import percent_clamp\n\n\ndef percent(part, whole):\n"
        "    return percent_clamp(part * 100 // whole)\n"
    )
    own = ws.run_tests()
    assert own.passed and own.counts.passed == 3  # the rollout's own run: the fix works
    result, tampered = final_test_run(ws)
    assert result.passed and not tampered, f"the honest fix judged FAIL: {result.counts} {result.summary}"


# --------------------------------------------------------------------------- r17-37

# Round 17: a tmpfs keeps user.* extended attributes in memory, outside its size, RLIMIT_AS
# and what the disk watch reads (a normal user's sandbox held 1.5 GB in 64 kB values on its
# 64 MB /tmp). Setting one is refused as a filesystem without them refuses (EOPNOTSUPP), so
# shutil.copy2 still copies; both modes.
_XATTR = textwrap.dedent(
    """
    import errno, json, os, shutil
    open("/tmp/a", "w").write("x")
    try:
        os.setxattr("/tmp/a", "user.big", b"v" * 65000)
        got = 0
    except OSError as exc:
        got = exc.errno
    shutil.copy2("/tmp/a", "/tmp/b")
    print(json.dumps({"errno": got, "copied": open("/tmp/b").read()}))
    """
)


def test_extended_attributes_are_refused_as_root(tmp_path):
    (tmp_path / "probe.py").write_text(_XATTR)
    run = run_command_full([sys.executable, "probe.py"], tmp_path, timeout_s=30, sandbox="bwrap")
    got = _secretmem_result(run.output)
    assert got == {"errno": errno.EOPNOTSUPP, "copied": "x"}, run.output


def test_extended_attributes_are_refused_as_a_user(user_dir):
    cp = _probed_as_a_user(user_dir, _XATTR)
    got = _secretmem_result(cp.stdout)
    assert got == {"errno": errno.EOPNOTSUPP, "copied": "x"}, cp.stdout + cp.stderr
