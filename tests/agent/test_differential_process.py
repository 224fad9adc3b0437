"""The differential runner's process looks like a user's script run (round 16: r16-9, r16-11),
and a fix right only for its first N calls of a process meets its N (r16-10)."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent import differential
from agent import differential_runner as runner
from agent.differential_stage import script_name
from agent.suites.models import DifferentialTarget


def _loaded_here(tmp_path: Path, name: str, source: str) -> Any:
    """``source`` written as ``name``.py and loaded in this process (not in sys.modules)."""
    import importlib.util

    (tmp_path / f"{name}.py").write_text(source)
    spec = importlib.util.spec_from_file_location(name, tmp_path / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _left_changed(module: Any, function: str) -> list[str]:
    """What two calls of ``module.function`` leave changed, read by a watch in this process."""
    found: set[str] = set()
    watch = runner._SettingsWatch(found)
    watch.between()
    getattr(module, function)(1)
    getattr(module, function)(1)
    watch.done()
    return sorted(found)


def _probed(tmp_path: Path, body: str, sandbox: str = "auto") -> object:
    """What ``probe(1)`` (``body`` under ``import sys``) returns in the runner's process."""
    (tmp_path / "probe.py").write_text("import sys\n\n\ndef probe(x):\n" + body)
    target = DifferentialTarget(module="probe", function="probe", inputs=[[1]])
    run = differential.run_calls(tmp_path, [target], sandbox=sandbox)
    assert run.finished, run.output
    return run.results[(0, 0)]["v"]


def test_the_runner_starts_with_ordinary_flags_and_argv(tmp_path: Path) -> None:
    got = _probed(
        tmp_path,
        "    return [sys.argv, sys.orig_argv[1:], sys.flags.no_site, sys.flags.no_user_site, 'site' in sys.modules]\n",
        sandbox="bwrap",
    )
    assert isinstance(got, dict)
    argv, orig, no_site, no_user_site, site_ran = got["list"]
    assert (no_site, no_user_site, site_ran) == (0, 0, True)
    assert len(argv["list"]) == 1 and orig == argv  # the script alone: no flag, no calls file after it
    script = argv["list"][0]
    assert script.endswith(".py") and "repo-agent" not in script and "runner" not in script


def test_script_names_are_drawn_and_never_a_standard_module() -> None:
    rng = random.Random(7)
    names = {script_name(rng) for _ in range(3000)}
    assert len(names) > 2500
    assert not names & set(sys.stdlib_module_names)
    assert all(n.isidentifier() for n in names)


def test_warm_up_calls_come_before_a_run_of_later_calls() -> None:
    calls = [DifferentialTarget(module="m", function="f", inputs=[[[3, 2, 1]], [[1]], [[9, 8]]])]
    kept = {(0, 0), (0, 1), (0, 2)}
    seq = differential.call_sequence(calls, kept, random.Random(3), 1e-6)
    assert len(seq.warmups) == 1
    s, pos, count = seq.warmups[0]
    assert seq.part[s] == " (a later call)"  # compared calls follow in its run
    assert seq.segments[s].inputs[pos] == [[1]]  # the cheapest-looking input
    assert differential.WARMUP_MIN <= count <= differential.WARMUP_MAX
    # A reference measured slow on a busy machine: the least is still a count, within the budget.
    busy = differential.call_sequence(calls, kept, random.Random(3), differential.WARMUP_BUDGET_S / 7_000)
    assert all(differential.WARMUP_MIN <= c <= 7_000 for _, _, c in busy.warmups)
    # A slow reference: fewer, within the budget of its time.
    slow = differential.call_sequence(calls, kept, random.Random(3), 0.01)
    assert all(c <= differential.WARMUP_BUDGET_S / 0.01 for _, _, c in slow.warmups)


def test_warm_up_calls_each_get_their_own_arguments() -> None:
    seen: list[list[int]] = []

    def f(xs: list[int]) -> None:
        seen.append(xs)
        xs.append(0)  # changed in place: the next call still gets [1]

    runner._warm_up(f, runner.marshal.dumps([[[1]], {}]), 500, lambda rec: None, lambda: 0.0)
    assert len(seen) == 500 and len({id(x) for x in seen}) == 500
    assert all(x == [1, 0] for x in seen)


PLAIN_PROBE = """import os
import sys


def probe(xs, k=None):
    return [
        [n for n in range(3, 1024) if os.path.exists(n)],
        sorted(m for m in ("json", "_json", "importlib", "_socket", "__future__") if m in sys.modules),
        sys.getrefcount(xs),
        os.path.isdir("__pycache__"),
        sorted(v for v in os.environ if v.startswith("PYTHON") or v in ("TMPDIR", "LC_ALL")),
        os.isatty(0),
    ]
"""


