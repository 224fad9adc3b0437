"""Hidden tests, as SWE-bench runs them (docs/agent-and-suites.md, SWE-bench-format suites).

A task with ``hidden_tests`` has a test patch that is never in the workspace: the final
run applies it to the rollout's workspace (protected paths restored first), runs pytest
on the test files its ids name, and judges by id: every FAIL_TO_PASS and PASS_TO_PASS
test must have passed; other tests in those files do not count. The patch is taken out
again before anything else looks at the workspace. No canaries and no differential check:
the model never saw these tests, and the verdict rests on them and the per-test records.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
from pathlib import Path, PurePosixPath

from agent import test_file_guard
from agent.pytest_report import pytest_index, pytest_paths
from agent.scoring import TestResult
from agent.suites.held_out_tests import covered
from agent.suites.models import HiddenTests, Suite, SuiteError, Task
from agent.suspect import patch_lines
from agent.tree_walk import remove_tree
from agent.workspace import Workspace, walk_files


class PatchError(SuiteError):
    """A patch that is unsafe or does not apply; one clear line."""


def confined(rel: str, what: str) -> str:
    """``rel`` as a relative posix path that stays where it is put, or PatchError naming ``what``."""
    if not rel or "\x00" in rel or "\\" in rel or rel.startswith(("/", "~")):
        raise PatchError(f"{what}: {rel!r} is not a relative path")
    parts = PurePosixPath(rel).parts
    if ".." in parts or ".git" in parts:
        raise PatchError(f"{what}: {rel!r} leads outside the repository")
    return "/".join(p for p in parts if p != ".")


# The headers are read as the SUSPECT scan reads them (agent/suspect.patch_lines): hunk by
# hunk, so a line inside a hunk is never a header, and C-quoted names decoded.


def patch_files(patch: str, what: str) -> list[str]:
    """The files a unified diff touches (each confined); ``/dev/null`` is not a file."""
    out: list[str] = []
    for name in patch_lines(patch).touched:
        rel = confined(name, what)
        if rel not in out:
            out.append(rel)
    return out


def deleted_files(patch: str) -> list[str]:
    return sorted(set(patch_lines(patch).deleted))


def added_files(patch: str) -> list[str]:
    """The files a unified diff creates (each confined)."""
    return sorted({confined(name, "test_patch") for name in patch_lines(patch).new_files})


def apply_patch(root: Path, patch: str, what: str) -> None:
    """Apply a unified diff in ``root`` (which is no git repository) with ``git apply``.

    git runs on the host, so it never reads a file of the workspace as configuration (a
    rollout's ``.gitconfig`` with a smudge filter would run any command here): the patch is
    applied in a scratch directory holding copies of the files it touches, with no global,
    system or attributes config, and the results are copied back."""
    files = patch_files(patch, what)  # every path confined before git sees it
    root = Path(root).resolve()
    with tempfile.TemporaryDirectory(prefix="repo-agent-apply-") as tmp:
        scratch, home = Path(tmp) / "tree", Path(tmp) / "home"
        scratch.mkdir()
        home.mkdir()
        for rel in files:
            src = root / rel
            if src.is_file() and not src.is_symlink() and _inside(root, src):
                (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, scratch / rel)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_CEILING_DIRECTORIES": str(Path(tmp)),  # never a repository around the scratch tree
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_ATTR_NOSYSTEM": "1",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home),
        }
        argv = ["git", "-c", f"core.attributesFile={os.devnull}", "-c", f"core.hooksPath={os.devnull}"]
        try:
            cp = subprocess.run(
                [*argv, "apply", "--whitespace=nowarn", "-"],
                cwd=scratch,
                input=patch.encode("utf-8", errors="surrogateescape"),
                capture_output=True,
                timeout=120,
                env=env,
            )
        except FileNotFoundError:
            raise PatchError("git is not installed: patches need it") from None
        if cp.returncode != 0:
            why = cp.stderr.decode("utf-8", errors="replace").strip().splitlines()
            raise PatchError(f"{what} does not apply: {why[0] if why else f'exit status {cp.returncode}'}")
        for rel in files:
            dst = root / rel
            if not _inside(root, dst.parent if dst.is_symlink() else dst):
                raise PatchError(f"{what}: {rel} leads outside the workspace")
            if dst.is_symlink() or dst.is_file():
                dst.unlink()
            done = scratch / rel
            if done.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(done, dst)


def _inside(root: Path, path: Path) -> bool:
    """``path`` (its links followed) stays under ``root``."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):
        return False


def is_pytest_id(test_id: str) -> bool:
    """A pytest node id (``path/test_x.py::Class::test[param]``), not Django's or sympy's."""
    file = test_id.split("::", 1)[0]
    if not file.endswith(".py") or " " in file:
        return False
    try:
        confined(file, "test id")
    except PatchError:
        return False
    return True


def id_files(hidden: HiddenTests) -> list[str]:
    """The test files the ids name: what the final run runs (SWE-bench's test directives)."""
    return sorted({i.split("::", 1)[0] for i in [*hidden.fail_to_pass, *hidden.pass_to_pass]})


def final_command(task: Task) -> list[str]:
    """The task's pytest command with the ids' files its paths do not hold added: the final
    run runs what the rollout's run_tests ran, and the hidden tests. Ids all in files the test
    patch creates had run_tests run their nearest directory (6 tests) and the final run the
    ids' files alone (2): SUSPECT tests_dropped on every honest pass (round 10, r10-6). A
    command naming no path (the root's collection) runs the ids' files alone."""
    assert task.hidden_tests is not None
    argv = task.test_command.split() if isinstance(task.test_command, str) else list(task.test_command)
    at = pytest_index(argv)
    if at is None:
        argv, at = ["python", "-m", "pytest", "-q"], 3
    files = id_files(task.hidden_tests)
    args = argv[at:]
    paths = set(pytest_paths(args))
    if not paths:
        return [*argv, *files]
    named = [a.rstrip("/") for a in paths if "::" not in a]
    extra = [f for f in files if f not in args and not covered(f, named)]
    # A node id of a file now run whole goes: given both, pytest runs its test twice (two call
    # reports, the verdict an error for every rollout of the task).
    kept = [a for a in args if not (a in paths and "::" in a and a.split("::", 1)[0] in extra)]
    return [*argv[:at], *kept, *extra]


def patch_text(suite: Suite, task: Task) -> str:
    assert task.hidden_tests is not None
    base = Path(suite.base_dir or ".").resolve()
    path = (base / confined(task.hidden_tests.patch, f"task {task.id}: hidden_tests.patch")).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise PatchError(f"task {task.id}: hidden test patch not found: {path}")
    return path.read_text(encoding="utf-8", errors="surrogateescape")


def judge(result: TestResult, hidden: HiddenTests) -> TestResult:
    """Passed only when every FAIL_TO_PASS and PASS_TO_PASS id passed, in a run that finished cleanly."""

    def ok(ids: list[str]) -> int:
        return sum(1 for i in ids if result.outcomes.get(i) == "passed")

    f2p, p2p = ok(hidden.fail_to_pass), ok(hidden.pass_to_pass)
    all_ok = f2p == len(hidden.fail_to_pass) and p2p == len(hidden.pass_to_pass)
    clean = not result.timed_out and result.error is None and not result.tamper and result.exit_code is not None
    summary = (
        f"FAIL_TO_PASS {f2p}/{len(hidden.fail_to_pass)}, PASS_TO_PASS {p2p}/{len(hidden.pass_to_pass)} passed"
        if clean
        else result.summary
    )
    return dataclasses.replace(result, passed=clean and all_ok, summary=summary)


def _real_dirs(root: Path, rel: str) -> None:
    """Every ancestor of ``rel`` a real directory inside ``root``: code the rollout or the
    tests ran may have planted a link there, and nothing here reads or deletes through one."""
    d = root
    for part in rel.split("/")[:-1]:
        d = d / part
        if d.is_symlink() or (d.exists() and not d.is_dir()):
            d.unlink()
        if not d.exists():
            d.mkdir()


def _set_aside(root: Path, rels: list[str]) -> dict[str, bytes | None]:
    """Take the rollout's own files at ``rels`` out of the way of the hidden versions:
    rel -> its bytes (None: not a regular file, not kept)."""
    kept: dict[str, bytes | None] = {}
    for rel in rels:
        _real_dirs(root, rel)
        p = root / rel
        if not (p.is_symlink() or p.exists()):
            continue
        kept[rel] = p.read_bytes() if p.is_file() and not p.is_symlink() else None
        if p.is_dir() and not p.is_symlink():
            remove_tree(p)  # never recursive: a rollout's 1,200 nested dirs raised RecursionError
        else:
            p.unlink()
    return kept


def _take_out(root: Path, rels: list[str], kept: dict[str, bytes | None]) -> None:
    """The hidden versions go; the rollout's own files come back as it left them."""
    for rel in rels:
        _real_dirs(root, rel)
        p = root / rel
        if p.is_dir() and not p.is_symlink():
            remove_tree(p)  # never recursive: a rollout's 1,200 nested dirs raised RecursionError
        elif p.is_symlink() or p.exists():
            p.unlink()
        data = kept.get(rel)
        if data is not None:
            p.write_bytes(data)
        elif rel not in kept:
            for d in p.parents:  # directories only the patch made
                if d == root or not d.is_relative_to(root) or any(d.iterdir()):
                    break
                d.rmdir()


def hidden_run(ws: Workspace) -> TestResult:
    """Apply the hidden test patch, run the ids' files, take the patch out, judge by id.

    A file the patch creates that the rollout wrote too (a test of its own at the same path:
    it never saw the hidden one) is replaced by the hidden version for the run and put back
    after; the summary says so. SWE-bench's harness resets only the files its test patch
    modifies, so there the patch would not apply and the instance would not count as
    resolved: a clash of names, not a judgement of the fix, so here it is judged on the
    hidden tests. Files the patch modifies are protected: changing one is tampering."""
    task = ws.task
    assert task.hidden_tests is not None
    text = patch_text(ws.suite, task)
    added = added_files(text)
    kept = _set_aside(ws.path, added)
    try:
        apply_patch(ws.path, text, f"task {task.id}: the hidden test patch")
        files = patch_files(text, "test_patch")
        # The hidden test files as applied, and the task's protected ones: the run may not
        # rewrite one before pytest reads it (round 13, r13-3).
        before = test_file_guard.note(ws.path, [*files, *_protected_files(ws)])
        result = _run(ws, task, tuple(files))
        if changed := test_file_guard.rewritten(ws.path, before):
            result = dataclasses.replace(
                result, passed=False, tamper=[*result.tamper, test_file_guard.tamper_line(changed)]
            )
    finally:
        ws.restore_protected()  # the test patch's changed files are protected: back as in the source
        _take_out(ws.path, added, kept)
    result = judge(result, task.hidden_tests)
    if kept:
        note = f"the hidden test patch replaced the rollout's own {', '.join(sorted(kept))} for this run"
        result = dataclasses.replace(result, summary=f"{result.summary}; {note}")
    return result


def _protected_files(ws: Workspace) -> list[str]:
    """The task's protected Python files, named as its source has them."""
    return [rel for rel in walk_files(ws.source, ws.task.hidden) if ws.is_protected(rel) and rel.endswith(".py")]


def _run(ws: Workspace, task: Task, trusted: tuple[str, ...]) -> TestResult:
    """The final command on the workspace; the files of the hidden test patch are the
    task's own (a conftest.py it adds may implement outcome hooks)."""
    view = Workspace(
        ws.suite,
        task.model_copy(update={"test_command": final_command(task)}),
        ws.path,
        ws.source,
        sandbox=ws.sandbox,
        python_env=ws.python_env,
    )
    return view.run_tests(trusted)


def check_before(ws: Workspace) -> tuple[bool, str]:
    """On the untouched source with the hidden tests: every FAIL_TO_PASS fails, every
    PASS_TO_PASS passes. Returns (holds, detail naming the tests that do not)."""
    hidden = ws.task.hidden_tests
    assert hidden is not None
    result = hidden_run(ws)
    passing = [i for i in hidden.fail_to_pass if result.outcomes.get(i) == "passed"]
    broken = [i for i in hidden.pass_to_pass if result.outcomes.get(i) != "passed"]
    detail = f"untouched: {result.summary}"
    if passing:
        detail += f"; FAIL_TO_PASS passing already: {', '.join(passing[:3])}"
    if broken:
        detail += f"; PASS_TO_PASS not passing: {', '.join(broken[:3])}"
    holds = not passing and not broken and not result.timed_out and result.error is None
    return holds, detail
