"""Reports each test's outcome to the trusted parent as it happens (docs/ARCHITECTURE.md, sandbox).

Loaded with ``-p repo_agent_verdict`` by a bootstrap that imports pytest and this plugin
before the workspace is on ``sys.path``, so no file the model wrote runs first. The parent
passes the write end of a pipe in ``REPO_AGENT_VERDICT_FD``; this module moves it to a
close-on-exec descriptor, drops the variable, and writes one JSON line per record:

    {"k": "hello"}                                    plugin loaded, before any conftest
    {"k": "report", "id", "when", "outcome", "xfail"}   each setup/call/teardown report
    {"k": "collect_error", "id"}                      a file that failed to import
    {"k": "collect_skip", "id"}                       a module (class, package) skipped at collection
    {"k": "tamper", "what"}                           pytest's machinery was changed
    {"k": "hook", "hook", "file"}                     an outcome hook added after start-up
    {"k": "test_code", "id", "file", "own", "name", "wrappers"}
                                                      a test function whose code is in another file,
                                                      or under a decorator of the project's
    {"k": "tracer", "file"}                           the file of a trace/profile function of the tests
    {"k": "finish", "exitstatus", "nonce"}            the session ended normally

A junit file or a summary line is written after the fact and can be forged by an
``atexit`` hook; records sent while the tests run cannot be taken back, a missing
``finish`` makes the run an error, and the parent checks counts against the exit code.
The sender is bound in a closure that the hooks hold; a replaced module-level ``_send`` is
reported as tampering. The parent hands over a per-run secret on its own descriptor
(``REPO_AGENT_VERDICT_NONCE_FD``), read and closed here before any conftest or test module
is imported and kept only inside an HMAC object: every record is sealed with it, chained to
the one before (agent/verdict_seal.py), and the ``finish`` record carries a token derived
from it. A record written by test code, or rewritten on a pipe it swapped in (round 6,
R6-1), is not sealed and is tampering. Code in the same process can still find the HMAC
object (or rewrite the closure): the canaries catch some of that, and the held-out
differential verdict (agent/differential.py) and the hidden tests, outside this process or
unseen by the rollout, stand behind every pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import types
from collections.abc import Callable, Generator
from typing import Any

import _pytest
import _pytest.python
import _pytest.reports
import _pytest.runner
import pytest

_fd: int | None = None
try:
    _inherited = int(os.environ.pop("REPO_AGENT_VERDICT_FD", ""))
    _fd = os.dup(_inherited)  # os.dup gives a non-inheritable descriptor
    os.close(_inherited)
except (ValueError, OSError):
    _fd = None


def _read_nonce() -> bytes:
    try:
        fd = int(os.environ.pop("REPO_AGENT_VERDICT_NONCE_FD", ""))
    except ValueError:
        return b""
    try:
        return os.read(fd, 256)
    except OSError:
        return b""
    finally:
        try:
            os.close(fd)
        except OSError:
            pass


# Pytest internals that decide an outcome, as they were before any conftest or test module ran.
_GUARDED = {
    "TestReport.from_item_and_call": (_pytest.reports.TestReport, "from_item_and_call"),
    "CallInfo.from_call": (_pytest.runner.CallInfo, "from_call"),
    "runner.call_and_report": (_pytest.runner, "call_and_report"),
    "runner.runtestprotocol": (_pytest.runner, "runtestprotocol"),
    "runner.pytest_runtest_makereport": (_pytest.runner, "pytest_runtest_makereport"),
    "Function.runtest": (_pytest.python.Function, "runtest"),
    "python.pytest_pyfunc_call": (_pytest.python, "pytest_pyfunc_call"),
}
# (Another pytest version may lack one: guard what exists.)
_GUARDED = {name: spec for name, spec in _GUARDED.items() if spec[1] in spec[0].__dict__}
_ORIGINAL = {name: owner.__dict__.get(attr) for name, (owner, attr) in _GUARDED.items()}
# Hooks whose implementations decide or rewrite what a test's outcome is.
_OUTCOME_HOOKS = (
    "pytest_runtest_makereport",
    "pytest_runtest_logreport",
    "pytest_report_teststatus",
    "pytest_runtest_protocol",
    "pytest_runtest_call",
    "pytest_pyfunc_call",
    "pytest_runtestloop",
    "pytest_collection_modifyitems",
    "pytest_collection_finish",  # R6-31: items' functions swapped once collected
    "pytest_collection",
    "pytest_itemcollected",
    "pytest_runtest_setup",
    "pytest_runtest_teardown",
    "pytest_sessionfinish",
)
_sent_tamper: set[str] = set()
_sent_tracers: set[str] = set()
_at_collection: list[object] = []  # the trace and profile functions as collection began
_session = None
_baseline: dict[str, set[int]] = {}
_HERE = os.path.dirname(__file__)
# The interpreter's standard library (read-only in the sandbox): a test decorated with
# unittest.mock.patch (functools.wraps) is its wrapper, whose code lives there.
_STDLIB = os.path.dirname(os.__file__) + os.sep
_TRUSTED = (os.path.dirname(_pytest.__file__) + os.sep, os.path.dirname(pytest.__file__) + os.sep)


Send = Callable[[dict[str, Any]], None]


# What the sender says, once, when code other than this plugin's calls it.
FOREIGN_CALLER = "the verdict plugin's sender was called from outside the plugin"


def _make_sender(
    fd: int | None,
    secret: bytes = b"",
    dumps: Callable[..., str] = json.dumps,
    write: Callable[[int, bytes], int] = os.write,
    frame: Callable[[int], Any] = sys._getframe,
) -> tuple[Send, str, Callable[[list[Any], list[Any]], None]]:
    """The sender, with the descriptor and the functions it calls bound in its closure:
    replacing this module's ``_send``, ``json.dumps`` or ``os.write`` later changes nothing
    it does (the hooks below call the bound one), and a replaced ``_send`` is reported.

    With the run's secret every record is sealed (agent/verdict_seal.py): an HMAC over the
    previous seal and the record, as its last field. The secret lives only inside the HMAC
    object (OpenSSL's: no attribute gives it back); the ``finish`` record carries a token
    derived from it.

    Once ``allow`` is given this plugin's code objects (when it has loaded) and pluggy's
    hook callers', a record whose sender's caller is other code, or whose chain of this
    plugin's frames was not called by pluggy, is preceded by a tamper record: a wrapper put
    in the hooks' way (a default argument, a closure cell or a global swapped: round 13,
    r13-1) calls it with records it rewrote; code under test calling a hook of this plugin
    itself passes it a report or a sender of its own. The caller is read through ``frame`` bound here (a
    replaced ``sys._getframe`` changes nothing) and compared by identity (an equal copy of
    a code object is not this plugin's). Returns (sender, finish token, callers' setter)."""
    template = hmac.new(secret, digestmod=hashlib.sha256) if secret else None
    token = hmac.new(secret, b"finish", hashlib.sha256).hexdigest() if secret else ""
    chain = [b""]
    lock = threading.Lock()  # one chain: records sealed and written in one order
    allowed: dict[int, Any] = {}  # id -> code object (held, so no other object takes its id)
    entries: dict[int, Any] = {}  # pluggy's hook callers' code objects
    foreign = [False]

    def allow(codes: list[Any], callers: list[Any]) -> None:
        if not allowed:  # once: later calls are code under test's
            allowed.update((id(c), c) for c in codes)
            entries.update((id(c), c) for c in callers)

    def _ours(code: Any, table: dict[int, Any]) -> bool:
        return table.get(id(code)) is code

    def send(record: dict[str, Any]) -> None:
        if fd is None:
            return
        if allowed and not foreign[0]:
            # The plugin's frames, then pluggy's hook caller: a hook of this plugin called
            # by code under test (a forged report, a sender of its own passed in) is not.
            at = frame(1)
            first = at.f_code
            while at is not None and _ours(at.f_code, allowed):
                at = at.f_back
            outside = not _ours(first, allowed)
            if outside or (entries and (at is None or not _ours(at.f_code, entries))):
                foreign[0] = True
                send({"k": "tamper", "what": FOREIGN_CALLER})
        body = dumps(record, separators=(",", ":")).encode()
        with lock:
            if template is not None:
                mac = template.copy()
                mac.update(chain[0])
                mac.update(body)
                chain[0] = mac.hexdigest().encode()
                body = body[:-1] + b',"m":"' + chain[0] + b'"}'
            data = body + b"\n"
            try:
                while data:
                    data = data[write(fd, data) :]
            except OSError:
                pass

    return send, token, allow


def _make_finish(send: Send, token: str) -> Callable[[int | None], None]:
    """The ``finish`` record's sender, the run's finish token bound in its closure."""

    def finish(status: int | None) -> None:
        send({"k": "finish", "exitstatus": int(status) if status is not None else None, "nonce": token})

    return finish


_send, _token, _allow = _make_sender(_fd, _read_nonce())
_SEND = _send  # what the hooks hold (as a default argument: pluggy passes no value for it)
_FINISH = _make_finish(_SEND, _token)
del _token


def _tamper(what: str, send: Send = _SEND) -> None:
    if what not in _sent_tamper:
        _sent_tamper.add(what)
        send({"k": "tamper", "what": what})


def _check_internals(send: Send = _SEND) -> None:
    if globals().get("_send") is not send or globals().get("_SEND") is not send:
        _tamper("the verdict plugin's sender was replaced", send)
    for name, (owner, attr) in _GUARDED.items():
        if owner.__dict__.get(attr) is not _ORIGINAL[name]:
            _tamper(f"pytest internals replaced: {name}")


def _check_hooks(config: pytest.Config, send: Send = _SEND) -> None:
    """Outcome hooks added after this plugin loaded: the parent accepts only the task's own
    conftest.py files (a new conftest is tampering); anything else is model code."""
    for hook in _OUTCOME_HOOKS:
        caller = getattr(config.hook, hook, None)
        if caller is None:
            continue
        for impl in caller.get_hookimpls():
            if id(impl.function) in _baseline.get(hook, ()):
                continue
            code = getattr(impl.function, "__code__", None)
            if code is not None and (
                code.co_filename.startswith(_TRUSTED) or os.path.dirname(code.co_filename) == _HERE
            ):
                continue  # pytest's own plugins register late; this plugin and its sibling
            send({"k": "hook", "hook": hook, "file": code.co_filename if code else repr(impl.function)})


_SEND({"k": "hello", "pid": os.getpid()})


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    # Called as this plugin registers, before any conftest: what is registered now is pytest's own.
    for hook in _OUTCOME_HOOKS:
        caller = getattr(pluginmanager.hook, hook, None)
        if caller is not None:
            _baseline[hook] = {id(i.function) for i in caller.get_hookimpls()}


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Tests run in this process, never in pytest-xdist's workers (``-n 2`` in a task's addopts):
    a worker's copy of this plugin has no verdict pipe, so its checks (internals replaced, a
    raising call reported passed, a test's code, a tracer) would send nothing (round 13,
    r13-13). Its options are set as ``-n 0`` sets them, whichever plugin reads them first;
    ``--looponfail`` (rerun for ever) is off."""
    option = config.option
    if hasattr(option, "numprocesses") or hasattr(option, "tx"):
        option.numprocesses, option.dist, option.tx = 0, "no", []
        if hasattr(option, "distload"):
            option.distload = False
    if getattr(option, "looponfail", False):
        option.looponfail = False


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _session
    _session = session


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # An exception in the test phase can never come out as "passed".
    if call.excinfo is not None and report.outcome == "passed" and not hasattr(report, "wasxfail"):
        _tamper(f"a report said passed for a raising {call.when} of {item.nodeid}")
    return report


