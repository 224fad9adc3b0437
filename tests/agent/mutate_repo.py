"""A small repository with tests, built by the mutation tests themselves."""

from __future__ import annotations

from pathlib import Path

CORE = '''\
"""Small helpers with tests."""


def clamp(x, lo, hi):
    # keep x within [lo, hi]
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def total(xs):
    t = 0
    for x in xs:
        t += x
    return t


def spin(n):
    i = 0
    while i < n:
        i += 1
    return i


def double_step(x):
    x += 1
    x += 1
    return x


def answer():
    return 41
'''

TESTS = """\
from mylib.core import answer, clamp, double_step, spin, total


def test_clamp_high():
    assert clamp(5, 0, 3) == 3


def test_clamp_low():
    assert clamp(-1, 0, 3) == 0


def test_clamp_inside():
    assert clamp(2, 0, 3) == 2


def test_total():
    assert total([1, 2, 3]) == 6


def test_spin():
    assert spin(3) == 3


def test_double_step():
    assert double_step(1) == 3


def test_answer():
    assert answer() == 42  # fails on the original: ignored by mutate
"""


def build_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mylib").mkdir(exist_ok=True)
    (root / "mylib" / "__init__.py").write_text("", encoding="utf-8")
    (root / "mylib" / "core.py").write_text(CORE, encoding="utf-8")
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_core.py").write_text(TESTS, encoding="utf-8")
    return root
