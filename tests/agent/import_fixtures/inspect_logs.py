"""Inspect AI logs: `.json` and `.eval` ZIPs, zstd entries included (made-up values)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import zstandard

from tests.agent.import_fixtures.common import GOAL, SYSTEM

INSPECT_TOOLS = [
    {
        "name": "bash",
        "description": "Run bash.",
        "parameters": {
            "type": "object",
            "properties": {"cmd": {"type": "string"}},
            "required": ["cmd"],
            "additionalProperties": False,
        },
    },
]


def inspect_sample(sid: Any, epoch: int, value: Any, *, pooled: bool = False) -> dict:
    msgs = [
        {"id": "m1", "content": SYSTEM, "role": "system"},
        {"id": "m2", "content": GOAL, "source": "input", "role": "user"},
        {
            "id": "m3",
            "content": [{"type": "text", "text": "Check."}],
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "b1",
                    "function": "bash",
                    "arguments": {"cmd": "cat calc.py"},
                    "type": "function",
                    "view": {"format": "markdown", "content": "cat calc.py"},
                }
            ],
        },
        {"id": "m4", "content": "def add(a, b): ...", "role": "tool", "tool_call_id": "b1", "function": "bash"},
    ]
    answer = {"id": "m5", "content": "ANSWER: 4", "role": "assistant", "source": "generate"}
    model_event = {
        "event": "model",
        "model": "openai/gpt-4o-mini",
        "tools": INSPECT_TOOLS,
        "tool_choice": "auto",
        "input": [] if pooled else msgs,
        "output": {"choices": [{"message": answer, "stop_reason": "stop"}]},
    }
    if pooled:
        model_event["input_refs"] = [[0, 4]]
    sample = {
        "id": sid,
        "epoch": epoch,
        "input": GOAL,
        "target": "4",
        "messages": [] if pooled else [*msgs, answer],
        "output": {
            "model": "gpt-4o-mini",
            "choices": [{"message": answer, "stop_reason": "stop"}],
            "completion": "ANSWER: 4",
        },
        "scores": {"match": {"value": value, "answer": "4"}},
        "events": [{"event": "sample_init"}, model_event],
        "model_usage": {"openai/gpt-4o-mini": {"input_tokens": 210, "output_tokens": 12, "total_tokens": 222}},
        "total_time": 3.5,
    }
    if pooled:
        sample["message_pool"] = msgs
    return sample


def inspect_header(task: str = "calc_fix", version: int = 2) -> dict:
    return {
        "version": version,
        "status": "success",
        "eval": {
            "task": task,
            "model": "openai/gpt-4o-mini",
            "created": "2025-05-12T20:27:36-04:00",
            "dataset": {"samples": 2},
        },
        "plan": {},
        "results": {"total_samples": 2},
        "stats": {},
    }


def inspect_json(samples: list[dict]) -> dict:
    return {**inspect_header(), "samples": samples, "reductions": []}


def write_zip(path: Path, entries: dict[str, tuple[bytes, int]]) -> Path:
    """A ZIP written by hand so entries can use method 93 (zstd), which zipfile before 3.14
    cannot write: 0 stored, 8 deflate, 93 zstd (several frames, as Inspect writes them)."""
    out, central = bytearray(), bytearray()
    for name, (data, method) in entries.items():
        if method == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            body = c.compress(data) + c.flush()
        elif method == 93:
            half = len(data) // 2
            z = zstandard.ZstdCompressor()
            body = z.compress(data[:half]) + z.compress(data[half:])
        else:
            body = data
        crc, fname, offset = zlib.crc32(data), name.encode(), len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 63, 0, method, 0, 0, crc, len(body), len(data), len(fname), 0)
        out += fname + body
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            63,
            63,
            0,
            method,
            0,
            0,
            crc,
            len(body),
            len(data),
            len(fname),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += fname
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out + central + end))
    return path


def inspect_eval(path: Path, samples: list[dict], *, method: int = 8, version: int = 2, header: bool = True) -> Path:
    entries: dict[str, tuple[bytes, int]] = {}
    for s in samples:
        entries[f"samples/{s['id']}_epoch_{s['epoch']}.json"] = (json.dumps(s).encode(), method)
    if header:
        entries["header.json"] = (json.dumps(inspect_header(version=version)).encode(), method)
    return write_zip(path, entries)
