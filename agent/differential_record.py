"""Recorded inputs for tasks whose suite names no held-out pool (generated suites, a suite
written by hand): the differential verdict applies to them too
(docs/sandbox-and-verdicts.md, "The verdict").

The task's own tests run once on its source with the reference fix (trusted code, in the
sandbox, agent/differential_recorder.py); every call they make to a module-level function
of a file the fix changes is recorded with its arguments when those are JSON data. Those
arguments (positional, and those the call passed by keyword apart: ``keywords``) are the
task's differential inputs: each final run calls the rollout's code
on them in a fresh process, outside pytest, and compares with the reference fix's answers
(agent/differential.py). The rollout saw the visible tests, so their inputs are not held out:
they stop what fools pytest from inside its process (forged records, a plugin that empties the
tests), not a fix that answers the tests' own inputs; canaries that call the same
functions (agent/final_verdict.py) and the SUSPECT scan stand beside them.

A task with held-out test files (a generated task's held-out reaching tests,
agent/suites/mutate/hold_out.py) is recorded with them in: the calls the held-out tests make
are held-out inputs, kept first, and the rollout's code is judged on them outside pytest
before the held-out tests join its workspace (round 9 vrd9-2/vrd9-18: a table of the visible
inputs with an object equal to any int, or a held-out item whose ``runtest`` was replaced,
passed the held-out test inside pytest's process).

Recorded once per task and reference fix in this process (a batch judges many rollouts of
a task); a recording that cannot run leaves the task with no differential, as before.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from pydantic import ValidationError

from agent.pytest_report import has_pytest_config, module_index, pytest_index
from agent.record_budget import RecordBudget
from agent.sandbox import SandboxError, parse_cap, run_command_full
from agent.scoring import env_python, resolve_argv
from agent.suites import held_out_tests
from agent.suites.models import DifferentialTarget, Suite, Task
from agent.task_test_dirs import fix_sources
from agent.workspace import Workspace, apply_reference_fix, has_reference_fix

RECORDER = Path(__file__).with_name("differential_recorder.py")
MAX_INPUTS = 48  # per function and kind (held-out, visible), in the order the tests made the calls

_cache: dict[str, list[DifferentialTarget]] = {}
_lock = threading.Lock()
_key_locks: dict[str, threading.Lock] = {}


def applies(task: Task) -> bool:
    """A task with a reference fix, no held-out pool of its own and no hidden test patch."""
    return task.differential is None and task.hidden_tests is None and has_reference_fix(task)


def fixed_files(suite: Suite, task: Task) -> list[str]:
    """Workspace paths of the Python files the reference fix writes (never a test file)."""
    name = lambda rel: rel.rsplit("/", 1)[-1]  # noqa: E731
    return sorted(
        rel
        for rel in fix_sources(suite, task)
        if rel.endswith(".py") and not name(rel).startswith(("test_", "conftest")) and not rel.endswith("_test.py")
    )


def recorded_targets(suite: Suite, task: Task, *, sandbox: str) -> list[DifferentialTarget]:
    """The task's recorded inputs, one target per function the tests call (empty: none)."""
    if not applies(task):
        return []
    base = Path(suite.base_dir or ".")
    h = hashlib.sha256(json.dumps([suite.name, str(base), task.model_dump(mode="json")], sort_keys=True).encode())
    for rel in fixed_files(suite, task):
        src = task.reference_fix_files.get(rel) or f"{task.reference_fix}/{rel}"
        h.update(rel.encode() + b"\0" + (base / src).read_bytes())
    key = h.hexdigest()
    with _lock:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _cache:
            # With the held-out tests in; a recording they break (not the reference fix's
            # own doing: suite check runs them with it) falls back to the visible tests'.
            got = _record(suite, task, sandbox=sandbox, held_out=True) if task.held_out_tests else None
            if got is None:
                got = _record(suite, task, sandbox=sandbox, held_out=False)
            _cache[key] = got or []
    return _cache[key]


