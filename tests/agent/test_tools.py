"""The agent's tools: schemas, every kind of invalid call, confinement, output cuts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.toolbox import ToolBox, cut
from agent.tools.grep import GREP_MAX_MATCHES
from agent.tools.registry import TOOL_ARGS, TOOLS, discover_tools
from agent.tools.schema import signature
from agent.tools.spec import StepCounts
from agent.workspace import Workspace
from tests.factories import TOOL_NAMES

from .conftest import ADD_TASK


@pytest.fixture
def ws(add_suite, tmp_path):
    w = Workspace.create(add_suite, add_suite.tasks[0], tmp_path / "runs")
    yield w
    w.cleanup()


@pytest.fixture
def tools(ws):
    return ToolBox(ws)


def test_schemas_are_openai_tools(tools):
    schemas = tools.schemas()
    assert [s["function"]["name"] for s in schemas] == list(TOOL_NAMES)  # in this order
    json.dumps(schemas)
    by_name = {s["function"]["name"]: s["function"] for s in schemas}
    for name, fn in by_name.items():
        assert fn["description"], name
        params = fn["parameters"]
        assert params["type"] == "object" and params["additionalProperties"] is False
        for prop, spec in params["properties"].items():
            assert spec.get("description"), f"{name}.{prop} has no description"
    assert by_name["list_dir"]["parameters"]["required"] == ["rel_dir"]
    assert by_name["write_file"]["parameters"]["required"] == ["rel_path", "content"]
    assert by_name["grep"]["parameters"]["required"] == ["pattern", "rel_dir"]
    assert by_name["run_tests"]["parameters"]["properties"] == {}
    assert by_name["finish"]["parameters"]["required"] == ["summary", "changes"]


INVALID = [
    # (name, raw arguments, expected violation text, parse_error expected)
    ("read_file", '{"rel_path": "add.py"', "arguments: not valid JSON", True),
    ("read_file", "not json at all", "arguments: not valid JSON", True),
    ("list_dir", '["."]', "arguments: must be a JSON object, got array", False),
    ("list_dir", '"."', "arguments: must be a JSON object, got string", False),
    ("delete_everything", '{"rel_dir": "."}', "unknown tool 'delete_everything'", False),
    (
        "list_dir",
        "{}",
        "rel_dir: missing required argument (must be a non-empty path, use '.' for the workspace root)",
        False,
    ),
    ("list_dir", '{"max_files": 10}', "rel_dir: missing required argument", False),
    ("list_dir", '{"rel_dir": ""}', "rel_dir: must be a non-empty path, use '.' for the workspace root", False),
    ("grep", '{"pattern": "x", "rel_dir": "   "}', "rel_dir: must be a non-empty path", False),
    ("read_file", '{"rel_path": ""}', "rel_path: must be a non-empty file path", False),
    ("list_dir", '{"rel_dir": 5}', "rel_dir: expected string, got integer", False),
    ("list_dir", '{"rel_dir": ".", "max_files": "10"}', "max_files: expected integer, got string", False),
    ("list_dir", '{"rel_dir": null}', "rel_dir: expected string, got null", False),
    ("write_file", '{"rel_path": "a.py"}', "content: missing required argument", False),
    ("finish", '{"summary": "done", "changes": 3}', "changes: expected array of strings or string, got integer", False),
    ("read_file", '{"rel_path": "add.py", "encoding": "utf-8"}', "encoding: unknown argument", False),
    ("run_tests", '{"verbose": true}', "verbose: unknown argument", False),
    # nested past the JSON parser's recursion limit: invalid arguments, not a RecursionError out of the rollout
    ("read_file", "[" * 100_000, "arguments: not valid JSON", True),
    ("delete_everything", "[" * 100_000, "unknown tool 'delete_everything'", False),
]


@pytest.mark.parametrize("name,raw,violation,is_parse", INVALID, ids=[f"{i}-{c[0]}" for i, c in enumerate(INVALID)])
def test_invalid_calls(tools, ws, name, raw, violation, is_parse):
    before = ws.patch()
    o = tools.call(name, raw)
    assert o.valid is False and o.ok is False
    assert any(violation in v for v in o.violations), o.violations
    assert (o.parse_error is not None) == is_parse
    if is_parse:
        assert o.args is None
    # the tool message names the tool, says what was wrong, and shows the expected shape
    assert o.output.startswith(f"Error: invalid call to {name!r}: ")
    assert violation in o.output and "Expected: " in o.output
    if name in TOOL_ARGS:
        assert f"Expected: {name}(" in o.output
    assert o.test_result is None and o.finish is None
    assert ws.patch() == before  # an invalid call changes nothing


def test_missing_rel_dir_keeps_parsed_args(tools):
    o = tools.call("list_dir", '{"max_files": 5}')
    assert not o.valid and o.args == {"max_files": 5} and o.parse_error is None


def test_empty_arguments_string_means_no_arguments(tools):
    o = tools.call("run_tests", "")
    assert o.valid and o.ok and o.test_result is not None


def test_list_dir(tools, ws):
    (ws.path / "__pycache__").mkdir()
    (ws.path / "__pycache__" / "x.pyc").write_bytes(b"\0")
    o = tools.call("list_dir", '{"rel_dir": "."}')
    assert o.valid and o.ok
    assert o.output.splitlines() == ["add.py", "tests/", "tests/test_add.py"]
    o = tools.call("list_dir", '{"rel_dir": "tests"}')
    assert o.output.splitlines() == ["tests/test_add.py"]
    o = tools.call("list_dir", '{"rel_dir": ".", "max_files": 1}')
    assert o.output.splitlines()[0] == "add.py" and "2 more entries not shown" in o.output
    o = tools.call("list_dir", '{"rel_dir": "nope"}')
    assert o.valid and not o.ok and "no such directory" in o.output


def test_read_and_write(tools, ws):
    o = tools.call("read_file", '{"rel_path": "add.py"}')
    assert o.ok and o.output == ADD_TASK["add.py"]
    o = tools.call("write_file", json.dumps({"rel_path": "add.py", "content": "def add(a, b):\n    return a + b\n"}))
    assert o.valid and o.ok and "add.py" in o.output
    assert (ws.path / "add.py").read_text() == "def add(a, b):\n    return a + b\n"
    o = tools.call("write_file", json.dumps({"rel_path": "pkg/new.py", "content": "x = 1\n"}))
    assert o.ok and (ws.path / "pkg" / "new.py").read_text() == "x = 1\n"
    o = tools.call("read_file", '{"rel_path": "missing.py"}')
    assert o.valid and not o.ok and "no such file" in o.output
    o = tools.call("read_file", '{"rel_path": "tests"}')
    assert not o.ok and "directory" in o.output


@pytest.mark.parametrize("rel", ["../outside.txt", "/etc/passwd", "tests/../../x"])
def test_tools_refuse_escapes(tools, rel):
    for name, args in (
        ("read_file", {"rel_path": rel}),
        ("write_file", {"rel_path": rel, "content": "x"}),
        ("list_dir", {"rel_dir": rel}),
        ("grep", {"pattern": "x", "rel_dir": rel}),
    ):
        o = tools.call(name, json.dumps(args))
        assert o.valid and not o.ok, name
        assert "workspace" in o.output and o.error


def test_planted_symlink_cannot_be_read_or_written_through(tools, ws, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    os.symlink(outside, ws.path / "escape")
    os.symlink(outside / "secret.txt", ws.path / "secret_link.txt")
    o = tools.call("read_file", '{"rel_path": "secret_link.txt"}')
    assert not o.ok and "top secret" not in o.output and "outside the workspace" in o.output
    o = tools.call("write_file", json.dumps({"rel_path": "secret_link.txt", "content": "pwned"}))
    assert not o.ok
    o = tools.call("write_file", json.dumps({"rel_path": "escape/new.txt", "content": "pwned"}))
    assert not o.ok
    o = tools.call("grep", '{"pattern": "secret", "rel_dir": "escape"}')
    assert not o.ok
    assert (outside / "secret.txt").read_text() == "top secret"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    # grep over the whole workspace does not follow the planted links either
    o = tools.call("grep", '{"pattern": "top secret", "rel_dir": "."}')
    assert o.ok and "no matches" in o.output


def test_write_into_hidden_path_refused(tools, ws):
    o = tools.call("write_file", json.dumps({"rel_path": "_fix/add.py", "content": "x"}))
    assert o.valid and not o.ok and "hidden" in o.output
    assert not (ws.path / "_fix").exists()


def test_grep(tools, ws):
    (ws.path / "blob.bin").write_bytes(b"\0\1add\2")
    (ws.path / "__pycache__").mkdir()
    (ws.path / "__pycache__" / "add.py").write_text("def add(): pass\n")
    o = tools.call("grep", '{"pattern": "def (add|test_)", "rel_dir": "."}')
    assert o.ok
    assert o.output.splitlines() == [
        "add.py:1: def add(a, b):",
        "tests/test_add.py:4: def test_small():",
        "tests/test_add.py:8: def test_zero():",
        "tests/test_add.py:12: def test_negative():",
    ]
    o = tools.call("grep", '{"pattern": "return", "rel_dir": "add.py"}')
    assert o.output == "add.py:2:     return a - b"
    o = tools.call("grep", '{"pattern": "(unclosed", "rel_dir": "."}')
    assert o.valid and not o.ok and "invalid regular expression" in o.output
    o = tools.call("grep", '{"pattern": "zzz_nothing", "rel_dir": "."}')
    assert o.ok and "no matches" in o.output


def test_grep_is_bounded(tools, ws):
    (ws.path / "big.txt").write_text("hit\n" * (GREP_MAX_MATCHES + 50))
    o = tools.call("grep", '{"pattern": "hit", "rel_dir": "."}')
    lines = o.output.splitlines()
    assert len(lines) == GREP_MAX_MATCHES + 1 and "50 more matches not shown" in lines[-1]


def test_output_cut_with_marker(ws):
    small = ToolBox(ws, output_limit=500)
    (ws.path / "long.txt").write_text("y" * 12345)
    o = small.call("read_file", '{"rel_path": "long.txt"}')
    assert o.ok and o.truncated and o.output_chars == 12345
    assert len(o.output) <= 500
    assert o.output.endswith("\n[... output cut: 12345 chars total]")
    assert o.output.startswith("y" * 100)
    assert cut("short", 500) == ("short", 5, False)


def test_run_tests_and_finish(tools, ws):
    o = tools.call("run_tests", "{}")
    assert o.valid and o.ok and not o.test_result.passed
    assert o.output.startswith("Tests FAILED: 2 failed, 1 passed")
    tools.call("write_file", json.dumps({"rel_path": "add.py", "content": ADD_TASK["_fix/add.py"]}))
    o = tools.call("run_tests", "{}")
    assert o.test_result.passed and o.output.startswith("Tests PASSED: 3 passed")
    o = tools.call("finish", json.dumps({"summary": "add() subtracted", "changes": ["add.py: - to +"]}))
    assert o.valid and o.ok and o.test_result is None
    assert o.finish == {
        "summary": "add() subtracted",
        "changes": ["add.py: - to +"],
        "test_result": {
            "passed": True,
            "summary": o.finish["test_result"]["summary"],
            "counts": {"passed": 3, "failed": 0, "errors": 0, "skipped": 0, "collected": 3},
            "timed_out": False,
        },
    }
    o = tools.call("finish", json.dumps({"summary": "", "changes": "x"}))
    assert not o.valid and o.finish is None


def test_a_tool_crash_is_an_outcome_not_an_exception(tools, ws, monkeypatch):
    def boom(rel):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ws, "resolve", boom)
    o = tools.call("read_file", '{"rel_path": "add.py"}')
    assert o.valid and not o.ok and "disk on fire" in o.output


SCHEMAS_TODAY = Path(__file__).with_name("tool_schemas.json")  # what the model was given before the registry


def test_the_schema_the_model_sees_is_byte_identical_to_todays(tools):
    today = json.loads(SCHEMAS_TODAY.read_text())
    names = {s["function"]["name"] for s in today["schemas"]}
    # the tools of today, in their order, key order too (the request body); a tool added later adds an entry
    schemas = [s for s in tools.schemas() if s["function"]["name"] in names]
    assert json.dumps(schemas) == json.dumps(today["schemas"])
    assert [signature(t) for t in TOOLS if t.name in names] == today["signatures"]


def test_every_list_of_tools_is_the_registry(tools):
    assert TOOL_NAMES == tuple(t.name for t in TOOLS) == tuple(TOOL_ARGS)
    assert [s["function"]["name"] for s in tools.schemas()] == list(TOOL_NAMES)
    counts = {t.name: t.counts for t in TOOLS}
    assert counts["read_file"] == StepCounts(reads="rel_path")
    assert counts["write_file"] == StepCounts(writes="rel_path")
    assert counts["run_tests"] == StepCounts(runs_tests=True)
    assert counts["finish"] == StepCounts(finishes=True)
    assert counts["list_dir"] == counts["grep"] == StepCounts()


def test_a_tool_is_one_module_and_two_of_one_rank_are_refused(tmp_path, monkeypatch):
    pkg = tmp_path / "scratch_tools"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    echo = (
        "from agent.tools.spec import Tool, ToolArgs\n"
        "class EchoArgs(ToolArgs):\n    '''Echo.'''\n"
        "TOOL = Tool(name={name!r}, rank={rank}, args=EchoArgs, run=lambda run, a: (True, 'echo'))\n"
    )
    (pkg / "echo.py").write_text(echo.format(name="echo", rank=5))
    (pkg / "helpers.py").write_text("X = 1\n")  # a module without TOOL is no tool
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [t.name for t in discover_tools("scratch_tools")] == ["echo"]
    (pkg / "echo2.py").write_text(echo.format(name="echo2", rank=5))
    with pytest.raises(RuntimeError, match="declared twice"):
        discover_tools("scratch_tools")


def test_list_dir_and_grep_walk_a_tree_deeper_than_the_recursion_limit(tools, ws):
    """A test the model wrote can leave 1,100 nested directories; os.walk recursed and the
    model got "Error: RecursionError" instead of the listing (agent/tree_walk.py walks them)."""
    fd = os.open(ws.path, os.O_RDONLY)
    for _ in range(1_100):  # past Python's 1,000 frames; made through descriptors, as a test could
        os.mkdir("d", dir_fd=fd)
        fd, parent = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(parent)
    os.close(os.open("deep.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    with open(os.open("deep.py", os.O_WRONLY, dir_fd=fd), "w") as f:
        f.write("NEEDLE = 1\n")
    os.close(fd)
    listed = tools.call("list_dir", '{"rel_dir": ".", "max_files": 2000}')
    assert listed.ok and "RecursionError" not in listed.output, listed.output[:300]
    assert "\nd/d/d/\n" in listed.output
    found = tools.call("grep", '{"pattern": "NEEDLE", "rel_dir": "."}')
    assert found.ok and "deep.py" in found.output, found.output


def test_grep_stops_a_catastrophically_backtracking_pattern_at_its_deadline(tools, ws, monkeypatch):
    """(a|aa)+$ on a line of 40 a's and a '!' takes re (and regex) about 1.6**40 steps, holding the GIL (every
    rollout of the process and the studio) past any deadline checked between lines: the search
    itself now stops at the tool's time limit and says where."""
    import threading

    import agent.toolbox

    monkeypatch.setattr(agent.toolbox, "TOOL_TIME_LIMIT_S", 0.5)
    (ws.path / "a_hit.txt").write_text("x = 1\n")
    (ws.path / "b_long.txt").write_text("ok\n" + "a" * 40 + "!\n")
    (ws.path / "c_late.txt").write_text("x = 2\n")
    box: list = []
    worker = threading.Thread(
        target=lambda: box.append(tools.call("grep", '{"pattern": "(a|aa)+$|x", "rel_dir": "."}'))
    )
    worker.daemon = True
    worker.start()
    worker.join(120)  # re would still be running: the test fails rather than hangs
    assert not worker.is_alive(), "grep ran past its deadline"
    out = box[0].output
    assert "a_hit.txt:1: x = 1" in out
    assert "b_long.txt:2: the pattern backtracks too much" in out and "c_late" not in out
    assert out.count("stopped after") == 1


