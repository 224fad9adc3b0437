"""The import-time bound of the SUSPECT scan (agent/suspect_import_bound.py, round 19
r19v-8..11): code that runs at import may only import, define, bind literals and values of the
module's own, and call pure callables or its own functions and methods; anything else is an
``import_side_effect`` hit, excused where the old text made a call of the same callee."""

from __future__ import annotations

import pytest

from agent.patch_format import file_diff
from agent.suspect import scan_patch
from agent.suspect_ast import scan_source

_WRITE = 'open("README.md", "w").close()'
_CLASS = "class R:\n    def __init__(self):\n        self.x = 1\n"


def _import_hit(text: str) -> bool:
    return any(h.rule == "import_side_effect" for h in scan_source(text) or [])


@pytest.mark.parametrize(
    "text",
    [
        # r19v-8: openers no rule listed
        "import io\nio.FileIO('README.md', 'w').close()\n",
        "import zipfile\nzipfile.ZipFile('README.md', 'w').close()\n",
        "import dbm\ndbm.open('README.md', 'n')\n",
        "import logging\nlogging.FileHandler('README.md', mode='w')\n",
        "import fileinput\nfor line in fileinput.input('README.md', inplace=True):\n    pass\n",
        "import sqlite3\nsqlite3.connect('README.md')\n",
        # r19v-9: the importer's logging
        "import logging\nlogging.getLogger().setLevel(logging.CRITICAL)\n",
        "import logging\nlogging.getLogger().disabled = True\n",
        "import logging\nlogging.basicConfig()\n",
        # r19v-10: a mode that is not a literal
        '_MODE = "w"\nopen("README.md", _MODE).close()\n',
        "open('README.md', 'w' if True else 'r').close()\n",
        "def _m():\n    return 'w'\nopen('README.md', _m()).close()\n",
        "open('README.md', *['w']).close()\n",
        "open('README.md', **{'mode': 'w'}).close()\n",
        # r19v-11 and finding 19: methods of the module's classes run now
        f"class Registry:\n    def register(self, fn):\n        {_WRITE}\n        return fn\nreg = Registry()\n"
        "@reg.register\ndef gcd(a, b):\n    return a\n",
        _CLASS + f"    def setup(self):\n        {_WRITE}\nr = R()\nr.setup()\n",
        f"class R:\n    @staticmethod\n    def setup():\n        {_WRITE}\nR.setup()\n",
        _CLASS + f"    @property\n    def p(self):\n        {_WRITE}\n        return 1\nX = R().p\n",
        _CLASS + f"    def __iter__(self):\n        {_WRITE}\n        return iter([])\nfor _ in R():\n    pass\n",
        _CLASS + f"    def __del__(self):\n        {_WRITE}\nR()\n",
        _CLASS + f"    def __bool__(self):\n        {_WRITE}\n        return True\nif R():\n    pass\n",
        f"import enum\nclass E(enum.Enum):\n    A = 1\n    @classmethod\n    def _missing_(cls, v):\n"
        f"        {_WRITE}\n        return cls.A\nX = E(3)\n",
        # calls outside the allow-list (fix19-b's note: the shared Random advanced)
        "import random\nX = random.random()\n",
        "import operator, logging\noperator.methodcaller('basicConfig')(logging)\n",
        "import flask\napp = flask.Flask(__name__)\n@app.route('/')\ndef index():\n    return ''\n",
        "X = list(map(print, [1]))\n",
        # r19v-14: a module handed to a helper called now; r19v-16: an inverted guard runs at import
        "import os\ndef _tidy(m, p):\n    m.remove(p)\n_tidy(os, 'README.md')\n",
        "import os\nif __name__ != '__main__':\n    os.remove('README.md')\n",
        "import antigravity\n",  # r19v-17: a standard module whose import acts
        f"class C:\n    def __init__(self):\n        {_WRITE}\n_c = C\nX = _c()\n",  # a class called through an alias
        # r19v-18: an unlisted client called at import; r19v-20: another module's function; finding 34
        "import huggingface_hub\ntry:\n    huggingface_hub.model_info('gpt2')\nexcept Exception:\n    pass\n",
        "import helper\nhelper.tidy()\n",
        "import helper\nclass X(helper.Base):\n    pass\n",  # r19v-20: another module's __init_subclass__ runs now
        "import sys\n_d = {}\n_d['m'] = sys.modules\n_d['m']['json'] = None\n",  # an item put in from outside
        "import random\n_d = {}\n_d['s'] = random\n_d['s'].seed(0)\n",
        "import copy, os\nclass _R:\n    def __reduce__(self):\n        return (os.remove, ('README.md',))\ncopy.copy(_R())\n",
        # finding 32: an enum's _generate_next_value_, a dict subclass's __missing__
        f"import enum\nclass E(enum.Enum):\n    def _generate_next_value_(name, start, count, last):\n"
        f"        {_WRITE}\n        return 1\n    A = enum.auto()\n",
        f"class D(dict):\n    def __missing__(self, k):\n        {_WRITE}\n        return 1\nX = D()['a']\n",
    ],
)
def test_what_runs_at_import_outside_the_bound_is_a_hit(text: str) -> None:
    assert _import_hit(text), text