def test_the_calls_see_what_a_plain_script_s_calls_see(tmp_path: Path) -> None:
    # r19v-1/2/3/5: while a call runs the process holds descriptors 0-2 only (with a terminal as
    # stdin and without), no module only the runner imported is in sys.modules, the argument
    # is held as ``xs = [...]; probe(xs)`` holds it, and the import wrote its bytecode.
    (tmp_path / "plainprobe.py").write_text(PLAIN_PROBE)
    target = DifferentialTarget(module="plainprobe", function="probe", inputs=[[[3, 1, 2]]])
    run = differential.run_calls(tmp_path, [target, target], sandbox="bwrap", stdin_tty=[True, False])
    assert run.finished, run.output
    for s in (0, 1):
        fds, modules, refs, cached, env, tty = run.results[(s, 0)]["v"]["list"]
        assert fds == {"list": []}, run.results
        assert modules == {"list": []}
        assert refs <= 3  # the call's tuple, its parameter, getrefcount's argument
        assert cached is True
        assert env == {"list": []}
        assert tty is (s == 0)


def test_the_records_go_through_a_relay_no_descriptor_sweep_of_the_calls_closes(tmp_path: Path) -> None:
    # Code under test closing every descriptor past 2 closes nothing the records need.
    (tmp_path / "sweep.py").write_text("import os\n\n\ndef f(x):\n    os.closerange(3, 1 << 16)\n    return x + 1\n")
    target = DifferentialTarget(module="sweep", function="f", inputs=[[1], [2]])
    run = differential.run_calls(tmp_path, [target], sandbox="bwrap", stdin_tty=[True])
    assert run.finished, run.output
    assert [run.results[(0, i)]["v"] for i in (0, 1)] == [2, 3]


# The interpreter's modules and builtins the code under test shares with the runner (loaded at
# every start, or kept for the classes the runner reads by identity: ``_KEPT_MODULES``).
_SHARED = {"os", "sys", "marshal", "time", "types", "builtins", "collections", "decimal", "fractions", "_queue"}
# ... of which the runner reads the process's state, the code's too: where modules are, which
# path imports search, the streams and the script's argv.
_STATE = {("sys", "path"), ("sys", "modules"), ("sys", "stdout"), ("sys", "stderr"), ("sys", "argv")}


def test_the_runner_reaches_no_function_of_a_shared_module_after_its_start() -> None:
    """r22v-7's class: a function of a module the code under test shares (``os.open`` and
    ``os.close`` given its own) ran as the runner's. Every function of the runner reaches
    them through names taken at its start (``_os``, ``_path``, ...), and builtins through a
    copy made before its first ``def`` (a function takes its builtins as it is made); only the
    relay's (forked before any workspace code) and the process's state are left."""
    import ast

    tree = ast.parse(Path(runner.__file__).read_text())
    swap = next(
        (
            n.lineno
            for n in tree.body
            if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "globals()['__builtins__']"
        ),
        None,
    )
    assert swap is not None, "no copy of the builtins before the runner's functions"
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert defs and all(n.lineno > swap for n in defs)
    reached = []
    for top in defs:
        if top.name in ("_relay", "_forward", "_own_namespace"):
            continue  # the relay's process, and the runner's start: no workspace code ever ran
        for node in ast.walk(top):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                pair = (node.value.id, node.attr)
                if (node.value.id in _SHARED and pair not in _STATE) or pair == ("_os", "path"):
                    reached.append(f"{top.name}: {'.'.join(pair)} (line {node.lineno})")
    assert reached == []


# A module whose first call replaces every function of the shared modules, and every builtin
# function, by one that ends the process when the runner's own code calls it.
_REPLACES_THE_SHARED = """import builtins
import marshal
import os
import posixpath
import sys
import time
import types

_done = []


def _guarded(f):
    def g(*args, **kwargs):
        if _getframe(1).f_code.co_filename == _runner:
            _exit(3)
        return f(*args, **kwargs)

    return g


def _replace_all():
    global _getframe, _exit, _runner
    _getframe, _exit = sys._getframe, os._exit
    _runner = sys.modules["__main__"].__file__
    for module in (os, posixpath, marshal, time, builtins):
        for name, value in list(vars(module).items()):
            if isinstance(value, (types.BuiltinFunctionType, types.FunctionType)) and not name.startswith("__"):
                setattr(module, name, _guarded(value))


def pair(x):
    if not _done:
        _done.append(1)
        _replace_all()
    return [x, x]
"""


