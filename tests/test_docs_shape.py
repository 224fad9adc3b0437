"""The README stays a front page and every benchmark's figures have one home (issue 28).

The README grew to 1,304 lines once, a manual and a benchmark log in one; the manual is in
`docs/` by topic and the figures in `bench/RESULTS.md`.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250


def test_the_readme_is_a_front_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines: move the manual to docs/"


def unlisted_scripts(results: str, bench: Path) -> list[str]:
    named = set(re.findall(r"`([\w.]+\.py)", results))
    return sorted(p.name for p in bench.glob("*.py") if p.name not in named)


def test_every_bench_script_is_in_the_results_page() -> None:
    results = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    assert unlisted_scripts(results, ROOT / "bench") == []


def test_a_script_left_out_of_the_results_page_is_reported(tmp_path: Path) -> None:
    (tmp_path / "new_bench.py").write_text("print(1)\n")
    (tmp_path / "ingest.py").write_text("print(1)\n")
    assert unlisted_scripts("| `ingest.py` | ... |", tmp_path) == ["new_bench.py"]


def test_the_readme_and_the_manual_link_every_topic_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.name != "README.md")
    assert [p for p in pages if f"docs/{p}" not in readme] == []
    assert "bench/RESULTS.md" in readme
