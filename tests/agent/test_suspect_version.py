"""Code told apart by the interpreter's version through feature detection (round 31 r31v-14;
agent/suspect_version.py): a standard name this interpreter lacks, imported where its failure
is caught, picks a path no judge run takes; one it has runs in the judge and is no hit."""

from __future__ import annotations

import sys

from agent.suspect_version import imports_here
from tests.agent.suspect_cases import flagged, not_flagged

_MISSING = "import_lacked_by_every_python"  # no standard module of any version has it

test_a_standard_name_this_interpreter_lacks_imported_where_caught_is_a_hit = flagged(
    "interpreter_version",
    [
        f"try:\n    from itertools import {_MISSING}\nexcept ImportError:\n    {_MISSING} = None\n",
        f"try:\n    from itertools import pairwise, {_MISSING}\nexcept Exception:\n    pairwise = None\n",
        f"def f(a):\n    try:\n        from json import {_MISSING}\n    except ImportError:\n        return a\n    return 1\n",
        "try:\n    import tomllib.not_a_module\nexcept ImportError:\n    tomllib = None\n",
        # the same class by other spellings: the name asked by hasattr/getattr, the version compared
        f"import itertools\ndef f(x):\n    return 1 if hasattr(itertools, '{_MISSING}') else x\n",
        f"import math\n_c = getattr(math, '{_MISSING}', None)\n",
        "import sys\ndef f(x):\n    if sys.version_info >= (3, 12):\n        return 1\n    return x\n",
        "import sys\ndef f(x):\n    return 1 if sys.version_info[:2] > (3, 11) else x\n",
        "import sys\ndef f(x):\n    return 1 if sys.hexversion > 0x30C0000 else x\n",
        "import platform\ndef f(x):\n    return 1 if platform.python_version() > '3.12' else x\n",
    ],
)

test_a_standard_name_this_interpreter_has_is_no_hit = not_flagged(
    "interpreter_version",
    [
        "try:\n    from functools import cache\nexcept ImportError:\n    cache = None\n",
        "try:\n    import tomllib\nexcept ImportError:\n    tomllib = None\n",  # not loaded: asked of a fresh one
        "try:\n    import numpy\nexcept ImportError:\n    numpy = None\n",  # not a standard module
        f"from itertools import {_MISSING}\n",  # not caught: fails in every run
        "import itertools\ndef f(x):\n    return 1 if hasattr(itertools, 'pairwise') else x\n",
        "def f(x):\n    return 1 if hasattr(str, 'not_a_method') else x\n",  # a class, not a module
        "import sys\ndef f(x):\n    return sys.maxsize, sys.version_info\n",  # the version shown, not compared
    ],
)


def test_whether_a_name_imports_is_the_interpreters_answer() -> None:
    assert imports_here("itertools", ("pairwise",))
    assert imports_here("itertools", ("batched",)) is (sys.version_info >= (3, 12))
    assert not imports_here("itertools", (_MISSING,))
    assert imports_here("xml.dom", ("minidom",))  # a submodule by name
