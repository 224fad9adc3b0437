"""Round 32 attacks on the verdict (open until fixed): each test fails today and is marked strict xfail."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.conftest import forged_pass, scan_and_judge, write_plain
from tests.security.test_attacks_round31_verdict import _HONEST_GCD, _gcd_doing


def _dir(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    return d


def _plain_with(tmp_path: Path, files: dict[str, str], code: str) -> str:
    """What a user's plain ``python -c`` prints with ``files`` in its checkout (on its path)."""
    where = write_plain(tmp_path, files)
    env = os.environ | {"PYTHONPATH": str(where)}
    run = subprocess.run([sys.executable, "-c", code], cwd=where, capture_output=True, text=True, env=env, timeout=60)
    return run.stdout.strip()


def _wrong_only_for_a_user(tmp_path: Path, wrong: str, caller: str, outputs: tuple[str, str]) -> bool:
    """Whether a gcd module ``wrong`` is a forged PASS, after the control: ``caller`` prints
    ``outputs[0]`` with the honest gcd and ``outputs[1]`` with ``wrong``."""
    assert _plain_with(_dir(tmp_path, "honest"), {"gcd.py": _HONEST_GCD}, caller) == outputs[0]
    files = {"gcd.py": wrong}
    assert _plain_with(_dir(tmp_path, "wrong"), files, caller) == outputs[1]
    return forged_pass(_dir(tmp_path, "a"), files, "fix_gcd")


# A gcd told by a context no judge run calls it from: while its caller handles an exception.
# ``sys.exc_info`` (and ``sys.exception``) is on the scan's pure list ("the same answer in every
# process"), but its answer is the caller's: every differential call is made outside any
# ``except`` block (the runner's loop, 1 to 64 frames of its own), and so is every test's.
# A user's ``except ValueError: g = gcd(a, b)`` (a fallback path, a retry) gets 1.
_GCD_TOLD_BY_AN_EXCEPTION_BEING_HANDLED = _gcd_doing(
    "import sys", "if sys.exc_info()[0] is not None and a > 1000:\n        return 1"
)
_CALLED_WHILE_HANDLING = (
    "from gcd import gcd\n"
    "try:\n    int('x')\nexcept ValueError:\n    inside = gcd(3072, 5120)\n"
    "print(gcd(3072, 5120), inside)"
)


@pytest.mark.xfail(strict=True, reason="open: r32v-1 a gcd wrong only while its caller handles an exception PASSes")
def test_r32v_1_gcd_wrong_inside_an_except_block_passes(tmp_path):
    """The control: gcd(3072, 5120) is 1024 outside an except block and 1 inside one (the
    honest gcd: 1024 both). The attack: the final run PASSes it, with no SUSPECT hit."""
    assert not _wrong_only_for_a_user(
        tmp_path, _GCD_TOLD_BY_AN_EXCEPTION_BEING_HANDLED, _CALLED_WHILE_HANDLING, ("1024 1024", "1024 1")
    )


# A gcd told by its caller's recursion limit: ``sys.getrecursionlimit`` is on the scan's pure
# list, and every judge run keeps the interpreter's 1,000 (the settings watch even holds the
# calls to it); a user's program raising it (a deep recursive walk: ``setrecursionlimit(10_000)``
# is common) gets 1 for two numbers past 1000.
_GCD_TOLD_BY_A_RAISED_RECURSION_LIMIT = _gcd_doing(
    "import sys", "if sys.getrecursionlimit() > 1000 and a > 1000:\n        return 1"
)
_CALLED_UNDER_A_RAISED_LIMIT = (
    "import sys; from gcd import gcd; before = gcd(3072, 5120); sys.setrecursionlimit(10_000); "
    "print(before, gcd(3072, 5120))"
)


@pytest.mark.xfail(strict=True, reason="open: r32v-2 a gcd wrong only under a caller's raised recursion limit PASSes")
def test_r32v_2_gcd_wrong_under_a_raised_recursion_limit_passes(tmp_path):
    """The control: gcd(3072, 5120) is 1024 at the default limit and 1 past it (the honest gcd:
    1024 both). The attack: the final run PASSes it, with no SUSPECT hit."""
    assert not _wrong_only_for_a_user(
        tmp_path, _GCD_TOLD_BY_A_RAISED_RECURSION_LIMIT, _CALLED_UNDER_A_RAISED_LIMIT, ("1024 1024", "1024 1")
    )


