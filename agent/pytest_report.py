"""Reading a pytest run: where to add options, its counts, its summary line.

Counts come from the JUnit XML pytest writes (``--junitxml``), never from reading
"passed" in the output; the summary line is only a fallback for counts and the one-line
text shown to people.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from agent.trace import TestCounts


def pytest_index(argv: list[str]) -> int | None:
    """Index after which pytest options can be inserted, or None if not a pytest run."""
    for i in range(len(argv) - 1):
        if argv[i] == "-m" and argv[i + 1] == "pytest":
            return i + 2
    return None


_SUMMARY_RE = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+.*? in [\d.]+s.*?)\s*=*$")
_COUNT_RE = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


def summary_line(output: str) -> str | None:
    for line in reversed(output.splitlines()[-40:]):
        m = _SUMMARY_RE.match(line.strip())
        if m:
            return m.group(1).strip()
        if line.strip().startswith("no tests ran"):
            return line.strip().strip("= ")
    return None


def counts_from_junit(path: Path) -> TestCounts | None:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    c = TestCounts()
    for s in suites:
        tests = int(s.get("tests", 0))
        failures = int(s.get("failures", 0))
        errors = int(s.get("errors", 0))
        skipped = int(s.get("skipped", 0))
        c.collected += tests
        c.failed += failures
        c.errors += errors
        c.skipped += skipped
        c.passed += max(0, tests - failures - errors - skipped)
    return c


def counts_from_summary(summary: str | None) -> TestCounts:
    c = TestCounts()
    for n, word in _COUNT_RE.findall(summary or ""):
        n = int(n)
        if word == "passed" or word == "xpassed":
            c.passed += n
        elif word == "failed":
            c.failed += n
        elif word.startswith("error"):
            c.errors += n
        elif word in ("skipped", "xfailed"):
            c.skipped += n
    c.collected = c.passed + c.failed + c.errors + c.skipped
    return c


def has_pytest_config(root: Path) -> bool:
    """Whether ``root`` holds its own pytest configuration file (pytest's own rules)."""
    if (root / "pytest.ini").is_file() or (root / ".pytest.ini").is_file():
        return True
    for name, section in (("pyproject.toml", "[tool.pytest"), ("tox.ini", "[pytest]"), ("setup.cfg", "[tool:pytest]")):
        try:
            if section in (root / name).read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            pass
    return False