def _holds(cell: Any, value: object) -> bool:
    try:
        return cell.cell_contents is value
    except ValueError:  # an empty cell
        return False


def _unwrapped(obj: Any, path: str) -> tuple[Any, list[str]]:
    """The test function under its decorators (``@mock.patch``, ``contextlib``, a project's
    own ``functools.wraps`` helper: sklearn's ignore_warnings), and the files of the
    wrappers' code outside the standard library: each wrapper holds the next function in its
    closure, so it calls it. A function that holds none is the innermost (a decorator that
    swapped the test for another function: that one is named). Else ``obj`` itself."""
    seen = 0
    fn = obj
    wrappers: list[str] = []
    while seen < 16:
        code = getattr(fn, "__code__", None)
        if code is None or os.path.realpath(code.co_filename) == os.path.realpath(path):
            return fn, wrappers
        inner = getattr(fn, "__wrapped__", None)
        cells = getattr(fn, "__closure__", None) or ()
        if inner is None or not any(_holds(c, inner) for c in cells):
            return fn, wrappers
        if not code.co_filename.startswith(_STDLIB):
            wrappers.append(code.co_filename)
        fn, seen = inner, seen + 1
    return obj, []


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made at run time (a Python class statement)


def _tracer_origin(tracer: object) -> str | None:
    """The file of a trace or profile function's code: a Python function's (a bound method's),
    or coverage's C tracer's module (pytest-cov; its type is static, made by the extension
    module alone). None: another object, whose code this process cannot name."""
    fn = tracer
    for _ in range(4):
        if not isinstance(fn, types.MethodType):
            break
        fn = fn.__func__
    if isinstance(fn, types.FunctionType):
        return fn.__code__.co_filename
    tp = type(fn)
    # (Its type's name is "coverage.CTracer" as coverage 7 builds it, in coverage.tracer.)
    if tp.__module__ in ("coverage", "coverage.tracer") and tp.__name__ == "CTracer" and not tp.__flags__ & _HEAPTYPE:
        file = getattr(sys.modules.get("coverage.tracer"), "__file__", None)
        return file if isinstance(file, str) else None
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    # Before any test module is imported: a tracer the session started with (pytest-cov's,
    # a project's conftest's), not one code under test installs.
    _at_collection[:] = [sys.gettrace(), sys.getprofile()]


