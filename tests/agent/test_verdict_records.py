"""Judging a pytest run from the verdict plugin's records (agent/pytest_report.judge)."""

from __future__ import annotations

import itertools
import json
import random
import re

from agent.pytest_report import judge
from agent.verdict_seal import finish_token, sealed_line
from tests.bounded_call import finishes_within


def _records(*recs: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in recs)


def _test(nodeid: str, call: str = "passed") -> list[dict]:
    return [
        {"k": "report", "id": nodeid, "when": "setup", "outcome": "passed", "xfail": False},
        {"k": "report", "id": nodeid, "when": "call", "outcome": call, "xfail": False},
        {"k": "report", "id": nodeid, "when": "teardown", "outcome": "passed", "xfail": False},
    ]


HELLO = {"k": "hello", "pid": 7}
FIN0 = {"k": "finish", "exitstatus": 0}
FIN1 = {"k": "finish", "exitstatus": 1}


def test_counts_from_records_agreeing_with_the_exit_code():
    v = judge(_records(HELLO, *_test("t::a"), *_test("t::b", "failed"), {"k": "finish", "exitstatus": 1}), 1)
    assert v.error is None and v.tamper == []
    assert (v.counts.passed, v.counts.failed, v.counts.collected) == (1, 1, 2)
    assert v.outcomes == {"t::a": "passed", "t::b": "failed"}


def test_disagreements_are_errors():
    ok = _test("t::a")
    assert "never reported" in judge(b"", 0).error
    assert "without finishing" in judge(_records(HELLO, *ok), 0).error
    assert "session ended with 1" in judge(_records(HELLO, *ok, {"k": "finish", "exitstatus": 1}), 0).error
    failing = _records(HELLO, *_test("t::a", "failed"), {"k": "finish", "exitstatus": 0})
    assert "exit status 0 with 0 passed, 1 failed" in judge(failing, 0).error
    assert "no test failed" in judge(_records(HELLO, *ok, {"k": "finish", "exitstatus": 1}), 1).error
    dup = _records(HELLO, *ok, ok[0], {"k": "finish", "exitstatus": 0})
    assert "two setup reports for <a file name the tests made>::a" in judge(dup, 0).error
    late = _records(HELLO, *ok, {"k": "finish", "exitstatus": 0}, *_test("t::b"))
    assert "after the session finished" in judge(late, 0).error
    assert (
        "unreadable"
        in judge(_records(HELLO) + b"{not json\n" + _records(*ok, {"k": "finish", "exitstatus": 0}), 0).error
    )


def test_hooks_from_untrusted_files_and_tamper_records(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "gcd.py").write_text("")
    recs = _records(
        HELLO,
        *_test("t::a"),
        {"k": "tamper", "what": "pytest internals replaced: CallInfo.from_call"},
        {"k": "hook", "hook": "pytest_runtest_makereport", "file": f"{ws}/conftest.py"},
        {"k": "hook", "hook": "pytest_runtest_makereport", "file": f"{ws}/gcd.py"},
        {"k": "finish", "exitstatus": 0},
    )
    v = judge(recs, 0, trusted_hook_files=(f"{ws}/conftest.py",), workspace=str(ws))
    assert v.error is None
    assert v.tamper == [
        "pytest hook pytest_runtest_makereport implemented in gcd.py",
        "pytest internals replaced: CallInfo.from_call",
    ]


