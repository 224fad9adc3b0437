"""Inspect AI logs: ``.eval`` (a ZIP: ``header.json``, ``samples/<id>_epoch_<n>.json``) and ``.json``
(one object with ``samples[]``).

A sample is one rollout: its ``messages`` carry native tool calls (``function`` the name,
``arguments`` a dict), its model events the tools the model was given, its ``scores`` the
verdict, ``model_usage`` the tokens. Format-3 samples may keep model inputs in a
``message_pool`` that events' ``input_refs`` ([start, end) ranges) point into; the
conversation is rebuilt from them when a sample has no ``messages``. ZIP entries may be
zstd-compressed (method 93), which Python's zipfile reads only from 3.14 on.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.importers.base import (
    BrokenFile,
    ImportedFile,
    ImportedRollout,
    NothingToImport,
    Verdicts,
    as_float,
    as_int,
    clean_tools,
    dict_at,
    list_at,
    message,
    reasoning_in,
    repair_tool_answers,
    text_of,
)
from agent.trace_io import loads_bounded, open_regular

name = "inspect"
ZIP_ZSTD = 93
# Caps on what a log is decompressed to (docs/hostile-files.md): one sample entry, and all of a
# log's entries together; samples are read and converted one at a time, so a ZIP bomb of
# 12 x 500 MB entries costs no more memory than one entry under the cap.
MAX_BYTES = 48 * 1024 * 1024
MAX_TOTAL_BYTES = 160 * 1024 * 1024  # the rollouts read are kept until the log's batch is written


def sniff(path: Path, data: Any) -> bool:
    if path.suffix == ".eval":
        try:
            with open_regular(path, follow=True) as f:
                return zipfile.is_zipfile(f)
        except OSError:
            return False
    return isinstance(data, dict) and isinstance(data.get("eval"), dict) and "samples" in data


def read(path: Path, data: Any, verdicts: Verdicts) -> ImportedFile:
    notes: list[str] = []
    if path.suffix == ".eval":
        try:
            f = open_regular(path, follow=True)  # a FIFO or a link to a device: never opened
        except OSError as exc:
            raise BrokenFile(f"not a readable ZIP ({exc})") from None
        try:
            zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError) as exc:
            f.close()
            raise BrokenFile(f"not a readable ZIP ({exc})") from None
        with f, zf:
            header, samples = _zip_samples(zf, notes)
            return _imported(path, header, samples, notes)
    return _imported(path, data, (s for s in data.get("samples") or [] if isinstance(s, dict)), notes)


def _imported(path: Path, header: dict[str, Any], samples: Iterator[dict[str, Any]], notes: list[str]) -> ImportedFile:
    ev = dict_at(header, "eval")
    model = str(ev.get("model") or "")
    # Sample ids are per task ("1", "2"...): the task name makes them one task across logs.
    task = str(ev.get("task") or path.stem)
    out = []
    for s in samples:
        try:
            out.append(_rollout(s, model, task))
        except BrokenFile as exc:
            notes.append(f"sample {s.get('id')}: {exc}")
    if not out:
        if notes:
            raise BrokenFile("; ".join(notes))
        raise NothingToImport("log has no samples")
    suite = str(ev.get("task") or path.stem).split("/")[-1]
    return ImportedFile(path, name, path, suite, out, notes)


def _zip_samples(zf: zipfile.ZipFile, notes: list[str]) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    names = zf.namelist()
    header_name = "header.json" if "header.json" in names else "_journal/start.json"
    if header_name not in names:
        raise BrokenFile("no header.json in the log")
    budget = [MAX_TOTAL_BYTES]
    header = _entry_json(zf, header_name, budget)
    if not isinstance(header, dict):
        raise BrokenFile(f"{header_name} is not an object")

    def samples() -> Iterator[dict[str, Any]]:
        for n in sorted(x for x in names if x.startswith("samples/") and x.endswith(".json")):
            if budget[0] <= 0:
                notes.append(f"{n} and later samples not read: more than {MAX_TOTAL_BYTES >> 20} MB in all")
                return
            if zf.getinfo(n).file_size > budget[0] and zf.getinfo(n).file_size <= MAX_BYTES:
                notes.append(f"{n} and later samples not read: more than {MAX_TOTAL_BYTES >> 20} MB in all")
                return
            try:
                sample = _entry_json(zf, n, budget)
            except BrokenFile as exc:
                notes.append(str(exc))  # names the entry
                continue
            if isinstance(sample, dict):
                yield sample

    return header, samples()


def _entry_json(zf: zipfile.ZipFile, entry: str, budget: list[int]) -> Any:
    info = zf.getinfo(entry)
    cap = min(MAX_BYTES, budget[0])
    if info.file_size > cap:
        budget[0] -= info.file_size  # (only the declared size: nothing was decompressed)
        raise BrokenFile(f"{entry} is larger than {cap >> 20} MB; not read")
    try:
        if info.compress_type == ZIP_ZSTD:
            raw = _zstd_entry(zf, info, cap)
        else:
            with zf.open(info) as f:
                raw = f.read(cap + 1)
        budget[0] -= len(raw)
        if len(raw) > cap:  # the declared size lied: a ZIP bomb
            raise BrokenFile(f"{entry} is larger than {cap >> 20} MB; not read")
        return loads_bounded(raw)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, zstd_error()) as exc:
        raise BrokenFile(f"{entry} unreadable ({type(exc).__name__})") from None


def zstd_error() -> type[Exception]:
    import zstandard

    return zstandard.ZstdError


def _zstd_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    import zstandard

    fp = zf.fp
    if fp is None:
        raise OSError("closed zip")
    fp.seek(info.header_offset)
    local = fp.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local header")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    fp.seek(info.header_offset + 30 + name_len + extra_len)
    data = fp.read(info.compress_size)
    # Inspect writes several zstd frames per entry (inspect_ai/_util/zipfile.py): read across them.
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    return reader.read(cap + 1)


def _verdict(scores: Any) -> bool | None:
    """The first scorer's value when it reads as correct (C, true, 1) or incorrect (I, N, false, 0);
    None otherwise (partial credit, a free-form value, no score)."""
    if not isinstance(scores, dict) or not scores:
        return None
    first = next(iter(scores.values()))
    value = first.get("value") if isinstance(first, dict) else None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return True if value == "C" else False if value in ("I", "N") else None
    if isinstance(value, (int, float)):
        return True if value == 1 else False if value == 0 else None
    return None


def _conversation(s: dict[str, Any]) -> list[Any]:
    msgs = s.get("messages")
    if isinstance(msgs, list) and msgs:
        return msgs
    pool = list_at(s, "message_pool")
    model_events = [e for e in s.get("events") or [] if isinstance(e, dict) and e.get("event") == "model"]
    if not model_events:
        return []
    last = model_events[-1]
    conv = list(last.get("input") or [])
    for rng in last.get("input_refs") or []:
        if isinstance(rng, list) and len(rng) == 2:
            start, stop = rng
            if type(start) is int and type(stop) is int:  # NaN, Infinity, text: not a range
                conv.extend(pool[start:stop])
    out = dict_at(last, "output")
    choices = out.get("choices") or []
    if choices and isinstance(choices[0], dict) and isinstance(choices[0].get("message"), dict):
        conv.append(choices[0]["message"])
    return conv


def _rollout(s: dict[str, Any], model: str, task: str) -> ImportedRollout:
    conv = _conversation(s)
    if not conv:
        raise BrokenFile("no messages")
    messages = []
    for m in conv:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
            raise BrokenFile("a message has no known role")
        messages.append(
            message(m["role"], m.get("content"), tool_calls=m.get("tool_calls"), tool_call_id=m.get("tool_call_id"))
        )
    if not any(m["role"] == "assistant" for m in messages):
        raise BrokenFile("no assistant message")
    for m in messages:
        if m["role"] == "assistant" and m["content"] is None and not m.get("tool_calls"):
            m["content"] = ""
    said = [m for m in conv if m.get("role") == "assistant"]
    step_reasoning = {i: r for i, m in enumerate(said, 1) if (r := reasoning_in(m))}
    tools: list[dict[str, Any]] = []
    failed: set[str] = set()
    for e in s.get("events") or []:
        if isinstance(e, dict) and e.get("event") == "model" and e.get("tools"):
            tools = clean_tools(e["tools"])  # the last model call's tools: what the model saw last
    for m in conv:
        if isinstance(m, dict) and m.get("role") == "tool" and m.get("error"):
            failed.add(str(m.get("tool_call_id")))
    tin = tout = 0
    cost = None
    for u in (s.get("model_usage") or {}).values():
        if isinstance(u, dict):
            tin += as_int(u.get("input_tokens"))
            tout += as_int(u.get("output_tokens"))
            if u.get("total_cost") is not None:
                cost = (cost or 0.0) + (as_float(u.get("total_cost")) or 0.0)
    sid = str(s.get("id"))
    epoch = as_int(s.get("epoch")) or 1
    output = dict_at(s, "output")
    return ImportedRollout(
        task_id=f"{task}/{sid}",
        rollout_key=f"{sid}__e{epoch}",
        messages=repair_tool_answers(messages),
        tools=tools,
        model=model,
        passed=_verdict(s.get("scores")),
        summary=text_of(output.get("completion")),
        exit_status="error" if s.get("error") else "finished",
        tokens_in=tin,
        tokens_out=tout,
        cost_usd=cost,
        duration_s=as_float(s.get("total_time")) or 0.0,
        failed_calls=failed,
        step_reasoning=step_reasoning,
    )