def test_grep_stops_between_the_lines_of_a_file_at_its_deadline(tools, ws, monkeypatch):
    """Lines each searched within the time left still add up: a file of many lines, each
    near the timeout, held the tool far past its deadline. The clock is a stub that passes the
    deadline after the first lines (the search is fast: no wait on real time)."""
    import types

    import agent.tools.grep

    ticks = iter([0.0] * 5)
    clock = types.SimpleNamespace(monotonic=lambda: next(ticks, float("inf")))
    monkeypatch.setattr(agent.tools.grep, "time", clock)
    (ws.path / "many.txt").write_text("".join(f"hit {i}\n" for i in range(1, 51)))
    o = tools.call("grep", '{"pattern": "hit", "rel_dir": "many.txt"}')
    assert o.ok and "many.txt:1: hit 1" in o.output, o.output
    assert "many.txt:50:" not in o.output and o.output.count("stopped after") == 1


@pytest.mark.parametrize("pattern", ["(?:a{4000}){4000}", "(?=(?:a{4000}){4000})x", "(?:(?:a{100}){100}){100}"])
def test_grep_refuses_a_pattern_that_unrolls_past_its_size_before_compiling_it(tools, ws, pattern):
    """regex compiles a counted repeat by unrolling it, with no timeout and holding the GIL:
    (?:a{4000}){4000} took 23 s (re: 0.2 ms). Its size is read from re's parser first."""
    (ws.path / "a.txt").write_text("a\n")
    o = tools.call("grep", json.dumps({"pattern": pattern, "rel_dir": "."}))
    assert not o.ok and "unrolls to" in o.output  # refused before regex compiled it