def test_functions_replaced_on_the_shared_modules_are_never_the_runners(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text(_REPLACES_THE_SHARED)
    target = DifferentialTarget(module="mod", function="pair", inputs=[[1], [2], [3]])
    run = differential.run_calls(tmp_path, [target], sandbox="auto")
    assert run.finished, run.output
    assert run.results == {(0, i): {"v": {"list": [i + 1, i + 1]}} for i in range(3)}


def test_the_scripts_module_holds_none_of_the_runners_names(tmp_path: Path) -> None:
    """r22v-13: the code under test found the runner in ``sys.modules["__main__"]`` and rebound
    its ``_idle_pool_worker``. The runner's names live in a dict of their own; ``__main__`` is
    a script's that defines nothing (its builtins the builtins module, no docstring), while a
    call made by its top level runs too (round 26: the loop's name for the call taken out)."""
    got = _probed(
        tmp_path,
        "    m = sys.modules['__main__']\n    return [sorted(vars(m)), m.__doc__, type(m.__builtins__).__name__]\n",
    )
    (tmp_path / "empty.py").write_text("print(sorted(vars()))\n")
    plain = subprocess.run([sys.executable, "empty.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert got == {"list": [{"list": ast.literal_eval(plain.stdout)}, None, "module"]}


_ROOM = """import sys


def _room(n=0):
    try:
        return _room(n + 1)
    except RecursionError:
        return n


def room(x):
    return _room()
"""


def _rooms(tmp_path: Path, unread: differential.UnreadCalls) -> list[int]:
    target = DifferentialTarget(module="roomy", function="room", inputs=[[i] for i in range(40)])
    run = differential.run_calls(tmp_path, [target], sandbox="auto", unread=unread)
    assert run.finished, run.output
    return [run.results[(0, i)]["v"] for i in range(40)]


def test_calls_are_made_at_a_scripts_top_level_and_drawn_deeper(tmp_path: Path) -> None:
    """Round 26 r26v-7: the runner called the code from inside its ``main``, a frame deeper than
    a script's top level: a gcd wrong where its stack held a top-level caller's room agreed.
    The room the code sees (calls until RecursionError): a plain script's top-level caller's
    for about half the calls, less by 1 to 64 frames for the rest (a function of the script,
    pytest's ~60), the same in two processes drawing alike, a script's alone in a plain run."""
    (tmp_path / "roomy.py").write_text(_ROOM)
    caller = "from roomy import room\ndef f(): return room(0)\nprint(room(0), f())"
    plain = subprocess.run([sys.executable, "-c", caller], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    top, in_a_function = map(int, plain.stdout.split())
    assert in_a_function == top - 1
    rooms = _rooms(tmp_path, differential.UnreadCalls(draws=7))
    assert 10 <= rooms.count(top) <= 30 and all(top - 64 <= r <= top for r in rooms)
    assert len({r for r in rooms if r < top}) >= 5  # deeper ones, drawn
    assert _rooms(tmp_path, differential.UnreadCalls(draws=7)) == rooms
    assert _rooms(tmp_path, differential.PLAIN) == [top] * 40


def test_a_thread_with_no_python_frame_is_counted(tmp_path: Path) -> None:
    """r22v-14: a thread started through ``_thread`` running C code only (``time.sleep``) has
    no frame ``sys._current_frames`` lists; the interpreter's own count has it (once the thread
    has started: the test's code waits for that, as a loaded machine may not have run it yet)."""
    (tmp_path / "mod.py").write_text(
        "import _thread\nimport time\n\n_started = []\n\n\ndef pair(x):\n    if not _started:\n"
        "        _started.append(_thread.start_new_thread(time.sleep, (30,)))\n"
        # running before the call returns: the interpreter counts a thread once it has started
        "        while _thread._count() == 0:\n            time.sleep(0.001)\n"
        "    return [x, x]\n"
    )
    target = DifferentialTarget(module="mod", function="pair", inputs=[[1], [2]])
    run = differential.run_calls(tmp_path, [target], sandbox="auto")
    assert run.finished, run.output
    assert run.threads == 1


def test_calls_by_the_references_parameter_names(tmp_path: Path) -> None:
    """Round 23 r23v-4, round 24 r24v-2: the reference's positional parameter names are read
    (positional-only ones are None; through functools.wraps), and a call passes its arguments
    by them from the first one it can: a fix whose parameters are renamed or positional-only
    raises TypeError there, as it does for a caller naming them."""
    import functools

    def gcd(a, b, /, c, d=0, *rest, e=1):
        return a

    @functools.wraps(gcd)
    def wrapped(*args, **kwargs):
        return gcd(*args, **kwargs)

    @functools.wraps(gcd)
    def narrowing(x, y):  # hands on what it takes: its own names, whatever it wraps
        return gcd(x, y, 0)

    class Pair:
        def __init__(self, a, b):
            self.a = a

    assert runner._parameter_names(gcd) == [None, None, "c", "d"]
    assert runner._parameter_names(wrapped) == [None, None, "c", "d"]
    assert runner._parameter_names(narrowing) == ["x", "y"]
    assert runner._parameter_names(functools.lru_cache(gcd)) == [None, None, "c", "d"]
    assert runner._parameter_names(functools.cache(wrapped)) == [None, None, "c", "d"]
    assert runner._parameter_names(Pair) is None  # a class: no names (its calls stay positional)
    names = ["xs", "target"]
    assert runner._by_name(([1, 4], 4), {}, names) == ((), {"xs": [1, 4], "target": 4})
    assert runner._by_name(([1, 4], 4), {"target": 4}, names) == (([1, 4], 4), {"target": 4})
    assert runner._by_name((1, 2, 3), {}, names) == ((1, 2, 3), {})  # past the names: as given
    assert runner._by_name((1, 2, 3), {}, [None, "b", "c"]) == ((1,), {"b": 2, "c": 3})
    (tmp_path / "renamed.py").write_text("def find(items, wanted):\n    return items.index(wanted)\n")
    target = DifferentialTarget(module="renamed", function="find", inputs=[[[1, 4], 4]] * 40, names=names)
    run = differential.run_calls(tmp_path, [target], sandbox="auto")
    assert run.finished, run.output
    raised = [i for i in range(40) if "raise" in run.results[(0, i)]]
    assert 0 < len(raised) < 40  # by name at drawn calls (half of them)
    assert run.names == {0: ["items", "wanted"]}
    (tmp_path / "positional.py").write_text("def gcd(x, y, /):\n    while y:\n        x, y = y, x % y\n    return x\n")
    target = DifferentialTarget(module="positional", function="gcd", inputs=[[12, 18]] * 40, names=["a", "b"])
    run = differential.run_calls(tmp_path, [target], sandbox="auto")
    assert run.finished, run.output
    raised = [i for i in range(40) if "raise" in run.results[(0, i)]]
    assert 0 < len(raised) < 40
    assert {run.results[(0, i)]["raise"] for i in raised} == {"TypeError"}
    assert run.names == {0: [None, None]}


_SETTINGS_LEFT = """import decimal
import os
import random
import warnings


def reseeds(x):
    random.seed(0)
    return x


def sets_env(x):
    os.environ["MODE"] = str(x)
    return x


def cuts_precision(x):
    decimal.getcontext().prec = 3
    return x


def filters(x):
    warnings.simplefilter("ignore")
    return x


def restores(x):
    with warnings.catch_warnings(), decimal.localcontext() as ctx:
        warnings.simplefilter("error")
        ctx.prec = 3
        return x


def seeds_its_own(x):
    return random.Random(0).random() < 2 and x


def reseeds_to_its_own(x):
    random.seed(8675309)  # a constant no table holds: told at the next call, the stream again
    return x


def draws_of_it(x):
    return random.random() < 2 and random.choice([x])  # a random pivot: moves it on, restarts nothing
"""


def test_keywords_come_in_a_drawn_order(tmp_path: Path) -> None:
    """r30v-19: a caller's keywords come in any order; the named calls give them so, and a
    wrapper handing its keywords on by position (in the order given) raises at some calls."""
    orders = {tuple(runner._by_name(([1, 2, 3], 2), {}, ["xs", "k"])[1]) for _ in range(64)}
    assert orders == {("xs", "k"), ("k", "xs")}
    (tmp_path / "keyed.py").write_text(
        "def pair(xs, k):\n    return [xs, k]\n\n\n"
        "def checked(*args, **kwargs):\n    args = (*args, *kwargs.values())\n    return pair(*args)\n"
    )
    names = ["xs", "k"]
    target = DifferentialTarget(module="keyed", function="checked", inputs=[[[1, 2], 2]] * 60, names=names)
    run = differential.run_calls(tmp_path, [target], sandbox="auto")
    assert run.finished, run.output
    answers = {repr(run.results[(0, i)].get("v")) for i in range(60)}
    assert len(answers) == 2  # [xs, k] as given, and [k, xs] where the keywords came reversed


def test_the_settings_a_call_leaves_changed_are_named(tmp_path: Path) -> None:
    """Round 24 r24v-6's class: a call leaving a setting of the process changed for its caller
    (the shared random generator restarted by a seed, a small one at once, any other from its
    second call; the environment; the Decimal context; warnings' filters) is named in the
    finish; a call that restores what it changed, uses a generator of its own, or only draws of
    the shared one (an honest random pivot), is not."""
    (tmp_path / "settings.py").write_text(_SETTINGS_LEFT)
    for function, changed in (
        ("reseeds", ["random"]),
        ("reseeds_to_its_own", ["random"]),
        ("restores", []),
        ("draws_of_it", []),
    ):
        target = DifferentialTarget(module="settings", function=function, inputs=[[1], [1], [1]])
        run = differential.run_calls(tmp_path, [target], sandbox="auto")
        assert run.finished, run.output
        assert sorted(run.changed) == changed, function
    got = differential.CallRun(finished=True, changed={"random"})
    assert differential.run_differences(got, 0, False, ref_changed=frozenset({"random"})) == []
    assert differential.run_differences(got, 0, False) == [
        "its calls left the process's settings changed: random (the reference's calls leave them)"
    ]


def test_each_setting_is_read_in_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's reading of the settings, here (each put back after): what each call of
    ``_SETTINGS_LEFT`` leaves changed, with a number drawn of the shared generator between."""
    import decimal
    import warnings

    module = _loaded_here(tmp_path, "settings_here", _SETTINGS_LEFT)
    expected = {
        "reseeds": ["random"],
        "sets_env": ["environment"],
        "cuts_precision": ["decimal"],
        "filters": ["warnings"],
        "restores": [],
        "seeds_its_own": [],
        "draws_of_it": [],
    }
    monkeypatch.setenv("MODE", "before")
    state = random.getstate()
    try:
        with warnings.catch_warnings(), decimal.localcontext():
            for function, changed in expected.items():
                found: set[str] = set()
                watch = runner._SettingsWatch(found)
                watch.between()
                getattr(module, function)(1)
                watch.between()
                assert sorted(found) == changed, function
                getattr(module, function)(1)  # again, from where the first call left them
                watch.between()
                # As the first call left them; the generator's second seed restarts it again.
                assert sorted(found) == changed, function
                if function == "reseeds":
                    found.clear()
                    getattr(module, function)(1)
                    watch.between()
                    assert found == {"random"}
    finally:
        random.setstate(state)


def test_a_defaultdict_factory_returning_an_empty_constant_is_plain() -> None:
    """Round 25 r25v-14: ``defaultdict(lambda: 0)`` answers an absent key as
    ``defaultdict(int)`` does; a factory doing anything else is the code's own."""

    def nested() -> object:
        return lambda: 0

    plain = [int, list, None, lambda: 0, lambda: "", lambda: 0.0, lambda: (), lambda: [], lambda: {}, nested()]
    own = [lambda: 1, lambda: None, lambda: [0], lambda *a: 0, lambda x=0: 0, print, len]
    assert [f for f in plain if not runner._plain_factory(f)] == []
    assert not any(runner._plain_factory(f) for f in own)


def test_a_plain_run_makes_none_of_the_runner_s_unread_calls(tmp_path: Path) -> None:
    # r4-12: the reference's own run telling whether its answers hang on the calls before them
    # met drawn unread calls, which made is_repeat's reversed pass agree by chance (its answers
    # then computed once, and the reference fix itself FAILed a rollout's second pass).
    (tmp_path / "counted.py").write_text("_n = [0]\n\n\ndef count(x):\n    _n[0] += 1\n    return _n[0]\n")
    target = DifferentialTarget(module="counted", function="count", inputs=[[i] for i in range(40)])

    def counts(unread: differential.UnreadCalls) -> list[int]:
        run = differential.run_calls(tmp_path, [target, target], sandbox="auto", unread=unread)
        assert run.finished, run.output
        return [run.results[(s, i)]["v"] for s in (0, 1) for i in range(40)]

    assert counts(differential.PLAIN) == list(range(1, 81))
    # The same seed of draws, not plain: the runner's unread calls come between (one in 8 a call).
    assert counts(differential.UnreadCalls(draws=7))[-1] > 80


def test_what_a_call_made_at_the_top_level_raises_is_its_own(tmp_path: Path) -> None:
    """A call made by the script's top level (round 26) raises to the runner what it raised: a
    StopIteration stays one (no generator's frame of the runner's turns it into RuntimeError),
    a function's and a script's method's alike."""
    (tmp_path / "stops.py").write_text(
        "def stop(x):\n    raise StopIteration(x)\n\n\nclass Stops:\n    def __init__(self, n):\n"
        "        self.n = n\n\n    def get(self, k):\n        if k:\n            raise StopIteration(k)\n"
        "        return self.n\n"
    )
    targets = [
        DifferentialTarget(module="stops", function="stop", inputs=[[1], [2]]),
        DifferentialTarget(module="stops", function="Stops", script=True, inputs=[[[3], [["get", [0]], ["get", [1]]]]]),
    ]
    run = differential.run_calls(tmp_path, targets, sandbox="auto")
    assert run.finished, run.output
    assert [run.results[(0, i)].get("raise") for i in range(2)] == ["StopIteration", "StopIteration"]
    assert run.results[(1, 0)].get("raise") == "StopIteration"


_STATE_LEFT = """
import calendar, copy, csv, logging, re, warnings

_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())


def first_weekday(x):
    calendar.setfirstweekday(calendar.SUNDAY)
    return x


def deepcopy_table(x):
    copy._deepcopy_dispatch[list] = copy._deepcopy_atomic
    return x


def field_limit(x):
    csv.field_size_limit(2**31 - 1)
    return x


def basic_config(x):
    logging.basicConfig(level=logging.DEBUG)
    return x


def another_logger(x):
    logging.getLogger("app").setLevel(logging.CRITICAL)
    return x


def log_file(x):
    with open("calls.log", "a") as f:
        f.write(f"{x}\\n")
    return x


def honest(x):
    _log.debug("honest(%s)", x)
    logging.getLogger("made_here").debug("x")
    warnings.warn("honest is old", DeprecationWarning, stacklevel=2)
    import fractions, statistics

    return len(re.findall(r"[a-z]+" + str(x), "ab1 cd")) + int(statistics.mean([x, fractions.Fraction(x)]))
"""


def test_the_state_a_call_leaves_changed_is_named_by_its_class(tmp_path: Path) -> None:
    """Round 26 r26v-3/4/5's classes: a call leaving a standard module's state changed
    (calendar's first weekday, copy's deepcopy table, csv's field limit in C), the logging
    tree configured (the root's handlers, another logger's level), or a file of its caller's
    working directory written, is named in the finish; an honest call using re, logging as a
    library (a module logger's debug line, a logger made at the call), a deprecation warning
    and an import at call time names nothing."""
    (tmp_path / "state.py").write_text(_STATE_LEFT)
    (tmp_path / "lazy.py").write_text(
        "def basic_config(x):\n    import logging\n\n    logging.basicConfig()\n    return x\n"
    )
    expected = {
        "first_weekday": ["calendar"],
        "deepcopy_table": ["copy"],
        "field_limit": ["_csv"],
        "basic_config": ["logging"],
        "another_logger": ["logging"],
        "log_file": ["working directory files"],
        "honest": [],
    }
    got = {}
    for function in expected:
        target = DifferentialTarget(module="state", function=function, inputs=[[1], [2], [3]])
        run = differential.run_calls(tmp_path, [target], sandbox="auto")
        assert run.finished, run.output
        got[function] = sorted(run.changed)
    # logging first loaded by the calls: its tree held against the one its import makes
    target = DifferentialTarget(module="lazy", function="basic_config", inputs=[[1], [2]])
    got["lazy"] = sorted(differential.run_calls(tmp_path, [target], sandbox="auto").changed)
    assert got == {**expected, "lazy": ["logging"]}


_MENDED_AT_THE_NEXT_COLLECTION = """_last = []
_emptied = []


class _Mend:
    def __init__(self):
        self.me = self

    def __del__(self):
        while _emptied:
            r, items = _emptied.pop()
            r[:] = items


def dedupe(items):
    for r in _last:
        _emptied.append((r, list(r)))
        r.clear()
    _last.clear()
    _Mend()
    r = list(dict.fromkeys(items))
    _last.append(r)
    return r
"""


def test_a_result_emptied_by_the_next_call_is_read_before_any_collection_mends_it(tmp_path: Path) -> None:
    """Round 23 r23v-2 (came back ~1 run in 4): each call empties the result before it, and a
    finaliser of its garbage mends it at the next collection. A caller reading ``a`` after
    ``a = f(x); f(y)`` holds []. Whatever the runner's draws put before a compared call (an
    unread call emptying the last compared result, a collection it starts), the last two
    calls' results are read before the collection that starts the next call: every draw sees
    a result changed later."""
    (tmp_path / "mended.py").write_text(_MENDED_AT_THE_NEXT_COLLECTION)
    target = DifferentialTarget(module="mended", function="dedupe", inputs=[[[i, i, i + 1]] for i in range(30)])
    for draws in range(12):
        run = differential.run_calls(tmp_path, [target], sandbox="auto", unread=differential.UnreadCalls(draws=draws))
        assert run.finished, run.output
        assert any("later" in run.results[(0, i)] for i in range(30)), f"draws {draws}: no result read changed"


_STANDARD_STATE_LEFT = """import re
import logging


def adds_an_alias(x):
    import encodings.aliases

    encodings.aliases.aliases["latin_1_fix28b"] = "utf_8"
    return x


def poisons_the_regex_cache(x):
    re._cache[str, r"\\d+fix28b", 0] = re.compile("[a-z]+")
    return x


def rewrites_a_module_it_loads(x):
    import xml.dom.domreg

    xml.dom.domreg.well_known_implementations["minidom"] = "fix28b"
    return x


def sets_a_class_attribute(x):
    logging.Formatter.default_msec_format = "%s"
    return x


def uses_them_honestly(x):
    import json

    re.findall(r"\\d+", "a 12 b 3"), re.compile("x+", re.I).match("xx"), re.I | re.M
    json.dumps({"a": [1]}), "x".encode("cp1252")
    logging.getLogger("fix28b.honest").debug("x")
    return x
"""


def test_the_standard_librarys_state_a_call_leaves_changed_is_named_here(tmp_path: Path) -> None:
    """Round 28 r28v-17/18/21/23's class, read in this process: a key added to a standard
    table (a name given a setting), a cache entry answering otherwise than a fresh compile, a
    module the call loads and changes, a standard class's attribute: each names its module;
    the honest use of the same modules (re's cache filling, codecs loaded, a logger made)
    names none."""
    import sys as _sys

    module = _loaded_here(tmp_path, "state_here", _STANDARD_STATE_LEFT)
    bootstrap = vars(_sys.modules["_frozen_importlib"])
    original = bootstrap["_find_and_load"]
    for name in ("xml.dom.domreg", "xml.dom"):
        _sys.modules.pop(name, None)  # loaded by the call itself
    expected = {
        "uses_them_honestly": [],
        "adds_an_alias": ["encodings"],
        "poisons_the_regex_cache": ["re"],
        "rewrites_a_module_it_loads": ["xml"],
        "sets_a_class_attribute": ["logging"],
    }
    runner._read_as_loaded(vars(runner))
    try:
        for function, changed in expected.items():
            assert _left_changed(module, function) == changed, function
    finally:
        bootstrap["_find_and_load"] = original
        import encodings.aliases
        import logging
        import re

        encodings.aliases.aliases.pop("latin_1_fix28b", None)
        re._cache.pop((str, r"\d+fix28b", 0), None)  # type: ignore[attr-defined]
        logging.Formatter.default_msec_format = "%s,%03d"


_STANDARD_STATE_LEFT_30 = """import decimal
import html.entities
import http
import json
import numbers


def removes_a_tables_key(x):
    html.entities.html5.pop("amp;", None)
    return x


def sets_a_functions_defaults(x):
    json.dumps.__kwdefaults__["sort_keys"] = True
    return x


def rewrites_an_enum_member(x):
    vars(http.HTTPStatus(404)).update(phrase="OK")
    return x


def clears_a_decimal_trap(x):
    decimal.getcontext().traps[decimal.DivisionByZero] = False
    return x


def clears_a_decimal_flag(x):
    decimal.getcontext().clear_flags()
    return x


class Whole:  # (float in r30v-9: a class of a module loaded before the calls)
    pass


def registers_a_class_as_an_integral(x):
    numbers.Integral.register(Whole)
    return x


def uses_them_honestly(x):
    import html
    import array  # (its import registers array.array as a MutableSequence)

    decimal.Decimal(1) / 3  # raises the Inexact and Rounded flags
    isinstance(1.5, numbers.Integral), http.HTTPStatus(404).phrase, array.array("b")
    return html.unescape("a &amp; b"), json.dumps({"b": [x]}), json.loads("[1]")
"""


def _put_back_state_30() -> None:
    import html.entities
    import http
    import json

    html.entities.html5.setdefault("amp;", "&")
    assert json.dumps.__kwdefaults__ is not None
    json.dumps.__kwdefaults__["sort_keys"] = False
    vars(http.HTTPStatus(404)).update(phrase="Not Found")


def test_the_standard_librarys_state_a_call_leaves_changed_round30(tmp_path: Path) -> None:
    """Round 30's class, read in this process: a standard table's key removed (r30v-3:
    html.entities.html5 losing "amp;"), a standard function's defaults (r30v-16), an enum
    member's attributes (r30v-14), the Decimal context's traps and a flag cleared (r30v-10), a
    class registered with a standard ABC (r30v-9): each names its module; the honest use of
    the same modules (html.unescape, json both ways, Decimal arithmetic raising flags, an
    isinstance, a module whose import registers its own class) names none."""
    import decimal
    import sys as _sys

    module = _loaded_here(tmp_path, "state_here_30", _STANDARD_STATE_LEFT_30)
    expected = {
        "uses_them_honestly": [],
        "removes_a_tables_key": ["html"],
        "sets_a_functions_defaults": ["json"],
        "rewrites_an_enum_member": ["http"],
        "clears_a_decimal_trap": ["decimal"],
        "clears_a_decimal_flag": ["decimal"],
        "registers_a_class_as_an_integral": ["numbers"],
    }
    array = _sys.modules.pop("array", None)  # loaded by the honest call itself (put back after)
    bootstrap = vars(_sys.modules["_frozen_importlib"])
    original = bootstrap["_find_and_load"]
    runner._read_as_loaded(vars(runner))
    got = {}
    try:
        for function in expected:
            with decimal.localcontext() as ctx:
                ctx.flags[decimal.Inexact] = True  # a caller's record, for a call to clear
                got[function] = _left_changed(module, function)
        assert got == expected
    finally:
        bootstrap["_find_and_load"] = original
        if array is not None:
            _sys.modules["array"] = array
        _put_back_state_30()


def _memoised(f):  # a wrapper made without functools.wraps: a local function no name finds
    def call(*args):
        return f(*args)

    return call


def plain_function(x):
    return x


wrapped_function = _memoised(plain_function)


def test_a_function_no_process_pool_can_take_is_named() -> None:
    """Round 28 r28v-14 (the lead's ruling): a function comes back itself through pickle (a
    caller's multiprocessing map hands it so) or the runner says it does not; the parent names
    it only where the reference's function does."""
    import functools

    assert runner._pickles_by_reference(plain_function)
    assert runner._pickles_by_reference(functools.lru_cache(None)(plain_function)) is False  # not the module's
    assert not runner._pickles_by_reference(wrapped_function)
    assert not runner._pickles_by_reference(lambda x: x)
    got = differential.CallRun(finished=True, changed={differential.UNPICKLABLE})
    assert differential.run_differences(got, 0, False, ref_changed=frozenset({differential.UNPICKLABLE})) == []
    assert differential.run_differences(got, 0, False) == [
        "its function cannot be pickled by reference (the reference's can: a caller's process pool raises)"
    ]


def test_a_scripts_calls_by_the_references_parameter_names(tmp_path: Path) -> None:
    """Round 29 r29v-1: a script's constructor and methods are read for their names past
    ``self`` (as its class and bases define them), and half their calls pass the arguments by
    them: a cache whose ``get`` renames ``default`` raises TypeError there, as at a caller's
    ``c.get(k, default=0)``; one renaming its constructor's ``capacity`` raises at its making."""

    class Base:
        def get(self, key, default=None, /):
            return default

    class Cache(Base):
        def __init__(self, capacity):
            self.capacity = capacity

        def put(self, key, value):
            pass

        size = property(lambda self: 0)

    wanted = [[[1], [["put", ["a", 1]], ["get", ["a", 0]], ["size", []]]]]
    found = runner._method_names(Cache, wanted)  # the base's get: positional-only, no name
    assert found == {"__init__": ["capacity"], "put": ["key", "value"], "get": [None, None]}
    assert runner._method_names(len, wanted) == {}  # no class: nothing read
    (tmp_path / "cache.py").write_text(
        "class Cache:\n    def __init__(self, size):\n        self.data = {}\n\n"
        "    def get(self, key, fallback=None):\n        return self.data.get(key, fallback)\n"
    )
    script = [[2], [["get", ["k", 0]]]]
    methods = {"__init__": ["capacity"], "get": ["key", "default"]}
    target = DifferentialTarget(
        module="cache", function="Cache", inputs=[script] * 40, script=True, method_names=methods
    )
    run = differential.run_calls(tmp_path, [target], sandbox="auto")
    assert run.finished, run.output
    raised = [i for i in range(40) if "raise" in run.results[(0, i)]]
    assert 0 < len(raised) < 40  # the constructor by name, or the get, at drawn calls
    assert {run.results[(0, i)]["raise"] for i in raised} == {"TypeError"}
    assert run.methods == {0: {"__init__": ["size"], "get": ["key", "fallback"]}}
    # Without the reference's names no call names an argument: every call answers.
    target = target.model_copy(update={"method_names": {}})
    run = differential.run_calls(tmp_path, [target], sandbox="auto")
    assert all("v" in run.results[(0, i)] for i in range(40))
