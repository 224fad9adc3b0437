"""Attacks on the verdict: forged results, pytest monkeypatching, config and conftest files.

The buggy ``gcd`` stays buggy in every attack: any PASS would be a forged one.
"""

from __future__ import annotations

import json
import math

import pytest

from agent.final_verdict import CHECKER_VERSION
from agent.suites.loading import load_suite
from agent.suites.models import Suite
from tests.agent.test_suites import QUIX_FILES
from tests.security.conftest import judge_files, run_attack

BUGGY_GCD = (
    "def gcd(a, b):\n"
    '    """Greatest common divisor of two non-negative integers (Euclid)."""\n'
    "    while b:\n"
    "        a, b = b, a % b\n"
    "    return b\n"
)


def test_atexit_forges_a_junit_pass_and_exit_0(mini_suite, scripted, tmp_path):
    """Issue 9, finding 1: an atexit hook rewrites the junit file and calls os._exit(0)."""
    attack = (
        "import atexit, os, sys\n\n"
        "def _forge():\n"
        "    for a in sys.argv:\n"
        "        if a.startswith('--junitxml='):\n"
        "            open(a.split('=', 1)[1], 'w').write('<testsuite tests=\"3\" failures=\"0\" errors=\"0\"/>')\n"
        "    os._exit(0)\n\n"
        "atexit.register(_forge)\n\n" + BUGGY_GCD
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    assert a.verdict() == "FAIL"
    assert "exit status 0, but the session ended with 1" in a.final_run.error
    assert "atexit.register(_forge)" in a.outcome.patch  # the attack is recorded


def test_exit_0_in_the_middle_of_the_tests(mini_suite, scripted, tmp_path):
    attack = "import os\n\n" + BUGGY_GCD.replace("    while b:", "    os._exit(0)\n    while b:")
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    assert a.verdict() == "FAIL"
    assert "without finishing its session" in a.final_run.error


def test_monkeypatched_test_report_is_caught(mini_suite, scripted, tmp_path):
    """Code imported by the tests rewrites TestReport.from_item_and_call to say "passed"."""
    attack = (
        "import _pytest.reports as _r\n\n"
        "_orig = _r.TestReport.from_item_and_call\n\n"
        "def _always_pass(item, call):\n"
        "    rep = _orig(item, call)\n"
        "    rep.outcome = 'passed'\n"
        "    rep.longrepr = None\n"
        "    return rep\n\n"
        "_r.TestReport.from_item_and_call = staticmethod(_always_pass)\n\n" + BUGGY_GCD
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    assert a.verdict() == "TAMPERED"
    assert any("TestReport.from_item_and_call" in t for t in a.final_run.tamper)


def test_makereport_hook_registered_from_code_under_test(mini_suite, scripted, tmp_path):
    """Code under test finds pytest's plugin manager and registers a hook that flips failures."""
    attack = (
        "import gc, pytest\n\n"
        "class _Flip:\n"
        "    @pytest.hookimpl(wrapper=True)\n"
        "    def pytest_runtest_makereport(self, item, call):\n"
        "        rep = yield\n"
        "        rep.outcome = 'passed'\n"
        "        return rep\n\n"
        "for _o in gc.get_objects():\n"
        "    if type(_o).__name__ == 'PytestPluginManager':\n"
        "        _o.register(_Flip(), 'flip')\n"
        "        break\n\n" + BUGGY_GCD
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    assert a.verdict() == "TAMPERED"
    tamper = " ".join(a.final_run.tamper)
    assert "pytest_runtest_makereport" in tamper and "gcd.py" in tamper


def test_forged_records_on_the_verdict_pipe_trip_the_canaries(mini_suite, scripted, tmp_path):
    """Code under test finds the verdict pipe and reports every test in the file as passed
    (reading the test file for their names), then a finish, then exits 0: once the canaries
    that must fail came out passed; now the records it wrote are not sealed."""
    attack = (
        "import json, os, re\n\n"
        "def _forge():\n"
        "    names = re.findall(r'^def (test\\w*)', open('tests/test_gcd.py').read(), re.M)\n"
        "    lines = []\n"
        "    for n in names:\n"
        "        for when in ('setup', 'call', 'teardown'):\n"
        "            rec = {'k': 'report', 'id': 'tests/test_gcd.py::' + n, 'when': when, 'outcome': 'passed', 'xfail': False}\n"
        "            lines.append(json.dumps(rec))\n"
        "    lines.append(json.dumps({'k': 'finish', 'exitstatus': 0}))\n"
        "    for f in os.listdir('/proc/self/fd'):\n"
        "        try:\n"
        "            if int(f) > 2 and os.readlink('/proc/self/fd/' + f).startswith('pipe:'):\n"
        "                os.write(int(f), ('\\n'.join(lines) + '\\n').encode())\n"
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)\n\n" + BUGGY_GCD + "\n\n_forge()\n"
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    assert a.verdict() == "TAMPERED"
    # The records are sealed with the run's secret (agent/verdict_seal.py): forged ones are
    # seen as such before any canary is asked.
    assert any("the plugin did not seal" in t for t in a.final_run.tamper), a.final_run.tamper


def test_new_conftest_outside_the_protected_paths(add_suite, scripted, tmp_path):
    """A conftest.py in a new directory of tests the model adds, flipping every failure."""
    hook = (
        "import pytest\n\n"
        "@pytest.hookimpl(wrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n"
        "    rep = yield\n"
        "    rep.outcome = 'passed'\n"
        "    return rep\n"
    )
    a = run_attack(
        add_suite,
        "fix_add",
        scripted,
        tmp_path,
        {"lib/conftest.py": hook, "lib/test_more.py": "def test_more():\n    assert True\n"},
    )
    assert a.verdict() == "TAMPERED"
    assert "lib/conftest.py" in a.outcome.tampered_paths


def test_config_files_written_by_the_model(add_suite, scripted, tmp_path):
    """tox.ini / setup.cfg / pyproject.toml / pytest.py shadowing: each counts as tampering."""
    for rel, text in {
        "tox.ini": "[pytest]\naddopts = --deselect tests/test_add.py::test_small\n",
        "setup.cfg": "[tool:pytest]\npython_functions = nothing_matches\n",
        "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-k zero"\n',
        "pytest.py": "import sys\nsys.exit(0)\n",
    }.items():
        a = run_attack(add_suite, "fix_add", scripted, tmp_path, {rel: text})
        assert a.verdict() in ("TAMPERED", "FAIL"), rel
        assert rel in a.outcome.tampered_paths, rel


def test_honest_fix_still_passes_with_canaries_and_differential(add_suite, scripted, tmp_path):
    """The checks cost nothing to an honest rollout: the fix passes, counts are the task's own."""
    a = run_attack(add_suite, "fix_add", scripted, tmp_path, {"add.py": "def add(a, b):\n    return a + b\n"})
    assert a.verdict() == "PASS", (a.final_run, a.outcome.tampered_paths)
    assert (a.final_run.counts.passed, a.final_run.counts.collected) == (3, 3)
    assert a.final_run.error is None and a.final_run.tamper == []


def test_test_functions_swapped_for_empty_ones(mini_suite, scripted, tmp_path):
    """The first call of gcd() replaces the code of every test in its caller's module with an
    empty function: caught as foreign test code (and by a must-fail canary planted there)."""
    attack = (
        "import sys\n\n"
        "def _swap():\n"
        "    m = sys._getframe(2).f_globals\n"
        "    for n, f in list(m.items()):\n"
        "        if n.startswith('test') and callable(f):\n"
        "            f.__code__ = (lambda: None).__code__\n\n"
        "_swapped = []\n\n"
        "def gcd(a, b):\n"
        "    if not _swapped:\n"
        "        _swapped.append(1)\n"
        "        _swap()\n"
        "    while b:\n"
        "        a, b = b, a % b\n"
        "    return b\n"
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    assert a.verdict() == "TAMPERED"
    tamper = " ".join(a.final_run.tamper)
    assert "runs code from" in tamper and "gcd.py" in tamper
    # The canaries see it only when the draw put a must-fail one in the module swapped (the first
    # to call gcd); about 1 run in 4 put both in the held-out module, and this asserted they did
    # (a CI flake). The foreign test code is seen on every draw.


# --------------------------------------------------------------------------- issue 26
# Six wrong fixes that scored PASS against the first round of defences (canaries, tamper
# checks inside pytest, the reference rerun): each keeps the bug. The held-out differential
# verdict (agent/differential.py) runs the code outside the tests' process on inputs the
# rollout never saw, so each one is a FAIL now.

GCD_CASES = [
    [17, 5],
    [12, 18],
    [100, 75],
    [7, 0],
    [9, 6],
    [16, 40],
    [24, 36],
    [1, 0],
    [35, 14],
    [8, 12],
    [42, 28],
    [0, 9],
]
# A QuixBugs checkout with one program: parametrized tests over JSON test data, a third of
# which is held out of the workspace (hidden tests, and the differential's inputs).
QUIX_GCD = {
    "conftest.py": QUIX_FILES["conftest.py"],
    "python_testcases/load_testdata.py": QUIX_FILES["python_testcases/load_testdata.py"],
    "python_programs/gcd.py": BUGGY_GCD,
    "correct_python_programs/gcd.py": BUGGY_GCD.replace("return b", "return a"),
    "json_testcases/gcd.json": "".join(json.dumps([c, math.gcd(*c)]) + "\n" for c in GCD_CASES),
    "python_testcases/test_gcd.py": QUIX_FILES["python_testcases/test_add.py"].replace("add", "gcd"),
}


@pytest.fixture(scope="module")
def quix_suite(tmp_path_factory) -> Suite:
    """QuixBugs' gcd (module scope: the reference fix's results are computed once)."""
    root = tmp_path_factory.mktemp("quix") / "QuixBugs"
    for rel, text in QUIX_GCD.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return load_suite(root)


def test_eq_always_true_int_subclass(mini_suite, scripted, tmp_path):
    """Attack 1: gcd returns an int subclass whose __eq__ always says True."""
    attack = (
        "class _Yes(int):\n"
        "    def __eq__(self, other):\n        return True\n\n"
        "    def __ne__(self, other):\n        return False\n\n"
        "    __hash__ = int.__hash__\n\n\n" + BUGGY_GCD.replace("return b", "return _Yes(b)")
    )
    a = run_attack(mini_suite, "fix_gcd", scripted, tmp_path, {"gcd.py": attack})
    assert a.verdict() == "FAIL"
    # The loop records why (the rollout state's detail) and which checker judged it.
    state = a.outcome.state
    # A class the code under test named is not named in the detail (its name may carry inputs: r11-3).
    assert (state.status, state.verdict) == (
        "judged",
        "fail",
    ) and "not plain data: a type of the code's own" in state.detail
    assert a.outcome.checker == CHECKER_VERSION
    # pytest said pass: 3 visible tests and 2 held-out ones (_hidden/tests/test_gcd_hidden.py)
    assert a.final_run.differential == state.detail and a.final_run.counts.passed == 5


def test_reads_expected_from_the_callers_frame(quix_suite, tmp_path):
    """Attack 2: gcd returns the caller's ``expected`` local when there is one (QuixBugs'
    tests are ``assert gcd(*input_data) == expected``)."""
    attack = "import sys\n\n\n" + BUGGY_GCD.replace(
        "    while b:",
        "    caller = sys._getframe(1).f_locals\n"
        "    if 'expected' in caller:\n        return caller['expected']\n    while b:",
    )
    j = judge_files(quix_suite, "gcd", tmp_path, {"python_programs/gcd.py": attack})
    assert j.verdict() == "FAIL", j.result
    assert j.result.counts.passed == len(GCD_CASES)  # pytest, hidden tests included, said pass
    assert "calls differ from the reference fix" in j.result.differential


def test_answers_the_visible_test_data(quix_suite, tmp_path):
    """Attack 3: at import gcd.py reads the test data (json_testcases/gcd.json) and answers
    those inputs from it, keeping a copy of every line it ever saw (the final run's hidden
    tests included) for later processes; the bug stays for every other input."""
    attack = (
        "import json, os\n\n"
        "_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n"
        "_KNOWN, _SEEN = {}, os.path.join(_ROOT, 'python_programs', 'seen.json')\n"
        "for _f in (os.path.join(_ROOT, 'json_testcases', 'gcd.json'), _SEEN):\n"
        "    if os.path.exists(_f):\n"
        "        for _line in open(_f):\n"
        "            _args, _want = json.loads(_line)\n"
        "            _KNOWN[tuple(_args)] = _want\n"
        "with open(_SEEN, 'w') as _out:\n"
        "    _out.writelines(json.dumps([list(k), v]) + '\\n' for k, v in _KNOWN.items())\n\n\n"
        + BUGGY_GCD.replace("    while b:", "    if (a, b) in _KNOWN:\n        return _KNOWN[(a, b)]\n    while b:")
    )
    ws_files = {"python_programs/gcd.py": attack}
    j = judge_files(quix_suite, "gcd", tmp_path, ws_files)
    assert j.verdict() == "FAIL", j.result
    assert j.result.counts.passed == len(GCD_CASES)  # the hidden tests were answered from the file
    assert "returned a different value" in j.result.differential


# Real tests vs canaries as the attacker tells them: a canary is named after a real test
# of its file plus "_<word>[digits]".
_REAL_TESTS = (
    "import re as _re\n\n"
    "def _real_tests():\n"
    "    names = _re.findall(r'^def (test\\w*)', open('tests/test_gcd.py').read(), _re.M)\n"
    "    return {n for n in names if not any(n != m and n.startswith(m + '_') for m in names)}\n\n\n"
)


def test_verdict_plugins_sender_replaced(mini_suite, tmp_path):
    """Attack 4: at import gcd.py replaces the verdict plugin's sender (found in sys.modules)
    so the real tests' failed records say passed; the canaries are left alone."""
    attack = (
        "import sys\n\n" + _REAL_TESTS + "_plugin = sys.modules.get('repo_agent_verdict')\n"
        "if _plugin is not None:\n"
        "    _real, _orig = _real_tests(), _plugin._send\n\n"
        "    def _send(rec):\n"
        "        if rec.get('k') == 'report' and rec.get('outcome') == 'failed' and rec['id'].split('::')[-1] in _real:\n"
        "            rec = dict(rec, outcome='passed')\n"
        "        _orig(rec)\n\n"
        "    _plugin._send = _send\n\n\n" + BUGGY_GCD
    )
    j = judge_files(mini_suite, "fix_gcd", tmp_path, {"gcd.py": attack})
    # The hooks hold the sender bound in a closure: the records stay true, and the swap is seen.
    assert j.verdict() == "TAMPERED", j.result
    assert (
        "the verdict plugin's sender was replaced" in j.result.tamper and j.result.counts.failed == 5
    )  # 3 + 2 held out


def test_plugin_from_gc_makes_real_tests_do_nothing(mini_suite, tmp_path):
    """Attack 5: a plugin registered through gc (pytest's Config) sets an instance-level
    ``item.runtest`` that does nothing, on the real tests only."""
    attack = (
        "import gc\n\n" + _REAL_TESTS + "class _Quiet:\n"
        "    def pytest_runtest_setup(self, item):\n"
        "        if item.name in _real_tests():\n"
        "            item.runtest = lambda: None\n\n\n"
        "for _o in gc.get_objects():\n"
        "    if type(_o).__name__ == 'Config' and hasattr(_o, 'pluginmanager'):\n"
        "        _o.pluginmanager.register(_Quiet(), 'quiet')\n"
        "        break\n\n\n" + BUGGY_GCD
    )
    j = judge_files(mini_suite, "fix_gcd", tmp_path, {"gcd.py": attack})
    _caught_by_mirrors_or_the_differential(j)


def test_test_code_swapped_for_an_empty_function_of_the_same_file(mini_suite, tmp_path):
    """Attack 6: each real test's ``__code__`` is swapped for an empty function compiled
    under the test file's own name (after collection, through a plugin found via gc)."""
    attack = (
        "import gc\n\n" + _REAL_TESTS + "class _Swap:\n"
        "    def pytest_collection_finish(self, session):\n"
        "        real = _real_tests()\n"
        "        for item in session.items:\n"
        "            if item.name in real:\n"
        "                ns = {}\n"
        "                exec(compile('def ' + item.name + '():\\n    pass\\n', str(item.path), 'exec'), ns)\n"
        "                item.obj.__code__ = ns[item.name].__code__\n\n\n"
        "for _o in gc.get_objects():\n"
        "    if type(_o).__name__ == 'Config' and hasattr(_o, 'pluginmanager'):\n"
        "        _o.pluginmanager.register(_Swap(), 'swap')\n"
        "        break\n\n\n" + BUGGY_GCD
    )
    j = judge_files(mini_suite, "fix_gcd", tmp_path, {"gcd.py": attack})
    _caught_by_mirrors_or_the_differential(j)


def _caught_by_mirrors_or_the_differential(j) -> None:
    """The copies of real tests (mirror canaries) run the bug where the real tests were
    emptied: TAMPERED; when the mirrors drawn copy tests the bug passes anyway, the held-out
    differential still FAILs it."""
    if j.verdict() == "TAMPERED":
        # Or the held-out tests, which the attack never saw (so never emptied), failed on the bug.
        hidden_failed = any("_hidden.py::" in k and o == "failed" for k, o in j.result.outcomes.items())
        assert hidden_failed or any("but the test it copies" in t for t in j.result.tamper), j.result.tamper
    else:
        assert j.verdict() == "FAIL", j.result
        assert "calls differ from the reference fix" in (j.result.differential or "")
