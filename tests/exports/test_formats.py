"""An export format is one module of exports/formats/; every list of formats is read from the registry."""

from __future__ import annotations

import argparse
import typing
from pathlib import Path

import pytest

from exports.formats.registry import (
    ALL,
    FORMATS,
    LAYOUTS,
    TOGETHER_FORMATS,
    detect_format,
    discover_formats,
    format_table,
)
from exports.layouts import DpoExample, SftExample
from exports.options import DpoOptions, SftOptions
from tui.cli import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "exports.md"
CALL = {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": '{"rel_path": "a.py"}'}}
TOOLS = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}]
PROMPT = [{"role": "system", "content": "sys"}, {"role": "user", "content": "fix it"}]
DPO = DpoExample(
    "t",
    PROMPT,
    TOOLS,
    chosen={"role": "assistant", "tool_calls": [CALL]},
    rejected={"role": "assistant", "content": "no"},
)
SFT_MESSAGES = [
    *PROMPT,
    {"role": "assistant", "content": None, "tool_calls": [CALL], "weight": 1},
    {"role": "tool", "tool_call_id": "c1", "content": "x = 1"},
    {"role": "assistant", "content": "done", "weight": 1},
]
SFT = SftExample("t", SFT_MESSAGES, TOOLS)
SFT_ONE_TURN = SftExample("t", SFT_MESSAGES[:-1] + [{**SFT_MESSAGES[-1], "weight": 0}], TOOLS, meta={"target_index": 2})


def test_the_docs_table_is_the_registrys_and_lists_every_format():
    page = DOCS.read_text()
    assert format_table() in page, "docs/exports.md's formats table differs; paste:\n" + format_table()
    table = format_table()
    assert all(f"`{name}`" in table for name in FORMATS)
    today = ("together-sft", "together-dpo", "openai-sft", "openai-dpo", "trl-sft", "trl-dpo")
    assert FORMATS[:6] == today  # listed in this order (docs, --help); a new format comes after
    assert TOGETHER_FORMATS == ("together-sft", "together-dpo")  # what upload and finetune accept


@pytest.mark.parametrize("fmt", ALL, ids=[f.name for f in ALL])
def test_each_formats_own_lines_are_valid_and_detected_as_it(fmt):
    examples = [DPO] if fmt.kind == "dpo" else [SFT, SFT_ONE_TURN]
    for ex in examples:
        line = fmt.line(ex)
        assert line is not None
        assert fmt.errors(line) == []
        fmt.validate(line)
        assert detect_format(line) == fmt.name  # detect_rank: the more specific formats are asked first


def test_the_choices_are_the_registrys_layouts():
    assert LAYOUTS[:3] == ("together", "openai", "trl")
    for options in (DpoOptions, SftOptions):
        assert typing.get_args(options.model_fields["format"].annotation) == LAYOUTS
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    export_sub = next(a for a in sub.choices["export"]._actions if isinstance(a, argparse._SubParsersAction))
    for kind in ("dpo", "sft"):
        fmt = next(a for a in export_sub.choices[kind]._actions if a.dest == "format")
        assert tuple(fmt.choices) == LAYOUTS
    fmt = next(a for a in sub.choices["prefs"]._actions if a.dest == "format")
    assert tuple(fmt.choices) == LAYOUTS


def test_a_format_is_one_module_and_two_of_one_rank_are_refused(tmp_path, monkeypatch):
    pkg = tmp_path / "scratch_formats"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    module = (
        "from exports.formats.together_sft import FORMAT as T\n"
        "import dataclasses\n"
        "FORMAT = dataclasses.replace(T, name={name!r}, layout='plain', rank={rank})\n"
    )
    (pkg / "plain.py").write_text(module.format(name="plain-sft", rank=5))
    (pkg / "helpers.py").write_text("X = 1\n")  # a module without FORMAT is no format
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [f.name for f in discover_formats("scratch_formats")] == ["plain-sft"]
    (pkg / "plain2.py").write_text(module.format(name="plain2-sft", rank=5))
    with pytest.raises(RuntimeError, match="declared twice"):
        discover_formats("scratch_formats")
