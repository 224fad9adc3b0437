"""AST mutation operators: each site becomes the intended bug, and nothing else changes."""

from __future__ import annotations

import ast

import pytest

from agent.suites.mutate.operators import OPERATORS, apply_edits, mutants_for_file

SRC = b'''\
X = 1 + 2  # module level: never mutated


def f(a, b, n=3, flag=True):
    """Docstring stays."""
    if a < b and n:  # a comment stays
        a += 1
    else:
        b = b - 1
    out = g(a, b)
    for i in range(n):
        out = out + a[i] + a[1:n]
    return out
'''


def mutated(op: str) -> list[str]:
    return [apply_edits(SRC, m.edits).decode() for m in mutants_for_file("m.py", SRC, {op})]


def changed_lines(new: str) -> list[tuple[str, str]]:
    old = SRC.decode().splitlines()
    return [(a, b) for a, b in zip(old, new.splitlines()) if a != b]


@pytest.mark.parametrize(
    "op, line",
    [
        ("comparison", "    if a <= b and n:  # a comment stays"),
        ("comparison", "    if a > b and n:  # a comment stays"),
        ("boolean", "    if a < b or n:  # a comment stays"),
        ("arithmetic", "        a -= 1"),
        ("arithmetic", "        b = b + 1"),
        ("negate_condition", "    if not (a < b and n):  # a comment stays"),
        ("swap_args", "    out = g(b, a)"),
        ("off_by_one", "    for i in range(n + 1):"),
        ("off_by_one", "        out = out + a[i - 1] + a[1:n]"),
        ("off_by_one", "        out = out + a[i] + a[2:n]"),
        ("default_arg", "def f(a, b, n=4, flag=True):"),
        ("default_arg", "def f(a, b, n=3, flag=False):"),
        ("swap_variable", "    out = g(a, a)"),
    ],
)
def test_each_operator_makes_its_bug_in_place(op, line):
    variants = mutated(op)
    assert any(line in v.splitlines() for v in variants), variants
    for v in variants:
        assert v.startswith("X = 1 + 2  # module level: never mutated")
        assert '"""Docstring stays."""' in v
        ast.parse(v)  # every mutant parses


def test_removals_take_whole_lines():
    stmts = mutated("remove_statement")
    # `a += 1` is alone in its block: removing it would not parse, so it is not a site.
    assert [v.count("\n") for v in stmts] == [SRC.count(b"\n") - 1]
    assert "    out = g(a, b)\n" not in stmts[0] and "        a += 1\n" in stmts[0]
    [ret] = mutated("remove_return")
    assert "return out" not in ret and ret.count("\n") == SRC.count(b"\n") - 1
    [no_else] = mutated("remove_else")
    assert "else:" not in no_else and "b = b - 1" not in no_else and "a += 1" in no_else


def test_only_code_inside_functions_and_known_operators():
    ms = mutants_for_file("m.py", SRC)
    assert {m.operator for m in ms} <= set(OPERATORS)
    assert all(m.function == "f" and m.func_lines == (4, 13) for m in ms)
    assert all(m.line >= 4 for m in ms)
    assert len({m.id for m in ms}) == len(ms)  # ids are stable hashes of the edits
    assert [m.id for m in mutants_for_file("m.py", SRC)] == [m.id for m in ms]


def test_a_file_that_does_not_parse_gives_no_mutants():
    assert mutants_for_file("bad.py", b"def f(:\n") == []


def test_task_commands_keep_options_and_drop_paths():
    from agent.suites.mutate.runner import MutateError, pytest_argv, without_paths

    argv = pytest_argv("python -m pytest -q -k 'not slow' tests/unit --tb=short -p xdist")
    assert without_paths(argv) == ["python", "-m", "pytest", "-q", "-k", "not slow", "--tb=short", "-p", "xdist"]
    assert without_paths(["pytest", "tests", "-x"]) == ["pytest", "-x"]
    with pytest.raises(MutateError, match="--tests must run pytest"):
        pytest_argv("make test")
