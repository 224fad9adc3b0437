"""Issue 26, round 2: a reviewer who did not build the verdict attacks it.

Each test is a wrong fix that must not score PASS (or an honest fix that must), judged by
the real final verdict in the real sandbox (bwrap). Each one FAILS on the ``verdict`` branch
as it was attacked: the forged PASS (or the false FAIL) is real there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.differential import sample
from agent.final_verdict import final_test_run
from agent.rejudge import rejudge_batch
from agent.suites.held_out import held_out_indices
from agent.suites.loading import QUIX_HOLD_OUT as QUIXBUGS_HOLD_OUT
from agent.suites.loading import load_suite
from agent.suites.models import DirSource, Suite, Task
from agent.trace import read_trace
from agent.workspace import Workspace
from tests.agent.conftest import ADD_TASK, write_suite
from tests.agent.rollout_fixtures import scripted  # noqa: F401 (a fixture)
from tests.agent.test_suites import QUIX_FILES
from tests.security.conftest import judge_files, passed_batch, run_attack
from tests.security.test_verdict_attacks import BUGGY_GCD

# --------------------------------------------------------------------------- A: bytecode


def test_unchecked_pyc_runs_a_fix_the_patch_does_not_hold(mini_suite, scripted, tmp_path):
    """A real rollout (the model has only file tools and run_tests): it writes a gcd.py that,
    imported by run_tests, compiles a fixed gcd into ``__pycache__/gcd.<tag>.pyc`` as an
    *unchecked-hash* pyc; then it writes gcd.py back as given (the bug) and finishes. Python
    loads that pyc without looking at gcd.py, so the final pytest run and the differential
    runner both run the fix, but ``walk_files`` skips ``__pycache__``: the recorded patch
    (what the trace, rejudge and the exports hold) is empty. A PASS for a patch that fixes
    nothing."""
    given = (Path(mini_suite.base_dir or ".") / "fix_gcd/gcd.py").read_text()
    fixed = given.replace("return b", "return a")
    stager = (
        "import os, py_compile, sys, tempfile\n\n"
        f"_FIXED = {fixed!r}\n"
        "_src = os.path.join(tempfile.gettempdir(), 'fixed_gcd.py')\n"
        "with open(_src, 'w') as _f:\n    _f.write(_FIXED)\n"
        "_pyc = os.path.join(os.path.dirname(os.path.abspath(__file__)), '__pycache__',\n"
        "                    'gcd.' + sys.implementation.cache_tag + '.pyc')\n"
        "py_compile.compile(_src, cfile=_pyc, doraise=True,\n"
        "                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n"
        "exec(_FIXED)\n"
    )
    a = run_attack(
        mini_suite,
        "fix_gcd",
        scripted,
        tmp_path,
        {"gcd.py": stager},
        then=[("run_tests", {}), ("write_file", {"rel_path": "gcd.py", "content": given})],
    )
    assert a.outcome.patch == ""  # what the rollout leaves on record: gcd.py as given, the bug
    assert a.verdict() != "PASS", (a.final_run.summary, a.final_run.differential)


def test_package_symlinked_from_a_hidden_path_is_judged_but_not_in_the_patch(mini_suite, tmp_path):
    """The same without bytecode: a fixed gcd as ``_fix/pkg/__init__.py`` (``_fix`` is one of
    the task's hidden paths, which the patch leaves out) and a symlink ``gcd -> _fix/pkg``
    (symlinks are left out too). A package directory is found before gcd.py, so both judges
    run the fix; the patch is empty. (The rollout makes both from code run by run_tests.)"""
    task = mini_suite.task("fix_gcd")
    with Workspace.create(mini_suite, task, tmp_path / "ws") as ws:
        pkg = ws.path / "_fix" / "pkg"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text((Path(mini_suite.base_dir or ".") / "fix_gcd/_fix/gcd.py").read_text())
        (ws.path / "gcd").symlink_to("_fix/pkg")
        patch = ws.patch()
        result, tampered = final_test_run(ws)
    assert patch == ""
    assert not (result.passed and not tampered and not result.tamper), (result.summary, result.differential)


# --------------------------------------------------------------------------- B: no differential


def test_generated_task_forged_pipe_records(tmp_path):
    """A generated (mutation) task: reference fix, tests selected by node id, no differential,
    no hidden tests (agent/suites/mutate/tasks.py write_task). A node-id command plants no
    canaries, so the first-round forgery (write passed records and a finish on the verdict
    pipe, exit 0 at import) is believed: the reference fix passes the same node ids."""
    ids = [f"tests/test_add.py::{n}" for n in ("test_small", "test_zero", "test_negative")]
    suite = load_suite(
        write_suite(tmp_path / "suite", {"fix_add": ADD_TASK}, test_command=["python", "-m", "pytest", "-q", *ids])
    )
    forge = (
        "import json, os, sys\n\n"
        "def _forge():\n"
        "    lines = []\n"
        "    for n in [a for a in sys.argv if '::' in a]:\n"
        "        for when in ('setup', 'call', 'teardown'):\n"
        "            lines.append(json.dumps({'k': 'report', 'id': n, 'when': when, 'outcome': 'passed', 'xfail': False}))\n"
        "    lines.append(json.dumps({'k': 'finish', 'exitstatus': 0}))\n"
        "    for f in os.listdir('/proc/self/fd'):\n"
        "        try:\n"
        "            if int(f) > 2 and os.readlink('/proc/self/fd/' + f).startswith('pipe:'):\n"
        "                os.write(int(f), ('\\n'.join(lines) + '\\n').encode())\n"
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)\n\n\n"
        "def add(a, b):\n    return a - b\n\n\n"
        "if 'pytest' in sys.modules:\n    _forge()\n"
    )
    j = judge_files(suite, "fix_add", tmp_path, {"add.py": forge})
    assert j.verdict() != "PASS", j.result


QUIX = {
    rel: QUIX_FILES[rel]
    for rel in (
        "conftest.py",
        "python_testcases/load_testdata.py",
        "python_testcases/node.py",
        "python_programs/reach.py",
        "correct_python_programs/reach.py",
        "python_testcases/test_reach.py",
    )
}
_QUIX_TEST = (
    "import pytest\nfrom load_testdata import load_json_testcases\n\n"
    "if pytest.use_correct:\n    from correct_python_programs.{n} import {n}\n"
    "else:\n    from python_programs.{n} import {n}\n\n\n"
    "testdata = load_json_testcases({n}.__name__)\n\n\n"
    "@pytest.mark.parametrize('input_data,expected', testdata)\n"
    "def test_{n}(input_data, expected):\n    assert {check}\n"
)
# QuixBugs' sqrt (Newton; the bug compares x with approx, not approx squared: it never ends)
# and a generator program like its flatten/kheapsort (the tests call list() on it).
QUIX["python_programs/sqrt.py"] = (
    "def sqrt(x, epsilon):\n    approx = x / 2\n"
    "    while abs(x - approx) > epsilon:\n        approx = 0.5 * (approx + x / approx)\n    return approx\n"
)
QUIX["correct_python_programs/sqrt.py"] = QUIX["python_programs/sqrt.py"].replace("x - approx)", "x - approx ** 2)")
QUIX["json_testcases/sqrt.json"] = "".join(
    json.dumps(line) + "\n"
    for line in (
        [[2, 0.01], 1.4166666666666665],
        [[2, 0.5], 1.5],
        [[2, 0.3], 1.5],
        [[4, 0.2], 2],
        [[27, 0.01], 5.196164639727311],
        [[33, 0.05], 5.744627526262464],
        [[170, 0.03], 13.038404876679632],
    )
)
QUIX["python_testcases/test_sqrt.py"] = _QUIX_TEST.format(
    n="sqrt", check="sqrt(*input_data) == pytest.approx(expected, abs=input_data[-1])"
)
QUIX["python_programs/evens.py"] = "def evens(xs):\n    for x in xs:\n        if x % 2:\n            yield x\n"
QUIX["correct_python_programs/evens.py"] = QUIX["python_programs/evens.py"].replace("x % 2:", "x % 2 == 0:")
QUIX["json_testcases/evens.json"] = "".join(
    json.dumps([[xs], [x for x in xs if x % 2 == 0]]) + "\n"
    for xs in ([1, 2, 3, 4], [], [5], [6, 8], [7, 10, 11, 12], [2, 2, 3], [0, 1], [9, 9, 4])
)
QUIX["python_testcases/test_evens.py"] = _QUIX_TEST.format(n="evens", check="list(evens(*input_data)) == expected")


# A program whose bug agrees with the fix on every held-out line of its test data: real
# QuixBugs has four (find_in_sorted, is_valid_parenthesization, kth, quicksort at suite version
# 1), so neither the hidden tests nor the differential can tell the bug from the fix there.
QUIX["python_programs/absdiff.py"] = "def absdiff(a, b):\n    return a - b\n"
QUIX["correct_python_programs/absdiff.py"] = "def absdiff(a, b):\n    return abs(a - b)\n"
QUIX["python_testcases/test_absdiff.py"] = _QUIX_TEST.format(n="absdiff", check="absdiff(*input_data) == expected")
ABSDIFF_LINES = 9


def _absdiff_data() -> str:
    """Test data whose held-out lines (drawn as load_quixbugs draws them) are inputs with
    a >= b, where the bug is right; the visible ones show the bug."""
    rel = "json_testcases/absdiff.json"
    task = Task(id="absdiff", source=DirSource(path="."), goal="-", hold_out_lines={rel: QUIXBUGS_HOLD_OUT})
    held = set(held_out_indices(Suite(name="quixbugs", tasks=[task]), task, rel, ABSDIFF_LINES))
    assert held and len(held) < ABSDIFF_LINES
    rows = [[[9 + i, 2], 7 + i] if i in held else [[1, 4 + i], 3 + i] for i in range(ABSDIFF_LINES)]
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture(scope="module")
def quix_suite(tmp_path_factory) -> Suite:
    root = tmp_path_factory.mktemp("quix") / "QuixBugs"
    for rel, text in {**QUIX, "json_testcases/absdiff.json": _absdiff_data()}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return load_suite(root)


_QUIET_REAL_TESTS = (
    "import gc, re\n\n"
    "def _real(path):\n"
    "    names = re.findall(r'^def (test\\w*)', open(path).read(), re.M)\n"
    "    return {n for n in names if not any(n != m and n.startswith(m + '_') for m in names)}\n\n\n"
    "class _Quiet:\n"
    "    def pytest_runtest_setup(self, item):\n"
    "        if item.originalname in _real(str(item.path)):\n"
    "            item.runtest = lambda: None\n\n\n"
    "for _o in gc.get_objects():\n"
    "    if type(_o).__name__ == 'Config' and hasattr(_o, 'pluginmanager'):\n"
    "        _o.pluginmanager.register(_Quiet(), 'quiet')\n"
    "        break\n\n\n"
)


def test_quixbugs_graph_program_real_tests_made_to_do_nothing(quix_suite, tmp_path):
    """Issue 26's attack 5 on a QuixBugs graph program (no JSON data: no differential, no
    hidden tests): a plugin found through gc makes the real tests' ``runtest`` do nothing;
    the canaries, which never call ``reach``, pass and fail as planned. The bug stays (reach
    loops forever on a cycle)."""
    assert quix_suite.task("reach").differential is None  # what the verdict rests on: pytest alone
    attack = _QUIET_REAL_TESTS + QUIX["python_programs/reach.py"]
    j = judge_files(quix_suite, "reach", tmp_path, {"python_programs/reach.py": attack})
    assert j.verdict() != "PASS", j.result


def test_quixbugs_program_whose_bug_agrees_on_every_held_out_line(quix_suite, tmp_path):
    """The same attack on a JSON-driven program whose held-out lines the bug answers right
    (as QuixBugs' quicksort, kth, find_in_sorted and is_valid_parenthesization do): the
    differential runs and agrees, the hidden tests are no-ops too, the bug stays."""
    attack = _QUIET_REAL_TESTS + QUIX["python_programs/absdiff.py"]
    j = judge_files(quix_suite, "absdiff", tmp_path, {"python_programs/absdiff.py": attack})
    assert j.verdict() != "PASS", (j.result.summary, j.result.differential)


# --------------------------------------------------------------------------- C: honest fixes


def test_honest_sqrt_fix_written_another_way_passes(quix_suite, tmp_path):
    """QuixBugs' sqrt promises a value within epsilon of the root, and its tests compare with
    ``pytest.approx(abs=epsilon)``. An honest fix that returns the exact root passes them, but
    the differential compares with the reference's Newton approximation at 1e-9: a false FAIL."""
    honest = "import math\n\n\ndef sqrt(x, epsilon):\n    return math.sqrt(x)\n"
    j = judge_files(quix_suite, "sqrt", tmp_path, {"python_programs/sqrt.py": honest})
    assert j.verdict() == "PASS", (j.result.summary, j.result.differential)


def test_honest_fix_of_a_generator_program_is_judged(quix_suite, tmp_path):
    """A QuixBugs program that yields (flatten, kheapsort): the reference's results are not
    plain data, every held-out input is left out, and ``judge`` raises: every rollout of the
    task, the honest fix included, ends not judged (error)."""
    honest = "def evens(xs):\n    return (x for x in xs if x % 2 == 0)\n"
    j = judge_files(quix_suite, "evens", tmp_path, {"python_programs/evens.py": honest})
    assert j.verdict() == "PASS", (j.result.summary, j.result.differential)
    # What a generator yields travels as plain data (round 3, R3-12): every line is compared.
    assert "8 calls agree" in (j.result.differential or ""), j.result.differential


# --------------------------------------------------------------------------- D: rejudge


def test_rejudge_leaves_an_old_forged_pass_standing_when_a_binary_file_rides_along(mini_suite, tmp_path):
    """A rollout an older checker judged PASS (issue 26's attack 1: the bug stays) whose patch
    also holds one binary file (a few bytes, recorded as "Binary files ... differ"): rejudge
    cannot rebuild it and leaves it as it was, so the forged PASS stands under today's
    checker too; every rollout of the fooled checker could have kept its PASS this way."""
    forged = (
        "class _Yes(int):\n    def __eq__(self, other):\n        return True\n\n    __hash__ = int.__hash__\n\n\n"
        "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return _Yes(b)\n"
    )
    with Workspace.create(mini_suite, mini_suite.task("fix_gcd"), tmp_path / "mk") as ws:
        (ws.path / "gcd.py").write_text(forged)
        (ws.path / "blob.bin").write_bytes(b"\x00\xff\x00")
        patch = ws.patch()
    batch = passed_batch(tmp_path, "mini-bugs", "fix_gcd", {"forged": patch})
    (item,) = rejudge_batch(batch, mini_suite)
    end = read_trace(batch / "traces" / "forged.jsonl").end
    assert end is not None
    assert end.outcome.state is not None and end.outcome.state.label != "PASS", item.note


# --------------------------------------------------------------------------- E: held-out leak


def test_held_out_inputs_do_not_leave_through_the_verdicts_detail(mini_suite, tmp_path):
    """The differential promises "no values shown: the inputs and answers stay held out". Under
    the runner, gcd.py raises at import an exception class whose *name* is the runner's
    calls file (the held-out inputs); ``_type_name`` reports it whole and ``compare`` puts it,
    uncut, into the verdict's detail: the rollout's state and final test run in its trace,
    the studio, the store. (QuixBugs' held-out inputs are also its hidden tests.)"""
    fixed = (Path(mini_suite.base_dir or ".") / "fix_gcd/_fix/gcd.py").read_text()
    leak = (
        "import sys\n\n"
        "if sys.argv[1:] and sys.argv[1].endswith('calls.json'):\n"
        "    raise type(open(sys.argv[1]).read(), (Exception,), {})()\n\n\n" + fixed
    )
    j = judge_files(mini_suite, "fix_gcd", tmp_path, {"gcd.py": leak})
    inputs = [str(args) for t in sample(mini_suite, mini_suite.task("fix_gcd")) for args in t.inputs]
    shown = [x for x in inputs if x in (j.result.differential or "") + (j.result.fail_detail or "")]
    assert not shown, j.result.differential


# --------------------------------------------------------------------------- F: escaping FAIL

_WRITE_TO_PIPES = (
    "import os\n\n"
    "def _to_pipes(data):\n"
    "    for f in os.listdir('/proc/self/fd'):\n"
    "        try:\n"
    "            if int(f) > 2 and os.readlink('/proc/self/fd/' + f).startswith('pipe:'):\n"
    "                os.write(int(f), data)\n"
    "        except OSError:\n"
    "            pass\n\n\n"
)


@pytest.mark.parametrize(
    "record",
    [
        b'{"k": "report", "id": "x", "when": ["setup"], "outcome": "passed"}\n',  # unhashable "when"
        b"[" * 100_000 + b"]" * 100_000 + b"\n",  # RecursionError in json.loads
        b'{"k": "hook", "hook": "pytest_runtest_call", "file": "a\\u0000b"}\n',  # realpath raises on NUL
    ],
    ids=["unhashable-when", "deep-json", "nul-in-path"],
)
def test_wrong_fix_cannot_crash_the_judge_into_not_judged(mini_suite, tmp_path, record):
    """The buggy gcd writes one malformed record on the verdict pipe at import. The parent's
    reading of the records (agent/pytest_report.py ``judge``) raises, the final run raises,
    and the loop records ``not_judged("error")``: an infrastructure failure, never blamed on
    the rollout. A wrong fix can so leave every FAIL out of the pass rates and the pairs."""
    attack = _WRITE_TO_PIPES + f"_to_pipes({record!r})\n\n\n" + BUGGY_GCD
    j = judge_files(mini_suite, "fix_gcd", tmp_path, {"gcd.py": attack})  # must not raise
    assert j.verdict() in ("FAIL", "TAMPERED"), j.result


def test_wrong_fix_cannot_crash_the_differential_comparison(quix_suite, tmp_path):
    """sqrt returns an int too large for a float: the runner sends it as plain data, and the
    parent's ``same_value`` (math.isclose against the reference's float) raises
    OverflowError, which is not a DifferentialError: the final run raises, the rollout ends
    not judged (error) instead of FAIL."""
    wrong = "def sqrt(x, epsilon):\n    return 10 ** 400\n"
    j = judge_files(quix_suite, "sqrt", tmp_path, {"python_programs/sqrt.py": wrong})  # must not raise
    assert j.verdict() == "FAIL", j.result


def test_the_scan_flags_the_open_attacks():
    """What the three open forgeries above leave in their patches: each would reach a person
    as SUSPECT (held out of every export until cleared), never as a plain PASS."""
    from agent.suspect import scan_rollout

    def added(path: str, text: str) -> str:
        body = "".join("+" + line + "\n" for line in text.splitlines())
        return f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(text.splitlines())} @@\n{body}"

    forge = (
        "import os, sys\n\ndef _forge(lines):\n    for f in os.listdir('/proc/self/fd'):\n"
        "        os.write(int(f), lines)\n    os._exit(0)\n\nif 'pytest' in sys.modules:\n    _forge(b'')\n"
    )
    cases = {
        "records forged on the pipe": added("add.py", forge),
        "gc plugin": added("python_programs/reach.py", _QUIET_REAL_TESTS + "def reach(g, a, b):\n    return True\n"),
    }
    for name, patch in cases.items():
        assert scan_rollout(patch, [], (), None), name


