"""Round 18 attacks (atk18): each open one is a strict xfail."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.differential_order import unordered_functions


@pytest.mark.xfail(
    strict=True,
    reason="open: r18-1 a test helper star-imported into the test module rebinds sorted(); the order read is kept off",
)
def test_star_imported_sorted_shadow_keeps_order(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("def uniq(xs):\n    return list(dict.fromkeys(xs))\n")
    (tmp_path / "tests" / "helpers.py").write_text("def sorted(xs):\n    return list(xs)\n")
    (tmp_path / "tests" / "test_u.py").write_text(
        "from pkg import uniq\nfrom tests.helpers import *\n\n\n"
        "def test_u():\n    assert sorted(uniq([3, 1, 3, 2])) == [3, 1, 2]\n"
    )
    # The test's ``sorted`` is the helper's (no sort): the order of uniq's answer is what it checks.
    assert "uniq" not in unordered_functions(tmp_path, ["tests"], {"uniq"})