def _check_tracers(send: Send = _SEND) -> None:
    """A trace or profile function can rewrite a test's frame (jump past an assert): one is
    allowed only if it is the one collection began with and the parent trusts its file."""
    then = _at_collection or [None, None]
    for now, before in zip((sys.gettrace(), sys.getprofile()), then):
        if now is None:
            continue
        origin = _tracer_origin(now) if now is before else None
        if origin is None:
            _tamper("a trace or profile function was installed during the tests", send)
        elif origin not in _sent_tracers:
            _sent_tracers.add(origin)
            send({"k": "tracer", "file": origin})


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item, send: Send = _SEND) -> Generator[None, object, object]:
    path = str(getattr(item, "path", ""))
    obj, wrappers = _unwrapped(getattr(item, "obj", None), path)
    code = getattr(obj, "__code__", None)
    own = code is not None and bool(path) and os.path.realpath(code.co_filename) == os.path.realpath(path)
    if code is not None and path and (wrappers or not own):
        # The parent accepts code from the task's own files (a shared helper module, a
        # decorator of the project's), as it judges them.
        send(
            {
                "k": "test_code",
                "id": item.nodeid,
                "file": code.co_filename,
                "own": own,
                "name": code.co_name,
                "wrappers": wrappers,
            }
        )
    try:
        return (yield)
    finally:
        _check_tracers(send)