def test_names_the_records_chose_are_never_repeated(tmp_path):
    """A file name, test id or tamper text in the records is the process under test's: shown
    only as the host can vouch for it (a file in the workspace, one on this machine), never
    verbatim (round 10 r10-10: a hook compiled under a "file name" holding held-out tests)."""
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_a.py").write_text("")
    leak = "assert gcd(0, 5) == 5 | assert gcd(7, 0) == 7"
    (ws / "tests" / f"{leak}.py").write_text("")  # a file the tests made, named by the text
    recs = _records(
        HELLO,
        *_test("tests/test_a.py::test_x"),
        {"k": "hook", "hook": "pytest_runtest_logreport", "file": f"LEAK {leak}"},
        {"k": "hook", "hook": "pytest_runtest_logreport", "file": f"{ws}/tests/{leak}.py"},
        {"k": "hook", "hook": leak, "file": json.__file__},
        {"k": "test_code", "id": f"tests/test_a.py::test_x[{leak}]", "file": f"/{leak}"},
        {"k": "test_code", "id": f"{leak}::{leak}", "file": f"{ws}/tests/test_a.py"},
        {"k": "tamper", "what": f"a report said passed for a raising call of tests/test_a.py::T::t[{leak}]"},
        {"k": "tamper", "what": leak},
        {"k": "finish", "exitstatus": 0},
    )
    v = judge(recs, 0, workspace=str(ws))
    shown = "\n".join(v.tamper)
    assert "gcd(" not in shown, shown
    assert sorted(v.tamper) == sorted(
        [
            "pytest hook pytest_runtest_logreport implemented in <a file name the tests made>",
            f"pytest hook <a name the tests made> implemented in {json.__file__}",
            "test tests/test_a.py::test_x[...] runs code from <a file name the tests made>",
            "test <a file name the tests made>::<a name the tests made> runs code from tests/test_a.py",
            "a report said passed for a raising call of tests/test_a.py::T::t[...]",
            "a tamper record the verdict plugin does not write",
        ]
    )


def _sealed(secret: str, *recs: dict) -> list[bytes]:
    """The records as the plugin writes them with the run's secret (chained seals)."""
    out, previous = [], b""
    for r in recs:
        line, previous = sealed_line(secret, previous, json.dumps(r, separators=(",", ":")).encode())
        out.append(line)
    return out


def test_a_finish_without_the_runs_token_is_tampering_and_no_finish():
    """Code under test can write to the pipe; only the plugin holds the run's secret."""
    ok = _test("t::a")
    real = {"k": "finish", "exitstatus": 0, "nonce": finish_token("s3cret")}
    assert judge(b"\n".join(_sealed("s3cret", HELLO, *ok, real)), 0, nonce="s3cret").error is None
    forged = judge(b"\n".join(_sealed("s3cret", HELLO, *ok, {"k": "finish", "exitstatus": 0})), 0, nonce="s3cret")
    assert "a finish record the verdict plugin did not send" in forged.tamper
    assert "without finishing" in forged.error  # the forged one is no finish
    # The secret itself is no finish token: the stream never carries what seals records.
    leaked = judge(b"\n".join(_sealed("s3cret", HELLO, *ok, dict(real, nonce="s3cret"))), 0, nonce="s3cret")
    assert "without finishing" in leaked.error


def test_records_not_sealed_in_order_are_tampering_and_not_read():
    """A swapped pipe (round 6, R6-1) forwards the plugin's records: it cannot rewrite one,
    add one, or drop one without the seal chain showing it."""
    recs = [HELLO, *_test("t::a", "failed"), {"k": "finish", "exitstatus": 1, "nonce": finish_token("k")}]
    lines = _sealed("k", *recs)
    honest = judge(b"\n".join(lines), 1, nonce="k")
    assert honest.error is None and honest.tamper == [] and honest.outcomes == {"t::a": "failed"}
    rewritten = list(lines)
    rewritten[2] = rewritten[2].replace(b'"outcome":"failed"', b'"outcome":"passed"')
    v = judge(b"\n".join(rewritten), 0, nonce="k")
    assert any("did not seal: line 3" in t for t in v.tamper), v.tamper
    assert v.outcomes.get("t::a") != "passed"
    added = [*lines[:2], json.dumps(recs[2]).encode(), *lines[2:]]
    assert any("did not seal: line 3" in t for t in judge(b"\n".join(added), 1, nonce="k").tamper)
    dropped = [lines[0], *lines[2:]]
    assert any("did not seal" in t for t in judge(b"\n".join(dropped), 1, nonce="k").tamper)
    other_run = judge(b"\n".join(_sealed("another", *recs)), 1, nonce="k")
    assert other_run.tamper and other_run.error is not None


