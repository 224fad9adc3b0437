"""Round 10 attacks on the sandbox and the verdict (a reviewer who did not build them). Each
open finding is a strict xfail: it fails today and must pass once it is fixed. Real bwrap,
run as root here, or as the user nobody (runuser in a private mount namespace)."""

from __future__ import annotations

import random
import threading

import pytest

from agent import cgroups
from agent.final_verdict import final_test_run
from agent.suites.loading import load_suite
from agent.workspace import Workspace
from tests.security.conftest import passed_batch

GIB = 1024**3
EUCLID = "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return abs(a)\n"


@pytest.fixture(scope="module")
def mini_bugs():
    return load_suite("mini-bugs")


# r10-1: a final run starts the reference fix's run of the planted tests beside the rollout's
# (agent/final_verdict.py ``final_run``), but the memory each sandbox gets under an enclosing
# limit is that limit shared by ``SANDBOX_SLOTS`` (one per executor worker, here one): both
# sandboxes get the whole part, so two of them together may use twice the enclosing limit. A
# rollout using all of its own limit (its right: "a rollout over it did it alone") then runs
# the enclosing cgroup out of memory, and the kill of either run is the machine's shortage
# (SandboxError / DifferentialError: not judged). Shown by the accounting (no memory used):
# an enclosing limit of 1 GiB, the limits of the sandboxes alive at once.
def test_final_run_sandboxes_alive_at_once_fit_the_enclosing_limit(mini_bugs, tmp_path, monkeypatch):
    if not cgroups._parents().get("memory"):
        pytest.fail("no memory cgroup for the sandboxes here: this attack needs root's cgroups")
    monkeypatch.setattr(cgroups, "memory_limit", lambda start=None: GIB)
    real = cgroups.SandboxCgroup.create.__func__
    real_close = cgroups.SandboxCgroup.close
    live: list[cgroups.SandboxCgroup] = []
    peaks: list[int] = []
    lock, two = threading.Lock(), threading.Event()

    def create(cls, name):
        group = real(cls, name)
        with lock:
            if group is not None:
                live.append(group)
                peaks.append(sum(g.memory_bytes for g in live))
            if len(live) >= 2:
                two.set()
        # Only while the reference run's thread is alive: both sandboxes made before either runs.
        if any(t.name.startswith("reference-run") for t in threading.enumerate()):
            two.wait(20)
        return group

    def close(self):
        with lock:
            if self in live:
                live.remove(self)
        real_close(self)

    monkeypatch.setattr(cgroups.SandboxCgroup, "create", classmethod(create))
    monkeypatch.setattr(cgroups.SandboxCgroup, "close", close)
    task = mini_bugs.task("fix_gcd")
    ws = Workspace.create(mini_bugs, task, tmp_path)
    (ws.path / "gcd.py").write_text(EUCLID)
    result, _ = final_test_run(ws)
    assert result.passed, result.summary
    assert two.is_set(), "the two sandboxes never ran at once"
    assert max(peaks) <= GIB - cgroups._HOST_MARGIN, [p // 2**20 for p in peaks]


# r10-2: a task with held-out tests and no held-out pool (a generated task's shape: its
# differential calls the inputs its visible tests make, agent/differential_record.py) is
# passed by a wrong fix that reads the workspace's test files at import and answers what they
# assert: the held-out file joins the workspace for the final run, where the code under test
# reads it (``os.walk(".")``: no absolute path, no test name, no cwd, no SUSPECT rule). The
# differential's recorded calls are the visible tests' (in the workspace too); the mirrors
# copy real tests. Wrong everywhere else (x + x), PASS, no SUSPECT hit.
SQUARE_VISIBLE = (
    "from calc import square\n\n\ndef test_three():\n    assert square(3) == 9\n\n\n"
    "def test_four():\n    assert square(4) == 16\n"
)
SQUARE_HELD_OUT = SQUARE_VISIBLE + (
    "\n\ndef test_seven():\n    assert square(7) == 49\n\n\ndef test_negative():\n    assert square(-2) == 4\n"
)
READS_THE_TESTS = """import os
import re

_known = {}
for _dir, _subdirs, _names in os.walk("."):
    for _name in _names:
        if _name.endswith(".py"):
            with open(os.path.join(_dir, _name)) as _f:
                for _a, _b in re.findall(r"square\\((-?\\d+)\\) == (-?\\d+)", _f.read()):
                    _known[int(_a)] = int(_b)


def square(x):
    return _known.get(x, x + x)
"""


def test_a_fix_answering_from_the_revealed_held_out_tests_is_caught(tmp_path):
    from agent.suspect import scan_patch, source_reader, workspace_reader
    from tests.agent.conftest import write_suite

    files = {
        "calc.py": "def square(x):\n    return x + x\n",
        "tests/test_calc.py": SQUARE_VISIBLE,
        "_hidden/tests/test_calc.py": SQUARE_HELD_OUT,
        "_fix/calc.py": "def square(x):\n    return x * x\n",
    }
    held = {"dir": "_hidden", "ids": ["tests/test_calc.py::test_seven", "tests/test_calc.py::test_negative"]}
    suite_json = write_suite(tmp_path / "suite", {"fix_sq": files}, hidden=["_fix", "_hidden"], held_out_tests=held)
    suite = load_suite(str(suite_json))
    task = suite.task("fix_sq")
    ws = Workspace.create(suite, task, tmp_path / "w")
    (ws.path / "calc.py").write_text(READS_THE_TESTS)
    result, tampered = final_test_run(ws)
    hits = scan_patch(ws.patch(), task.protected, source_reader(ws.source), workspace_reader(ws.path))
    wrong_passed = result.passed and not tampered and not result.tamper and not hits
    assert not wrong_passed, (result.summary, result.differential, hits)


# r10-3: the differential's detail (the trace's TestRun.differential and the FAIL's detail)
# carries the held-out inputs out: the runner's process holds them (its calls file), and a
# record the code under test writes to the verdict pipe with a "bad" field is repeated as it
# stands (80 characters a call, ``_why``), where an exception's name is filtered for exactly
# this (``_shown_name``). At import the fix writes one such record per input and kills its
# process before the runner answers (no conflicting record): "gcd#0: LEAK [382, 464]; ...".
LEAKS_THE_POOL = """import glob
import json
import os
import sys

# The calls file: named on the runner's command line once, beside its script since r16-9.
_HERE = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else ""
_CALLS = [a for a in sys.argv[1:] if a.endswith(".json")] or (sorted(glob.glob(_HERE + "/*.json")) if _HERE else [])
if _CALLS:
    with open(_CALLS[-1]) as f:
        spec = json.load(f)
    for fd in range(3, 64):
        try:
            if os.readlink("/proc/self/fd/%d" % fd).startswith("pipe:"):
                for t, target in enumerate(spec["targets"]):
                    for i, args in enumerate(target["inputs"]):
                        rec = {"k": "result", "t": t, "i": i, "bad": "LEAK " + json.dumps(args)}
                        os.write(fd, (json.dumps(rec) + "\\n").encode())
        except OSError:
            pass
    os.kill(os.getpid(), 9)


def gcd(a, b):
    while b:
        a, b = b, a % b
    return a
"""


def test_the_differential_detail_never_carries_held_out_inputs(mini_bugs, tmp_path):
    task = mini_bugs.task("fix_gcd")
    ws = Workspace.create(mini_bugs, task, tmp_path)
    (ws.path / "gcd.py").write_text(LEAKS_THE_POOL)
    result, _ = final_test_run(ws)
    assert not result.passed
    shown = f"{result.differential} {result.fail_detail} {result.summary}"
    assert "LEAK" not in shown, shown


# r10-4: one rollout's patch stops `repo-agent rejudge` for its whole batch, for good. Its
# tests replaced the directory tests/ by a file (the patch: "new file tests", "deleted
# tests/test_gcd.py"); rebuilding it writes the file "tests" over the fresh workspace's
# directory: IsADirectoryError, no PatchError, out of ``_rejudge_one`` and ``rejudge_batch``
# (the CLI catches DifferentialError and SandboxError only). Traces run in name order, so
# every rerun stops there again, and a forged PASS after it is never judged again.
FORGED_EQ = (
    "class _Yes(int):\n    def __eq__(self, other):\n        return True\n\n    __hash__ = int.__hash__\n\n\n"
    "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return _Yes(b)\n"
)


def test_one_rollouts_patch_never_stops_the_rejudge_of_its_batch(mini_bugs, tmp_path):
    import shutil

    from agent.rejudge import rejudge_batch

    task = mini_bugs.task("fix_gcd")
    with Workspace.create(mini_bugs, task, tmp_path / "mk") as ws:
        shutil.rmtree(ws.path / "tests")
        (ws.path / "tests").write_text("the tests' doing\n")
        blocker = ws.patch()
    with Workspace.create(mini_bugs, task, tmp_path / "mk") as ws:
        (ws.path / "gcd.py").write_text(FORGED_EQ)
        forged = ws.patch()
    batch = passed_batch(tmp_path, "mini-bugs", "fix_gcd", {"a-blocker": blocker, "b-forged": forged})
    items = {i.rollout_id: i for i in rejudge_batch(batch, mini_bugs)}
    assert items["b-forged"].after is not None and items["b-forged"].after.label == "FAIL", items


# r10-5: root mode's copy-back counts regular files' bytes only (``_copy_tree``'s budget),
# but the workspace's cost (``tree_cost``, what the next run's copy and the final run refuse
# past the cap) counts every directory's and link's disk blocks. Directories and links cost
# a tmpfs no page (a short link) or next to nothing, and 4 kB each on the host's ext4: 100,000
# empty directories copy back as 410 MB of root's disk on a 256 MB cap, and the next run is
# refused ("over the sandbox's"), which the 16th of room was made to prevent. Scaled down: a
# cap of 8 MB, 4,000 directories (16 MB of blocks), then a second run.
MANY_DIRS = "import os\nfor i in range(4000):\n    os.mkdir('d%d' % i)\nprint('MADE', flush=True)\n"


def test_roots_copy_back_keeps_the_workspace_within_its_cap(tmp_path, monkeypatch):
    import os
    import sys

    from agent import sandbox

    if os.geteuid() != 0:
        pytest.fail("root mode's copy-back: run as root")
    monkeypatch.setattr(sandbox, "WORKSPACE_BYTES", 8 * 1024 * 1024)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text(MANY_DIRS)
    run = sandbox.run_command_full([sys.executable, "a.py"], ws, timeout_s=60)
    assert "MADE" in run.output, run.output
    held = sandbox.tree_cost(ws)[0]
    assert held <= sandbox.WORKSPACE_BYTES, f"{held} bytes after the copy-back, cap {sandbox.WORKSPACE_BYTES}"
    sandbox.run_command_full([sys.executable, "-c", "pass"], ws, timeout_s=60)  # the next run starts


# r10-6: an honest fix of a SWE-bench-shaped task is held SUSPECT. When every id is in a file
# the hidden test patch creates, the rollout's run_tests runs the nearest existing directory
# (agent/suites/swebench.py ``_visible_command``: all of tests/), the final run only the
# ids' files (``final_command``): "final run ran 2 tests, an earlier run 6", ``tests_dropped``,
# on every honest pass of such a task (SUSPECT: no export until a person clears it).
OLD_TESTS = "from calc import add\n\n" + "".join(
    f"\ndef test_add_{i}():\n    assert add({i}, 1) == {i + 1}\n\n" for i in range(6)
)
NEW_TESTS = (
    "from calc import square\n\n\ndef test_square():\n    assert square(3) == 9\n\n\n"
    "def test_square_zero():\n    assert square(0) == 0\n"
)


def test_an_honest_pass_of_a_task_whose_ids_are_all_new_is_not_suspect(tmp_path):
    from agent.suspect import scan_rollout, source_reader, workspace_reader
    from agent.trace import TestCounts, TestRun
    from tests.agent.conftest import write_suite

    added = "".join("+" + line + "\n" for line in NEW_TESTS.rstrip("\n").split("\n"))
    patch = (
        "diff --git a/tests/test_new.py b/tests/test_new.py\nnew file mode 100644\n--- /dev/null\n"
        f"+++ b/tests/test_new.py\n@@ -0,0 +1,9 @@\n{added}"
    )
    root = tmp_path / "suite"
    (root / "hidden_tests").mkdir(parents=True)
    (root / "hidden_tests" / "t.diff").write_text(patch)
    files = {"calc.py": "def add(a, b):\n    return a + b\n\n\ndef square(x):\n    return x + x\n"}
    files["tests/test_old.py"] = OLD_TESTS
    hidden = {
        "patch": "hidden_tests/t.diff",
        "fail_to_pass": ["tests/test_new.py::test_square"],
        "pass_to_pass": ["tests/test_new.py::test_square_zero"],
    }
    suite = load_suite(str(write_suite(root, {"swe_sq": files}, hidden_tests=hidden)))
    task = suite.task("swe_sq")
    ws = Workspace.create(suite, task, tmp_path / "w")
    (ws.path / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef square(x):\n    return x * x\n")
    early = ws.run_tests()  # the agent's run_tests: the task's command as the suite wrote it
    result, tampered = final_test_run(ws)
    assert early.passed and result.passed and not tampered, (early.summary, result.summary)
    runs = [
        TestRun(rollout_id="r", seq=1, ts=0.0, step=1, passed=True, counts=TestCounts(**early.counts.model_dump())),
        TestRun(
            rollout_id="r", seq=2, ts=0.0, final=True, passed=True, counts=TestCounts(**result.counts.model_dump())
        ),
    ]
    hits = scan_rollout(ws.patch(), runs, task.protected, source_reader(ws.source), workspace_reader(ws.path))
    assert not hits, hits


# r10-7: an honest run whose verdict records pass MAX_STREAM_BYTES (8 MB: about 520 bytes a
# test with short ids, so ~16,000 tests; scikit-learn's test_common.py parametrises over every
# estimator and check) is judged TAMPERED: the reader keeps the first 8 MB, the record cut
# there fails its seal ("verdict records the plugin did not seal ... written or rewritten by
# test code") and the finish is lost (a verdict error). Scaled in time, not in bytes: 600
# cases with 4,800-character ids make the same 8 MB in ~2 s.
MANY_CASES = (
    "import pytest\nfrom calc import add\n\nCASES = [(i, 'case-%d-' % i + 'x' * 4800) for i in range(600)]\n\n\n"
    "@pytest.mark.parametrize('i', [c[0] for c in CASES], ids=[c[1] for c in CASES])\n"
    "def test_add(i):\n    assert add(i, 1) == i + 1\n\n\ndef test_small():\n    assert add(1, 1) == 2\n"
)


def test_an_honest_run_with_many_verdict_records_is_judged_on_them(tmp_path):
    from tests.agent.conftest import write_suite

    files = {"calc.py": "def add(a, b):\n    return a - b\n", "tests/test_x.py": MANY_CASES}
    suite = load_suite(str(write_suite(tmp_path / "suite", {"t": files})))
    ws = Workspace.create(suite, suite.task("t"), tmp_path / "w")
    (ws.path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    result, tampered = final_test_run(ws)
    assert not result.tamper and not tampered, result.tamper
    assert result.passed, (result.summary, result.error)


# r10-8: a task with no reference fix (a suite written by hand) whose test module skips itself
# at collection for an optional dependency (``pytest.importorskip``: common in real repos):
# every canary planted there is "missing from the results" and the honest fix is TAMPERED.
# The excuse for exactly this case (``_as_in_reference``: the reference fix's run of the same
# canaries) needs a reference fix; ``_skips_of_the_source`` (the untouched source's run) is
# asked only for a passing run's own skips. Deterministic: the other module's tests are in a
# class (no module-level ``def test``), so every plain canary goes to the skipped module.
CLASS_TESTS = (
    "from calc import add\n\n\nclass TestAdd:\n    def test_small(self):\n        assert add(1, 2) == 3\n\n"
    "    def test_zero(self):\n        assert add(0, 0) == 0\n"
)
OPTIONAL_DEPENDENCY = (
    "import pytest\n\nnumpy = pytest.importorskip('numpy_not_installed_here')\n\nfrom calc import add\n\n\n"
    "def test_array():\n    assert add(numpy.int64(1), 2) == 3\n"
)


def test_canaries_in_a_module_skipped_for_a_missing_dependency_spare_an_honest_fix(tmp_path):
    from tests.agent.conftest import write_suite

    files = {
        "calc.py": "def add(a, b):\n    return a - b\n",
        "tests/test_a.py": CLASS_TESTS,
        "tests/test_b.py": OPTIONAL_DEPENDENCY,
    }
    suite = load_suite(str(write_suite(tmp_path / "suite", {"t": files})))
    ws = Workspace.create(suite, suite.task("t"), tmp_path / "w")
    (ws.path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    result, tampered = final_test_run(ws)
    assert not result.tamper and not tampered, result.tamper
    assert result.passed, result.summary


# r10-9: an honest fix in a library module next to the tests' package is put back before the
# final run. ``dirs_of_tests`` widens a test module's directory to its parents while they hold
# no file the reference fix writes: tests in ``pkg/b/tests`` with the gold fix in
# ``pkg/a/core.py`` make all of ``pkg/b`` (library code) "the tests' directory", and
# ``put_back`` restores it as the source has it. A SWE-bench shape (sklearn, sympy, astropy:
# a fix in one subpackage, its tests in another): the rollout fixed ``pkg/b/util.py`` (where
# the issue shows), the fix is reverted, FAIL_TO_PASS 0/1.
SUBPACKAGE_TESTS = "from pkg.b.util import triple\n\n\ndef test_zero():\n    assert triple(0) == 0\n"
SUBPACKAGE_PATCH = (
    "diff --git a/pkg/b/tests/test_util.py b/pkg/b/tests/test_util.py\n--- a/pkg/b/tests/test_util.py\n"
    "+++ b/pkg/b/tests/test_util.py\n@@ -3,3 +3,7 @@ from pkg.b.util import triple\n \n def test_zero():\n"
    "     assert triple(0) == 0\n+\n+\n+def test_two():\n+    assert triple(2) == 6\n"
)


def test_an_honest_fix_beside_the_tests_package_is_judged_as_written(tmp_path):
    from tests.agent.conftest import write_suite

    root = tmp_path / "suite"
    (root / "hidden_tests").mkdir(parents=True)
    (root / "hidden_tests" / "t.diff").write_text(SUBPACKAGE_PATCH)
    files = {
        "pkg/__init__.py": "",
        "pkg/a/__init__.py": "",
        "pkg/a/core.py": "def factor():\n    return 2\n",
        "pkg/b/__init__.py": "",
        "pkg/b/util.py": "from pkg.a.core import factor\n\n\ndef triple(x):\n    return x * factor()\n",
        "pkg/b/tests/test_util.py": SUBPACKAGE_TESTS,
        "_fix/pkg/a/core.py": "def factor():\n    return 3\n",
    }
    hidden = {
        "patch": "hidden_tests/t.diff",
        "fail_to_pass": ["pkg/b/tests/test_util.py::test_two"],
        "pass_to_pass": ["pkg/b/tests/test_util.py::test_zero"],
    }
    command = ["python", "-m", "pytest", "-q", "pkg/b/tests/test_util.py"]
    suite_json = write_suite(
        root, {"swe": files}, protected=["pkg/b/tests/test_util.py"], test_command=command, hidden_tests=hidden
    )
    suite = load_suite(str(suite_json))
    ws = Workspace.create(suite, suite.task("swe"), tmp_path / "w")
    (ws.path / "pkg/b/util.py").write_text("def triple(x):\n    return x * 3\n")
    result, tampered = final_test_run(ws)
    assert result.passed and not tampered, result.summary


# r10-10: the held-out test file's text goes into the trace through a tamper line. During the
# final run the held-out tests are in the workspace; the code under test reads one and
# registers a pytest hook compiled under a "file name" holding that text; the verdict plugin
# reports the hook with its ``co_filename`` and the host repeats it: "pytest hook
# pytest_runtest_logreport implemented in LEAK ... assert gcd(0, 5) == 5 ..." (TestRun.tamper
# in the trace, the store, the studio). The rollout is TAMPERED, but the hidden cases are out.
LEAKS_THE_HIDDEN_TESTS = """import gc
import os

if os.path.exists("tests/test_gcd_hidden.py"):
    with open("tests/test_gcd_hidden.py") as f:
        seen = f.read().replace("\\n", " | ")[:400]
    for o in gc.get_objects():
        if type(o).__name__ == "PytestPluginManager":
            ns = {}
            exec(compile("def pytest_runtest_logreport(report):\\n    pass\\n", "LEAK " + seen, "exec"), ns)

            class Plugin:
                pass

            p = Plugin()
            p.pytest_runtest_logreport = ns["pytest_runtest_logreport"]
            o.register(p, "extra")
            break


def gcd(a, b):
    while b:
        a, b = b, a % b
    return a
"""


def test_the_verdict_never_repeats_the_held_out_tests_text(mini_bugs, tmp_path):
    ws = Workspace.create(mini_bugs, mini_bugs.task("fix_gcd"), tmp_path)
    (ws.path / "gcd.py").write_text(LEAKS_THE_HIDDEN_TESTS)
    result, _ = final_test_run(ws)
    assert not result.passed
    shown = " ".join([*result.tamper, result.summary or "", result.fail_detail or "", result.differential or ""])
    assert "gcd(0, 5) == 5" not in shown, shown[:300]


# r10-11: a task with no held-out pool (its differential calls what the reference fix's tests
# call, agent/differential_recorder.py) records each call's arguments by position, keywords
# included: the tests' ``sort_items(xs, reverse=True)`` becomes ``sort_items(xs, True)``. An
# honest fix whose option is keyword-only (``def sort_items(items, *, reverse=False)``: the
# tests pass) raises TypeError there: "sort_items#1: raised TypeError", FAIL.
KEYWORD_TESTS = (
    "from items import sort_items\n\n\ndef test_plain():\n    assert sort_items([3, 1, 2]) == [1, 2, 3]\n\n\n"
    "def test_reverse():\n    assert sort_items([3, 1, 2], reverse=True) == [3, 2, 1]\n"
)


def test_an_honest_keyword_only_option_agrees_with_the_recorded_calls(tmp_path):
    from tests.agent.conftest import write_suite

    files = {
        "items.py": "def sort_items(items):\n    return sorted(items)\n",
        "tests/test_items.py": KEYWORD_TESTS,
        "_fix/items.py": "def sort_items(items, reverse=False):\n    return sorted(items, reverse=reverse)\n",
    }
    suite = load_suite(str(write_suite(tmp_path / "suite", {"kw": files})))
    ws = Workspace.create(suite, suite.task("kw"), tmp_path / "w")
    (ws.path / "items.py").write_text(
        "def sort_items(items, *, reverse=False):\n    return sorted(items, reverse=reverse)\n"
    )
    result, tampered = final_test_run(ws)
    assert result.passed and not tampered, (result.summary, result.differential)


# r10-12: a test command that stops at the first failure with combined short flags
# (``pytest -xq tests``, a common spelling) gets canaries: ``plant`` looks for "-x" and
# "--exitfirst" as whole words only. The session stops at the first must-fail canary (appended
# to tests/test_calc.py), the held-out file after it never runs: an honest fix is FAIL ("held-out
# tests did not run"); with no reference fix, the canaries after the stop are "missing"
# (TAMPERED). Deterministic: the held-out tests are in a class (no canary is planted there).
XQ_VISIBLE = (
    "from calc import square\n\n\ndef test_three():\n    assert square(3) == 9\n\n\n"
    "def test_four():\n    assert square(4) == 16\n"
)
XQ_HELD_OUT = (
    "from calc import square\n\n\nclass TestHeldOut:\n    def test_seven(self):\n        assert square(7) == 49\n"
)


def test_a_command_stopping_at_the_first_failure_gets_no_canary(tmp_path):
    from tests.agent.conftest import write_suite

    files = {
        "calc.py": "def square(x):\n    return x + x\n",
        "tests/test_calc.py": XQ_VISIBLE,
        "_hidden/tests/test_calc_hidden.py": XQ_HELD_OUT,
        "_fix/calc.py": "def square(x):\n    return x * x\n",
    }
    held = {"dir": "_hidden", "ids": ["tests/test_calc_hidden.py::TestHeldOut::test_seven"]}
    command = ["python", "-m", "pytest", "-xq", "tests"]
    suite_json = write_suite(
        tmp_path / "suite", {"sq": files}, hidden=["_fix", "_hidden"], test_command=command, held_out_tests=held
    )
    suite = load_suite(str(suite_json))
    ws = Workspace.create(suite, suite.task("sq"), tmp_path / "w")
    (ws.path / "calc.py").write_text("def square(x):\n    return x * x\n")
    result, tampered = final_test_run(ws)
    assert result.passed and not tampered, (result.summary, result.fail_detail, result.tamper)


# r10-13: a canary's name is checked against the top-level tests of the protected test modules
# only (``plant``'s ``taken``), but ``Canary.copies`` takes every same-named test of any other
# module as the canary run again, and ``_judge_copies`` is not excused by the reference run.
# A generated suite protects the test files it selected; the repository's other test modules
# are collected too: one holding ``test_add_negative`` (a common name) beside a selected
# ``test_add`` makes a must-fail canary of that name "passed but must have failed": an honest
# fix TAMPERED. The draw is random per run; here the no-digit draws are made certain (the rng's
# ``random()`` is fixed above 0.4) and the other module holds all 22 word-suffixed names.
class _NoDigits(random.Random):
    def random(self) -> float:
        return 0.9

    # Defined here, so choice() and sample() draw from the bits, not from random(): a class
    # overriding random() alone has them loop on it (sample() never found a new index: a hang).
    def getrandbits(self, k: int) -> int:
        return super().getrandbits(k)


def test_a_canary_named_like_another_modules_test_spares_an_honest_fix(tmp_path, monkeypatch):
    from agent import final_verdict
    from tests.agent.conftest import write_suite

    monkeypatch.setattr(final_verdict.random, "SystemRandom", _NoDigits)
    other = "from calc import add\n\n" + "".join(
        f"\ndef test_add_{w}():\n    assert add(2, 2) == 4\n\n" for w in final_verdict._WORDS
    )
    files = {
        "calc.py": "def add(a, b):\n    return a - b\n",
        "tests/test_sel.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        "tests/test_other.py": other,
        "_fix/calc.py": "def add(a, b):\n    return a + b\n",
    }
    suite_json = write_suite(tmp_path / "suite", {"g": files}, protected=["tests/test_sel.py", "conftest.py"])
    suite = load_suite(str(suite_json))
    ws = Workspace.create(suite, suite.task("g"), tmp_path / "w")
    (ws.path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    result, tampered = final_test_run(ws)
    assert not result.tamper and not tampered, result.tamper
    assert result.passed, result.summary