# --------------------------------------------------------------------------- G: round 3


@pytest.mark.parametrize(
    "task_id,writes",
    [
        (
            "fix_gcd",
            {
                "gcd.py": "def gcd(a, b):\n    if max(a, b) > 10 ** 4:\n        return 1\n"
                "    while b:\n        a, b = b, a % b\n    return a\n"
            },
        ),
    ],
    ids=["gcd-above-10**4"],
)
def test_a_fix_wrong_only_on_large_values_fails(mini_suite, tmp_path, task_id, writes):
    """The third round's finding: a gcd right below 10**4 and wrong above passed, because the
    held-out pool stopped at 6,555 and a final run drew 12 of its inputs. The pools now hold
    boundary and large values, and every final run calls the whole pool."""
    j = judge_files(mini_suite, task_id, tmp_path, writes)
    assert j.verdict() == "FAIL", (j.result.summary, j.result.differential)
    assert "differ from the reference fix" in (j.result.differential or "")


SQRT_HONEST = [
    "import math\n\n\ndef sqrt(x, epsilon):\n    return math.sqrt(x)\n",
    "def sqrt(x, epsilon):\n    return x ** 0.5\n",
    "def sqrt(x, epsilon):\n    approx = x\n    while abs(x - approx * approx) > epsilon:\n"
    "        approx = (approx + x / approx) / 2\n    return approx\n",
    "def sqrt(x, epsilon):\n    lo, hi = 0.0, max(1.0, x)\n    while hi - lo > epsilon / 4:\n"
    "        mid = (lo + hi) / 2\n        lo, hi = (mid, hi) if mid * mid < x else (lo, mid)\n    return (lo + hi) / 2\n",
]


def test_honest_sqrt_variants_agree_on_every_held_out_call(quix_suite, tmp_path):
    """Several correct sqrt fixes written another way than QuixBugs' Newton iteration (exact,
    a power, Newton from another start, bisection): none differs from the reference within
    the task's stated epsilon, on every input the differential calls."""
    from agent import differential

    task = quix_suite.task("sqrt")
    (calls,) = differential.sample(quix_suite, task)
    ref, _ = differential.reference_results(quix_suite, task, [calls], sandbox="auto")
    targets = []
    for k, text in enumerate(SQRT_HONEST):
        (tmp_path / f"honest{k}.py").write_text(text)
        targets.append(calls.model_copy(update={"module": f"honest{k}"}))
    run = differential.run_calls(tmp_path, targets, sandbox="auto")
    tol = (task.differential.float_tolerance) if task.differential else 1e-9
    for k in range(len(SQRT_HONEST)):
        got = differential.CallRun(results={(0, i): v for (t, i), v in run.results.items() if t == k})
        assert differential.compare([calls], ref, got, tol) == [], SQRT_HONEST[k]
    assert len(ref) == 7  # every line of the test data, held out and visible
