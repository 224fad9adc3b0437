"""A scripted, local OpenAI-compatible chat-completions server, for tests, demos and benches.

A real HTTP server (stdlib ``ThreadingHTTPServer`` on 127.0.0.1, port 0) answering
``POST /v1/chat/completions`` (non-streaming) the way OpenAI does, so the real ``openai``
client and the Together SDK talk to it unchanged. What it answers is decided by a
*policy*: a callable that sees the request and returns the next assistant message::

    from agent.scripted_llm import ScriptedLLM, MixedPolicy
    with ScriptedLLM(MixedPolicy(suite, pass_prob=0.5)) as llm:
        provider = OpenAIProvider("scripted", base_url=llm.base_url)
        ...
        llm.requests        # every JSON body received, in order

Policies are deterministic per (task, seed): the same rollout gets the same script. The
shipped ones mimic what real models do on a bug-fixing suite; ``SCRIPTS`` names them:

- ``clean``: looks around, reads the file, writes the reference fix, runs tests, finishes.
- ``wandering``: greps, reads the tests, runs them, tries a wrong fix, then the right one.
- ``wrong_fix``: writes a plausible but wrong edit, runs the tests (they fail), finishes.
- ``invalid_then_recover``: ``list_dir`` without ``rel_dir``, with an empty ``rel_dir``,
  ``read_file`` with broken JSON arguments, then a clean fix.
- ``tamper``: rewrites the test file so it passes, and finishes (the final run catches it).
- ``never_finish``: keeps reading and listing until ``max_iters`` stops it.
- ``summary_only``: calls ``finish`` at once, claiming a fix it never made.

Fix content comes from the task's hidden reference fix, read on the server side from the
suite directory (the agent's workspace never holds it). Faults are injected with
``fail_next(n, status)``, ``fail_when(predicate, status)`` and ``hang_next(n)``.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agent.suite import Suite, Task

Message = dict[str, Any]


# --------------------------------------------------------------------------- requests


@dataclass
class PolicyRequest:
    """What a policy sees: the request body, plus the task and turn it resolved to."""

    body: dict[str, Any]
    task: Task | None
    suite: Suite | None

    @property
    def messages(self) -> list[Message]:
        return self.body.get("messages") or []

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self.body.get("tools") or []

    @property
    def seed(self) -> int:
        return int(self.body.get("seed") or 0)

    @property
    def step(self) -> int:
        """1-based turn to produce: assistant messages so far + 1."""
        return 1 + sum(1 for m in self.messages if m.get("role") == "assistant")


Policy = Callable[[PolicyRequest], Message]


def tool_call(step: int, i: int, name: str, args: dict[str, Any] | str) -> dict[str, Any]:
    """One OpenAI tool call; ``args`` as a str is sent verbatim (to fake broken JSON)."""
    raw = args if isinstance(args, str) else json.dumps(args)
    return {"id": f"call_{step}_{i}", "type": "function", "function": {"name": name, "arguments": raw}}


def assistant(step: int, *calls: tuple[str, dict[str, Any] | str], content: str | None = None) -> Message:
    msg: Message = {"role": "assistant", "content": content}
    if calls:
        msg["tool_calls"] = [tool_call(step, i, n, a) for i, (n, a) in enumerate(calls)]
    return msg


# --------------------------------------------------------------------------- task facts


@dataclass
class TaskFacts:
    """What a scripted model 'knows' about a task: file names, the fix, the tests."""

    task_id: str
    source_files: dict[str, str]  # rel path -> content, as the workspace holds it
    fix_files: dict[str, str]  # rel path -> fixed content (hidden reference fix)
    test_files: list[str]

    @property
    def bug_file(self) -> str:
        if self.fix_files:
            return sorted(self.fix_files)[0]
        rest = [p for p in sorted(self.source_files) if p not in self.test_files and p.endswith(".py")]
        return rest[0] if rest else next(iter(self.source_files), "main.py")

    @property
    def test_file(self) -> str:
        return self.test_files[0] if self.test_files else "test_main.py"


def _read_files(root: Path, rels: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for rel in rels:
        try:
            out[rel] = (root / rel).read_text()
        except (UnicodeDecodeError, OSError):
            continue
    return out


def task_facts(suite: Suite, task: Task) -> TaskFacts:
    from agent.workspace import source_dir, walk_files

    base = Path(suite.base_dir or ".")
    src = source_dir(suite, task)
    files = _read_files(src, walk_files(src, task.hidden))
    fix: dict[str, str] = {}
    if task.reference_fix:
        fix_root = base / task.reference_fix
        fix.update(_read_files(fix_root, walk_files(fix_root)))
    for dst, rel in task.reference_fix_files.items():
        fix[dst] = (base / rel).read_text()
    tests: list[str] = []
    for prot in task.protected:
        tests += [p for p in files if p == prot or p.startswith(prot.rstrip("/") + "/")]
    if not tests:
        tests = [p for p in files if Path(p).name.startswith("test_")]
    return TaskFacts(task.id, files, fix, sorted(tests))


# --------------------------------------------------------------------------- scripts

Script = Callable[[TaskFacts, random.Random], list[Message]]


# Plausible slips applied to a line of the reference fix: what a wrong fix looks like.
_MUTATIONS = [("<=", "<"), (">=", ">"), (" < ", " <= "), (" > ", " >= "), ("+ 1", "+ 2"), ("- 1", "- 2"),
              (" == ", " != "), (" and ", " or "), ("[1:]", "[2:]"), ("(0", "(1"), (" 0", " 1"), (" 1", " 0")]


def _wrong(f: TaskFacts) -> str:
    """The fix with one slip in a line it changed (else the source plus a hopeful comment)."""
    src = f.source_files.get(f.bug_file, "")
    fix = f.fix_files.get(f.bug_file)
    if fix:
        lines, before = fix.splitlines(keepends=True), set(src.splitlines(keepends=True))
        for i in (i for i, line in enumerate(lines) if line not in before):
            for a, b in _MUTATIONS:
                if a in lines[i]:
                    text = "".join(lines[:i] + [lines[i].replace(a, b, 1)] + lines[i + 1:])
                    if text not in (src, fix):
                        return text
    return src.rstrip("\n") + "\n\n# handled the edge case above\n"


def _finish(step: int, summary: str, changes: list[str]) -> Message:
    return assistant(step, ("finish", {"summary": summary, "changes": changes}))


def _fix_steps(f: TaskFacts, first: int) -> list[Message]:
    """Write every file of the reference fix (one step each), run the tests, finish."""
    out = [assistant(first + i, ("write_file", {"rel_path": p, "content": c})) for i, (p, c) in enumerate(sorted(f.fix_files.items()))]
    n = first + len(out)
    out.append(assistant(n, ("run_tests", {})))
    out.append(_finish(n + 1, f"Fixed the bug in {f.bug_file}.", [f"{p}: corrected the faulty logic" for p in sorted(f.fix_files)]))
    return out


def script_clean(f: TaskFacts, rng: random.Random) -> list[Message]:
    out = []
    if rng.random() < 0.5:
        out.append(assistant(1, ("list_dir", {"rel_dir": ".", "max_files": 50}), content="Let me look at the repository."))
    out.append(assistant(len(out) + 1, ("read_file", {"rel_path": f.bug_file})))
    return out + _fix_steps(f, len(out) + 1)


def script_wandering(f: TaskFacts, rng: random.Random) -> list[Message]:
    name = Path(f.bug_file).stem
    out = [
        assistant(1, ("list_dir", {"rel_dir": ".", "max_files": 100})),
        assistant(2, ("grep", {"pattern": "def ", "rel_dir": "."})),
        # Two calls in one step, as real models do with parallel tool calls.
        assistant(3, ("read_file", {"rel_path": f.test_file}), ("read_file", {"rel_path": f.bug_file})),
        assistant(4, ("run_tests", {}), content="Let me see which tests fail first."),
        assistant(5, ("grep", {"pattern": name, "rel_dir": "."})),
        assistant(6, ("write_file", {"rel_path": f.bug_file, "content": _wrong(f)})),
        assistant(7, ("run_tests", {})),
        assistant(8, ("read_file", {"rel_path": f.bug_file}), content="Still failing; reading the code again."),
    ]
    if rng.random() < 0.5:
        out.append(assistant(9, ("read_file", {"rel_path": f.test_file})))
    return out + _fix_steps(f, len(out) + 1)


def script_wrong_fix(f: TaskFacts, rng: random.Random) -> list[Message]:
    out = [assistant(1, ("read_file", {"rel_path": f.bug_file})),
           assistant(2, ("write_file", {"rel_path": f.bug_file, "content": _wrong(f)}))]
    if rng.random() < 0.7:
        out.append(assistant(3, ("run_tests", {})))
    out.append(_finish(len(out) + 1, f"Fixed the edge case in {f.bug_file}.", [f"{f.bug_file}: handle the edge case"]))
    return out


def script_invalid_then_recover(f: TaskFacts, rng: random.Random) -> list[Message]:
    out = [
        assistant(1, ("list_dir", {"max_files": 50})),  # missing rel_dir
        assistant(2, ("list_dir", {"rel_dir": ""})),  # empty rel_dir
        assistant(3, ("read_file", '{"rel_path": "' + f.bug_file + '"')),  # broken JSON
        assistant(4, ("list_dir", {"rel_dir": "."})),
        assistant(5, ("read_file", {"rel_path": f.bug_file})),
    ]
    return out + _fix_steps(f, len(out) + 1)


def script_tamper(f: TaskFacts, rng: random.Random) -> list[Message]:
    fake = "def test_everything_passes():\n    assert True\n"
    return [
        assistant(1, ("read_file", {"rel_path": f.bug_file})),
        assistant(2, ("run_tests", {})),
        assistant(3, ("write_file", {"rel_path": f.test_file, "content": fake}), content="The tests look wrong; simplifying them."),
        assistant(4, ("run_tests", {})),
        _finish(5, "All tests pass now.", [f"{f.test_file}: simplified the tests"]),
    ]


def script_never_finish(f: TaskFacts, rng: random.Random) -> list[Message]:
    moves = [("list_dir", {"rel_dir": "."}), ("read_file", {"rel_path": f.bug_file}),
             ("grep", {"pattern": "return", "rel_dir": "."}), ("read_file", {"rel_path": f.test_file})]
    return [assistant(i + 1, moves[i % len(moves)]) for i in range(200)]


def script_summary_only(f: TaskFacts, rng: random.Random) -> list[Message]:
    return [_finish(1, f"The bug in {f.bug_file} is fixed.", [])]


SCRIPTS: dict[str, Script] = {
    "clean": script_clean,
    "wandering": script_wandering,
    "wrong_fix": script_wrong_fix,
    "invalid_then_recover": script_invalid_then_recover,
    "tamper": script_tamper,
    "never_finish": script_never_finish,
    "summary_only": script_summary_only,
}
PASSING = ("clean", "wandering", "invalid_then_recover")
FAILING = ("wrong_fix", "summary_only", "tamper", "never_finish")


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class ScriptedPolicy:
    """Plays one named script (or a per-rollout choice of scripts) on a suite's tasks.

    ``choose(task_id, seed) -> script name`` picks the script; subclasses override it.
    """

    def __init__(self, suite: Suite, script: str = "clean"):
        if script not in SCRIPTS:
            raise ValueError(f"unknown script {script!r}; known: {', '.join(SCRIPTS)}")
        self.suite = suite
        self.script = script
        self._facts: dict[str, TaskFacts] = {}
        self._lock = threading.Lock()

    def choose(self, task_id: str, seed: int) -> str:
        return self.script

    def facts(self, task: Task) -> TaskFacts:
        with self._lock:
            if task.id not in self._facts:
                self._facts[task.id] = task_facts(self.suite, task)
            return self._facts[task.id]

    def script_for(self, task: Task, seed: int) -> list[Message]:
        name = self.choose(task.id, seed)
        return SCRIPTS[name](self.facts(task), _rng(name, task.id, seed))

    def __call__(self, req: PolicyRequest) -> Message:
        if req.task is None:
            return {"role": "assistant", "content": "I could not tell which task this is."}
        script = self.script_for(req.task, req.seed)
        if req.step <= len(script):
            return script[req.step - 1]
        return _finish(req.step, "Done.", [])


class MixedPolicy(ScriptedPolicy):
    """Per rollout, passes with probability ``pass_prob`` (per task if a dict), picking a
    passing script (clean, wandering, invalid_then_recover) or a failing one (wrong_fix,
    summary_only, tamper, never_finish). ``plan`` pins scripts for given (task_id, seed)."""

    def __init__(self, suite: Suite, pass_prob: float | dict[str, float] = 0.5, *,
                 plan: dict[tuple[str, int], str] | None = None, salt: str = "mixed",
                 passing: tuple[str, ...] = PASSING, failing: tuple[str, ...] = FAILING):
        super().__init__(suite)
        self.pass_prob = pass_prob
        self.plan = dict(plan or {})
        self.salt, self.passing, self.failing = salt, passing, failing

    def choose(self, task_id: str, seed: int) -> str:
        if (task_id, seed) in self.plan:
            return self.plan[(task_id, seed)]
        p = self.pass_prob.get(task_id, 0.5) if isinstance(self.pass_prob, dict) else self.pass_prob
        rng = _rng(self.salt, task_id, seed)
        return rng.choice(self.passing) if rng.random() < p else rng.choice(self.failing)


def resolve_task(suite: Suite | None, messages: list[Message]) -> Task | None:
    """The task whose goal text appears in the first user message."""
    if suite is None:
        return None
    first = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
    for task in suite.tasks:
        if task.goal.strip() and task.goal.strip() in first:
            return task
    return None


# --------------------------------------------------------------------------- server


@dataclass
class _Fault:
    predicate: Callable[[dict[str, Any]], bool]
    status: int | None  # None = hang
    times: int | None  # None = every matching request


@dataclass
class _State:
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)


def _approx_tokens(obj: Any) -> int:
    return max(1, len(json.dumps(obj)) // 4)


class ScriptedLLM:
    """The server. Use as a context manager; ``base_url`` ends in ``/v1``."""

    def __init__(self, policy: Policy, *, suite: Suite | None = None, model: str = "scripted-model"):
        self.policy = policy
        self.suite = suite if suite is not None else getattr(policy, "suite", None)
        self.model = model
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- faults ---------------------------------------------------------------
    def fail_next(self, n: int, status: int = 429) -> None:
        """The next ``n`` requests get HTTP ``status`` (they are still recorded)."""
        self._add(_Fault(lambda b: True, status, n))

    def fail_when(self, predicate: Callable[[dict[str, Any]], bool], status: int = 500, times: int | None = None) -> None:
        """Requests whose JSON body matches ``predicate`` get HTTP ``status``."""
        self._add(_Fault(predicate, status, times))

    def hang_next(self, n: int = 1) -> None:
        """The next ``n`` requests never get an answer (until the server closes)."""
        self._add(_Fault(lambda b: True, None, n))

    def _add(self, fault: _Fault) -> None:
        with self._state.lock:
            self._state.faults.append(fault)

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._state.lock:
            return list(self._state.requests)

    # -- lifecycle ------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> ScriptedLLM:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-llm", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._state.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- answering ------------------------------------------------------------
    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """(status, JSON) for one request body; (0, None) means hang."""
        st = self._state
        with st.lock:
            st.requests.append(body)
            for fault in st.faults:
                if fault.times != 0 and fault.predicate(body):
                    if fault.times is not None:
                        fault.times -= 1
                    if fault.status is None:
                        return 0, None
                    return fault.status, {"error": {"message": f"scripted fault {fault.status}", "type": "scripted", "code": fault.status}}
        messages = body.get("messages") or []
        req = PolicyRequest(body, resolve_task(self.suite, messages), self.suite)
        msg = self.policy(req)
        n = len(st.requests)
        return 200, {
            "id": f"chatcmpl-scripted-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [{"index": 0, "message": msg, "logprobs": None,
                         "finish_reason": "tool_calls" if msg.get("tool_calls") else "stop"}],
            "usage": {"prompt_tokens": _approx_tokens(messages), "completion_tokens": _approx_tokens(msg),
                      "total_tokens": _approx_tokens(messages) + _approx_tokens(msg)},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        llm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    return self._send(400, {"error": {"message": "body is not JSON"}})
                status, payload = llm.answer(body)
                if payload is None:
                    llm._state.release.wait(120)
                    self.close_connection = True
                    return
                self._send(status, payload)

        return Handler