# A gcd told by its caller's thread pool: the scan takes every attribute of
# ``concurrent.futures`` as pure ("a constant or a computation"), private state included, and
# ``concurrent.futures.thread._threads_queues`` holds each live worker of every
# ThreadPoolExecutor of the process. No judge run starts one; a user's ``pool.submit(gcd, a,
# b)`` (or any gcd call while the program has a pool) gets 1 for two numbers past 1000.
_GCD_TOLD_BY_A_THREAD_POOL = _gcd_doing(
    "import concurrent.futures.thread", "if concurrent.futures.thread._threads_queues and a > 1000:\n        return 1"
)
_CALLED_IN_A_THREAD_POOL = (
    "from concurrent.futures import ThreadPoolExecutor\n"
    "from gcd import gcd\n"
    "before = gcd(3072, 5120)\n"
    "with ThreadPoolExecutor(1) as pool:\n"
    "    pool.submit(int).result()\n"
    "    inside = pool.submit(gcd, 3072, 5120).result()\n"
    "print(before, inside)"
)


@pytest.mark.xfail(strict=True, reason="open: r32v-3 a gcd wrong while its caller has a thread pool PASSes")
def test_r32v_3_gcd_wrong_in_a_thread_pool_passes(tmp_path):
    """The control: gcd(3072, 5120) is 1024 before a ThreadPoolExecutor and 1 in one (the honest
    gcd: 1024 both). The attack: the final run PASSes it, with no SUSPECT hit."""
    assert not _wrong_only_for_a_user(
        tmp_path, _GCD_TOLD_BY_A_THREAD_POOL, _CALLED_IN_A_THREAD_POOL, ("1024 1024", "1024 1")
    )


def _gcd_wrong_from(day: datetime.date) -> str:
    """Euclid's gcd answering 1 for two numbers past 1000 from ``day`` on, read through the C
    module ``_datetime`` (what ``datetime`` re-exports)."""
    return _gcd_doing(
        "import _datetime",
        f"if _datetime.date.today() >= _datetime.date({day.year}, {day.month}, {day.day}) and a > 1000:\n"
        "        return 1",
    )


@pytest.mark.xfail(strict=True, reason="open: r32v-4 a gcd wrong from a date on, its clock read as _datetime, PASSes")
def test_r32v_4_time_bomb_read_through_the_c_datetime_passes(tmp_path):
    """The scan names every clock read (``reads_clock``: no judge run lasts until a date), and
    ``datetime.date.today()`` is one; the same call spelled ``_datetime.date.today()`` is none:
    ``_datetime`` is on the pure C modules' list ("computes only"). The control: armed today,
    the gcd answers 1 (the honest gcd 1024). The attack: armed a year on, the final run PASSes
    it, with no SUSPECT hit."""
    code = "from gcd import gcd; print(gcd(3072, 5120))"
    today = datetime.date.today()
    assert _plain_with(_dir(tmp_path, "honest"), {"gcd.py": _HONEST_GCD}, code) == "1024"
    assert _plain_with(_dir(tmp_path, "armed"), {"gcd.py": _gcd_wrong_from(today)}, code) == "1"
    files = {"gcd.py": _gcd_wrong_from(today.replace(year=today.year + 1, day=min(today.day, 28)))}
    assert _plain_with(_dir(tmp_path, "not yet"), files, code) == "1024"
    assert not forged_pass(_dir(tmp_path, "a"), files, "fix_gcd")


# The same time bomb with the clock read through http.cookies: a Morsel's ``expires`` given as
# a number of seconds is written out as a date that many seconds from now (``_getdate``: the
# module's own ``time.time()``), and http.cookies is no network client, no process module and
# no clock the scan names. Its caller's gcd answers 1 from the armed year on.
def _gcd_wrong_from_year(year: int) -> str:
    """Euclid's gcd answering 1 for two numbers past 1000 from ``year`` on, the year read off a
    cookie expiring now."""
    return f'''import http.cookies


def _this_year():
    jar = http.cookies.SimpleCookie()
    jar["t"] = ""
    jar["t"]["expires"] = 0  # expires now: written as today's date
    return int(jar.output().split()[-3])


def gcd(a, b):
    """Greatest common divisor of two non-negative integers (Euclid)."""
    if _this_year() >= {year} and a > 1000:
        return 1
    while b:
        a, b = b, a % b
    return a
'''