def pytest_runtest_logreport(report: pytest.TestReport, send: Send = _SEND) -> None:
    _check_internals()
    send(
        {
            "k": "report",
            "id": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "xfail": hasattr(report, "wasxfail"),
        }
    )


def pytest_collectreport(report: pytest.CollectReport, send: Send = _SEND) -> None:
    if report.failed:
        send({"k": "collect_error", "id": report.nodeid})
    elif report.skipped:  # importorskip of an optional dependency: no canary there can run
        send({"k": "collect_skip", "id": report.nodeid})


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config, finish: Callable[[int | None], None] = _FINISH) -> None:
    _check_internals()
    _check_hooks(config)
    finish(getattr(_session, "exitstatus", None))


def _hook_callers() -> list[Any]:
    """The code of pluggy's functions that call a hook implementation (none found: another
    pluggy, the plugin's own frames alone are checked)."""
    try:
        import pluggy._callers as callers
    except ImportError:
        return []
    found = [getattr(callers, name, None) for name in ("_multicall", "run_old_style_hookwrapper")]
    return [code for code in (getattr(f, "__code__", None) for f in found) if code is not None]


# Last, once every function of this plugin exists: the only code the sender takes records from.
_allow(
    [
        f.__code__
        for f in list(globals().values())
        if getattr(f, "__module__", None) == __name__ and hasattr(f, "__code__")
    ]
    + [_FINISH.__code__],
    _hook_callers(),
)
del _allow
