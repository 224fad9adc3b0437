"""The ingest hot path: trace bytes -> rows for the store. No SQL here.

Why not `agent.trace.read_events_from`: full pydantic validation of every line costs
several times a plain ``json.loads``, and the bulk of a trace (message events: tool
outputs, file contents) is not stored in the index at all. So each line is parsed once
with ``json.loads`` and dispatched on ``kind``; the frequent small events we store
(llm_call, tool_call, tool_result) get a hand-written type check mirroring their
pydantic models, and the rare ones (rollout_start, rollout_end, final) are validated
with the real models. Lines are framed exactly as `agent.trace.iter_lines` frames them:
a partial last line is left for the next read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from agent.trace import FinalEvent, RolloutEnd, RolloutStart, content_key, message_digest, rollout_state
from agent.trace_io import DECODER, clean, loads, may_hold_big_int, may_hold_surrogate
from labeling.patches import patch_digest, patch_stats
from labeling.search_docs import message_text

HEAD_BYTES = 256  # how much of a file's start identifies it (a replaced file differs here)


def line_warning(path: object, line_no: int, reason: str) -> str:
    """The one wording of a skipped line, shared by ingest and the exporters."""
    return f"{path}:{line_no}: {reason}"


def head_digest(data: bytes) -> str:
    return hashlib.sha1(data[:HEAD_BYTES]).hexdigest()[:16]


class _Invalid(Exception):
    pass


# What a line that is not a valid event raises while it is parsed and dispatched.
BAD_LINE = (_Invalid, ValueError, KeyError, TypeError, AttributeError, RecursionError)


def why_invalid(exc: BaseException) -> str:
    """The reason an invalid line is listed with, from what parsing it raised."""
    if isinstance(exc, _Invalid):
        return str(exc)
    if isinstance(exc, ValueError):  # json's errors, bad UTF-8 included
        return "not JSON"
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return "not an event object"


@dataclass
class RolloutAccum:
    """The running state of one rollout's row while its trace is read (maybe in pieces)."""

    uid: str
    batch_id: str
    rollout_id: str
    values: dict[str, Any] = field(default_factory=dict)  # rollouts table columns
    # step -> [offset, tokens_in, tokens_out, latency_s]; only steps first seen in this chunk
    new_steps: dict[int, list] = field(default_factory=dict)
    step_updates: list[tuple] = field(default_factory=list)  # llm_call for a step stored earlier
    known_steps: set[int] = field(default_factory=set)  # steps stored by an earlier read
    calls: list[list] = field(default_factory=list)  # tool_call rows (see CALL_COLUMNS)
    call_index: dict[tuple[int, str], list] = field(default_factory=dict)
    late_results: list[tuple] = field(default_factory=list)  # results for calls stored earlier
    # the search index's documents (labeling/search_docs.py): (step, place, offset, text);
    # None: not collected (a SQLite store's index is filled apart: labeling/search_fill.py)
    docs: list[tuple] | None = field(default_factory=list)
    events: int = 0
    invalid: list[tuple[int, int, str]] = field(default_factory=list)  # (line_no, offset, reason)
    finished_now: bool = False
    # Who the trace says it is (rollout_start): a copied file names another rollout.
    claimed_rollout_id: str | None = None
    claimed_batch_id: str | None = None


# Columns of a tool_calls row, in order (sqlite_db uses the same order).
CALL_COLUMNS = (
    "step",
    "seq",
    "call_id",
    "name",
    "arguments",
    "args",
    "parse_error",
    "valid",
    "violations",
    "offset",
    "ok",
    "duration_s",
    "output_chars",
    "truncated",
    "error",
)

ARGS_SAME = "="  # tool_calls.args: the parsed args equal json.loads(arguments)

