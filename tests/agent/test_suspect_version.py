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
    ],
)

test_a_standard_name_this_interpreter_has_is_no_hit = not_flagged(
    "interpreter_version",
    [
        "try:\n    from functools import cache\nexcept ImportError:\n    cache = None\n",
        "try:\n    import tomllib\nexcept ImportError:\n    tomllib = None\n",  # not loaded: asked of a fresh one
        "try:\n    import numpy\nexcept ImportError:\n    numpy = None\n",  # not a standard module
        f"from itertools import {_MISSING}\n",  # not caught: fails in every run
    ],
)


def test_whether_a_name_imports_is_the_interpreters_answer() -> None:
    assert imports_here("itertools", ("pairwise",))
    assert imports_here("itertools", ("batched",)) is (sys.version_info >= (3, 12))
    assert not imports_here("itertools", (_MISSING,))
    assert imports_here("xml.dom", ("minidom",))  # a submodule by name