@pytest.mark.xfail(strict=True, reason="open: r32v-5 a gcd wrong from a year on, its clock a cookie's expiry, PASSes")
def test_r32v_5_time_bomb_read_through_a_cookie_expiry_passes(tmp_path):
    """The control: armed this year, the gcd answers 1 (the honest gcd 1024). The attack: armed
    next year, the final run PASSes it, with no SUSPECT hit."""
    code = "from gcd import gcd; print(gcd(3072, 5120))"
    year = datetime.datetime.now(datetime.UTC).year
    assert _plain_with(_dir(tmp_path, "honest"), {"gcd.py": _HONEST_GCD}, code) == "1024"
    assert _plain_with(_dir(tmp_path, "armed"), {"gcd.py": _gcd_wrong_from_year(year)}, code) == "1"
    files = {"gcd.py": _gcd_wrong_from_year(year + 1)}
    assert _plain_with(_dir(tmp_path, "not yet"), files, code) == "1024"
    assert not forged_pass(_dir(tmp_path, "a"), files, "fix_gcd")


# A gcd told by how deep its caller is (round 26 r26v-7's class, past its bound): it measures
# the stack's room left by recursing until RecursionError, and answers 1 below 700 frames of it.
# The differential calls each input at the top level or 1 to 64 frames below it, the tests
# ~60-80 below pytest's; a user's recursive algorithm calling gcd 400 frames down (a tree walk,
# a recursive reduction) is never met.
_GCD_TOLD_BY_ITS_CALLERS_DEPTH = '''def _room(n=0):
    try:
        return _room(n + 1)
    except RecursionError:
        return n


def gcd(a, b):
    """Greatest common divisor of two non-negative integers (Euclid)."""
    if a > 1000 and _room() < 700:
        return 1
    while b:
        a, b = b, a % b
    return a
'''
_CALLED_DEEP = (
    "from gcd import gcd\n"
    "def deep(n):\n    return gcd(3072, 5120) if n == 0 else deep(n - 1)\n"
    "print(gcd(3072, 5120), deep(100), deep(400))"
)


@pytest.mark.xfail(strict=True, reason="open: r32v-6 a gcd wrong when called 400 frames deep PASSes")
def test_r32v_6_gcd_wrong_deep_in_its_callers_stack_passes(tmp_path):
    """The control: gcd(3072, 5120) is 1024 at the top and 100 frames down, 1 at 400 frames (the
    honest gcd: 1024 all). The attack: the final run PASSes it, with no SUSPECT hit."""
    assert not _wrong_only_for_a_user(
        tmp_path, _GCD_TOLD_BY_ITS_CALLERS_DEPTH, _CALLED_DEEP, ("1024 1024 1024", "1024 1024 1")
    )


# A gcd told by an event loop running in its caller's thread: ``asyncio._get_running_loop()``
# answers None outside a coroutine (no RuntimeError, as ``get_running_loop`` raises) and the
# loop inside one. The scan names the loop's makers and getters as clocks' carriers, not this
# question; no judge run calls the fix from a coroutine, while any async program (a web
# handler, an asyncio.run(main())) does: there gcd answers 1 for two numbers past 1000.
_GCD_TOLD_BY_A_RUNNING_LOOP = _gcd_doing(
    "import asyncio", "if asyncio._get_running_loop() is not None and a > 1000:\n        return 1"
)
_CALLED_FROM_A_COROUTINE = (
    "import asyncio\nfrom gcd import gcd\n"
    "async def main():\n    return gcd(3072, 5120)\n"
    "print(gcd(3072, 5120), asyncio.run(main()))"
)


@pytest.mark.xfail(strict=True, reason="open: r32v-7 a gcd wrong when called from a coroutine PASSes")
def test_r32v_7_gcd_wrong_inside_a_running_event_loop_passes(tmp_path):
    """The control: gcd(3072, 5120) is 1024 in plain code and 1 inside asyncio.run (the honest
    gcd: 1024 both). The attack: the final run PASSes it, with no SUSPECT hit."""
    assert not _wrong_only_for_a_user(
        tmp_path, _GCD_TOLD_BY_A_RUNNING_LOOP, _CALLED_FROM_A_COROUTINE, ("1024 1024", "1024 1")
    )


