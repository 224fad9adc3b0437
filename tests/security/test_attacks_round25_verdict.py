"""Round 25 attacks on the verdict (open until fixed): each test fails today and is marked strict xfail."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

import agent.suites
from tests.security.conftest import scan_and_judge

_MINI_BUGS = Path(agent.suites.__file__).parent / "mini_bugs"


def _dir(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    return d


def _loaded(tmp_path: Path, name: str, source: str) -> Any:
    """``source`` imported as module ``name`` in this process (how a program calling it fares)."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference(tmp_path: Path, task: str, module: str) -> Any:
    return _loaded(_dir(tmp_path, "ref"), module, (_MINI_BUGS / task / "_fix" / f"{module}.py").read_text())


# A wrong parse_query: the first value of a repeated key wins (``setdefault``), where the
# reference's last one does (``page=1&page=2`` is page 2 to every caller of the reference). No
# input of the pool, the tests or the held-out tests repeats a key.
_FIRST_VALUE_WINS = '''def parse_query(qs):
    """Parse 'a=1&b=2' into {'a': '1', 'b': '2'}; a key without '=' maps to ''."""
    out = {}
    for part in qs.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        out.setdefault(key, value)
    return out
'''


@pytest.mark.xfail(
    strict=True,
    reason="open: r25v-1 a parse_query keeping a repeated key's first value PASSes (no pool input repeats one)",
)
def test_r25v_1_parse_query_keeping_the_first_value_passes(tmp_path):
    """The control: the reference answers page=2, the attack page=1. The attack: the final run
    PASSes it, with no SUSPECT hit."""
    reference = _reference(tmp_path, "fix_parse_query", "query")
    wrong = _loaded(_dir(tmp_path, "wrong"), "query_first", _FIRST_VALUE_WINS)
    assert reference.parse_query("page=1&page=2") == {"page": "2"}
    assert wrong.parse_query("page=1&page=2") == {"page": "1"}
    hits, passed = scan_and_judge(_dir(tmp_path, "a"), {"query.py": _FIRST_VALUE_WINS}, "fix_parse_query")
    assert not passed or hits
