"""Hostile files a user may be handed (issue 24), built on demand: the tests in tests/security
and `bench/hostile.py` (peak memory of import and ingest on each) share them.

Every builder writes into a folder it is given and returns the path to hand to repo-agent.
Escape-code payloads carry unique markers (``MARK_*``) so a test can look for their effect
(a pane title, a clipboard buffer, raw bytes) rather than at a rendered screen.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from tests.factories import Call, Rollout, Step, write_batch

# ---------------------------------------------------------------- terminal escape payloads

CLIP_TEXT = "echo MARK_CLIP pwned"
SEQUENCES = {
    "title_bel": "\x1b]0;MARK_TITLE\x07",
    "title_st": "\x1b]2;MARK_TITLE_ST\x1b\\",
    "clipboard": "\x1b]52;c;" + base64.b64encode(CLIP_TEXT.encode()).decode() + "\x07",
    "hyperlink": "\x1b]8;;http://MARK_LINK.example/\x1b\\link\x1b]8;;\x1b\\",
    "clear": "MARK_CLEAR\x1b[2J\x1b[H",
    "leave_alt": "MARK_ALT\x1b[?1049l",
    "c1_csi": "MARK_C1\x9b2J",
    "c1_title": "\x9d0;MARK_C1_TITLE\x9c",
    "markup": "[/] [bold red]MARK_MARKUP[/] [link=http://MARK_RICH_LINK]x[/link]",
}
PAYLOAD = " ".join(SEQUENCES.values())
# Raw byte strings that must never reach a terminal (each carries its marker).
FORBIDDEN_BYTES = [
    b"\x1b]0;MARK_TITLE",
    b"\x1b]2;MARK_TITLE_ST",
    b"\x1b]52;",
    b"\x1b]8;;http://MARK_LINK",
    b"MARK_CLEAR\x1b[2J",
    b"MARK_ALT\x1b[?1049l",
    b"MARK_C1\xc2\x9b",
    b"\xc2\x9d0;MARK_C1_TITLE",
]
# An OSC 8 hyperlink (made from a value's "[link=...]" markup, or sent raw) to a marked address.
FORBIDDEN_LINK = rb"\x1b\]8;[^\x07\x1b]*MARK"
TASK_ID = "task\x1b]0;MARK_TASK_TITLE\x07"


def escape_batch(root: Path) -> Path:
    """A finished batch whose task id (so its trace's file name) and tool outputs hold every sequence."""
    rollouts = [
        Rollout(
            task_id=TASK_ID,
            seed=seed,
            steps=[Step([Call("read_file", {"rel_path": "a.py"}, output=PAYLOAD)], content=PAYLOAD)],
            passed=seed == 0,
            summary=PAYLOAD,
            goal=PAYLOAD,
        )
        for seed in (0, 1)
    ]
    return write_batch(root, "escapes", rollouts, model="m\x1b]0;MARK_MODEL\x07")


# ---------------------------------------------------------------- suites


def suite_escaping_protected(root: Path, victim_dir: Path, victim_file: Path) -> Path:
    """A suite whose ``protected`` names a folder elsewhere through ``..`` and a file by absolute path."""
    src = root / "suite" / "t1"
    (src / "tests").mkdir(parents=True)
    (src / "prog.py").write_text("def f():\n    return 1\n")
    (src / "tests" / "test_prog.py").write_text("from prog import f\n\ndef test_f():\n    assert f() == 2\n")
    climb = os.path.relpath(victim_dir, src)
    suite = {
        "name": "hostile",
        "tasks": [
            {
                "id": "t1",
                "source": "t1",
                "goal": "fix f",
                "test_command": ["python", "-m", "pytest", "-q", "tests"],
                "protected": ["tests", climb, str(victim_file)],
            }
        ],
    }
    path = root / "suite" / "suite.json"
    path.write_text(json.dumps(suite))
    return path


# ---------------------------------------------------------------- other agents' files


def fifo_eval(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.eval"
    os.mkfifo(path)
    return path


def zero_eval(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zero.eval"
    path.symlink_to("/dev/zero")
    return path


def zip_bomb_eval(folder: Path, *, entries: int = 12, entry_mb: int = 500, messages: bool = False) -> Path:
    """An Inspect log (a ZIP) of ``entries`` samples of ``entry_mb`` MB each that compress to ~1 MB:
    one deflate stream is made once and stored under every sample's name. ``messages``: the bulk
    is a user message's content (kept by the import), not an unused field."""
    folder.mkdir(parents=True, exist_ok=True)
    size = entry_mb << 20
    head, tail = b'{"id": 1, "pad": "', b'"}'
    if messages:
        head = b'{"id": 1, "epoch": 1, "scores": {"s": {"value": "C"}}, "messages": [{"role": "user", "content": "'
        tail = b'"}, {"role": "assistant", "content": "done"}]}'
    comp = zlib.compressobj(1, zlib.DEFLATED, -15)
    crc = zlib.crc32(head)
    parts = [comp.compress(head)]
    block = b"a" * (1 << 20)
    body = size - len(head) - len(tail)
    done = 0
    while done < body:
        n = min(len(block), body - done)
        parts.append(comp.compress(block[:n]))
        crc = zlib.crc32(block[:n], crc)
        done += n
    parts += [comp.compress(tail), comp.flush()]
    crc = zlib.crc32(tail, crc)
    data = b"".join(parts)
    header = json.dumps({"eval": {"task": "bomb", "model": "m"}, "status": "success"}).encode()
    files = [("header.json", zlib.crc32(header), header, len(header), 0)]
    files += [(f"samples/{i}_epoch_1.json", crc, data, size, 8) for i in range(1, entries + 1)]
    path = folder / "bomb.eval"
    _write_zip(path, files)
    return path


def _write_zip(path: Path, files: list[tuple[str, int, bytes, int, int]]) -> None:
    """A ZIP from entries already compressed: (name, crc, stored bytes, size, method)."""
    central, offset = [], 0
    with open(path, "wb") as f:
        for name, crc, data, size, method in files:
            n = name.encode()
            local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size, len(n), 0)
            f.write(local + n + data)
            central.append(
                struct.pack(
                    "<4sHHHHHHIIIHHHHHII",
                    b"PK\x01\x02",
                    20,
                    20,
                    0,
                    method,
                    0,
                    0,
                    crc,
                    len(data),
                    size,
                    len(n),
                    0,
                    0,
                    0,
                    0,
                    0,
                    offset,
                )
                + n
            )
            offset += len(local) + len(n) + len(data)
        cd = b"".join(central)
        f.write(cd)
        f.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(files), len(files), len(cd), offset, 0))


