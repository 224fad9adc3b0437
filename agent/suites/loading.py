"""Loading and checking suites (docs/ARCHITECTURE.md, Suites).

``load_suite(spec)`` takes a suite JSON file, a directory holding ``suite.json``, the
builtin name ``mini-bugs`` (the suite shipped in ``agent/suites/mini_bugs``), or a
QuixBugs checkout (``path/to/QuixBugs`` or ``path/to/QuixBugs:gcd,bitcount``).
``check_suite`` proves each task is a real task: its tests fail on the untouched source
(its held-out tests too) and pass with its reference fix (the held-out tests by id), the
fix agrees with itself on the held-out inputs and the bug answers at least one of them
differently (agent/differential.py).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from agent import differential
from agent.final_verdict import final_test_run
from agent.slow_machine import TooSlowToJudge, ran_out_of_time
from agent.suites import held_out_tests
from agent.suites.held_out import split_lines
from agent.suites.hidden_tests import check_before
from agent.suites.models import Differential, DifferentialTarget, DirSource, GitSource, Suite, SuiteError, Task
from agent.workspace import Workspace, apply_reference_fix, has_reference_fix

SUITES_DIR = Path(__file__).parent  # the shipped suites live beside this module
BUILTIN = {"mini-bugs": SUITES_DIR / "mini_bugs" / "suite.json"}
SUITE_FILE = "suite.json"

# QuixBugs: what a rollout must never see, and what it must not change.
QUIX_HIDDEN = [
    "correct_python_programs",
    "correct_java_programs",
    "java_programs",
    "java_testcases",
    "java_utils",
    ".git",
    ".github",
]
QUIX_PROTECTED = ["python_testcases", "json_testcases", "conftest.py"]
QUIX_HOLD_OUT = 1 / 3  # of each program's JSON test data: hidden tests and held-out inputs


@dataclass
class TaskCheck:
    task_id: str
    fails_untouched: bool
    passes_with_fix: bool | None  # None: the task has no reference fix
    detail: str
    ok: bool
    # The held-out differential check's coverage (agent/differential.py), one line; "" when
    # the task has no reference fix.
    differential: str = ""
    # Held-out calls a final run of this task compares (0: its verdict rests on the tests).
    held_out_calls: int = 0
    held_out_bug_differs: int = 0  # of those, how many the untouched source answers differently
    # Why the fix's run could not be judged because the machine was too slow (the reference
    # fix ran out of its time budgets too: agent/slow_machine.py); "" when it was judged.
    too_slow: str = ""


# --------------------------------------------------------------------------- loading


def load_suite(spec: str | Path) -> Suite:
    text = str(spec)
    if text in BUILTIN:
        return _load_json(BUILTIN[text])
    path = Path(text).expanduser()
    if path.is_file():
        return _load_json(path)
    if path.is_dir():
        if (path / SUITE_FILE).is_file():
            return _load_json(path / SUITE_FILE)
        if _is_quixbugs(path):
            return load_quixbugs(path)
        raise SuiteError(
            f"{path}: no {SUITE_FILE} here and not a QuixBugs checkout (python_programs/, python_testcases/)"
        )
    # path/to/QuixBugs:name,name
    if ":" in text:
        head, _, names = text.rpartition(":")
        qpath = Path(head).expanduser()
        if qpath.is_dir() and _is_quixbugs(qpath):
            wanted = [n.strip() for n in names.split(",") if n.strip()]
            return load_quixbugs(qpath, wanted or None)
    raise SuiteError(
        f"suite not found: {text} (give a suite JSON file, a directory with {SUITE_FILE}, "
        f"a QuixBugs checkout, or a builtin name: {', '.join(BUILTIN)})"
    )


def _first_error(exc: ValidationError) -> str:
    errs = exc.errors()
    e = errs[0]
    loc = ".".join(str(x) for x in e.get("loc", ())) or "(top level)"
    more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
    return f"{loc}: {e.get('msg', 'invalid')}{more}"


def _load_json(path: Path) -> Suite:
    suite, selection = _parse(path)
    if not selection:  # a selection's tasks were checked in their own suite
        _validate(suite, path.resolve())
    return suite


def parse_suite_file(path: Path) -> Suite:
    """The suite a JSON file holds, its sources not checked (they may be gone: `stats` still
    reads what its tasks are); a selection is loaded in full."""
    return _parse(path)[0]


def _parse(path: Path) -> tuple[Suite, bool]:
    path = Path(path).resolve()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SuiteError(f"{path}: not a UTF-8 text file") from None
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite is a JSON object with 'name' and 'tasks'")
    if "from" in data:
        return _load_selection(path, data), True
    # A source given as a plain string, or without "kind", is a directory.
    for t in data.get("tasks") or []:
        if isinstance(t, dict):
            src = t.get("source")
            if isinstance(src, str):
                t["source"] = {"kind": "dir", "path": src}
            elif isinstance(src, dict) and "kind" not in src:
                src["kind"] = "git" if "repo" in src else "dir"
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(f"{path}: {_first_error(exc)}") from None
    suite.base_dir = path.parent
    return suite, False


_SELECTING: ContextVar[bool] = ContextVar("repo_agent_selecting_suite", default=False)


def _load_selection(path: Path, data: dict) -> Suite:
    """Some tasks of another suite (an export's held-out tasks, a calibrated band):
    ``{"name", "description", "from": {"suite": SPEC, "tasks": [ids]}, "features": {id: {...}}}``
    (features, such as a measured pass rate, are added to each task's own). The tasks stay the other suite's, read and
    confined in its own folder, so a selection names no path of its own. The suite keeps
    its name and version: the held-out inputs a final run draws are the same tasks' draw."""
    sel = data.get("from")
    if not isinstance(sel, dict) or not isinstance(sel.get("suite"), str) or not isinstance(sel.get("tasks"), list):
        raise SuiteError(f'{path}: \'from\' is {{"suite": SPEC, "tasks": [task ids]}}')
    spec = sel["suite"]
    if spec not in BUILTIN:
        spec = str((path.parent / spec).resolve())  # relative to the selection's own file
    if Path(spec).resolve() == path:
        raise SuiteError(f"{path}: 'from' names the file itself")
    if _SELECTING.get():
        raise SuiteError(f"{path}: a selection's 'from' must name a suite, not another selection")
    token = _SELECTING.set(True)
    try:
        base = load_suite(spec)
    finally:
        _SELECTING.reset(token)
    wanted = [t for t in sel["tasks"] if isinstance(t, str)]
    missing = [t for t in wanted if t not in {x.id for x in base.tasks}]
    if missing:
        raise SuiteError(f"{path}: task(s) not in suite {base.name}: {', '.join(missing)}")
    raw = data.get("features")
    extra: dict = raw if isinstance(raw, dict) else {}
    tasks = [
        t.model_copy(update={"features": {**t.features, **extra[t.id]}}) if isinstance(extra.get(t.id), dict) else t
        for t in base.tasks
        if t.id in set(wanted)
    ]
    suite = base.model_copy(
        update={
            "tasks": tasks,
            "description": str(data.get("description") or base.description),
        }
    )
    suite.base_dir = base.base_dir
    return suite


def _validate(suite: Suite, where: Path) -> None:
    if not suite.tasks:
        raise SuiteError(f"{where}: the suite has no tasks")
    seen: set[str] = set()
    assert suite.base_dir is not None, "a loaded suite knows its directory"
    for t in suite.tasks:
        if t.id in seen:
            raise SuiteError(f"{where}: duplicate task id {t.id!r}")
        seen.add(t.id)
        if isinstance(t.source, GitSource):
            from agent.suites.git import validate

            if why := validate(suite, t.source):
                raise SuiteError(f"{where}: task {t.id}: {why}")
        else:
            _confine_in_suite(suite.base_dir, where, t.id, "source", t.source.path)
        if isinstance(t.source, DirSource) and not (suite.base_dir / t.source.path).is_dir():
            raise SuiteError(f"{where}: task {t.id}: source directory not found: {suite.base_dir / t.source.path}")
        _confine_task_paths(suite.base_dir, where, t)
        if t.reference_fix and not (suite.base_dir / t.reference_fix).is_dir():
            raise SuiteError(
                f"{where}: task {t.id}: reference_fix directory not found: {suite.base_dir / t.reference_fix}"
            )
        pool = t.differential.pool if t.differential else None
        if pool and not (suite.base_dir / pool).is_file():
            raise SuiteError(f"{where}: task {t.id}: held-out pool not found: {suite.base_dir / pool}")
        for fix in t.reference_fix_files.values():
            if not (suite.base_dir / fix).is_file():
                raise SuiteError(f"{where}: task {t.id}: reference fix file not found: {suite.base_dir / fix}")
        cmd = t.test_command
        if (isinstance(cmd, list) and not cmd) or (isinstance(cmd, str) and not cmd.strip()):
            raise SuiteError(f"{where}: task {t.id}: empty test_command")


def _confine_task_paths(base: Path, where: Path, t: Task) -> None:
    """A task's paths in the suite's folder stay inside it (its workspace paths are checked by
    `Task` itself, agent/suites/models.py)."""
    if t.reference_fix:
        _confine_in_suite(base, where, t.id, "reference_fix", t.reference_fix)
    for fix in t.reference_fix_files.values():
        _confine_in_suite(base, where, t.id, "reference_fix_files", fix)


def _confine_in_suite(base: Path, where: Path, task_id: str, field: str, rel: str) -> None:
    from agent.untrusted import neutralise_line

    root = base.resolve()
    if "\x00" in rel:
        raise SuiteError(f"{where}: task {task_id}: {field} {neutralise_line(rel, markup=False)!r} holds a NUL byte")
    full = (root / rel).resolve()
    if full != root and root not in full.parents:
        raise SuiteError(
            f"{where}: task {task_id}: {field} {neutralise_line(rel, markup=False)!r} leads outside the suite's folder"
        )


# --------------------------------------------------------------------------- QuixBugs


def _quix_differential(suite: Suite, task: Task, root: Path) -> None:
    """The program's JSON test data as held-out inputs: each line is ``[arguments, expected]``;
    the expected value is never used (the reference fix answers). The held-out lines come
    first; the visible ones are called too, outside the tests' process: where the held-out
    lines cannot tell the bug from the fix (QuixBugs' quicksort, kth), the visible ones do,
    and code that fools pytest from inside its process cannot fool those calls."""
    rel = next(iter(task.hold_out_lines), None)
    if rel is None or not task.reference_fix_files:
        return
    try:
        visible, held = split_lines(suite, task, rel, (root / rel).read_bytes())
        lines = [*held, *visible.splitlines()]
        inputs = [json.loads(line)[0] for line in lines]
    except (OSError, ValueError, IndexError, TypeError):
        return  # test data of another shape: the verdict rests on the (hidden) tests
    inputs = [x for x in inputs if isinstance(x, list)]
    if inputs:
        tol, arg = _stated_tolerance(root / f"python_testcases/test_{task.id}.py")
        target = DifferentialTarget(
            module=f"python_programs.{task.id}", function=task.id, inputs=inputs, tolerance_arg=arg
        )
        structured = task.id in _QUIX_STRUCTURED
        task.differential = Differential(
            targets=[target], sample=len(inputs), float_tolerance=tol, structured=structured
        )


# Programs of integers or of a list of integers whose every structured case is a valid input
# (agent/structured_inputs.py); not next_palindrome, next_permutation or hanoi, whose inputs
# must be a palindrome, have a next permutation, or name two different pegs.
_QUIX_STRUCTURED = frozenset(
    {"gcd", "bitcount", "get_factors", "sieve", "to_base", "mergesort", "quicksort", "lis", "max_sublist_sum"}
)


_APPROX_ARG = re.compile(r"approx\([^()]*\babs\s*=\s*input_data\[(-?\d+)\]")
_APPROX_NUM = re.compile(r"approx\([^()]*\b(?:abs|rel)\s*=\s*([0-9.eE+-]+)\s*[,)]")


def _stated_tolerance(test_file: Path) -> tuple[float, int | None]:
    """The float tolerance a program's own test states (``pytest.approx(expected,
    abs=input_data[-1])`` in QuixBugs' sqrt: its epsilon argument), else the default."""
    default = Differential().float_tolerance
    try:
        text = test_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return default, None
    if m := _APPROX_ARG.search(text):
        return default, int(m.group(1))
    if m := _APPROX_NUM.search(text):
        try:
            return max(default, float(m.group(1))), None
        except ValueError:
            pass
    return default, None


def _is_quixbugs(path: Path) -> bool:
    return (path / "python_programs").is_dir() and (path / "python_testcases").is_dir()


def load_quixbugs(
    root: Path, names: list[str] | None = None, *, per_test_timeout_s: float = 5.0, timeout_s: float = 120.0
) -> Suite:
    """One task per program in ``python_programs/`` that has ``python_testcases/test_<name>.py``."""
    root = Path(root).resolve()
    available = sorted(
        p.stem
        for p in (root / "python_programs").glob("*.py")
        if (root / "python_testcases" / f"test_{p.stem}.py").is_file()
    )
    if names:
        unknown = [n for n in names if n not in available]
        if unknown:
            raise SuiteError(f"{root}: no QuixBugs program with tests named {', '.join(unknown)}")
        chosen = names
    else:
        chosen = available
    if not chosen:
        raise SuiteError(f"{root}: no python_programs/<name>.py with python_testcases/test_<name>.py")
    tasks = []
    for name in chosen:
        fix = root / "correct_python_programs" / f"{name}.py"
        data = f"json_testcases/{name}.json"
        tasks.append(
            Task(
                id=name,
                source=DirSource(path="."),
                goal=(
                    f"The program python_programs/{name}.py has a bug. Its tests are in "
                    f"python_testcases/test_{name}.py (test data in json_testcases/). "
                    "Find the bug and fix the program so the tests pass. Do not change the tests."
                ),
                test_command=["python", "-m", "pytest", "-q", f"python_testcases/test_{name}.py"],
                timeout_s=timeout_s,
                per_test_timeout_s=per_test_timeout_s,  # several buggy programs loop forever
                protected=list(QUIX_PROTECTED),
                hidden=list(QUIX_HIDDEN),
                reference_fix_files=(
                    {f"python_programs/{name}.py": f"correct_python_programs/{name}.py"} if fix.is_file() else {}
                ),
                tags=["quixbugs"],
                hold_out_lines={data: QUIX_HOLD_OUT} if (root / data).is_file() else {},
            )
        )
    suite = Suite(name="quixbugs", description=f"QuixBugs (Python) from {root}", tasks=tasks)
    suite.base_dir = root
    for task in suite.tasks:
        _quix_differential(suite, task, root)
    return suite


# --------------------------------------------------------------------------- checking


def check_task(suite: Suite, task: Task, root: Path, *, sandbox: str = "auto") -> TaskCheck:
    ws = Workspace.create(suite, task, root, sandbox=sandbox)
    try:
        if task.hidden_tests is not None:  # SWE-bench: FAIL_TO_PASS fail, PASS_TO_PASS pass
            fails, detail = check_before(ws)
        else:
            before = ws.run_tests()
            fails = not before.passed
            detail = f"untouched: {before.summary}"
        held_ok = True
        if task.held_out_tests is not None:  # the hidden part fails on the bug too
            ws.reveal_held_out()
            try:
                held_ok, held_line = held_out_tests.on_the_bug(ws.run_tests(), task.held_out_tests)
            finally:
                ws.restore_protected()
            detail += f"; {held_line}"
        elif isinstance(task.features.get("held_out"), str):  # a generated task too small to split
            detail += f"; held-out tests: {task.features['held_out']}"
        with_fix: bool | None = None
        if has_reference_fix(task):
            apply_reference_fix(suite, task, ws)
            try:
                after, tampered = final_test_run(ws)
            except TooSlowToJudge as exc:  # the machine's doing, not the task's: said apart
                return TaskCheck(task.id, fails, None, f"{detail}; with fix: not judged", False, too_slow=str(exc))
            except differential.DifferentialError as exc:  # said, never a traceback
                return TaskCheck(task.id, fails, False, f"{detail}; with fix: not judged: {exc}", False, "", 0, 0)
            if not after.passed and not tampered and not after.tamper and ran_out_of_time(after):
                # The "fix" here is the reference itself (trusted code, so its run's output is
                # too): a time budget it ran past is the machine's, even where its run beside
                # finished in time (the lead's levenshtein at load ~21: "passes w/ fix: no").
                why = f"too slow to judge: the reference fix ran out of time ({after.summary})"
                return TaskCheck(task.id, fails, None, f"{detail}; with fix: not judged", False, too_slow=why)
            with_fix = after.passed and not tampered
            detail += f"; with fix: {after.summary}"
            if tampered:  # a "fix" that edits the tests proves nothing about the task
                detail += f"; the reference fix changes protected paths: {', '.join(tampered)}"
        ok = fails and held_ok and with_fix is not False
        line, calls, differs = "", 0, 0
        if with_fix is not None:
            # The fix's final run above compared it with itself on the held-out sample; now the
            # bug must answer at least one held-out call differently, or the check proves nothing.
            try:
                cov = differential.check(suite, task, root, sandbox=sandbox)
                line, calls, differs = cov.line, cov.calls, cov.bug_differs
                if cov.functions and not cov.bug_differs and cov.recorded:
                    # The tests' own calls reach the bug through other code (objects, dates):
                    # said, and the verdict rests on the tests as before; not a broken task.
                    line += " (none tells the bug from the fix: the verdict rests on the tests)"
                elif cov.functions and not cov.bug_differs:
                    ok, line = False, line + " (the held-out inputs do not tell the bug from the fix)"
            except differential.DifferentialError as exc:
                ok, line = False, f"differential: cannot run: {exc}"
        return TaskCheck(task.id, fails, with_fix, detail, ok, line, calls, differs)
    finally:
        ws.cleanup()


def check_suite(
    suite: Suite,
    *,
    progress: Callable[[TaskCheck, int, int], None] | None = None,
    max_workers: int = 2,
    sandbox: str = "auto",
) -> list[TaskCheck]:
    """Check every task; ``progress(check, done, total)`` is called as each one finishes."""
    total = len(suite.tasks)
    results: dict[str, TaskCheck] = {}
    with tempfile.TemporaryDirectory(prefix="repo-agent-check-") as tmp:

        def one(task: Task) -> TaskCheck:
            try:
                return check_task(suite, task, Path(tmp), sandbox=sandbox)
            except Exception as exc:  # one broken task never hides the others' verdicts
                return TaskCheck(task.id, False, None, f"error: {type(exc).__name__}: {exc}", False)

        with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
            for fut in as_completed([pool.submit(one, t) for t in suite.tasks]):
                check = fut.result()
                results[check.task_id] = check
                if progress:
                    progress(check, len(results), total)
    return [results[t.id] for t in suite.tasks]
