"""A process module reached through another standard module's namespace (round 22 r22v-7,
r22v-13, r22v-14; agent/suspect_ast.py, agent/suspect_stdlib.py): a constant key of
``vars(m)``/``m.__dict__``, ``.get``, ``getattr``, ``__getattribute__`` is the module it names;
the namespace read any other way, or the module handed on, is a hit where a process module is
reachable from it; a module no process module is reachable from stays free."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.suspect_stdlib import reaches, star_sources
from tests.agent.suspect_cases import flagged, not_flagged, scan_rules

test_a_process_module_reached_through_a_namespace_is_a_hit = flagged(
    {"process_probe", "process_identity", "sys_modules", "reflection"},
    [
        # a constant key: the module it names, judged as written out
        'import pathlib\ndef f():\n    return vars(pathlib)["sys"].modules\n',  # r22v-13
        'import logging\ndef f():\n    vars(vars(logging)["threading"])["_start_new_thread"](print, ())\n',  # r22v-14
        'import pathlib\ndef f():\n    return pathlib.__dict__["os"].getpid()\n',
        'import pathlib\ndef f():\n    return vars(pathlib).get("os").getpid()\n',
        'import pathlib\ndef f():\n    return getattr(pathlib, "os").getpid()\n',
        'import pathlib\ndef f():\n    return pathlib.__getattribute__("os").getpid()\n',
        'import pathlib\ndef f():\n    ns = vars(pathlib)\n    return ns["o" + chr(115)].getpid()\n',
        # the namespace read whole, or by a key made at run time
        'import pathlib\ndef f():\n    return [m for m in vars(pathlib).values() if hasattr(m, "getpid")]\n',
        "import json\ndef f(k):\n    return vars(json)[k]\n",
        "import pathlib\ndef f(k):\n    return dict(pathlib.__dict__)\n",
        "import pathlib\ndef f(k):\n    return getattr(pathlib, k)\n",
        # the module handed on: what reads it then is not resolved (r22v-7)
        'import pathlib\ndef g(o):\n    o.close = None\ndef f():\n    g(vars(pathlib)["os"])\n',
        "import pathlib\ndef g(m):\n    return m.os.getpid()\ndef f():\n    return g(pathlib)\n",
    ],
)


test_a_namespace_with_no_process_module_in_reach_is_no_hit = not_flagged(
    {"process_probe", "process_identity", "sys_modules", "reflection"},
    [
        "import operator\ndef f(name):\n    return getattr(operator, name)\n",  # operator imports no module
        "import math\ndef f(name):\n    return getattr(math, name)(2)\n",  # a C module: nothing reachable
        'import pathlib\ndef f(p):\n    return vars(pathlib)["Path"](p).name\n',
        "import pathlib\ndef f(p):\n    return pathlib.Path(p).name\n",
        'def f(o):\n    return vars(o)["x"]\n',
        'import collections\ndef f():\n    return getattr(collections, "Counter")("aab")\n',
    ],
)


def test_reach_follows_imports_at_any_depth() -> None:
    def is_sys(name: str) -> bool:
        return name == "sys"

    assert reaches("json", is_sys)  # json -> codecs -> sys
    assert not reaches("operator", is_sys)
    assert not reaches("math", is_sys)
    assert not reaches("numpy", is_sys)  # not the standard library's: not read


# r22v-7's other half: a standard module's member replaced while the code runs (the runner's
# os.open, pytest's json), however the module is reached; what a call made stays the code's.
test_a_standard_modules_member_replaced_at_call_time_is_a_hit = flagged(
    "import_side_effect",
    [
        "import os\ndef f():\n    os.open = None\n",
        "import os\ndef f():\n    o = os\n    o.open, o.close = print, print\n",
        "import pathlib\ndef f():\n    pathlib.os.close = None\n",
        'import pathlib\ndef f():\n    vars(pathlib)["os"].close = None\n',
        'import json\ndef f():\n    vars(json)["dumps"] = repr\n',
        'import os\ndef f():\n    setattr(os, "open", None)\n',
        "import os\ndef f():\n    vars(os).update(open=None)\n",
        "import json\ndef f():\n    json.JSONEncoder.default = repr\n",
        "import os\ndef f():\n    del os.close\n",
    ],
)


test_an_object_a_call_made_is_the_codes_own = not_flagged(
    "import_side_effect",
    [
        "import decimal\ndef f():\n    decimal.getcontext().prec = 50\n",
        "import decimal\ndef f():\n    c = decimal.getcontext()\n    c.prec = 50\n",
        "import types\ndef f():\n    ns = types.SimpleNamespace()\n    ns.x = 1\n",
        "import threading\n_local = threading.local()\ndef f():\n    _local.x = 1\n",
        "import json\nclass E(json.JSONEncoder):\n    pass\ndef f():\n    E.default = repr\n",
        "def f(a):\n    a.x = 1\n",
    ],
)


# r21-5/r22v-1's reach of builtins: a builtin function's ``__self__`` is its module.
test_a_builtin_functions_self_is_the_builtins_module = flagged(
    "builtins",
    [
        "def f():\n    len.__self__.open = print\n",
        'def f():\n    return getattr(len, "__self__").open\n',
        "def f():\n    return vars(print.__self__)\n",
    ],
)


test_a_name_the_file_binds_is_no_builtin = not_flagged(
    "builtins",
    [
        "def f(m):\n    return m.__self__\n",
        "def len(x):\n    return 1\ndef f():\n    return len.__self__\n",
        "def f(len):\n    return len.__self__\n",
    ],
)


def test_a_standard_modules_source_is_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # A file naming many members of many standard modules (each a name the reach is asked of):
    # the second scan reads no source again, however many names the first one met.
    mods = sorted(m for m in sys.stdlib_module_names if m.isidentifier() and not m.startswith("_"))[:150]
    text = "".join(f"import {m}\n" for m in mods) + "".join(
        f"def f{i}(k):\n    return getattr({m}, k), [{', '.join(f'{m}.a{j}' for j in range(12))}]\n"
        for i, m in enumerate(mods)
    )
    first = scan_rules(text)
    read: list[Path] = []
    read_text = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: read.append(self) or read_text(self, *a, **k))
    assert scan_rules(text) == first
    assert read == []


# Round 28 r28v-1/2/3 (and dbm.gnu/dbm.ndbm): a public module handing on a C module's functions
# by a star import (sqlite3 -> sqlite3.dbapi2 -> ``from _sqlite3 import *``) is read as the C
# module's name, a probe unless that C module computes only.
test_a_c_modules_function_handed_on_by_a_star_import_is_a_probe = flagged(
    "process_probe",
    [
        'import sqlite3\ndef f():\n    return sqlite3.connect(":memory:").execute("select 1")\n',
        'from sqlite3 import connect\ndef f():\n    return connect(":memory:")\n',
        'import sqlite3.dbapi2 as db\ndef f():\n    return db.connect(":memory:")\n',
        'import dbm.gnu\ndef f():\n    return dbm.gnu.open("/tmp/x", "c")\n',
        'from dbm import ndbm\ndef f():\n    return ndbm.open("/tmp/x", "c")\n',
        "import sqlite3\ndef f(k):\n    return vars(sqlite3)[k]\n",  # the namespace read by a key made at run time
    ],
)


test_a_computing_c_module_handed_on_by_a_star_import_is_no_probe = not_flagged(
    {"process_probe", "import_side_effect", "reflection"},
    [
        'import struct\ndef f(x):\n    return struct.pack("<i", x)\n',
        'import ast\ndef f(t):\n    return isinstance(t, ast.Name) and getattr(ast, "Constant")\n',
        "import decimal\ndef f(x):\n    return decimal.Decimal(x)\n",
        "import heapq, bisect\ndef f(x):\n    heapq.heappush(x, 1)\n    bisect.insort(x, 2)\n",
        "import operator\ndef f(name):\n    return getattr(operator, name)\n",
        "from datetime import timedelta\nDAY = timedelta(days=1)\n",
        'import codecs\ndef f(x):\n    return codecs.encode(x, "rot13"), codecs.lookup("utf-8")\n',
        'import xml.etree.ElementTree as ET\ndef f(x):\n    return ET.fromstring(x), ET.Element("a")\n',
        "import lzma\ndef f(x):\n    return lzma.compress(x, format=lzma.FORMAT_XZ)\n",
        "import stat, os\ndef f(x):\n    return stat.S_ISDIR(os.stat(x).st_mode), os.listdir(x)\n",
    ],
)


def test_star_imports_are_followed_to_the_c_module_at_their_end() -> None:
    assert star_sources("sqlite3", "connect") == ["_sqlite3"]  # through sqlite3.dbapi2 (a source)
    assert star_sources("dbm.gnu", "open") == ["_gdbm"]
    assert star_sources("sqlite3", "_private") == []  # a star import binds no private name
    assert star_sources("json", "dumps") == []


# Round 28 r28v-7: the module's own dotted name read as data (a top-level import in every judge run).
test_the_modules_own_name_read_as_data_is_a_location_read = flagged(
    "reads_location",
    [
        'def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    if "." in __name__:\n        return 1\n    return a\n',
        "def gcd(a, b):\n    return 1 if __package__ else a\n",
        'def f():\n    return __name__.split(".")[-1]\n',
        'def f():\n    return __package__ != ""\n',
    ],
)

test_the_modules_own_name_handed_on_is_no_location_read = not_flagged(
    "reads_location",
    [
        "import logging\nlog = logging.getLogger(__name__)\ndef f():\n    return 1\n",
        'def f():\n    return 1\nif __name__ == "__main__":\n    print(f())\n',
        'import pkgutil\ndef f():\n    return pkgutil.get_data(__name__, "t.json")\n',
        'import warnings\ndef f():\n    warnings.warn(f"{__name__}.f is old", DeprecationWarning, stacklevel=2)\n',
    ],
)
