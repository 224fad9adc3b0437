"""Which reads of a result leave its order free (agent/differential_order.py, round 15): only
what provably cannot see the order; everything else compares the order."""

from __future__ import annotations

from pathlib import Path

from agent import differential
from agent.differential import CallRun
from agent.differential_order import as_multiset, sortable, unordered_functions
from agent.suites.models import DifferentialTarget


def _read(
    root: Path, body: str, names: set[str], head: str = "", files: dict[str, str] | None = None
) -> dict[str, str]:
    (root / "tests").mkdir(parents=True)
    imports = ", ".join(sorted(names))
    (root / "tests" / "test_a.py").write_text(f"{head}from m import {imports}\n\n\ndef test_a():\n{body}")
    for rel, text in (files or {}).items():
        (root / rel).write_text(text)
    return dict(unordered_functions(root, ["tests"], names))


def test_only_reads_that_cannot_see_the_order_are_order_free(tmp_path):
    body = (
        "    assert sorted(ints([3, 1, 3])) == [1, 3] and sorted(strs(('b', 'a')), reverse=True) == ['b', 'a']\n"
        "    assert sorted(keyed([3, 1]), key=abs) == [1, 3]\n"  # ties keep f's order (r15-1)
        "    assert sorted(named(XS)) == [1]\n"  # the items may be sets (r15-3)
        "    assert sorted(sets([{1}, {2}])) == [{1}, {2}]\n"
        "    assert sorted(mixed([1, True])) == [1, True]\n"  # equal, yet told apart
        "    assert list(counted([1, 2])) and list(Counter(counted([1]))) == [1]\n"  # first-met order (r15-2)
        "    assert Counter(tallied([1, 1])) == {1: 2} and len(measured(XS)) == 2\n"
        "    assert set(compared([2, 1])) == {1, 2} and 2 in member([2]) and 3 not in set(member([1]))\n"
        "    assert list(set(iterated([8, 0]))) == [8, 0]\n"  # a set iterates in insertion order here
        "    assert 2 in chained([2, 1]) == [2, 1]\n"
        "    assert set(against([1])) == EXPECTED and sorted(set(ints([2, 2]))) == [2]\n"
        "    out = searched([1, 2])\n    assert 1 in out and sorted(out) == [2]\n"
        "    got = looped([1, 2])\n    for x in [2, 1]:\n        assert x in got\n"
        "    ys = [2, 1, 2]\n    assert sorted(local(ys)) == [1, 2]\n"  # a name bound once to constants
        "    zs = [{1}, {2}]\n    assert sorted(local_sets(zs)) == [{1}, {2}]\n"
        "    ws = [2, 1]\n    ws.append(frozenset())\n    assert sorted(changed(ws)) == [1, 2]\n"
    )
    names = {"ints", "strs", "keyed", "named", "sets", "mixed", "counted", "tallied", "measured", "compared"}
    names |= {"member", "iterated", "chained", "against", "searched", "looped", "local", "local_sets", "changed"}
    got = _read(tmp_path / "a", body, names, "from collections import Counter\n")
    want = {
        "ints": "sorted",
        "strs": "sorted",
        "tallied": "any",
        "measured": "any",
        "compared": "any",
        "local": "sorted",
    }
    assert got == {**want, "member": "any", "against": "any", "searched": "sorted if listed", "looped": "any if listed"}
    # A comparison defined in the task's tests may read a set's order through a value of theirs.
    eq = "class Reader:\n    def __eq__(self, other):\n        return list(other) == [2, 1]\n"
    assert _read(tmp_path / "b", body, names, "from collections import Counter\n", {"tests/h.py": eq}) == {
        **want,
        "member": "any",
        "searched": "sorted if listed",
    }


def test_a_rebound_builtin_or_counter_keeps_the_order(tmp_path):
    body = "    assert sorted(f([2, 1])) == [1, 2] and len(g([1])) == 1 and Counter(h([1])) == {1: 1}\n"
    own = "def sorted(xs):\n    return list(xs)\n\n\nclass Counter(dict):\n    pass\n\n\n"
    assert _read(tmp_path / "a", body, {"f", "g", "h"}, own) == {"g": "any"}
    # A task file naming builtins (a conftest's ``builtins.sorted = ...``): nothing is known.
    patch = "import builtins\n\nbuiltins.len = lambda xs: 1\n"
    counter = "from collections import Counter\n"
    assert _read(tmp_path / "b", body, {"f", "g", "h"}, counter, {"conftest.py": patch}) == {}
    patch = "import collections\n\ncollections.Counter = list\n"  # Counter(h(x)) == [...] sees the order
    assert _read(tmp_path / "c", body, {"f", "g", "h"}, counter, {"conftest.py": patch}) == {}
    assert _read(tmp_path / "d", body, {"f", "g", "h"}, counter) == {"f": "sorted", "g": "any", "h": "any"}