def deep_json(folder: Path, depth: int = 200_000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "deep.json"
    path.write_text("[" * depth + "]" * depth)
    return path


def dense_json(folder: Path, mb: int = 63, item: bytes = b"[],") -> Path:
    """A JSON file just under the size cap made of tiny values (``[[],[],...]``): millions of objects."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dense.json"
    n = (mb << 20) // len(item)
    chunk = (1 << 20) // len(item)
    with open(path, "wb") as f:  # in pieces: the bench measures its children, not this process
        f.write(b"[")
        for start in range(0, n, chunk):
            f.write(item * min(chunk, n - start))
        f.write(b"0]")
    return path


def nan_input_refs(folder: Path) -> Path:
    """An Inspect JSON log whose sample rebuilds its conversation from ``input_refs`` of NaN and Infinity."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = {
        "id": 1,
        "epoch": 1,
        "message_pool": [{"role": "user", "content": "hi"}],
        "events": [{"event": "model", "input": [], "input_refs": [[float("nan"), float("inf")]], "output": {}}],
        "scores": {"s": {"value": "C"}},
    }
    path = folder / "nan.json"
    path.write_text(json.dumps({"eval": {"task": "nan", "model": "m"}, "samples": [sample]}))
    return path


def markup_path(folder: Path) -> Path:
    """A broken trajectory whose path holds Rich markup (``[/]``) and an escape code."""
    d = folder / "a[/]b"
    d.mkdir(parents=True, exist_ok=True)
    path = d / "x\x1b]0;MARK_PATH_TITLE\x07.json"
    path.write_text("{not json")
    return path


def good_trajectory(folder: Path) -> Path:
    """One ordinary SWE-agent trajectory: what must still import beside the hostile ones."""
    from tests.agent.import_fixtures.common import write_json
    from tests.agent.import_fixtures.swe import swe_agent_fc

    folder.mkdir(parents=True, exist_ok=True)
    return write_json(folder / "ok_task.traj", swe_agent_fc("ok_task"))


