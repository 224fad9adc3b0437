"""What the differential reads of a task's tests (round 13): a result sorted through a name
(r13-5) and arguments no test reads after the call (r13-12)."""

from __future__ import annotations

from agent import differential
from agent.differential import CallRun
from agent.differential_arguments import unread_argument_functions
from agent.differential_order import unordered_functions
from agent.suites.models import DifferentialTarget


def _tests(root, text: str, rel: str = "tests/test_a.py"):
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)
    return root


def test_a_result_bound_to_a_name_and_read_only_without_order_is_compared_as_a_multiset(tmp_path):
    """r13-5: ``out = unique(xs); assert sorted(out) == ...`` accepts any order; a name read
    any other way (indexed, looped over, passed on, bound twice) keeps the order."""
    text = (
        "from m import unique, pairs, firsts, loops, twice, passed, member\n\n\n"
        "def test_u():\n    out = unique([3, 1, 3])\n    assert sorted(out) == [1, 3], out\n"
        "    assert len(out) == 2 and 3 in out\n\n\n"
        "def test_p():\n    got: list = pairs(2)\n    assert set(got) == {1}\n\n\n"
        "def test_member():\n    assert 1 in member(2)\n\n\n"
        "def test_f():\n    out = firsts([2, 1])\n    assert sorted(out) == [1, 2]\n    assert out[0] == 2\n\n\n"
        "def test_l():\n    out = loops([2, 1])\n    assert [x for x in out] == [2, 1]\n\n\n"
        "def test_t():\n    out = twice([1])\n    assert sorted(out) == [1]\n    out = [9]\n\n\n"
        "def test_passed():\n    out = passed([1])\n    check(out)\n"
    )
    root = _tests(tmp_path / "one", text)
    names = {"unique", "pairs", "member", "firsts", "loops", "twice", "passed"}
    assert unordered_functions(root, ["tests"], names) == {
        "unique": "sorted if listed",
        "pairs": "any",
        "member": "any",
    }
    # Called under another name in one file: not every call is seen, the order stays. (The
    # reading is cached per source directory: a task's source never changes.)
    other = _tests(tmp_path / "two", text)
    _tests(other, "from m import unique as u\n\n\ndef test_b():\n    assert u([1]) == [1]\n", "tests/test_b.py")
    assert unordered_functions(other, ["tests"], names) == {"pairs": "any", "member": "any"}


def test_arguments_are_left_uncompared_only_where_no_test_can_read_them(tmp_path):
    """r13-12: a value built in the call, or a name bound once to one and read by the call
    only; a name read again, a parameter (a fixture), a module name, a value bound outside
    the loop that calls, the function passed on or named in a string keep the comparison."""
    text = (
        "from m import lit, fresh, again, fixture, module, loop, passed, named, starred, nested\n\n"
        "DATA = [1, 2]\n\n\n"
        "def test_lit():\n    assert lit([3, 9, 1], 2, key={'a': -1}) == [9, 3]\n\n\n"
        "def test_fresh():\n    for k in range(2):\n        xs = [3, 1]\n        fresh(xs, 2)\n\n\n"
        "def test_again():\n    xs = [3, 1]\n    again(xs)\n    assert xs == [3, 1]\n\n\n"
        "def test_fixture(data):\n    fixture(data)\n\n\n"
        "def test_module():\n    module(DATA)\n\n\n"
        "def test_loop():\n    xs = [3, 1]\n    for k in range(2):\n        loop(xs, 2)\n\n\n"
        "def test_passed():\n    check(passed, [1])\n\n\n"
        "def test_named():\n    named([1])\n    getattr(m, 'named')\n\n\n"
        "def test_starred():\n    args = [[1]]\n    starred(*args)\n\n\n"
        "def test_nested():\n    row = [1]\n    nested([row, [2]])\n    assert row == [1]\n"
    )
    root = _tests(tmp_path / "one", text)
    names = {"lit", "fresh", "again", "fixture", "module", "loop", "passed", "named", "starred", "nested"}
    assert unread_argument_functions(root, ["tests"], names | {"never_called"}) == {"lit", "fresh"}
    # A helper under a protected path (its calls are recorded) that reads what it passed.
    root = _tests(tmp_path / "two", text)
    _tests(root, "from m import lit\n\n\ndef run():\n    xs = [1]\n    lit(xs, 1)\n    return xs\n", "tests/helpers.py")
    assert unread_argument_functions(root, ["tests"], names) == {"fresh"}
    # A test file reaching a function by a computed name: its calls are not all seen.
    root = _tests(tmp_path / "three", text)
    _tests(root, "import m\n\n\ndef test_any():\n    getattr(m, 'l' + 'it')([1])\n", "tests/test_c.py")
    assert unread_argument_functions(root, ["tests"], names) == set()