# Rollout columns filled from events, with their starting values.
ROLLOUT_DEFAULTS: dict[str, Any] = {
    "task_id": "",
    "suite": "",
    "model": "",
    "provider": "",
    "seed": None,
    "temperature": None,
    "status": "running",
    "stop_reason": None,
    "tests_passed": 0,
    "tests_tampered": 0,
    "steps": 0,
    "tool_calls": 0,
    "invalid_tool_calls": 0,
    "files_touched": 0,
    "files": "[]",
    "tokens_in": 0,
    "tokens_out": 0,
    "cost_usd": None,
    "duration_s": None,
    "patch": "",
    "summary": "",
    "errors": 0,
    "branch_parent_uid": None,
    "branch_at_step": None,
    "prefix_messages": None,
    "patch_digest": "",
    "patch_files": "[]",
    "patch_lines": 0,
    "test_runs": 0,
    "last_test_passed": None,
    # loop / stall events (agent/loop_detect.py); older stores gain these columns on open
    "loops": 0,
    "loop_steps": "[]",
    "stalls": 0,
    # 1: the rollout's verdict is SUSPECT (agent/suspect.py; a probe's pass too)
    "suspect": 0,
    # 1: a cheat probe's rollout (agent/probes.py): counted for the cheat rate only
    "probe": 0,
    # The rollout state (agent.trace_events.RolloutState) as its trace says: "running" until
    # rollout_end (a dead batch's running rollout reads as interrupted: LabelStore.rollouts).
    "state_status": "running",
    "state_verdict": None,
    "state_reason": None,
    "state_detail": "",
    # Content identity (docs/ARCHITECTURE.md, Rollout state): a running digest of the
    # conversation, and at the end one key over (task, conversation, patch). Two rollouts
    # with one key are copies; ``copy_of`` names the first indexed (set after each ingest).
    "conv_digest": "",
    "content_key": "",
    "copy_of": None,
}


def mark_corrupt(acc: RolloutAccum, batch_done: bool) -> None:
    """A trace that never said which task it is cannot be a rollout: bad lines and no
    ``rollout_start``, or (once its batch ended) no ``rollout_start`` at all."""
    v = acc.values
    if v["task_id"] == "" and v["state_status"] in ("running", "not_judged") and (acc.invalid or batch_done):
        v.update(state_status="not_judged", state_verdict=None, state_reason="corrupt")
        v["state_detail"] = "no rollout_start" + (f"; {len(acc.invalid)} unreadable line(s)" if acc.invalid else "")


def _step_of(acc: RolloutAccum, step: Any, off: int) -> None:
    if type(step) is not int:
        raise _Invalid("step is not an integer")
    if step not in acc.new_steps and step not in acc.known_steps:
        acc.new_steps[step] = [off, 0, 0, None]


def _on_message(acc: RolloutAccum, d: dict, off: int) -> None:
    msg = d.get("message")
    if type(msg) is not dict:
        raise _Invalid("message is not an object")
    step = d.get("step")
    if step is not None:
        _step_of(acc, step, off)
    # Searched (labeling/search_docs.py): the task's and the model's words, a tool's output;
    # not the system prompt (every rollout of a suite has the same one).
    role = msg.get("role")
    if acc.docs is not None and (role == "tool" or role == "assistant" or role == "user"):
        content, reasoning = msg.get("content"), d.get("reasoning")
        # (the usual message, one string and no reasoning, skips message_text's call)
        text = content if type(content) is str and not reasoning else message_text(msg, reasoning)
        if text:
            acc.docs.append((step, "output" if role == "tool" else "message", off, text))


def _on_llm_call(acc: RolloutAccum, d: dict, off: int) -> None:
    step = d["step"]
    _step_of(acc, step, off)
    usage = d.get("usage") or {}
    tin = usage.get("prompt_tokens", 0) or 0
    tout = usage.get("completion_tokens", 0) or 0
    if type(tin) is not int or type(tout) is not int:
        raise _Invalid("usage tokens are not integers")
    lat = d["latency_s"]
    v = acc.values
    if v["status"] == "running":
        v["tokens_in"] += tin
        v["tokens_out"] += tout
        if step > v["steps"]:
            v["steps"] = step
    row = acc.new_steps.get(step)
    if row is not None:
        row[1] += tin
        row[2] += tout
        row[3] = lat
    else:
        acc.step_updates.append((tin, tout, lat, step))


