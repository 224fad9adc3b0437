"""The agent's tools (docs/ARCHITECTURE.md, Add a tool): validation and execution inside one workspace.

The argument models and their schemas live in ``agent.tool_args`` (re-exported here).
``ToolBox.call(name, raw_arguments)`` never raises: a call whose arguments fail the
schema (bad JSON, not an object, unknown tool, missing / mistyped / extra argument, an
empty path) comes back ``valid=False`` with its violations and a tool-error text the
model can act on; a valid call that fails at run time (file not found, path escape)
comes back ``valid=True, ok=False``. Outputs are cut to ``output_limit`` with a marker.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.sandbox import SandboxError
from agent.scoring import TestResult
from agent.tool_args import (
    TOOL_ARGS,
    FinishArgs,
    GrepArgs,
    ListDirArgs,
    ReadFileArgs,
    RunTestsArgs,
    WriteFileArgs,
    json_type,
    signature,
    tool_schema,
    violations_of,
)
from agent.workspace import PathEscape, Workspace, is_cache

MAX_WRITE_CHARS = 1_000_000
MAX_READ_BYTES = 2_000_000
GREP_MAX_MATCHES = 200
LIST_HARD_CAP = 50_000
GREP_LINE_CHARS = 200
GREP_MAX_FILE_BYTES = 2_000_000
# Wall clock for one walking tool call (list_dir, grep); run_tests has the task's timeout.
TOOL_TIME_LIMIT_S = 15.0


class NotRegular(OSError):
    """A FIFO, device or socket: reading or writing it could block the rollout for ever."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device")):
        if test(mode):
            return name
    return "a device" if stat.S_ISBLK(mode) else "not a regular file"


