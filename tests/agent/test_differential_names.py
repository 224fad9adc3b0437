"""The names the differential's calls pass arguments by: the reference's, where the task's
source names the parameter alike (agent/differential_names.py; round 23 r23v-4, round 24 r24v-2)."""

from __future__ import annotations

from pathlib import Path

from agent.differential_names import agreed, agreed_methods, source_method_names, source_parameter_names
from agent.suites.models import DifferentialTarget


def _target(module: str, function: str, path: str = "") -> DifferentialTarget:
    return DifferentialTarget(module=module, function=function, inputs=[[1]], path=path)


def test_the_sources_names_are_read_from_its_last_top_level_def(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text("def f(a, /, b, c=1, *rest, d):\n    pass\n")
    (tmp_path / "mod.py").write_text(
        "def find(a, b):\n    pass\n\n\nclass K:\n    def find(self, z):\n        pass\n\n\nasync def find(xs, target):\n    pass\n"
    )
    assert source_parameter_names(tmp_path, _target("mod", "find")) == ["xs", "target"]
    assert source_parameter_names(tmp_path, _target("pkg", "f", "src")) == [None, "b", "c"]
    assert source_parameter_names(tmp_path, _target("mod", "absent")) is None
    assert source_parameter_names(tmp_path, _target("nothere", "find")) is None
    (tmp_path / "broken.py").write_text("def find(:\n")
    assert source_parameter_names(tmp_path, _target("broken", "find")) is None


def test_a_name_the_reference_gave_a_parameter_anew_is_never_passed() -> None:
    """An honest fix keeps the signature it was given: a reference renaming the source's
    ``arr`` to ``xs`` must not make a fix keeping ``arr`` raise TypeError at a call by name."""
    assert agreed(["xs", "target"], ["arr", "target"]) == [None, "target"]
    assert agreed(["xs", "target"], ["xs", "target"]) == ["xs", "target"]
    assert agreed(["xs", "target"], ["xs"]) == ["xs", None]
    assert agreed([None, "b"], [None, "b"]) == [None, "b"]
    assert agreed(["xs", "target"], None) == ["xs", "target"]  # the source defines none: the reference's


def test_a_scripts_method_names_agree_with_the_sources_class(tmp_path: Path) -> None:
    """Round 29 r29v-1: a script's names by method, past ``self``, kept where the source's
    class names the parameter alike; a method the source's class lacks keeps none."""
    (tmp_path / "lru.py").write_text(
        "class LRU:\n    def __init__(self, capacity):\n        pass\n\n"
        "    def get(self, key, default=None):\n        pass\n\n    def put(self, k, value, /):\n        pass\n"
    )
    found = source_method_names(tmp_path, _target("lru", "LRU"))
    assert found == {"__init__": ["capacity"], "get": ["key", "default"], "put": [None, None]}
    assert source_method_names(tmp_path, _target("lru", "absent")) is None
    reference = {"__init__": ["capacity"], "get": ["key", "default"], "put": ["key", "value"], "pop": ["key"]}
    assert agreed_methods(reference, found) == {
        "__init__": ["capacity"],
        "get": ["key", "default"],
        "put": [None, None],
    }
    assert agreed_methods(reference, None) == reference
