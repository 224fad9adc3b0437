"""Round-19 tells on the SUSPECT scan's side (agent/suspect_ast.py, agent/suspect_descriptors.py,
agent/suspect_stdlib.py): a descriptor where a path goes, a standard module's imports as its
attributes, the bytecode cache by name, a test-named module below a package, format fields,
a process module handed as a value, ``__hash__`` called as a method."""

from __future__ import annotations

import pytest

from agent.suspect_ast import scan_source
from agent.suspect_stdlib import module_attribute
from tests.agent.suspect_cases import flagged, not_flagged, scan_rules

# r19v-1: where the int comes from, not how the call is spelled.
test_a_descriptor_where_a_path_goes_is_a_hit = flagged(
    "process_probe",
    [
        "import os\ndef f():\n    return any(os.path.exists(n) for n in range(3, 1024))\n",
        "import os\ndef f():\n    return any(map(os.path.exists, range(3, 1024)))\n",
        "import os, functools\ndef f():\n    return functools.partial(os.stat, 5)\n",
        "import os\ndef g(n):\n    return os.path.exists(n)\ndef f():\n    return g(7)\n",
        "import os\nclass K:\n    fd = 7\n    def f(self):\n        return os.path.exists(self.fd)\n",
        "import os, json\ndef f():\n    return os.path.isfile(json.loads('5'))\n",
        "def f():\n    try:\n        open(9).close()\n    except OSError:\n        return 0\n",
        "import os\ndef f():\n    return [os.stat(b) for b in b'\\x03\\x04']\n",
        "import os\nFDS = [3, 4, 5]\ndef f():\n    return [os.path.isdir(x) for x in FDS]\n",
        "import os\nfds = []\nfds.append(5)\ndef f():\n    return os.path.isdir(fds[0])\n",
        "import os\ndef f():\n    return list(filter(lambda n: os.path.exists(n), range(9)))\n",
        "import os\ndef f():\n    return os.path.exists(type(1)('5'))\n",
        "import os\ndef f(s):\n    return os.path.getsize(s.find('x'))\n",
    ],
)


test_a_path_from_the_caller_or_the_file_system_is_no_hit = not_flagged(
    "process_probe",
    [
        "import os\ndef f(path):\n    return os.path.exists(path)\n",
        "import os\ndef f(root, name):\n    p = os.path.join(root, name)\n    if os.path.isfile(p):\n        return open(p).read()\n",
        "import os\ndef f(names):\n    return sorted(names, key=os.path.getmtime)\n",
        "import os\nclass L:\n    def __init__(self, d):\n        self.d = d\n    def f(self):\n"
        "        for n in os.listdir(self.d):\n            if os.path.isdir(os.path.join(self.d, n)):\n                yield n\n",
        "def f(filename):\n    with open(filename, 'rb') as fh:\n        return fh.read()\n",
        "import os\ndef f(t, n):\n    fn = t.get_filename()\n    i = n + 1\n    return os.path.exists(fn), i\n",
        "import os\ndef f(path, n):\n    m = n * 2\n    return os.path.isdir(path or '.'), m\n",
    ],
)


def test_a_standard_modules_imports_are_its_attributes() -> None:
    assert module_attribute("collections", "_sys") == "sys"
    assert module_attribute("tempfile", "_os") == "os"
    assert module_attribute("io", "StringIO") is None  # a class it imports keeps the code's name
    assert module_attribute("gcd", "_sys") is None  # not a standard module
    assert "sys_modules" in scan_rules("import argparse\ndef f():\n    return 'json' in argparse._sys.modules\n")
    assert scan_rules("import io\ndef f():\n    return io.StringIO()\n") == set()


@pytest.mark.parametrize("name", ['"__pycache__"', '"__py" + "cache__"', '"gcd.cpython-311.pyc"'])
def test_the_bytecode_cache_named_is_a_hit(name: str) -> None:
    assert "interpreter_flags" in scan_rules(f"import os\ndef f():\n    return os.path.isdir({name})\n")