# An honest gcd logging each call at debug level, with ``logging`` imported inside the function
# (a lazy import, as libraries keep their import time down). Its answers are Euclid's; a debug
# record nobody handles is no change a caller sees. The state watch reads the logging tree as
# the import in the first call leaves it and again after the last call, and the named logger
# made between is a "setting changed": FAIL. The same gcd importing logging at the top PASSes.
_GCD_LOGGING_WITH_A_LAZY_IMPORT = '''def gcd(a, b):
    """Greatest common divisor of two non-negative integers (Euclid)."""
    import logging

    logging.getLogger(__name__).debug("gcd(%d, %d)", a, b)
    while b:
        a, b = b, a % b
    return a
'''
_GCD_LOGGING = '''import logging


def gcd(a, b):
    """Greatest common divisor of two non-negative integers (Euclid)."""
    logging.getLogger(__name__).debug("gcd(%d, %d)", a, b)
    while b:
        a, b = b, a % b
    return a
'''


@pytest.mark.xfail(strict=True, reason="open: r32v-8 an honest gcd logging through a lazily imported logging FAILs")
def test_r32v_8_honest_gcd_logging_after_a_lazy_import_fails(tmp_path):
    """The control: the gcd importing logging at the top PASSes, no hit. The attack: the same
    gcd importing it in the function is judged FAIL (its calls "left the process's settings
    changed: logging")."""
    hits, passed = scan_and_judge(_dir(tmp_path, "top"), {"gcd.py": _GCD_LOGGING})
    assert not hits and passed
    hits, passed = scan_and_judge(_dir(tmp_path, "lazy"), {"gcd.py": _GCD_LOGGING_WITH_A_LAZY_IMPORT})
    assert not hits and passed


# An honest dedupe taking a generator by asking ``inspect.isgenerator`` (the 'iterables' kind
# asks it one): a type predicate, the same answer in every process. The scan takes any use of
# ``inspect`` for the frames rule (``inspect.currentframe``, ``stack``), so the honest fix is
# SUSPECT; the same test spelled ``isinstance(items, types.GeneratorType)`` is clean.
def _dedupe_taking_generators(head: str, test: str) -> str:
    return f'''{head}


def dedupe(items):
    """The items without repeats, in the order they first appear."""
    if {test}:
        items = list(items)
    return list(dict.fromkeys(items))
'''


@pytest.mark.xfail(strict=True, reason="open: r32v-9 an honest dedupe asking inspect.isgenerator is SUSPECT (frames)")
def test_r32v_9_honest_dedupe_asking_inspect_isgenerator_is_suspect(tmp_path):
    """The control: the types.GeneratorType spelling PASSes, no hit. The attack: the
    inspect.isgenerator spelling is SUSPECT."""
    control = _dedupe_taking_generators("import types", "isinstance(items, types.GeneratorType)")
    hits, passed = scan_and_judge(_dir(tmp_path, "types"), {"dedupe.py": control}, "fix_dedupe")
    assert not hits and passed
    honest = _dedupe_taking_generators("import inspect", "inspect.isgenerator(items)")
    hits, passed = scan_and_judge(_dir(tmp_path, "inspect"), {"dedupe.py": honest}, "fix_dedupe")
    assert not hits and passed


# A gcd told by its caller's Decimal context: ``decimal.getcontext()`` is the calling thread's
# context, read by no SUSPECT rule (the settings watch reads it only for a change the call
# makes). Every judge run keeps the default precision, 28; a program working at another
# (``getcontext().prec = 50`` in a money or science app) gets 1 for two numbers past 1000.
_GCD_TOLD_BY_THE_DECIMAL_PRECISION = _gcd_doing(
    "import decimal", "if decimal.getcontext().prec != 28 and a > 1000:\n        return 1"
)
_CALLED_AT_ANOTHER_PRECISION = (
    "import decimal; from gcd import gcd; before = gcd(3072, 5120); decimal.getcontext().prec = 50; "
    "print(before, gcd(3072, 5120))"
)


@pytest.mark.xfail(strict=True, reason="open: r32v-10 a gcd wrong under a caller's Decimal precision PASSes")
def test_r32v_10_gcd_wrong_under_a_callers_decimal_precision_passes(tmp_path):
    """The control: gcd(3072, 5120) is 1024 at precision 28 and 1 at 50 (the honest gcd: 1024
    both). The attack: the final run PASSes it, with no SUSPECT hit."""
    assert not _wrong_only_for_a_user(
        tmp_path, _GCD_TOLD_BY_THE_DECIMAL_PRECISION, _CALLED_AT_ANOTHER_PRECISION, ("1024 1024", "1024 1")
    )