# json.loads's own decoder, called without its per-call wrapper (two regex matches and a
# type check: a third of comparing a tool call's arguments); odd text takes json.loads.
_SCAN_ARGUMENTS = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _parses_to(arguments: str, args: Any) -> bool:
    """Whether ``json.loads(arguments) == args`` (False when ``arguments`` is not JSON)."""
    try:
        value, end = _SCAN_ARGUMENTS(arguments, 0)
        if end == len(arguments):
            return bool(value == args)
    except (StopIteration, ValueError):
        pass  # leading blanks, a BOM, or not JSON: json.loads says which
    try:
        return bool(json.loads(arguments) == args)
    except ValueError:
        return False


def _on_tool_call(acc: RolloutAccum, d: dict, off: int) -> None:
    step, call_id, name, arguments, valid = d["step"], d["call_id"], d["name"], d["arguments"], d["valid"]
    if type(call_id) is not str or type(name) is not str or type(arguments) is not str or type(valid) is not bool:
        raise _Invalid("tool_call fields have wrong types")
    _step_of(acc, step, off)
    args = d.get("args")
    if args is not None:
        # Usually args is just the parsed raw string: store "=" rather than the text twice
        # (write_file contents make this the bulk of the index).
        args_col = ARGS_SAME if _parses_to(arguments, args) else json.dumps(args)
    else:
        args_col = None
    violations = d.get("violations") or []
    row = [
        step,
        d["seq"],
        call_id,
        name,
        arguments,
        args_col,
        d.get("parse_error"),
        valid,
        json.dumps(violations) if violations else None,
        off,
        None,
        None,
        None,
        0,
        None,
    ]
    acc.calls.append(row)
    acc.call_index[(step, call_id)] = row
    if acc.docs is not None:
        acc.docs.append((step, "args", off, f"{name} {arguments}"))  # the tool's name is searched with them
    v = acc.values
    if v["status"] == "running":
        v["tool_calls"] += 1
        if not valid:
            v["invalid_tool_calls"] += 1


def _on_tool_result(acc: RolloutAccum, d: dict, off: int) -> None:
    step, call_id, ok = d["step"], d["call_id"], d["ok"]
    dur, chars = d["duration_s"], d["output_chars"]
    if type(ok) is not bool or type(chars) is not int:
        raise _Invalid("tool_result fields have wrong types")
    truncated = 1 if d.get("truncated") else 0
    err = d.get("error")
    row = acc.call_index.get((step, call_id))
    if row is not None:
        row[10], row[11], row[12], row[13], row[14] = ok, dur, chars, truncated, err
    else:
        acc.late_results.append((ok, dur, chars, truncated, err, step, call_id))


def _on_rollout_start(acc: RolloutAccum, d: dict, off: int) -> None:
    try:
        ev = RolloutStart.model_validate(d)
    except ValidationError as exc:
        raise _Invalid(f"invalid rollout_start: {exc.errors()[0].get('msg', '')}") from None
    acc.claimed_rollout_id, acc.claimed_batch_id = ev.rollout_id, ev.batch_id
    v = acc.values
    v.update(
        task_id=ev.task_id,
        suite=ev.suite,
        model=ev.model,
        provider=ev.provider,
        seed=ev.seed,
        temperature=ev.temperature,
    )
    if ev.branch is not None:
        b = ev.branch
        v["branch_parent_uid"] = f"{b.parent_batch_id or acc.batch_id}/{b.parent_rollout_id}"
        v["branch_at_step"] = b.at_step
        v["prefix_messages"] = b.prefix_messages


def _on_final(acc: RolloutAccum, d: dict, off: int) -> None:
    try:
        ev = FinalEvent.model_validate(d)
    except ValidationError:
        raise _Invalid("invalid final event") from None
    acc.values["summary"] = ev.summary or ""