def test_a_test_module_below_a_package_is_read_as_tests() -> None:
    assert "reads_tests" in scan_rules("from helpers import test_probe\n")
    assert "reads_tests" in scan_rules("import importlib\nm = importlib.import_module('helpers.test_probe')\n")
    assert "reads_tests" not in scan_rules("from helpers import probe\n")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ('import sys\ndef f():\n    return "{0.modules[json]}".format(sys)\n', "sys_modules"),
        ('import os\ndef f():\n    return "{m.environ[TMPDIR]}".format(m=os)\n', "reads_environment"),
        ('import sys\ndef f():\n    return "{0.flags.dont_write_bytecode}".format(sys)\n', "interpreter_flags"),
    ],
)
def test_format_fields_are_read_as_the_attributes_they_name(text: str, rule: str) -> None:
    assert rule in scan_rules(text)
    assert scan_rules('def f(x):\n    return "{0.name}-{1}".format(x, 2)\n') == set()


@pytest.mark.parametrize(
    "expr",
    [
        "object.__getattribute__(sys, 'modules')",
        "functools.reduce(getattr, ['modules'], sys)",
        "getattr(*[sys, 'modules'])",
        "operator.attrgetter('modules')(sys)",
    ],
)
def test_a_process_module_handed_as_a_value_is_a_hit(expr: str) -> None:
    assert "process_probe" in scan_rules(f"import sys, functools, operator\ndef f():\n    return 'json' in {expr}\n")
    honest = "import sys\n_s = sys\ndef f(x):\n    print(x, file=sys.stderr)\n    return _s.maxsize\n"
    assert scan_rules(honest) == set()


def test_hash_called_as_a_method_is_a_hash() -> None:
    assert "hash_probe" in scan_rules("def f():\n    return 'abc'.__hash__()\n")
    assert "hash_probe" in scan_rules("def f():\n    return str.__hash__('abc')\n")
    assert "hash_probe" not in scan_rules("class K:\n    def __hash__(self):\n        return super().__hash__()\n")


@pytest.mark.parametrize(
    "text",
    [
        '_S = "".join({"a", "b", "c"}) == "abc"\n',
        'def f():\n    return next(iter({"a", "b"}))\n',
        'def f():\n    return list(frozenset("abcdefgh"))\n',
        'K = {"a", "b"}\ndef f():\n    return [*K]\n',
    ],
)
def test_a_string_sets_order_read_is_a_hash(text: str) -> None:
    assert "hash_probe" in scan_rules(text)
    order_free = 'K = {"a", "b"}\ndef f(x):\n    return x in K and len({"a", "b"}) and sorted({"a", "b"})\n'
    assert "hash_probe" not in scan_rules(order_free)


def test_a_module_the_task_does_not_use_is_outside_the_bound() -> None:
    text = "import platformdirs\ndef f():\n    return platformdirs.user_cache_path()\n"
    found = scan_source(text, None, source_uses=lambda: frozenset({"gcd"}))
    assert found is not None and "process_probe" in {h.rule for h in found}
    for uses in (frozenset({"gcd", "platformdirs"}), frozenset()):  # the project's own; a source not read
        found = scan_source(text, None, source_uses=lambda uses=uses: uses)
        assert found is not None and "process_probe" not in {h.rule for h in found}
    found = scan_source("import json, gcd\n", None, source_uses=lambda: frozenset({"gcd"}))
    assert found == []


def test_a_process_objects_class_read_is_a_hit() -> None:
    assert "process_probe" in scan_rules("import sys\ndef f():\n    return type(sys.stdout).__name__\n")
    honest = "import os, sys\ndef f(p):\n    print(p, file=sys.stderr)\n    return isinstance(p, os.PathLike)\n"
    assert scan_rules(honest) == set()


def test_a_computed_root_before_a_machine_directory_is_the_host() -> None:
    assert "host_probe" in scan_rules('def f():\n    return open(bytes([47]).decode() + "proc/1/cmdline").read()\n')
    assert "host_probe" in scan_rules('import os\ndef f(r):\n    return os.path.exists(os.path.join(r, "proc", "1"))\n')
    honest = 'import os\ndef f(root, name):\n    return open(os.path.join(root, "data", name)).read()\n'
    assert "host_probe" not in scan_rules(honest)