def open_regular(path, flags: int) -> int:
    """``os.open`` that never blocks (O_NONBLOCK) and refuses anything but a regular file."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegular(f"{_kind(st.st_mode)}, not a regular file")
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped in between the two checks
            raise NotRegular(f"{_kind(mode)}, not a regular file")
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_regular(path, limit: int) -> bytes:
    fd = open_regular(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)


@dataclass
class ToolOutcome:
    name: str
    valid: bool
    violations: list[str]
    args: dict | None
    parse_error: str | None
    ok: bool  # the call ran and succeeded
    output: str  # what goes into the tool message (already cut, with a marker)
    output_chars: int  # before the cut
    truncated: bool
    error: str | None
    duration_s: float
    test_result: TestResult | None = None  # set by run_tests
    finish: dict | None = None  # set by a valid finish call: {"summary", "changes", "test_result"}


def cut(text: str, limit: int) -> tuple[str, int, bool]:
    """``text`` cut to ``limit`` chars (marker included); returns (text, total chars, cut?)."""
    total = len(text)
    if total <= limit:
        return text, total, False
    marker = f"\n[... output cut: {total} chars total]"
    keep = max(0, limit - len(marker))
    return text[:keep] + marker, total, True


class ToolBox:
    """The tools of one rollout, bound to its workspace."""

    def __init__(self, workspace: Workspace, *, output_limit: int = 8000):
        self.workspace = workspace
        self.output_limit = output_limit
        self.last_test: TestResult | None = None
        self._run: dict[str, Callable[[Any], tuple[bool, str]]] = {
            "list_dir": self._list_dir,
            "read_file": self._read_file,
            "write_file": self._write_file,
            "grep": self._grep,
            "run_tests": self._run_tests,
            "finish": self._finish,
        }
        self._schemas = [tool_schema(n) for n in TOOL_ARGS]
        self._pending_test: TestResult | None = None
        self._pending_finish: dict | None = None
        self._deadline = float("inf")

    def _over_time(self) -> bool:
        return time.monotonic() > self._deadline

    def schemas(self) -> list[dict]:
        """The OpenAI ``tools`` parameter."""
        return [json.loads(json.dumps(s)) for s in self._schemas]

    # ------------------------------------------------------------------ calling

    def _invalid(self, name, args, parse_error, violations, start) -> ToolOutcome:
        expected = signature(name) if name in TOOL_ARGS else ", ".join(signature(n) for n in TOOL_ARGS)
        text = (
            f"Error: invalid call to {name!r}: "
            + "; ".join(violations)
            + f"\nExpected: {expected}\nFix the arguments and call the tool again."
        )
        text, total, truncated = cut(text, self.output_limit)
        return ToolOutcome(
            name=name,
            valid=False,
            violations=violations,
            args=args,
            parse_error=parse_error,
            ok=False,
            output=text,
            output_chars=total,
            truncated=truncated,
            error="invalid arguments",
            duration_s=time.perf_counter() - start,
        )

    def call(self, name: str, raw_arguments: str) -> ToolOutcome:
        start = time.perf_counter()
        args: dict | None = None
        if name not in TOOL_ARGS:
            try:
                parsed = json.loads(raw_arguments) if (raw_arguments or "").strip() else {}
                args = parsed if isinstance(parsed, dict) else None
            except (ValueError, TypeError):
                pass
            return self._invalid(
                name, args, None, [f"unknown tool {name!r}; the tools are: {', '.join(TOOL_ARGS)}"], start
            )
        # An empty string is what several servers send for a call with no arguments.
        raw = raw_arguments if isinstance(raw_arguments, str) else ""
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            msg = (
                f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else str(exc)
            )
            return self._invalid(name, None, msg, [f"arguments: not valid JSON ({msg})"], start)
        if not isinstance(parsed, dict):
            return self._invalid(
                name, None, None, [f"arguments: must be a JSON object, got {json_type(parsed)}"], start
            )
        args = parsed
        try:
            model = TOOL_ARGS[name].model_validate(args)
        except ValidationError as exc:
            return self._invalid(name, args, None, violations_of(exc, args, TOOL_ARGS[name]), start)
        self._pending_test = None
        self._pending_finish = None
        self._deadline = time.monotonic() + TOOL_TIME_LIMIT_S
        try:
            ok, text = self._run[name](model)
            error = None if ok else text.removeprefix("Error: ")
        except PathEscape as exc:
            ok, text, error = False, f"Error: {exc}", str(exc)
        except SandboxError as exc:
            ok, text, error = False, f"Error: the test sandbox failed: {exc}", str(exc)
        except Exception as exc:  # a tool never takes the rollout down
            ok, text, error = False, f"Error: {type(exc).__name__}: {exc}", f"{type(exc).__name__}: {exc}"
        text, total, truncated = cut(text, self.output_limit)
        return ToolOutcome(
            name=name,
            valid=True,
            violations=[],
            args=args,
            parse_error=None,
            ok=ok,
            output=text,
            output_chars=total,
            truncated=truncated,
            error=error,
            duration_s=time.perf_counter() - start,
            test_result=self._pending_test,
            finish=self._pending_finish,
        )

    # ------------------------------------------------------------------ tools

    def _list_dir(self, a: ListDirArgs) -> tuple[bool, str]:
        ws = self.workspace
        base = ws.resolve(a.rel_dir)
        if not base.exists():
            return False, f"Error: no such directory: {a.rel_dir}"
        if not base.is_dir():
            return False, f"Error: {a.rel_dir} is a file, not a directory (use read_file)"
        entries: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not is_cache(d)]
            rel_dir = ws.rel(dirpath)
            prefix = "" if rel_dir == "." else rel_dir + "/"
            entries.extend(prefix + d + "/" for d in dirnames)
            entries.extend(prefix + f for f in filenames if not is_cache(f))
            if len(entries) > LIST_HARD_CAP or self._over_time():
                break
        if not entries:
            return True, f"{a.rel_dir} is empty"
        entries.sort()
        more = len(entries) - a.max_files
        text = "\n".join(entries[: a.max_files])
        if more > 0:
            text += f"\n[... {more} more entries not shown; raise max_files or list a subdirectory]"
        return True, text

    def _read_file(self, a: ReadFileArgs) -> tuple[bool, str]:
        path = self.workspace.resolve(a.rel_path)
        if not path.exists():
            return False, f"Error: no such file: {a.rel_path}"
        if path.is_dir():
            return False, f"Error: {a.rel_path} is a directory (use list_dir)"
        try:
            data = read_regular(path, MAX_READ_BYTES + 1)
        except NotRegular as exc:
            return False, f"Error: {a.rel_path} is {exc}; it cannot be read"
        if b"\x00" in data[:8192]:
            return False, f"Error: {a.rel_path} is a binary file"
        text = data[:MAX_READ_BYTES].decode("utf-8", errors="replace")
        if not text:
            return True, f"({a.rel_path} is empty)"
        return True, text

    def _write_file(self, a: WriteFileArgs) -> tuple[bool, str]:
        ws = self.workspace
        if ws.is_hidden(a.rel_path):
            return False, f"Error: {a.rel_path} is not writable (a hidden path of this task)"
        path = ws.resolve(a.rel_path)
        if len(a.content) > MAX_WRITE_CHARS:
            return False, f"Error: content too large ({len(a.content)} chars; limit {MAX_WRITE_CHARS})"
        if path.is_dir():
            return False, f"Error: {a.rel_path} is a directory"
        if path.is_symlink():
            # resolve() already proved it stays inside; write the file it points to.
            path = path.resolve()
        created = not os.path.lexists(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not created and not stat.S_ISREG(os.lstat(path).st_mode):
            return False, f"Error: {a.rel_path} is {_kind(os.lstat(path).st_mode)}; it cannot be written"
        try:
            fd = open_regular(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) if not created else None
        except NotRegular as exc:
            return False, f"Error: {a.rel_path} is {exc}; it cannot be written"
        if fd is None:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(a.content)
        lines = a.content.count("\n") + (1 if a.content and not a.content.endswith("\n") else 0)
        verb = "Created" if created else "Wrote"
        return True, f"{verb} {a.rel_path} ({lines} lines, {len(a.content)} chars)"

    def _grep(self, a: GrepArgs) -> tuple[bool, str]:
        try:
            rx = re.compile(a.pattern)
        except re.error as exc:
            return False, f"Error: invalid regular expression {a.pattern!r}: {exc}"
        ws = self.workspace
        base = ws.resolve(a.rel_dir)
        if not base.exists():
            return False, f"Error: no such file or directory: {a.rel_dir}"
        if base.is_file():
            files = [str(base)]
        else:
            files = []
            for dirpath, dirnames, filenames in os.walk(base):
                if self._over_time():
                    break
                dirnames[:] = sorted(d for d in dirnames if not is_cache(d))
                files.extend(os.path.join(dirpath, f) for f in sorted(filenames) if not is_cache(f))
        hits: list[str] = []
        extra = 0
        skipped: list[str] = []
        for full in files:
            if self._over_time():
                skipped.append(f"[... stopped after {TOOL_TIME_LIMIT_S:g}s: later files not searched]")
                break
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode) or st.st_size > GREP_MAX_FILE_BYTES:
                continue
            if not stat.S_ISREG(st.st_mode):
                skipped.append(f"[{ws.rel(full)}: {_kind(st.st_mode)}, skipped]")
                continue
            try:
                data = read_regular(full, GREP_MAX_FILE_BYTES + 1)
            except OSError:
                continue
            if b"\x00" in data[:8192]:
                continue
            rel = ws.rel(full)
            for no, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
                if rx.search(line):
                    if len(hits) < GREP_MAX_MATCHES:
                        shown = line if len(line) <= GREP_LINE_CHARS else line[:GREP_LINE_CHARS] + "..."
                        hits.append(f"{rel}:{no}: {shown}")
                    else:
                        extra += 1
        if not hits:
            return True, "\n".join([f"no matches for {a.pattern!r} in {a.rel_dir}", *skipped])
        text = "\n".join(hits + skipped)
        if extra:
            text += f"\n[... {extra} more matches not shown; narrow the pattern or the directory]"
        return True, text

    def _run_tests(self, a: RunTestsArgs) -> tuple[bool, str]:
        result = self.workspace.run_tests()
        self.last_test = result
        self._pending_test = result
        head = "Tests PASSED" if result.passed else "Tests FAILED"
        return True, f"{head}: {result.summary}\n\n{result.output.strip()}"

    def _finish(self, a: FinishArgs) -> tuple[bool, str]:
        self._pending_finish = {
            "summary": a.summary,
            "changes": a.changes,
            "test_result": self.last_test.brief() if self.last_test else None,
        }
        return True, "Finished."
