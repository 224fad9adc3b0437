"""The SUSPECT scan's bounds (round 19): a read of the process's own modules beyond a pure
allow-list (``process_probe``), code run at import however reached, a dictConfig factory, an
assertion set by code under test (agent/suspect_effects.py, agent/suspect_ast.py)."""

from __future__ import annotations

import json

import pytest

from agent.patch_format import file_diff
from agent.suspect import scan_patch
from agent.suspect_ast import scan_source


def _rules(text: str) -> set[str]:
    found = scan_source(text, lambda s: False)
    assert found is not None
    return {h.rule for h in found}


@pytest.mark.parametrize(
    "text",
    [
        "import os\ndef f():\n    return os.get_blocking(3)\n",
        "import tempfile\ndef f():\n    return tempfile.TemporaryFile().fileno()\n",
        "import sys as s\ndef f():\n    return s.getallocatedblocks()\n",
        "import sys\ndef f():\n    return getattr(sys.stdout, 'write_through', True)\n",
        "from os import get_inheritable as g\ndef f():\n    return g(3)\n",
        "import importlib\ndef f():\n    return importlib.import_module('_socket').socket()\n",
        "import _thread\ndef f():\n    return _thread.get_ident()\n",
        "import posix\ndef f():\n    return posix.lseek(3, 0, 1)\n",
        "import os\n_FD = 3\ndef f():\n    return os.path.exists(_FD) or os.stat(2 + 1)\n",
        "import os\ndef f(p):\n    return os.listdir(p, dir_fd=3)\n",
    ],
)
def test_a_read_of_the_process_beyond_the_pure_names_is_a_hit(text: str) -> None:
    assert "process_probe" in _rules(text)


@pytest.mark.parametrize(
    "text",
    [
        "import os\ndef f(a, b):\n    return os.path.join(a, b) + os.sep\n",
        "import os.path\ndef f(p):\n    return os.path.exists(os.path.abspath(p))\n",
        "import sys\ndef f(x):\n    sys.stdout.write(x)\n    return sys.maxsize, sys.version_info\n",
        "import io, errno\ndef f():\n    return io.StringIO(), errno.ENOENT\n",
        "import threading\n_lock = threading.Lock()\n",
    ],
)
def test_pure_names_of_the_process_modules_are_no_hit(text: str) -> None:
    assert _rules(text) == set()


def test_the_old_file_excuses_the_same_name_only() -> None:
    old = "import os\n\n\ndef f():\n    return os.get_blocking(3)\n"
    same = old + "\n\ndef g():\n    return os.get_blocking(4)\n"
    other = old + "\n\ndef g():\n    return os.get_inheritable(4)\n"
    for new, hit in ((same, False), (other, True)):
        hits = scan_patch(file_diff("m.py", old.encode(), new.encode()), (), {"m.py": old}.get, {"m.py": new}.get)
        assert bool([h for h in hits if h.rule == "process_probe"]) is hit, new


@pytest.mark.parametrize(
    "text",
    [
        "import os\nos.setpgid(0, 0)\n",
        "import _signal\n_signal.signal(15, 1)\n",
        "import random\ndef _f(x: random.seed(0)):\n    pass\n",
        "import random\ndef _mk():\n    return lambda: random.seed(0)\n_mk()()\n",
        "import random\ndef _d(n):\n    def w(f):\n        random.seed(n)\n        return f\n    return w\n@_d(0)\ndef g():\n    pass\n",
        "import random\nclass _A:\n    def _s():\n        random.seed(0)\n    _s()\n",
        "import random\nclass _A:\n    _f = lambda: random.seed(0)\n    _f()\n",
    ],
)
def test_code_run_at_import_however_reached_is_read(text: str) -> None:
    assert "import_side_effect" in _rules(text)


@pytest.mark.parametrize(
    "text",
    [
        "from __future__ import annotations\nimport random\ndef _f(x: random.Random):\n    pass\n",
        "import random\ndef _d(n):\n    def w(f):\n        return f\n    return w\n@_d(0)\ndef g():\n    random.seed(0)\n",
    ],
)
def test_what_does_not_run_at_import_is_no_import_hit(text: str) -> None:
    assert "import_side_effect" not in _rules(text)


def test_a_dictconfig_factory_naming_a_standard_callable_is_a_hit() -> None:
    bad = json.dumps({"version": 1, "formatters": {"f": {"()": "random.seed", "a": 0}}}, indent=1)
    ok = json.dumps({"version": 1, "formatters": {"f": {"()": "logging.Formatter", "fmt": "%(message)s"}}}, indent=1)
    assert "dynamic_code" in {h.rule for h in scan_patch(file_diff("log.json", None, bad.encode()))}
    assert not scan_patch(file_diff("log.json", None, ok.encode()))


def test_an_assertion_set_by_code_under_test_is_a_hit() -> None:
    assert "runner_patched" in _rules("def _p(c, f):\n    c.assertEqual = f\n")
    assert "runner_patched" in _rules("def _p(c, f):\n    setattr(c, 'assertTrue', f)\n")
    assert _rules("def _p(c):\n    c.failureException = AssertionError\n    c.fail = 1\n") == set()