def test_records_the_host_cut_are_never_tampering():
    """The host stops reading at its bound (agent/sandbox.py MAX_VERDICT_RECORD_BYTES): the line
    it cut fails its seal for the host's doing. Not read: the run is judged on the whole lines
    (here no finish: an error), never TAMPERED for that line (round 10 r10-7; agent/scoring.py
    then says what the run did: records past the bound, round 12 r12-1). A line the tests
    wrote before the cut still is."""
    lines = _sealed("s3cret", HELLO, *_test("t::a"), {"k": "finish", "exitstatus": 0, "nonce": finish_token("s3cret")})
    data = b"\n".join(lines) + b"\n"
    cut = data[: len(data) - 40]
    assert judge(cut, 0, nonce="s3cret").tamper  # as read before: the cut line is unsealed
    v = judge(cut, 0, nonce="s3cret", cut=True)
    assert v.tamper == [] and "without finishing" in v.error
    forged = lines[0] + b"\n" + b'{"k":"report","id":"t::b","when":"call","outcome":"passed"}\n' + cut
    assert judge(forged, 0, nonce="s3cret", cut=True).tamper


def test_a_run_past_the_records_bound_is_the_runs_doing(tmp_path, monkeypatch):
    """Only code in the sandbox writes records, and honest tests never come near the bound: a
    run past it is tampering, saying so, never a SandboxError ("not judged"), which let a wrong
    fix sealing 70 MB through the plugin's own sender turn its FAIL into an infrastructure
    error (round 12 r12-1; round 10 r10-7 had made it not judged)."""
    from agent import sandbox
    from agent.suites.loading import load_suite
    from agent.workspace import Workspace

    suite = load_suite("mini-bugs")
    ws = Workspace.create(suite, suite.task("fix_gcd"), tmp_path)
    monkeypatch.setattr(sandbox, "MAX_VERDICT_RECORD_BYTES", 600)  # its 3 tests write ~1,800
    result = ws.run_tests()
    assert not result.passed and result.records_flood is not None
    assert "bytes of verdict records, past the" in result.records_flood
    assert result.records_flood in result.tamper


def test_the_summary_line_is_rewritten_from_its_counts_and_time():
    """The tests write the output: a "summary" they print keeps its counts and time, never
    its other text (round 10 r10-10: the held-out tests' text into TestRun.summary)."""
    from agent.pytest_report import summary_line

    assert summary_line("x\n===== 3 failed, 2 passed, 1 warning in 0.06s =====\n") == (
        "3 failed, 2 passed, 1 warning in 0.06s"
    )
    assert summary_line("==== 2 passed in 62.11s (0:01:02) ====") == "2 passed in 62.11s (0:01:02)"
    assert summary_line("== 4 passed assert gcd(0, 5) == 5 in 1.0s ==") == "4 passed in 1.0s"


# The single regex summary_line used up to round 22, the reference its two linear patterns
# keep: it decides on short lines as they do (r22s-4 made it backtrack exponentially).
_SUMMARY_BEFORE = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+.*? in [\d.]+s.*?)\s*=*$")
_SUMMARY_TOKENS = ["=", " ", "1", "0", ".", "a", "s", " in ", "passed", ", ", "(0:00:01)", "\t", "٣", "no tests ran"]


def _summary_before(output: str) -> str | None:
    from agent.pytest_report import _plain_summary

    for line in reversed(output.splitlines()[-40:]):
        if len(line) <= 500 and (m := _SUMMARY_BEFORE.match(line.strip())):
            return _plain_summary(m.group(1))
        if len(line) <= 500 and line.strip().startswith("no tests ran"):
            return _plain_summary(line, "no tests ran")
    return None


def test_the_summary_line_is_found_as_before_in_every_short_line():
    from agent.pytest_report import summary_line

    lines = ["".join(t) for n in range(4) for t in itertools.product(_SUMMARY_TOKENS, repeat=n)]
    rnd = random.Random(22)
    lines += ["".join(rnd.choices(_SUMMARY_TOKENS, k=rnd.randint(4, 14))) for _ in range(20_000)]
    assert [summary_line(x) for x in lines] == [_summary_before(x) for x in lines]
    assert sum(summary_line(x) is not None for x in lines) > 1000  # (the search reaches summaries)


def test_a_short_line_of_counts_without_a_time_is_read_at_once():
    """A 163-character last line of output split two ways at every "a00 " held the old
    regex's backtracking for hours, the GIL held (round 22 r22s-4); 40 units, under the
    500-character guard, are past any test's time for it, and read now in microseconds."""
    setup = "from agent.pytest_report import summary_line\nline = '0 ' + 'a00 ' * 40 + 'x'\n"
    assert finishes_within(20, "assert summary_line(line) is None\n", setup), (
        "summary_line still reading one 163-character line after 20 s"
    )