def test_sorted_results_compare_without_order_only_where_the_items_sort_one_way():
    assert sortable([3, 1, 2]) and sortable(["b", "a"]) and sortable([{"tuple": [1, "a"]}, {"tuple": [0, "b"]}])
    assert sortable([{"bytes": "01"}, {"bytes": "00"}]) and sortable([1.5, 0.0]) and sortable([])
    assert not sortable([{"set": [1]}, {"set": [2]}])  # subsets order sets only partly (r15-3)
    assert not sortable([1, True]) and not sortable([1, 1.0]) and not sortable([0.0, -0.0])
    assert not sortable([{"float": "nan"}, 1.0]) and not sortable([{"tuple": [1]}, {"tuple": [1, 2]}])
    assert not sortable([None, None]) and not sortable([{"dict": []}])
    sets = {"v": {"list": [{"set": [1]}, {"set": [2]}]}}
    assert as_multiset(sets, "sorted") == sets and as_multiset(sets, "any") == {"v": {"set": sets["v"]["list"]}}
    calls = [DifferentialTarget(module="m", function="dedupe", inputs=[[[1]], [[2]]])]
    ref = {(0, 0): {"v": {"list": [1, 2]}}, (0, 1): sets}
    got = CallRun(results={(0, 0): {"v": {"list": [2, 1]}}, (0, 1): {"v": {"list": [{"set": [2]}, {"set": [1]}]}}})
    assert differential.compare(calls, ref, got, 0, {0: "sorted"}) == ["dedupe#1: returned a different value"]
    assert differential.compare(calls, ref, got, 0, {0: "any"}) == []
    # A generator searched with ``in`` and read again: what follows the item found is its order.
    found = {"v": {"iter": [2, 1]}}
    assert as_multiset(found, "any if listed") == found and as_multiset(found, "sorted")["v"] == {"set": [2, 1]}
    assert as_multiset({"v": {"list": [2, 1]}}, "sorted if listed")["v"] == {"set": [2, 1]}


def test_a_builtin_is_trusted_only_where_nothing_can_rebind_it(tmp_path):
    """Round 18 (r18-1..3): a star import, a hook writing the test module's ``sorted``, a
    setattr/patch naming it or a name not written out, keep the order; honest shapes do not."""
    body = "    assert sorted(f([2, 1])) == [1, 2] and len(g([1])) == 1\n"
    hook = "def pytest_collection_modifyitems(items):\n    for it in items:\n        {}\n"
    sorted_only = {"g": "any"}  # the rebound ``sorted`` alone loses its trust
    rebinding = {
        "star": ("from os.path import *\n", {}, {}),  # may bind any name
        "store": ("", {"tests/conftest.py": hook.format("it.module.sorted = list")}, sorted_only),
        "setattr": ("", {"tests/conftest.py": hook.format("setattr(it.module, 'sor' 'ted', list)")}, sorted_only),
        "patch": (
            "",
            {"tests/conftest.py": "from unittest import mock\n\nP = mock.patch('tests.test_a.sorted', list)\n"},
            sorted_only,
        ),
        "computed": ("", {"tests/conftest.py": hook.format("setattr(it.module, NAME, list)")}, {}),
        "frame": ("", {"tests/helper.py": "import sys\n\nsys._getframe(1).f_globals.clear()\n"}, {}),
        "value": ("", {"tests/conftest.py": "put = setattr\n"}, {}),
        "plugin": ("", {"m_plugin.py": "import pytest\n\n\ndef pytest_configure(config):\n    setattr(M, N, V)\n"}, {}),
        "package": ("", {"m.py": "import sys\n\nsys.modules['tests.test_a'].sorted = list\n"}, sorted_only),
        "alias": (
            "",
            {"m_plugin.py": "import pytest\n\n\n" + hook.format("d = it.module.__dict__\n        d['sorted'] = list")},
            sorted_only,
        ),
        "key": (
            "",
            {"m_plugin.py": "import pytest\n\n\n" + hook.format("d = vars(it.module)\n        d[NAME] = list")},
            {},
        ),
        "loader": ("", {"tests/conftest.py": "from importlib.machinery import SourceFileLoader as L\n"}, {}),
        "dict": ("", {"m.py": "import sys\n\nsys.modules['tests.test_a'].__dict__['sorted'] = list\n"}, sorted_only),
        "nfkc": ("", {"m.py": "import sys\n\nsys.modules['tests.test_a'].\uff53orted = list\n"}, sorted_only),
    }
    for case, (head, files, want) in rebinding.items():
        assert _read(tmp_path / case, body, {"f", "g"}, head, files) == want, case
    # What cannot reach a test module's names leaves it order-free (honest tests and packages).
    honest = {
        "tests/conftest.py": hook.format("it.add_marker('slow')")
        + "\n\ndef pytest_configure(config):\n    setattr(config, 'seen', True)\n",
        "tests/test_b.py": "def test_b(monkeypatch):\n    monkeypatch.setattr('os.sep', '/')\n",
        # tqdm's tests: ``patch`` bound under its own name
        "tests/test_d.py": "def test_d():\n    patch = importorskip('unittest.mock').patch\n    with patch('m.x'):\n        pass\n",
        # a plugin reading a namespace (as prettytable's tests do): only what is written counts
        "m_plugin.py": "import pytest\n\n\ndef pytest_report_header(config):\n    d = config.__dict__\n"
        "    del d['_k']\n    return [k for k, v in vars(config.option).items()] + list(d)\n",
        "m.py": "class C:\n    def __init__(self, **kw):\n        for k, v in kw.items():\n            setattr(self, k, v)\n"
        "        self.__dict__.update(kw)\n",
    }
    assert _read(tmp_path / "honest", body, {"f", "g"}, "", honest) == {"f": "sorted", "g": "any"}
    # A hidden test patch's conftest may rebind them too.
    hidden = "+++ b/tests/conftest.py\n+def pytest_collection_modifyitems(items):\n+    items[0].module.sorted = list\n"
    assert unordered_functions(tmp_path / "honest", ["tests"], {"f", "g"}, hidden_patch=hidden) == {}
    assert unordered_functions(tmp_path / "honest", ["tests"], {"f", "g"}, hidden_patch="+++ b/x.txt\n+1\n") != {}
    # Only the builtin named loses its trust.
    only = {"tests/conftest.py": hook.format("it.module.len = list")}
    assert _read(tmp_path / "only", body, {"f", "g"}, "", only) == {"f": "sorted"}