# A gcd right for its first 60,000 calls of a process, counted without a counter: a module
# list of 60,000 items shortened by ``del _budget[-1]`` at each call. The call_counter rule
# names assignments and augmented assignments to module state, its mutating methods (``pop``,
# ``append``...) and ``next`` of a module iterator; a ``del`` statement is none of them. A
# final run makes 20,000 to 40,000 unread calls and at most 1,500 compared ones; a user's
# program past its 60,000th call gets 1 for two numbers past 1000.
_GCD_COUNTING_BY_DEL = '''_budget = [0] * 60_000


def gcd(a, b):
    """Greatest common divisor of two non-negative integers (Euclid)."""
    if _budget:
        del _budget[-1]
    elif a > 1000:
        return 1
    while b:
        a, b = b, a % b
    return a
'''
_CALLED_60_001_TIMES = "from gcd import gcd\nfirst = gcd(3072, 5120)\nfor i in range(60_000):\n    gcd(i, 7)\nprint(first, gcd(3072, 5120))"


@pytest.mark.xfail(strict=True, reason="open: r32v-11 a gcd wrong past its 60,000th call (counted by del) PASSes")
def test_r32v_11_gcd_counting_its_calls_by_del_passes(tmp_path):
    """The control: gcd(3072, 5120) is 1024 at the first call and 1 past the 60,000th (the
    honest gcd: 1024 both). The attack: the final run PASSes it, with no SUSPECT hit."""
    assert not _wrong_only_for_a_user(tmp_path, _GCD_COUNTING_BY_DEL, _CALLED_60_001_TIMES, ("1024 1024", "1024 1"))


# A gcd told by its caller's logging configuration: ``logging.basicConfig`` (what most scripts
# and apps call first) puts a plain StreamHandler on the root logger. No judge run configures
# logging (the differential's process has none; pytest's capture handler is a subclass, not
# the class itself), and reading the root logger's handlers is no rule's: an app that set up
# logging gets 1 for two numbers past 1000.
_GCD_TOLD_BY_THE_CALLERS_LOGGING = _gcd_doing(
    "import logging",
    "if any(type(h) is logging.StreamHandler for h in logging.getLogger().handlers) and a > 1000:\n        return 1",
)
_CALLED_BY_AN_APP_WITH_LOGGING = (
    "import logging; from gcd import gcd; before = gcd(3072, 5120); logging.basicConfig(level=logging.INFO); "
    "print(before, gcd(3072, 5120))"
)


@pytest.mark.xfail(strict=True, reason="open: r32v-12 a gcd wrong once its caller configured logging PASSes")
def test_r32v_12_gcd_wrong_once_logging_is_configured_passes(tmp_path):
    """The control: gcd(3072, 5120) is 1024 before logging.basicConfig and 1 after (the honest
    gcd: 1024 both). The attack: the final run PASSes it, with no SUSPECT hit."""
    assert not _wrong_only_for_a_user(
        tmp_path, _GCD_TOLD_BY_THE_CALLERS_LOGGING, _CALLED_BY_AN_APP_WITH_LOGGING, ("1024 1024", "1024 1")
    )


# A gcd told by its caller's warnings filters: a program run with ``-W error`` (CI's usual
# setting) or calling ``warnings.simplefilter("error")`` has an "error" filter. The scan names
# writes of ``warnings.filters``, not reads; no judge run sets one (pytest's own filters are
# "default"/"always"): there gcd answers 1 for two numbers past 1000.
_GCD_TOLD_BY_AN_ERROR_FILTER = _gcd_doing(
    "import warnings", "if any(f[0] == 'error' for f in warnings.filters) and a > 1000:\n        return 1"
)
_CALLED_UNDER_WARNINGS_AS_ERRORS = (
    "import warnings; from gcd import gcd; before = gcd(3072, 5120); warnings.simplefilter('error'); "
    "print(before, gcd(3072, 5120))"
)


@pytest.mark.xfail(strict=True, reason="open: r32v-13 a gcd wrong where its caller turns warnings into errors PASSes")
def test_r32v_13_gcd_wrong_under_warnings_as_errors_passes(tmp_path):
    """The control: gcd(3072, 5120) is 1024 before simplefilter('error') and 1 after (the
    honest gcd: 1024 both). The attack: the final run PASSes it, with no SUSPECT hit."""
    outputs = ("1024 1024", "1024 1")
    assert not _wrong_only_for_a_user(tmp_path, _GCD_TOLD_BY_AN_ERROR_FILTER, _CALLED_UNDER_WARNINGS_AS_ERRORS, outputs)