def _on_test_run(acc: RolloutAccum, d: dict, off: int) -> None:
    passed = d["passed"]
    if type(passed) is not bool:
        raise _Invalid("test_run.passed is not a boolean")
    acc.values["test_runs"] += 1
    acc.values["last_test_passed"] = int(passed)


def _on_error(acc: RolloutAccum, d: dict, off: int) -> None:
    if type(d["message"]) is not str:
        raise _Invalid("error.message is not a string")
    acc.values["errors"] += 1


def _on_rollout_end(acc: RolloutAccum, d: dict, off: int) -> None:
    try:
        ev = RolloutEnd.model_validate(d)
    except ValidationError as exc:
        raise _Invalid(f"invalid rollout_end: {exc.errors()[0].get('msg', '')}") from None
    o = ev.outcome
    state = rollout_state(ev)
    files, lines = patch_stats(o.patch)
    acc.values.update(
        status="finished",
        stop_reason=ev.stop_reason,
        duration_s=ev.duration_s,
        # NULL: no verdict (an imported rollout its source never evaluated); see Outcome.verdict_known
        tests_passed=int(o.tests_passed) if o.verdict_known else None,
        tests_tampered=int(o.tests_tampered),
        steps=o.steps,
        tool_calls=o.tool_calls,
        invalid_tool_calls=o.invalid_tool_calls,
        files_touched=o.files_touched,
        files=json.dumps(o.files),
        tokens_in=o.tokens_in,
        tokens_out=o.tokens_out,
        cost_usd=o.cost_usd,
        patch=o.patch,
        patch_digest=patch_digest(o.patch),
        patch_files=json.dumps(files),
        patch_lines=lines,
        suspect=int(state.verdict == "suspect"),
        probe=int(state.status == "probe"),
    )
    state = rollout_state(ev)
    v = acc.values
    v.update(
        state_status=state.status,
        state_verdict=state.verdict,
        state_reason=state.reason,
        state_detail=state.detail,
        content_key=content_key(
            v["task_id"],
            v["conv_digest"],
            o.patch,
            f"{v['branch_parent_uid'] or ''}#{v['branch_at_step'] or ''}",
            state,
            v["model"],
            v["seed"],
        ),
    )
    if o.patch and acc.docs is not None:
        acc.docs.append((None, "patch", off, o.patch))
    acc.finished_now = True


def _on_loop(acc: RolloutAccum, d: dict, off: int) -> None:
    step = d["step"]
    first = d.get("first_step")
    first = step if first is None else first
    if type(step) is not int or type(first) is not int or not 1 <= first <= step:
        raise _Invalid("loop.step/first_step are not steps")
    v = acc.values
    v["loops"] += 1
    steps = set(json.loads(v["loop_steps"] or "[]")) | set(range(first, step + 1))
    v["loop_steps"] = json.dumps(sorted(steps))


def _on_stall(acc: RolloutAccum, d: dict, off: int) -> None:
    if type(d["idle_s"]) not in (int, float):
        raise _Invalid("stall.idle_s is not a number")
    acc.values["stalls"] += 1


HANDLERS = {
    "message": _on_message,
    "llm_call": _on_llm_call,
    "tool_call": _on_tool_call,
    "tool_result": _on_tool_result,
    "rollout_start": _on_rollout_start,
    "final": _on_final,
    "test_run": _on_test_run,
    "error": _on_error,
    "rollout_end": _on_rollout_end,
    "loop": _on_loop,
    "stall": _on_stall,
}


@dataclass
class ChunkRead:
    end_offset: int  # just past the last complete line
    line_no: int  # lines consumed so far (the next line's number is line_no + 1)
    torn_tail: bool  # bytes after end_offset form a partial line


