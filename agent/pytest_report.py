"""Reading a pytest run: where to add options, its counts, its summary line.

Counts come from the records the verdict plugin sends while the tests run (``judge``),
never from a file the tests could rewrite or from reading "passed" in the output; the
summary line is the one-line text shown to people and the counts of non-pytest commands.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from agent.reported_names import shown_file, shown_identifier, shown_test
from agent.trace import TestCounts
from agent.verdict_seal import Unsealer, finish_token


def module_index(argv: list[str], module: str) -> int | None:
    """Index of the first argument after ``-m module`` in ``argv``, or None."""
    for i in range(len(argv) - 1):
        if argv[i] == "-m" and argv[i + 1] == module:
            return i + 2
    return None


def pytest_index(argv: list[str]) -> int | None:
    """Index after which pytest options can be inserted, or None if not a pytest run."""
    return module_index(argv, "pytest")


# The pytest options whose value is the next argument ("--ignore tests/integration", "-p name").
OPTIONS_WITH_A_VALUE = frozenset(
    {"--ignore", "--ignore-glob", "--deselect", "-p", "-c", "-o", "--override-ini", "--rootdir", "--confcutdir"}
    | {"--import-mode", "-W", "--pythonwarnings", "--tb", "-r", "--basetemp", "--junitxml", "--log-level", "-k", "-m"}
    | {"--maxfail"}
)


def pytest_paths(args: list[str]) -> list[str]:
    """The paths and node ids among pytest's ``args``: no option, nor an option's value given
    apart."""
    values = {i + 1 for i, a in enumerate(args) if a in OPTIONS_WITH_A_VALUE}
    return [a for i, a in enumerate(args) if not a.startswith("-") and i not in values]


_COUNT_RE = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")
# A summary line: "=" and blanks, a count and a word ("3 failed"), then " in <time>s" after
# it. Two plain patterns, each linear in the line: the one regex they replace,
# ``=*\s*((?:\d+ \w+(?:, )?)+.*? in [\d.]+s.*?)\s*=*``, nested quantifiers over digits and
# word characters, backtracked exponentially on "0 " + "a00 " * 40 + "x" (163 characters, printed
# by the tests at exit, under any length guard: hours in one C call holding the GIL, every
# thread of the host stopped, round 22 r22s-4) and quadratically in a long line (sbx3-11).
_SUMMARY_HEAD = re.compile(r"=*+\s*+\d++ \w")
_SUMMARY_TOOK = re.compile(r" in [\d.]++s")

# pytest's summary line is short: longer lines are not looked at (a bound on the work spent
# on the tests' text, whatever the patterns).
SUMMARY_LINE_MAX = 500


def summary_line(output: str) -> str | None:
    """pytest's summary line, as the host rewrites it from its counts and time: the output is
    the tests' to write, and a "summary" they print could carry any text into the trace
    (the revealed held-out tests, round 10 r10-10)."""
    for line in reversed(output.splitlines()[-40:]):
        if len(line) > SUMMARY_LINE_MAX:
            continue
        text = line.strip()
        head = _SUMMARY_HEAD.match(text)
        if head and _SUMMARY_TOOK.search(text, head.end()):
            return _plain_summary(text)
        if text.startswith("no tests ran"):
            return _plain_summary(text, "no tests ran")
    return None


_SUMMARY_WORDS = r"passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|rerun|subtests passed"
_SUMMARY_PART = re.compile(rf"(\d+) ({_SUMMARY_WORDS})\b")
_SUMMARY_TIME = re.compile(r" in ([\d.]{1,12})s( \(\d{1,4}:\d\d:\d\d\))?")


def _plain_summary(text: str, head: str = "") -> str:
    parts = [f"{n} {w}" for n, w in _SUMMARY_PART.findall(text)] if not head else [head]
    took = _SUMMARY_TIME.search(text)
    return ", ".join(parts) + (f" in {took.group(1)}s{took.group(2) or ''}" if took else "")


@dataclass
class Verdict:
    counts: TestCounts
    outcomes: dict[str, str]  # node id -> passed / failed / error / skipped
    error: str | None  # the records, exit code and counts disagree: the run proves nothing
    tamper: list[str]  # what the records showed of tampering with pytest
    skipped_at_collection: list[str] = field(default_factory=list)  # collectors' node ids


def _outcome(phases: dict[str, str]) -> str:
    """A test's outcome from its phases' (when -> the report's outcome)."""
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    if setup == "failed":
        return "error"
    if setup == "skipped":
        return "skipped"
    if call is None:
        return "error"  # set up, never called: the run stopped inside it
    if call == "failed":
        return "failed"
    if teardown == "failed":
        return "error"
    return "skipped" if call == "skipped" else "passed"


_RANK = {"skipped": 0, "passed": 1, "failed": 2}


def _worse(a: str, b: str) -> str:
    """Of two call outcomes of one test, the one that counts: failed, then passed, then skipped."""
    return a if _RANK[a] >= _RANK[b] else b


# A phase's outcome as one shared string (each record's own copy, kept per phase, was most of
# a 64 MB run's memory: round 12).
_PHASE_OUTCOME = {o: o for o in ("passed", "failed", "skipped")}
_PHASE_WHEN = {w: w for w in ("setup", "call", "teardown")}


def _real(path: str) -> str:
    """Where ``path`` really is, as the kernel resolves it (at most 40 links), or a name no
    file has when it cannot be opened: such a file is trusted by no one. Not
    ``os.path.realpath``: in Python 3.11 it recurses once per link (a 1,500-link chain
    raised RecursionError out of the verdict, sbx6-7) and reads every link itself, each
    call (records naming a 900-link chain cost the host 11 ms each, sbx6-9; ``judge`` also
    asks once per name)."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (OSError, ValueError):
        return "\x00" + path
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "\x00" + path
    finally:
        os.close(fd)


def _linked(file: str, workspace: str | None) -> bool:
    """A part of ``file`` below ``workspace`` is a symbolic link now. The host reads the
    records after the run: a module the tests ran, replaced at exit by a link to a trusted
    file, resolved to that file (round 14, r14-7); what the tests ran was not a link then,
    or was one they made. A task's own links stay trusted only through the files they name
    being what the verdict names (a link is never followed here)."""
    if not workspace:
        return False
    root = workspace.rstrip("/")
    if not file.startswith(root + "/"):
        return False
    path = root
    for part in file[len(root) + 1 :].split("/"):
        path = f"{path}/{part}"
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return True
        except (OSError, ValueError):
            return False  # gone: ``_real`` names it a file no one has
    return False


def _steady_dirs(steady: set[str], workspace: str | None) -> set[str]:
    """The directories below the workspace that hold a steady file: the run left each of them
    the same directory (its inode and ctime are in every fingerprint below it:
    agent/steady_files.py), never a link or a directory swapped in."""
    root = (workspace or "").rstrip("/")
    dirs: set[str] = set()
    for f in steady:
        d = os.path.dirname(f)
        while root and d.startswith(root + "/") and d not in dirs:
            dirs.add(d)
            d = os.path.dirname(d)
    return dirs


def _is_steady(file: str, steady: set[str], dirs: set[str]) -> bool:
    """``file`` names a steady file, also through ``.`` and ``..`` parts where each ``..``
    leaves a directory of ``dirs``: a conftest's ``sys.path.insert(0, join(dirname(__file__),
    ".."))`` made a project's helper ``tests/../testutil.py`` (round 14, r14-5). The kernel
    goes into ``tests`` and back out, and ``tests`` was that directory throughout the run."""
    if file in steady:
        return True
    if "/.." not in file and "/./" not in file:
        return False
    parts: list[str] = []
    for part in file.split("/"):
        if part in ("", "."):
            if not parts:
                parts.append("")  # the leading root
            continue
        if part == "..":
            if "/".join(parts) not in dirs:
                return False
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts) in steady


def _outside(
    file: str, trusted: set[str], trusted_dirs: tuple[str, ...], known: dict[str, str], workspace: str | None = None
) -> bool:
    """``file`` is none of ``trusted`` and under none of ``trusted_dirs`` (``known``: the
    resolutions of this run so far; never kept across runs, whose links may differ), or a
    link of the workspace (``_linked``)."""
    if _linked(file, workspace):
        return True
    if file not in known:
        known[file] = _real(file)
    real = known[file]
    return real not in trusted and not any(real.startswith(_real(d) + os.sep) for d in trusted_dirs)


def _well_formed(rec: dict) -> bool:
    """The fields this reader uses have the types the verdict plugin writes."""
    if rec["k"] == "report":
        return (
            isinstance(rec.get("id"), str)
            and rec.get("when") in ("setup", "call", "teardown")
            and rec.get("outcome") in ("passed", "failed", "skipped", "rerun")
        )
    if rec["k"] in ("hook", "test_code", "tracer"):
        wrappers = rec.get("wrappers", []) if rec["k"] == "test_code" else []
        if not isinstance(wrappers, list):
            return False
        # (os.path.realpath raises on a NUL)
        return all(isinstance(f, str) and "\x00" not in f for f in [rec.get("file"), *wrappers])
    return isinstance(rec["k"], str)


def _test_name(nodeid: str) -> str:
    """The function a test id names: ``tests/t.py::TestA::test_x[1]`` -> ``test_x``."""
    return nodeid.rsplit("::", 1)[-1].split("[", 1)[0]


# What the verdict plugin's tamper records say (agent/_pytest_plugins/repo_agent_verdict.py
# ``_tamper``): repeated only in these shapes, a test id in them as the host names it.
_TAMPER_SAID = (
    "the verdict plugin's sender was replaced",
    "the verdict plugin's sender was called from outside the plugin",
    "a trace or profile function was installed during the tests",
)
_INTERNALS = re.compile(r"pytest internals replaced: [A-Za-z_][A-Za-z0-9_.]{0,79}")
_RAISING = re.compile(r"a report said passed for a raising (setup|call|teardown) of (.*)", re.DOTALL)


def _shown_tamper(what: object, workspace: str | None) -> str:
    text = what if isinstance(what, str) else ""
    if text in _TAMPER_SAID or _INTERNALS.fullmatch(text):
        return text
    if m := _RAISING.fullmatch(text):
        return f"a report said passed for a raising {m.group(1)} of {shown_test(m.group(2), workspace)}"
    return "a tamper record the verdict plugin does not write"


def _shown(file: str, workspace: str | None, known: dict[str, str]) -> str:
    """``file`` as a verdict line names it (``known`` holds its resolution: ``_outside``)."""
    return shown_file(file, workspace, known.get(file))


def _lines(data: bytes, end: int) -> Iterator[bytes]:
    """``data[:end].splitlines()`` one line at a time: a run's records are up to 64 MB, and
    their list of lines cost as much again (agent/sandbox.py ``MAX_VERDICT_RECORD_BYTES``)."""
    f = io.BytesIO(data)  # (shares the bytes' buffer)
    while f.tell() < end:
        yield from f.readline(end - f.tell()).splitlines()  # (a lone \r breaks a line too)


BAD_RECORDS_MAX = 1000  # unreadable or malformed records read before the run is an error


def judge(
    data: bytes,
    exit_code: int | None,
    *,
    trusted_hook_files: tuple[str, ...] = (),
    trusted_code_files: tuple[str, ...] = (),
    trusted_dirs: tuple[str, ...] = (),
    nonce: str = "",
    workspace: str | None = None,
    cut: bool = False,
    steady_files: tuple[str, ...] = (),
) -> Verdict:
    """The verdict of a pytest run from the records repo_agent_verdict sent as it ran.

    The records must open with ``hello`` and close with ``finish``; the session's exit
    status must be the process's; exit 0 needs no failure and at least one test, exit 1
    at least one failure. Anything else is an error, never a pass. Outcome hooks may come
    only from ``trusted_hook_files`` (the task's conftest.py files); a test function's code
    from another file only from ``trusted_code_files`` (the task's unchanged files).
    Both may come from files under ``trusted_dirs`` (a task's own read-only venv: its
    pytest plugins, agent/suites/env.py). With ``nonce`` (the run's secret, handed to the
    plugin alone) every record must be sealed with it in order (agent/verdict_seal.py): one
    that is not was written or rewritten by code under test (a swapped pipe): tampering, and
    not read; a ``finish`` without the run's finish token is no finish. The files and tests
    the records name are shown as the host knows them (``workspace``: the run's workspace,
    agent/reported_names.py), never as the records spell them. ``cut``: the host stopped
    reading at its bound (agent/sandbox.py ``MAX_VERDICT_RECORD_BYTES``); the line it cut is
    not read (its seal fails for the host's doing, not the tests').

    ``steady_files``: the task's files the rollout did not change and the run left untouched
    (agent/steady_files.py), named exactly as the tests import them (no link followed: a
    link the tests leave could lead anywhere). A hook, a test decorator's wrapper or a trace
    function may come from one; a test's own code only when the function there has the
    test's name (a base class's test method), never another function a decorator swapped in.
    A trace function also from ``trusted_code_files`` or ``trusted_dirs`` (pytest-cov's),
    never from a conftest.py the rollout changed.
    """
    end = data.rfind(b"\n") + 1 if cut else len(data)
    trusted = {_real(f) for f in trusted_hook_files}
    trusted_code = trusted | {_real(f) for f in trusted_code_files}
    tracing = {_real(f) for f in trusted_code_files}
    steady = set(steady_files)
    steady_dirs = _steady_dirs(steady, workspace)
    known: dict[str, str] = {}
    phases: dict[str, dict[str, str]] = {}
    reran: set[str] = set()  # tests whose attempt a rerun threw away, until the next one's setup
    problems: list[str] = []
    tamper: list[str] = []
    collect_errors: list[str] = []
    collect_skips: list[str] = []
    hello = finish = None
    bad = 0
    unsealer = Unsealer(nonce) if nonce else None
    token = finish_token(nonce) if nonce else ""
    unsealed: list[int] = []
    for no, line in enumerate(_lines(data, end), 1):
        if bad > BAD_RECORDS_MAX:  # an error already: 8 MB of junk lines cost the host minutes
            break
        if unsealer is not None:
            opened = unsealer.open(line)
            if opened is None:
                bad += 1
                unsealed.append(no)
                if b'"finish"' in line:
                    tamper.append("a finish record the verdict plugin did not send")
                continue
            line = opened
        try:
            rec = json.loads(line)
            kind = rec["k"]
        except (ValueError, TypeError, KeyError, RecursionError):
            bad += 1
            problems.append(f"unreadable verdict record {no}")
            continue
        if not isinstance(rec, dict) or not _well_formed(rec):
            # Code under test can write to the pipe: a record of the wrong shape is a
            # problem of the run (never a pass), not an exception in this process.
            bad += 1
            problems.append(f"malformed verdict record {no}")
            continue
        if kind == "finish" and nonce and rec.get("nonce") != token:
            tamper.append("a finish record the verdict plugin did not send")
            continue
        if finish is not None:
            problems.append(f"a {shown_identifier(kind)!r} record after the session finished")
        elif kind == "hello":
            hello = hello or rec
        elif kind == "report":
            nodeid, when, outcome = str(rec["id"]), _PHASE_WHEN[rec["when"]], rec["outcome"]
            if outcome == "rerun":
                # A rerun plugin (pytest-rerunfailures) throws the attempt away and runs the
                # test again, setup and all: the last attempt is the test's (round 13, r13-7).
                # One that never comes back leaves no call: an error.
                phases[nodeid] = {}
                reran.add(nodeid)
                continue
            if when == "setup" and nodeid in reran:  # the next attempt (after the last one's teardown)
                phases[nodeid] = {}
                reran.discard(nodeid)
            per = phases.setdefault(nodeid, {})
            if when in per and when == "call":
                # Subtests (pytest 9's, pytest-subtests, unittest's subTest under them) report
                # each subtest as a call of the test, then the test's own: the worst counts,
                # so no report can turn another's failure into a pass (round 13, r13-6).
                outcome = _worse(per[when], outcome)
            elif when in per:
                problems.append(f"two {when} reports for {shown_test(nodeid, workspace)}")
            per[when] = _PHASE_OUTCOME[outcome]  # (``_well_formed``: one of these)
        elif kind == "collect_error":
            collect_errors.append(str(rec.get("id")))
        elif kind == "collect_skip":
            collect_skips.append(str(rec.get("id")))
        elif kind == "tamper":
            tamper.append(_shown_tamper(rec.get("what"), workspace))
        elif kind == "hook":
            file = str(rec.get("file"))
            if not _is_steady(file, steady, steady_dirs) and _outside(file, trusted, trusted_dirs, known, workspace):
                hook, shown = shown_identifier(rec.get("hook")), _shown(file, workspace, known)
                tamper.append(f"pytest hook {hook} implemented in {shown}")
        elif kind == "test_code":
            file, nodeid = str(rec.get("file")), str(rec.get("id"))
            untrusted = [
                w
                for w in rec.get("wrappers") or []
                if not _is_steady(w, steady, steady_dirs) and _outside(w, trusted_code, trusted_dirs, known, workspace)
            ]
            inherited = _is_steady(file, steady, steady_dirs) and rec.get("name") == _test_name(nodeid)
            if (
                rec.get("own") is not True
                and not inherited
                and _outside(file, trusted_code, trusted_dirs, known, workspace)
            ):
                untrusted.append(file)
            for f in untrusted:
                tamper.append(f"test {shown_test(nodeid, workspace)} runs code from {_shown(f, workspace, known)}")
        elif kind == "tracer":
            file = str(rec.get("file"))
            if not _is_steady(file, steady, steady_dirs) and _outside(file, tracing, trusted_dirs, known, workspace):
                tamper.append(f"a trace or profile function from {_shown(file, workspace, known)} ran during the tests")
        elif kind == "finish":
            finish = rec
        else:
            problems.append(f"unknown verdict record {shown_identifier(kind)!r}")
    if unsealed:
        more = f" (+{len(unsealed) - 3} more)" if len(unsealed) > 3 else ""
        where = ", ".join(str(n) for n in unsealed[:3])
        tamper.append(
            f"verdict records the plugin did not seal: line {where}{more} (written or rewritten by test code)"
        )
    outcomes = {nodeid: _outcome(p) for nodeid, p in phases.items()}
    c = TestCounts()
    for o in outcomes.values():
        setattr(c, "errors" if o == "error" else o, getattr(c, "errors" if o == "error" else o) + 1)
    c.errors += len(collect_errors)
    c.collected = len(outcomes) + len(collect_errors)
    error = None
    if exit_code is not None:  # a wall-clock kill has no session to check
        if hello is None:
            error = "the verdict plugin never reported (pytest did not start it)"
        elif finish is None:
            error = f"the test process ended without finishing its session (exit status {exit_code})"
        elif finish.get("exitstatus") != exit_code:
            error = f"exit status {exit_code}, but the session ended with {finish.get('exitstatus')}"
        elif problems:
            error = problems[0]
        elif exit_code == 0 and (c.failed or c.errors or not c.passed):
            error = f"exit status 0 with {c.passed} passed, {c.failed} failed, {c.errors} errors"
        elif exit_code == 1 and not (c.failed or c.errors):
            error = "exit status 1 (tests failed) but no test failed"
    return Verdict(c, outcomes, error, sorted(set(tamper)), sorted(set(collect_skips)))


def counts_from_summary(summary: str | None) -> TestCounts:
    c = TestCounts()
    for n, word in _COUNT_RE.findall(summary or ""):
        n = int(n)
        if word == "passed" or word == "xpassed":
            c.passed += n
        elif word == "failed":
            c.failed += n
        elif word.startswith("error"):
            c.errors += n
        elif word in ("skipped", "xfailed"):
            c.skipped += n
    c.collected = c.passed + c.failed + c.errors + c.skipped
    return c


CONFIG_READ_MAX = 4 * 1024**2


def _config_text(path: Path) -> str | None:
    """A config file's text when it is a regular file, read up to ``CONFIG_READ_MAX``. The
    host reads the workspace's before each run, as the last run's tests left it: a FIFO
    there blocked the host for ever, and a link to /dev/zero would have been read until
    it ran out of memory. Never a link, a FIFO or a device."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return f.read(CONFIG_READ_MAX).decode("utf-8", errors="replace")


def has_pytest_config(root: Path) -> bool:
    """Whether ``root`` holds its own pytest configuration file (pytest's own rules)."""
    if _config_text(root / "pytest.ini") is not None or _config_text(root / ".pytest.ini") is not None:
        return True
    for name, section in (("pyproject.toml", "[tool.pytest"), ("tox.ini", "[pytest]"), ("setup.cfg", "[tool:pytest]")):
        text = _config_text(root / name)
        if text is not None and section in text:
            return True
    return False
