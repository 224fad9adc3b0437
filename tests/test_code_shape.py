"""The lint rules that keep the code's shape: no function over 10 parameters (issue 28), and a
pre-commit hook that runs the project's own ruff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint(source: str) -> subprocess.CompletedProcess[str]:
    """``ruff check`` with the project's configuration on one file's text, as if it were in agent/."""
    ruff = Path(sys.executable).with_name("ruff")
    return subprocess.run(
        [
            str(ruff),
            "check",
            "--no-cache",
            "--output-format",
            "concise",
            "--stdin-filename",
            "agent/shape_probe.py",
            "-",
        ],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def signature(n: int) -> str:
    names = ", ".join(f"a{i}" for i in range(n))
    return f"def f({names}):\n    return ({names},)\n"


def test_a_function_over_ten_parameters_fails_lint() -> None:
    assert lint(signature(10)).returncode == 0
    over = lint(signature(11))
    assert over.returncode == 1 and "PLR0913" in over.stdout


def test_keyword_only_parameters_count_too() -> None:
    over = lint("def f(a, b, *, c, d, e, f, g, h, i, j, k):\n    return a\n")
    assert over.returncode == 1 and "PLR0913" in over.stdout


def test_the_pre_commit_hook_runs_the_projects_ruff() -> None:
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    assert "- repo: local" in config
    assert "entry: uv run ruff check\n" in config
    assert "entry: uv run ruff format --check\n" in config


PACKAGES = ("agent", "labeling", "exports", "tui")


def private_reach_ins(source: str, path: str) -> list[str]:
    """``from pkg.mod import _name``: a module using another module's private name (a helper two
    modules share gets a public name instead; issue 28 counted 35 such imports)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
            found += [
                f"{path}: {node.module}.{alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not rel.startswith("agent/suites/mini_bugs/"):
                found += private_reach_ins(path.read_text(encoding="utf-8"), rel)
    assert found == []


def test_a_private_reach_in_is_reported() -> None:
    source = "from agent.sandbox import _choose, run_command\nfrom os import _exit\n"
    assert private_reach_ins(source, "tui/x.py") == ["tui/x.py: agent.sandbox._choose"]
