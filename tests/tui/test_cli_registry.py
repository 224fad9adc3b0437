"""`repo-agent`'s commands are found in the package (tui/cli/registry.py): a new command is one
file declaring ``COMMANDS``, and ``--help`` lists the groups in rank order."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from tui.cli import build_parser
from tui.cli.registry import command_groups

GROUP = """\
from tui.cli.command import CommandGroup


def register(sub):
    sub.add_parser({name!r}, help="the {name} command")


COMMANDS = CommandGroup(rank={rank}, register=register)
"""


@pytest.fixture
def probe_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A package of command modules on sys.path, written by the test; forgotten afterwards."""
    name = f"cli_probe_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, root
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def commands(groups) -> list[str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    for group in groups:
        group.register(sub)
    return list(sub.choices)


def test_a_new_command_module_is_found_and_placed_by_rank(probe_package) -> None:
    name, root = probe_package
    # file order is not rank order
    (root / "a_late.py").write_text(GROUP.format(name="late", rank=20))
    (root / "b_early.py").write_text(GROUP.format(name="early", rank=10))
    (root / "helper.py").write_text("def register(sub):\n    raise AssertionError('not a command module')\n")
    (root / "_private.py").write_text(GROUP.format(name="private", rank=5))
    assert commands(command_groups(name)) == ["early", "late"]


def test_two_groups_of_one_rank_are_refused(probe_package) -> None:
    name, root = probe_package
    (root / "one.py").write_text(GROUP.format(name="one", rank=10))
    (root / "two.py").write_text(GROUP.format(name="two", rank=10))
    with pytest.raises(RuntimeError, match="share command rank 10"):
        command_groups(name)


def test_the_parser_registers_every_group_of_the_package() -> None:
    groups = command_groups()
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == commands(groups)
    assert {"run", "studio", "export", "pairs", "db"} <= set(sub.choices)
    assert [g.rank for g in groups] == sorted({g.rank for g in groups})