def test_records_are_read_one_line_at_a_time_as_splitlines_cuts_them():
    """judge reads the records lazily (a 64 MB run's list of lines cost as much again): the
    lines are bytes.splitlines's, to the host's cut."""
    from agent.pytest_report import _lines

    for data in (b"", b"a", b"a\n", b"a\r\nb\rc\n\nd", b"\r\r\n\n", b'{"k":1}\r{"k":2}\n{"k":3}'):
        for end in range(len(data) + 1):
            assert list(_lines(data, end)) == data[:end].splitlines(), (data, end)


def test_subtests_calls_fold_the_worst_first():
    # Subtests (pytest 9, pytest-subtests) report each subtest as a call of the test, then the
    # test's own call (passed: the body caught the subtests' failures). A failed one counts,
    # whatever the order; passed ones never turn it back (round 13, r13-6).
    def calls(*outcomes: str) -> list[dict]:
        return [{"k": "report", "id": "t::a", "when": "call", "outcome": o, "xfail": False} for o in outcomes]

    setup, _, teardown = _test("t::a")
    failed = judge(_records(HELLO, setup, *calls("passed", "failed", "passed"), teardown, FIN1), 1)
    assert failed.error is None and failed.outcomes == {"t::a": "failed"}
    passed = judge(_records(HELLO, setup, *calls("passed", "skipped", "passed"), teardown, FIN0), 0)
    assert passed.error is None and passed.outcomes == {"t::a": "passed"}
    assert (passed.counts.passed, passed.counts.collected) == (1, 1)


def test_a_rerun_attempt_is_thrown_away():
    # pytest-rerunfailures logs a failed attempt as "rerun", then runs the test again, setup
    # and all: the last attempt counts (round 13, r13-7); a rerun that never comes back is an error.
    setup, call, teardown = _test("t::a")
    rerun = dict(call, outcome="rerun")
    again = judge(_records(HELLO, setup, rerun, teardown, setup, call, teardown, FIN0), 0)
    assert again.error is None and again.outcomes == {"t::a": "passed"}
    still = judge(_records(HELLO, setup, rerun, setup, dict(call, outcome="failed"), teardown, FIN1), 1)
    assert still.error is None and still.outcomes == {"t::a": "failed"}
    gone = judge(_records(HELLO, setup, rerun, FIN1), 1)
    assert gone.outcomes == {"t::a": "error"}


def test_a_hook_file_that_is_a_link_of_the_workspace_now_is_untrusted(tmp_path):
    # The host reads the records after the run: a module the tests ran, replaced at exit by a
    # link to a trusted file, must not resolve to it (round 14, r14-7).
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "conftest.py").write_text("")
    (ws / "evil.py").symlink_to(ws / "tests" / "conftest.py")
    hook = {"k": "hook", "hook": "pytest_runtest_call"}
    recs = _records(
        HELLO, *_test("t::a"), dict(hook, file=f"{ws}/evil.py"), dict(hook, file=f"{ws}/tests/conftest.py"), FIN0
    )
    v = judge(recs, 0, trusted_hook_files=(f"{ws}/tests/conftest.py",), workspace=str(ws))
    assert v.tamper == ["pytest hook pytest_runtest_call implemented in evil.py"], v.tamper


def test_a_steady_file_named_through_a_steady_directory_and_back():
    # A conftest's sys.path.insert(0, join(dirname(__file__), "..")) names a project's helper
    # /ws/tests/../testutil.py (round 14, r14-5): trusted only where each ".." leaves a
    # directory that holds a steady file (the same directory throughout the run).
    from agent.pytest_report import _is_steady, _steady_dirs

    steady = {"/ws/testutil.py", "/ws/tests/test_a.py"}
    dirs = _steady_dirs(steady, "/ws")
    assert dirs == {"/ws/tests"}
    assert _is_steady("/ws/tests/../testutil.py", steady, dirs)
    assert _is_steady("/ws/./testutil.py", steady, dirs)
    assert not _is_steady("/ws/evil/../testutil.py", steady, dirs)  # evil could have been a link
    assert not _is_steady("/ws/tests/../../ws/testutil.py", steady, dirs)  # out of the workspace
    assert not _is_steady("/ws/tests/../other.py", steady, dirs)