def _record(suite: Suite, task: Task, *, sandbox: str, held_out: bool) -> list[DifferentialTarget] | None:
    """The recorded targets; None when the recording did not run to a passing end."""
    argv = resolve_argv(task.test_command)
    held = task.held_out_tests if held_out else None
    if held is not None:
        argv = held_out_tests.final_argv(argv, held)  # a command naming files: the held-out ids too
    at = pytest_index(argv)
    runner = "pytest"
    if at is None and (at := module_index(argv, "unittest")) is not None:
        runner = "unittest"  # python -m unittest ...: recorded under unittest itself (R6-19)
    files = fixed_files(suite, task)
    if at is None or not files:
        return []  # neither pytest nor unittest, or a fix of no Python file: nothing to record
    with tempfile.TemporaryDirectory(prefix="repo-agent-record-") as tmp:
        ws = Workspace.create(suite, task, Path(tmp), sandbox=sandbox)
        apply_reference_fix(suite, task, ws)
        if held is not None:
            ws.reveal_held_out()  # trusted code only in this workspace: the reference fix's
        box = Path(tmp) / "box"
        box.mkdir()
        shutil.copyfile(RECORDER, box / "recorder.py")
        root = ws.path.resolve()
        opts = ["-p", "no:cacheprovider", f"--rootdir={root}", f"--confcutdir={root}"]
        if runner == "unittest":
            opts = []
        elif not has_pytest_config(root):  # never an ancestor's config (as agent/scoring.py)
            (box / "pytest.ini").write_text("[pytest]\n")
            opts.append(f"-c={box / 'pytest.ini'}")
        spec = {
            "files": [str(root / rel) for rel in files],
            "test_dirs": [str(root / rel) for rel in task.protected if (root / rel).is_dir()],
            "pytest_args": [*opts, *argv[at + (runner == "pytest") :]],
            "runner": runner,
            "held_out_ids": list(held.ids) if held is not None and runner == "pytest" else [],
        }
        (box / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        # The box readable by the sandbox's uid, through its bind (made by bwrap, as root or as
        # us). Never the directory around it (TemporaryDirectory's 0700): the reference fix's
        # workspace, held-out tests revealed, is in it, and 0755 there showed them to every
        # local user for as long as the recording ran (round 25 r25s-4).
        for p in (box, *box.iterdir()):
            p.chmod(0o755 if p.is_dir() else 0o644)
        env = {"REPO_AGENT_WORKSPACE": str(root)} if ws.python_env is not None else {}
        if ws.python_env is None:  # this venv's entry-point plugins are not the task's
            env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        python = env_python(ws.python_env) if ws.python_env is not None else sys.executable
        try:
            run = run_command_full(
                [python, "-I", str(box / "recorder.py"), str(box / "spec.json")],
                root,
                timeout_s=task.timeout_s,
                sandbox=sandbox,
                env=env,
                ro_binds=(box,),
                verdict_pipe=True,
                python=python,
            )
        except SandboxError:
            return None
    return _targets(run.records)


def _targets(records: bytes) -> list[DifferentialTarget] | None:
    """The targets of a recording's records: per function, the held-out tests' calls first
    (``"held": true``), then the visible tests', up to ``MAX_INPUTS`` of each."""
    calls: dict[tuple[str, str, str], list[tuple[list, dict]]] = {}
    held_calls: dict[tuple[str, str, str], list[tuple[list, dict]]] = {}
    finished = False
    for line in RecordBudget(run_max=parse_cap()).lines(records):  # within the run's share of memory (r23s-3)
        rec = line.record
        if rec is None:
            continue
        if rec.get("k") == "finish":
            finished = rec.get("exitstatus") == 0
        elif rec.get("k") == "call" and isinstance(rec.get("args"), list) and not line.past_bound:
            module, function, path = rec.get("module"), rec.get("function"), rec.get("path", "")
            if isinstance(module, str) and isinstance(function, str) and isinstance(path, str):
                kwargs = rec.get("kwargs", {})  # absent in a record of positional arguments only
                key = (module, function, path)
                calls.setdefault(key, [])
                got = (held_calls if rec.get("held") is True else calls).setdefault(key, [])
                if isinstance(kwargs, dict) and len(got) < MAX_INPUTS and (rec["args"], kwargs) not in got:
                    got.append((rec["args"], kwargs))
    if not finished:
        return None  # the reference fix's own tests did not pass: record nothing from them
    out = []
    for (m, f, path), visible in sorted(calls.items()):
        first = held_calls.get((m, f, path), [])
        made = first + [c for c in visible if c not in first]
        keywords = [kw for _, kw in made]
        while keywords and not keywords[-1]:
            keywords.pop()
        try:
            out.append(
                DifferentialTarget(module=m, function=f, inputs=[a for a, _ in made], keywords=keywords, path=path)
            )
        except ValidationError:
            continue  # a path out of the workspace: not a call the runner can make
    return out
