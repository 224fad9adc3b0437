"""Scripted policies for the local chat-completions server (``tests/doubles/scripted_llm.py``).

A *policy* is a callable ``policy(PolicyRequest) -> assistant message`` (OpenAI shape).
The request carries the JSON body (messages, tools, seed), the task it resolved to (by
its goal text in the first user message) and the turn to produce (assistant messages so
far + 1), so a policy can be stateless and deterministic per (task, seed).

Shipped scripts (``SCRIPTS``), mimicking what real models do on a bug-fixing suite:

- ``clean``: looks around, reads the file, writes the reference fix, runs tests, finishes.
- ``wandering``: greps, reads the tests (two calls in one turn), runs them, tries a wrong
  fix, reads again, then writes the right one.
- ``wrong_fix``: writes a plausible but wrong edit (the fix with one slip), finishes anyway.
- ``invalid_then_recover``: ``list_dir`` without ``rel_dir``, with an empty ``rel_dir``,
  ``read_file`` with broken JSON arguments, then a clean fix.
- ``tamper``: rewrites the test file so it passes, and finishes (the final run catches it).
- ``never_finish``: keeps reading and listing until ``max_iters`` stops it.
- ``summary_only``: calls ``finish`` at once, claiming a fix it never made.
- ``quick_fix``: reads the file, writes the reference fix, finishes without running the
  tests (a pass for tests that only need passes: one test run fewer than ``clean``).

``ScriptedPolicy(suite, "clean")`` plays one script; ``MixedPolicy(suite, pass_prob=0.5 or
{task_id: p}, plan={(task_id, seed): script})`` picks a passing or failing script per
rollout with the given probability, deterministic per seed. Fix content comes from the
task's hidden reference fix, read from the suite directory (the workspace never holds it).
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.suites.models import Suite, Task

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
_MUTATIONS = [
    ("<=", "<"),
    (">=", ">"),
    (" < ", " <= "),
    (" > ", " >= "),
    ("+ 1", "+ 2"),
    ("- 1", "- 2"),
    (" == ", " != "),
    (" and ", " or "),
    ("[1:]", "[2:]"),
    ("(0", "(1"),
    (" 0", " 1"),
    (" 1", " 0"),
]


def _wrong(f: TaskFacts) -> str:
    """The fix with one slip in a line it changed (else the source plus a hopeful comment)."""
    src = f.source_files.get(f.bug_file, "")
    fix = f.fix_files.get(f.bug_file)
    if fix:
        lines, before = fix.splitlines(keepends=True), set(src.splitlines(keepends=True))
        for i in (i for i, line in enumerate(lines) if line not in before):
            for a, b in _MUTATIONS:
                if a in lines[i]:
                    text = "".join(lines[:i] + [lines[i].replace(a, b, 1)] + lines[i + 1 :])
                    if text not in (src, fix):
                        return text
    return src.rstrip("\n") + "\n\n# handled the edge case above\n"


def _finish(step: int, summary: str, changes: list[str]) -> Message:
    return assistant(step, ("finish", {"summary": summary, "changes": changes}))


def _fix_steps(f: TaskFacts, first: int) -> list[Message]:
    """Write every file of the reference fix (one step each), run the tests, finish."""
    out = [
        assistant(first + i, ("write_file", {"rel_path": p, "content": c}))
        for i, (p, c) in enumerate(sorted(f.fix_files.items()))
    ]
    n = first + len(out)
    out.append(assistant(n, ("run_tests", {})))
    out.append(
        _finish(
            n + 1, f"Fixed the bug in {f.bug_file}.", [f"{p}: corrected the faulty logic" for p in sorted(f.fix_files)]
        )
    )
    return out


def script_clean(f: TaskFacts, rng: random.Random) -> list[Message]:
    out = []
    if rng.random() < 0.5:
        out.append(
            assistant(1, ("list_dir", {"rel_dir": ".", "max_files": 50}), content="Let me look at the repository.")
        )
    out.append(assistant(len(out) + 1, ("read_file", {"rel_path": f.bug_file})))
    return out + _fix_steps(f, len(out) + 1)


def script_quick_fix(f: TaskFacts, rng: random.Random) -> list[Message]:
    out = [assistant(1, ("read_file", {"rel_path": f.bug_file}))]
    out += [
        assistant(2 + i, ("write_file", {"rel_path": p, "content": c}))
        for i, (p, c) in enumerate(sorted(f.fix_files.items()))
    ]
    out.append(_finish(len(out) + 1, f"Fixed the bug in {f.bug_file}.", [f"{p}: fixed" for p in sorted(f.fix_files)]))
    return out


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
    out = [
        assistant(1, ("read_file", {"rel_path": f.bug_file})),
        assistant(2, ("write_file", {"rel_path": f.bug_file, "content": _wrong(f)})),
    ]
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
        assistant(
            3,
            ("write_file", {"rel_path": f.test_file, "content": fake}),
            content="The tests look wrong; simplifying them.",
        ),
        assistant(4, ("run_tests", {})),
        _finish(5, "All tests pass now.", [f"{f.test_file}: simplified the tests"]),
    ]


def script_never_finish(f: TaskFacts, rng: random.Random) -> list[Message]:
    moves = [
        ("list_dir", {"rel_dir": "."}),
        ("read_file", {"rel_path": f.bug_file}),
        ("grep", {"pattern": "return", "rel_dir": "."}),
        ("read_file", {"rel_path": f.test_file}),
    ]
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
    "quick_fix": script_quick_fix,
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

    def __init__(
        self,
        suite: Suite,
        pass_prob: float | dict[str, float] = 0.5,
        *,
        plan: dict[tuple[str, int], str] | None = None,
        salt: str = "mixed",
        passing: tuple[str, ...] = PASSING,
        failing: tuple[str, ...] = FAILING,
    ):
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