def big_trajectory(folder: Path, mb: int = 63) -> Path:
    """An ordinary SWE-agent trajectory just under the file cap: one tool output of ``mb`` MB."""
    from tests.agent.import_fixtures.swe import swe_agent_fc

    folder.mkdir(parents=True, exist_ok=True)
    data = swe_agent_fc("big_task")
    path = folder / "big_task.traj"
    text = json.dumps(data)
    marker = '"content": '
    at = text.rindex(marker) + len(marker)
    with open(path, "w") as f:  # in pieces, as dense_json
        f.write(text[:at] + '"')
        for _ in range(mb):
            f.write("b" * (1 << 20))
        f.write('", "x": ' + text[at:] + "\n")
    return path


# ---------------------------------------------------------------- traces for ingest


def _trace_batch(root: Path, name: str, bad_line: Callable[[], bytes]) -> Path:
    """A finished batch of two rollouts; the first one's trace has ``bad_line`` spliced in."""
    bdir = write_batch(root, name, [Rollout(task_id="t", seed=0, passed=True), Rollout(task_id="t", seed=1)])
    trace = sorted((bdir / "traces").iterdir())[0]
    lines = trace.read_bytes().splitlines(keepends=True)
    with open(trace, "wb") as f:
        f.write(lines[0] + lines[1])
        f.write(bad_line())
        f.writelines(lines[2:])
    return bdir


def huge_int_batch(root: Path) -> Path:
    return _trace_batch(
        root, "bigint", lambda: b'{"kind":"message","seq":2,"step":' + b"9" * 4000 + b',"message":{}}\n'
    )


def nan_ts_batch(root: Path) -> Path:
    return _trace_batch(root, "nants", lambda: b'{"kind":"message","seq":2,"ts":NaN,"step":1,"message":{}}\n')


def deep_trace_batch(root: Path, depth: int = 200_000) -> Path:
    return _trace_batch(root, "deep", lambda: b"[" * depth + b"]" * depth + b"\n")


def long_line_batch(root: Path, line_bytes: int = 1 << 30) -> Path:
    """A trace with one line of ``line_bytes`` (written in pieces: never held in memory)."""
    bdir = write_batch(root, "longline", [Rollout(task_id="t", seed=0, passed=True), Rollout(task_id="t", seed=1)])
    trace = sorted((bdir / "traces").iterdir())[0]
    lines = trace.read_bytes().splitlines(keepends=True)
    with open(trace, "wb") as f:
        f.write(lines[0])
        f.write(b'{"kind":"message","seq":2,"message":{"content":"')
        block = b"a" * (1 << 20)
        left = line_bytes
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
        f.write(b'"}}\n')
        f.writelines(lines[1:])
    return bdir


# ---------------------------------------------------------------- stores, keymaps, training files


def foreign_trigger_store(path: Path) -> Path:
    """A label store (made by repo-agent) with a trigger added: a confirm is followed by a flip."""
    from labeling.store import LabelStore

    LabelStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TRIGGER flip_it AFTER INSERT ON label_events WHEN new.value = 'confirm' BEGIN "
        "INSERT INTO label_events (kind, target, value, labeler, at) "
        "VALUES (new.kind, new.target, 'flip', new.labeler, new.at); END"
    )
    conn.commit()
    conn.close()
    return path


def altered_trigger_store(path: Path) -> Path:
    """A store whose own append-only trigger (same name) was replaced by one that does nothing."""
    from labeling.store import LabelStore

    LabelStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER label_events_no_update")
    conn.execute("CREATE TRIGGER label_events_no_update BEFORE UPDATE ON label_events BEGIN SELECT 1; END")
    conn.commit()
    conn.close()
    return path


def escape_keymap(path: Path) -> Path:
    path.write_text('[pairs]\nconfirm = "\\u001b]0;MARK_KEY\\u0007"\n')
    return path


def deep_keymap(path: Path, depth: int = 100_000) -> Path:
    path.write_text("a = " + "[" * depth + "]" * depth + "\n")
    return path


def duplicate_key_file(path: Path) -> Path:
    """An SFT line with ``messages`` twice: a reader keeps the second, silently."""
    good = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    line = '{"messages": ' + json.dumps(good) + ', "messages": ' + json.dumps(good) + "}"
    path.write_text(line + "\n")
    return path