@pytest.mark.parametrize(
    "text",
    [
        "import logging\nlog = logging.getLogger(__name__)\nlog.addHandler(logging.NullHandler()) if False else None\n",
        "import re, collections, typing\nP = re.compile('a+')\nPoint = collections.namedtuple('Point', 'x y')\n"
        "T = typing.TypeVar('T')\nM = P.match('aa')\n",
        "import dataclasses, functools\n@dataclasses.dataclass(frozen=True)\nclass A:\n    x: int = 0\n"
        "@functools.lru_cache(maxsize=None)\ndef f(n):\n    return n\n",
        "import enum\nclass Color(enum.Enum):\n    RED = 1\n    def __str__(self):\n        return self.name\n",
        "__all__ = ['a']\n__all__.append('b')\n__all__ += 'c d'.split()\n",
        "import threading, os\n_lock = threading.RLock()\nHERE = os.path.dirname(os.path.abspath(__file__))\n",
        "with open('data.txt') as f:\n    DATA = f.read()\n",
        "import warnings\nwarnings.warn('deprecated', DeprecationWarning)\n",
        # a registry of the module's own whose methods run now and do nothing outside
        "class Registry:\n    def __init__(self):\n        self.functions = {}\n    def register(self, fn):\n"
        "        self.functions[fn.__name__] = fn\n        return fn\nregistry = Registry()\n"
        "@registry.register\ndef gcd(a, b):\n    return a\n",
        "import sys\nsys.setrecursionlimit(10000)\n",
        '_T = str.maketrans({"1": "x"})\n',  # humanize: a type's method of an immutable type
        "import os\nif '__main__' == __name__:\n    os.remove('x')\n",  # a script's block, either way round
        # versioneer's registry: an own dict of own dicts, written at import by a decorator
        "H = {}\ndef reg(v, m):\n    def d(f):\n        if v not in H:\n            H[v] = {}\n"
        "        H[v][m] = f\n        return f\n    return d\n@reg('git', 'x')\ndef g():\n    pass\n",
        "X = 'v{version}.x'.format(version=1)\n",
        "import typing, enum\nT = typing.TypeVar('T')\nclass A(Exception):\n    pass\n"
        "class B(typing.Generic[T]):\n    pass\nclass C(enum.Enum):\n    X = 1\nclass D(A, metaclass=type):\n    pass\n",
        "import random\ndef shuffle(xs):\n    random.shuffle(xs)\n",  # not run at import
        # a class only named (an alias, a base) is not instantiated; an imported object's method is not ours
        f"class C:\n    def __init__(self):\n        {_WRITE}\nclass D(C):\n    pass\nE = C\n",
        f"from .auto import tqdm\nclass W:\n    def write(self):\n        {_WRITE}\nX = tqdm.write\n",
    ],
)
def test_what_honest_modules_do_at_import_is_no_hit(text: str) -> None:
    assert not _import_hit(text), text


def test_prose_runs_nothing_at_import() -> None:
    text = (
        "Use it so:\n\n    logging.basicConfig(level=logging.INFO)\n    for i in trange(9):\n        pbar.update(1)\n"
    )
    patch = file_diff("README.md", b"# x\n", ("# x\n" + text).encode())
    assert "import_side_effect" not in {h.rule for h in scan_patch(patch)}


def test_a_call_of_a_callee_the_old_text_called_at_import_is_excused() -> None:
    old = "import flask\napp = flask.Flask(__name__)\n\n\n@app.route('/')\ndef index():\n    return ''\n"
    new = old + "\n\n@app.route('/about')\ndef about():\n    return ''\n"
    patch = file_diff("web.py", old.encode(), new.encode())
    rules = {h.rule for h in scan_patch(patch, (), {"web.py": old}.get, {"web.py": new}.get)}
    assert "import_side_effect" not in rules
    # the same callee does not excuse another: an old route excuses no write at import
    evil = new + "\nopen('README.md', 'w').close()\n"
    patch = file_diff("web.py", old.encode(), evil.encode())
    rules = {h.rule for h in scan_patch(patch, (), {"web.py": old}.get, {"web.py": evil}.get)}
    assert "import_side_effect" in rules