def parse_chunk(acc: RolloutAccum, data: bytes, base_offset: int, line_no: int) -> ChunkRead:
    """Parse the complete lines of ``data`` (which starts at ``base_offset``) into ``acc``.

    The complete lines are decoded to text once (cheaper than ``json.loads`` decoding each
    bytes line); byte offsets stay exact: for pure-ASCII data a character is a byte, and
    otherwise each line's UTF-8 length is measured.
    """
    last_nl = data.rfind(b"\n")
    end = last_nl + 1
    torn = end < len(data)
    body = data[:end]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _parse_bytes(acc, body, base_offset, line_no, torn)
    ascii_only = len(text) == len(body)
    handlers = HANDLERS
    on_message, values = _on_message, acc.values
    # orjson (4x json's scanner) parses each line. It refuses NaN, Infinity, a float past
    # 1.8e308, a lone surrogate ("\ud800": SQLite would raise on it) and deep nesting; a line
    # it refuses goes to json's scanner with trace_io's number checks, lone surrogates escaped
    # as text: read, or made invalid, exactly as before (both keep a duplicate key's last value).
    # What orjson takes and those checks refuse is an integer of 2**63 or more (past 2**64 it
    # yields a float): a chunk with a 19-digit run takes json's checked path for every line.
    big = may_hold_big_int(body)
    scan = DECODER.scan_once  # type: ignore[attr-defined]
    orjson_loads = orjson.loads
    pos = base_offset
    lines = text.split("\n")
    lines.pop()  # the empty string after the last newline
    for line in lines:
        off = pos
        pos += (len(line) if ascii_only else len(line.encode("utf-8"))) + 1
        line_no += 1
        if not line or line.isspace():
            continue
        if line[0] in " \t\r":
            line = line.strip()
        try:
            d = None
            if not big:
                try:
                    d = orjson_loads(line)
                except orjson.JSONDecodeError:
                    pass  # a lone surrogate, a trailing "\f", deep nesting: json's path says
            if d is None:  # (a line of `null` takes that path too, to the same TypeError)
                try:
                    d, stop = scan(line, 0)
                except StopIteration:
                    raise ValueError from None
                if stop != len(line) and not line[stop:].isspace():
                    raise ValueError
                if may_hold_surrogate(line):
                    d = clean(d)
            handler = handlers.get(d["kind"])  # (inlined _dispatch: this loop is the hot path)
            if handler is None:
                raise _Invalid(f"unknown event kind {d['kind']!r}")
            handler(acc, d, off)
            if handler is on_message:  # the conversation's digest, from the line as written
                values["conv_digest"] = message_digest(values["conv_digest"], line)
        except BAD_LINE as exc:  # only a bad line pays for the reason
            acc.invalid.append((line_no, off, why_invalid(exc)))
            continue
        acc.events += 1
    return ChunkRead(base_offset + end, line_no, torn)


def _dispatch(acc: RolloutAccum, handlers: dict, d: Any, off: int) -> None:
    handler = handlers.get(d["kind"])
    if handler is None:
        raise _Invalid(f"unknown event kind {d['kind']!r}")
    handler(acc, d, off)


def _parse_bytes(acc: RolloutAccum, body: bytes, base_offset: int, line_no: int, torn: bool) -> ChunkRead:
    """Slow path for data that is not valid UTF-8 as a whole: line by line, bad bytes escaped."""
    pos = 0
    for raw in body.split(b"\n")[:-1]:
        off = base_offset + pos
        pos += len(raw) + 1
        line_no += 1
        if not raw or raw.isspace():
            continue
        try:
            d = loads(raw)  # bad bytes escaped as "\xNN" text
            _dispatch(acc, HANDLERS, d, off)
            if d["kind"] == "message":
                acc.values["conv_digest"] = message_digest(acc.values["conv_digest"], raw.decode("utf-8", "replace"))
        except BAD_LINE as exc:  # only a bad line pays for the reason
            acc.invalid.append((line_no, off, why_invalid(exc)))
            continue
        acc.events += 1
    return ChunkRead(base_offset + pos, line_no, torn)
