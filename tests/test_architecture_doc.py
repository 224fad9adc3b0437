"""docs/ARCHITECTURE.md names every module, and the sections code cites exist.

A module the map leaves out is one a newcomer cannot place; the map drifted by 45 modules
before this test (issue 28).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
PACKAGES = ("agent", "labeling", "exports", "tui")
# The suites' task repositories are data for the agent to work on, not project code.
SKIP = ("agent/suites/mini_bugs/",)


def package_sections(text: str) -> dict[str, str]:
    """Each package's part of the module map: from its `**pkg/**` line to the next one."""
    marks = [(m.start(), m.group(1)) for m in re.finditer(r"^\*\*(\w+)/\*\*$", text, re.M)]
    ends = [start for start, _ in marks[1:]] + [text.index("\n## ", marks[-1][0])]
    return {pkg: text[start:end] for (start, pkg), end in zip(marks, ends, strict=True)}


def named_paths(section: str) -> set[str]:
    """Every backticked path-like name in a section (`x.py`, `a/b.py`, `dir/`)."""
    return {token for token in re.findall(r"`([\w./]+)`", section) if token.endswith((".py", "/"))}


def modules(package: str) -> list[str]:
    """The package's modules as paths inside the package (`screens/runs.py`)."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if not any(rel.startswith(prefix) for prefix in SKIP):
            found.append(path.relative_to(ROOT / package).as_posix())
    return found


def is_named(module: str, package: str, names: set[str], basenames: dict[str, int]) -> bool:
    """Named by its path (`tui/report.py`, `widgets/tab_bar.py`); by its bare file name only when
    that name is unique in the package; a package's `__init__.py` by its directory (`serve/`)."""
    parts = [package, *module.split("/")]
    suffixes = {"/".join(parts[i:]) for i in range(len(parts) - 1)}
    if suffixes & names:
        return True
    if parts[-1] == "__init__.py":
        directory = "/".join(parts[:-1]) + "/"
        return len(parts) == 2 or any(directory.endswith("/" + name) or directory == name for name in names)
    return basenames[parts[-1]] == 1 and parts[-1] in names


def missing_modules(text: str) -> list[str]:
    sections = package_sections(text)
    missing = []
    for package in PACKAGES:
        names = named_paths(sections.get(package, ""))
        found = modules(package)
        basenames: dict[str, int] = {}
        for module in found:
            base = module.rsplit("/", 1)[-1]
            basenames[base] = basenames.get(base, 0) + 1
        missing += [f"{package}/{m}" for m in found if not is_named(m, package, names, basenames)]
    return missing


def test_the_module_map_names_every_module() -> None:
    missing = missing_modules(DOC.read_text())
    assert not missing, "docs/ARCHITECTURE.md's module map does not name: " + ", ".join(missing)


def test_a_module_left_out_of_the_map_is_reported() -> None:
    text = DOC.read_text()
    without = text.replace("`pair_queue.py`", "`pair-queue`")
    assert "tui/pair_queue.py" in missing_modules(without)


def test_sections_the_code_cites_exist() -> None:
    """A comment citing a section of docs/ARCHITECTURE.md by name points at a heading that is there."""
    headings = {line.lstrip("#").strip() for line in DOC.read_text().splitlines() if line.startswith("#")}
    cited: set[tuple[str, str]] = set()
    for package in (*PACKAGES, "tests", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            for name in re.findall(r'ARCHITECTURE\.md, "([^"]+)"', path.read_text()):
                cited.add((path.relative_to(ROOT).as_posix(), name))
    unknown = sorted(f"{path}: {name}" for path, name in cited if name not in headings)
    assert not unknown, "cited sections missing from docs/ARCHITECTURE.md: " + "; ".join(unknown)