def test_a_call_changing_arguments_no_test_reads_agrees_on_its_answer():
    """Where the arguments are unread only the answer is compared: a different answer still
    differs, and elsewhere the changed arguments still do."""
    calls = [DifferentialTarget(module="m", function="largest", inputs=[[[3, 9, 1], 2]])]
    ref = {(0, 0): {"v": {"list": [9, 3]}}}
    in_place = CallRun(results={(0, 0): {"v": {"list": [9, 3]}, "a": {"list": [{"list": [9, 3, 1]}, 2]}}})
    wrong = CallRun(results={(0, 0): {"v": {"list": [9, 1]}, "a": {"list": [{"list": [9, 3, 1]}, 2]}}})
    assert differential.compare(calls, ref, in_place, 0, unread=frozenset({0})) == []
    assert differential.compare(calls, ref, in_place, 0) == [
        "largest#0: left its arguments otherwise than the reference"
    ]
    assert differential.compare(calls, ref, wrong, 0, unread=frozenset({0})) == [
        "largest#0: returned a different value"
    ]


def test_any_other_occurrence_of_the_name_in_the_task_keeps_the_order(tmp_path):
    """r14-1..r14-4: a function is order-free only when every occurrence of its name in the
    task is a sorted call in its test code (any test file, helper, conftest, the held-out
    tests) or its own definition: a value (parametrize, an alias, map), a string, a helper's
    ordered call, the held-out tests' or a hidden patch's, the task's own caller keep the order."""
    root = tmp_path / "task"
    _tests(
        root,
        "import m\nfrom m import free, value, alias, mapped, named, helped, held, caller, patched\n\n\n"
        "@pytest.mark.parametrize('fn', [value])\ndef test_v(fn):\n    assert fn([2, 1]) == [2, 1]\n\n\n"
        "def test_all():\n    unique = alias  # the order through another name\n"
        "    assert sorted(free([2, 1])) == [1, 2] and sorted(m.free([1])) == [1]\n"
        "    assert list(map(mapped, [[1]])) == [[1]]\n    getattr(m, 'named')\n"
        + "".join(f"    assert sorted({n}([1])) == [1]\n" for n in ("value", "alias", "mapped", "named"))
        + "".join(f"    assert sorted({n}([1])) == [1]\n" for n in ("helped", "held", "caller", "patched")),
    )
    _tests(root, "from m import helped\n\n\ndef check(xs, want):\n    assert helped(xs) == want\n", "tests/helpers.py")
    _tests(root, "from m import held\n\n\ndef test_h():\n    assert held([2, 1]) == [2, 1]\n", "_hidden/t/test_h.py")
    _tests(root, "from m import caller\n\n\ndef report(xs):\n    return ', '.join(caller(xs))\n", "report.py")
    _tests(root, "def free(xs):\n    return free(xs[1:]) if 0 else sorted(set(xs))\n", "m.py")  # its own recursion
    names = {"free", "value", "alias", "mapped", "named", "helped", "held", "caller", "patched"}
    got = unordered_functions(root, ["tests"], names, ["_hidden/t"], "+    assert patched([2, 1]) == [2, 1]\n")
    assert got == {"free": "sorted"}
    # The hidden patch is what keeps patched's order (its sorted calls are all the tests see).
    assert unordered_functions(root, ["tests"], names) == {"free": "sorted", "patched": "sorted"}
    # A test reaching the module's functions by computed names (getmembers, getattr, vars)
    # may reach any of them with its name never written: every order is kept.
    _tests(root, "import inspect\nimport m\n\n\ndef test_all():\n    inspect.getmembers(m)\n", "tests/test_b.py")
    assert unordered_functions(root, ["tests"], names, ["_hidden/t"]) == {}
    # A doctest file (pytest --doctest-glob) naming it may state its order.
    other = tmp_path / "doc"
    _tests(other, "from m import free\n\n\ndef test_f():\n    assert sorted(free([2, 1])) == [1, 2]\n")
    assert unordered_functions(other, ["tests"], {"free"}) == {"free": "sorted"}
    _tests(other, ">>> from m import free\n>>> free([2, 1, 2])\n[2, 1]\n", "README.rst")
    assert unordered_functions(other, ["tests"], {"free"}, ["tests"]) == {}