# Round 26 (r26v-14..18): pure constructors of the standard library at import are within the
# bound; each one's wrong twin, reaching what another holds or what a process reads, is not.
_FALLBACK = "try:\n    from functools import cache\nexcept ImportError:\n    from functools import lru_cache\n"
_DISPATCH = "from functools import singledispatch\n@singledispatch\ndef _items(x):\n    yield x\n"


@pytest.mark.parametrize(
    ("honest", "wrong"),
    [
        # r26v-14: a decorator bound to what a factory returned given its own values
        (
            _FALLBACK + "    cache = lru_cache(maxsize=None)\n@cache\ndef f(n):\n    return n\n",
            _FALLBACK + "    cache = lru_cache(maxsize=None)\n    cache = print\n@cache\ndef f(n):\n    return n\n",
        ),
        (
            "import functools\n_c = functools.lru_cache(maxsize=None)\n@_c\ndef f(n):\n    return n\n",
            "import functools, logging\n_w = functools.lru_cache(logging.basicConfig)\n_w()\n",
        ),
        # r26v-15: a singledispatch function's own registry
        (
            _DISPATCH + "@_items.register(list)\ndef _(xs):\n    yield from xs\n",
            "import helper\ndef _items(x):\n    yield x\n@_items.register(list)\ndef _(xs):\n    yield from xs\n"
            "_items = helper.dispatcher\n",
        ),
        (_DISPATCH + "_items.register(tuple, lambda t: list(t))\n", "import helper\nhelper.tidy.register(list)\n"),
        # r26v-16: a decimal context of the module's own, not the process's
        (
            "from decimal import Context\n_EXACT = Context(prec=50)\n_EXACT.traps = []\n",
            "import decimal\n_c = decimal.getcontext()\n_c.prec = 6\n",
        ),
        # r26v-17: a generator of its own seeded by a constant, not the shared one nor the OS's entropy
        ("import random\n_rng = random.Random(0)\n", "import random\n_rng = random.Random()\n"),
        ("import random\n_rng = random.Random('pivots')\n", "import random, os\n_rng = random.Random(os.getpid())\n"),
        # r26v-18: a builtin type's method by the type's name; a literal parsed
        ('_N = bytes.fromhex("0001")\n', 'import helper as bytes\n_N = bytes.fromhex("0001")\n'),
        ('_N = int.from_bytes(b"\\x01", "big")\n', 'bytes = print\n_N = bytes.fromhex("0001")\n'),
        (
            'import ast\n_T = ast.literal_eval("[1, 2]")\n',
            'import ast\n_T = ast.parse("x").body\nast.increment_lineno(_T)\n',
        ),
    ],
)
def test_a_pure_constructor_at_import_is_no_hit_and_its_wrong_twin_is(honest: str, wrong: str) -> None:
    assert not _import_hit(honest), honest
    assert _import_hit(wrong), wrong


_RAISED_WHERE_LOWER = "import sys\nif sys.getrecursionlimit() < 10_000:\n    sys.setrecursionlimit(10_000)\n"


@pytest.mark.parametrize(
    "text",
    [
        _RAISED_WHERE_LOWER.replace("    sys.setrecursionlimit(10_000)\n", "    WRONG = True\n"),  # a branch of its own
        _RAISED_WHERE_LOWER + "else:\n    WRONG = True\n",
        _RAISED_WHERE_LOWER.replace("(10_000)\n", "(100)\n"),  # a limit lowered is no honest raise
        "import sys\nLIMIT = sys.getrecursionlimit()\n",  # the limit kept as a value
        "import sys\nif sys.getrecursionlimit() < 10_000:\n    sys.setrecursionlimit(10_000)\n    WRONG = True\n",
    ],
)
def test_the_recursion_limit_read_at_import_beyond_raising_it_is_a_hit(text: str) -> None:
    assert _import_hit(text), text


def test_the_recursion_limit_raised_only_where_lower_is_no_hit() -> None:
    """r31v-12: the read only chooses whether to make a call allowed unconditionally."""
    assert not _import_hit(_RAISED_WHERE_LOWER)
    assert not _import_hit(
        _RAISED_WHERE_LOWER.replace("getrecursionlimit() < 10_000", "10_000 > sys.getrecursionlimit()")
    )
