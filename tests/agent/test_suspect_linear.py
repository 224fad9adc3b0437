"""Every SUSPECT line rule reads one long line in linear time (round 12 r12-5).

``re`` runs in C with the GIL held and counts no steps, so the measure is the thread's own CPU
time (other processes' load does not count in it): each rule over a line made of many
repeats of a prefix (``from sys import `` x N) and over the same line 10x as long. Linear
work grows ~10x; the quadratic rules of round 12 grew ~100x. A ratio counts only where the
long line took more than ``FLOOR`` seconds, so timer noise on tiny times never fails it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from agent import suspect
from agent.suspect import LINE_RULES, scan_patch

# Each a shape some rule or helper retried from every start (``.*``, ``[\w, ]*``, ``[^:]*``,
# a backslash read two ways, a comment ended by a lone CR, recursion per comment).
PREFIXES = [
    "from sys import ",
    "from os import ",
    "import ",
    "import a, ",
    "__eq__ = lambda ",
    ")->",
    "return ",
    "'\\'",
    "\\",
    "#\r",
    "'/run",
    "test_",
    "getattr( ",
    "a  ",
    "unittest.",
    ".outcome = ",
    "def pytest_",
]
SHORT = 800
FLOOR = 0.02  # seconds: below this the long line is fast whatever its ratio
RATIO = 40  # linear is ~10 (a few more with caches); quadratic ~100


def _helpers() -> list[tuple[str, Callable[[str], object]]]:
    out: list[tuple[str, Callable[[str], object]]] = [(r.name, r.search) for r in LINE_RULES]
    out += [
        ("_code", suspect._code),
        ("reads_tests", lambda c: suspect._reads_tests(c, ["tests", "tests/data.json"])),
        ("constant_compare", suspect._lambda_constant),
        ("signature", suspect._after_signature),
        ("returned", suspect._returned),
        ("test_module_import", suspect._TEST_MODULE_IMPORT.search),
        ("exotic_coding", suspect._EXOTIC_CODING.search),
    ]
    return out


def _cpu(fn: Callable[[str], object], line: str) -> float:
    t0 = time.thread_time()
    fn(line)
    return time.thread_time() - t0


def test_every_line_rule_is_linear_in_the_line(monkeypatch) -> None:
    # One window for any line: the patterns themselves must be linear (windows would cap
    # a quadratic pattern's cost per window, and hide it).
    monkeypatch.setattr(suspect, "WINDOW", 10**9)
    slow: list[str] = []
    for prefix in PREFIXES:
        reps = SHORT // len(prefix) + 1
        for shape in ("{}x", "x = '{}"):
            short, long = (shape.format(prefix * (reps * k)) for k in (1, 10))
            for name, fn in _helpers():
                t_long = _cpu(fn, long)
                if t_long < FLOOR:
                    continue
                t_long = min(t_long, _cpu(fn, long))  # a second look before judging
                t_short = min(_cpu(fn, short) for _ in range(3))
                if t_long >= FLOOR and t_long > RATIO * max(t_short, 1e-4):
                    slow.append(f"{name} over {shape.format(repr(prefix))}: {t_short:.4f}s -> {t_long:.4f}s")
    assert not slow, "\n".join(slow)


@pytest.mark.parametrize("prefix", ["from sys import ", "#\r"])
def test_a_long_line_scans_whole_and_still_hits(prefix) -> None:
    """The scan over a 30 kB line of repeats ends (linear, windowed) and still finds the mark
    placed at its far end, past every window's edge."""
    line = prefix * (30_000 // len(prefix)) + " ; import gc"
    patch = f"diff --git a/m.py b/m.py\nnew file mode 100644\n--- /dev/null\n+++ b/m.py\n@@ -0,0 +1,1 @@\n+{line}\n"
    t0 = time.thread_time()
    hits = scan_patch(patch)
    assert time.thread_time() - t0 < 10  # quadratic: minutes; linear: well under a second
    assert "gc" in {h.rule for h in hits}
