"""Suites and tasks (docs/ARCHITECTURE.md, Suites): the contract for what a rollout is asked to fix.

A suite is a JSON file: ``{"name": ..., "tasks": [...]}``. Paths inside it are
relative to the suite file's directory. A task's source is a directory or a git
repository at a commit (BugsInPy, SWE-bench-style instances).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SuiteError(ValueError):
    """A suite that cannot be loaded or used; the message is one clear line."""


class DirSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["dir"] = "dir"
    path: str  # relative to the suite file's directory


class GitSource(BaseModel):
    """A repository (local path, relative to the suite file, or URL) at a commit; checked
    out once into a cache and set up once in the sandbox (agent/suites/git.py)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["git"] = "git"
    repo: str
    commit: str
    subdir: str | None = None
    # Run once in the sandbox on the fresh checkout, in subdir if set (no network), e.g. a build step.
    setup: list[str] | str | None = None
    # The commit whose declared dependencies an ``env: auto`` venv is built from, when not this
    # one (SWE-bench's environment_setup_commit); the project itself is still this commit's.
    env_commit: str | None = None


Source = Annotated[DirSource | GitSource, Field(discriminator="kind")]


class HiddenTests(BaseModel):
    """SWE-bench-style hidden tests (agent/suites/hidden_tests.py): a test patch held out of
    the workspace and applied only for the final run, judged per test id."""

    model_config = ConfigDict(extra="forbid")
    patch: str  # a unified diff, relative to the suite file's directory
    fail_to_pass: list[str]  # pytest node ids that must pass (they fail on the task's source)
    pass_to_pass: list[str] = Field(default_factory=list)  # node ids that must keep passing


class HeldOutTests(BaseModel):
    """Tests the workspace never holds, added for the final run and judged by id
    (agent/suites/held_out_tests.py): hand-written cases of a shipped task, or the part of a
    generated task's reaching tests held out when the suite was made."""

    model_config = ConfigDict(extra="forbid")
    # A hidden directory of the task's source (e.g. "_hidden"); each file in it joins the
    # workspace at the same path below it for the final run ("_hidden/tests/test_x.py" ->
    # "tests/test_x.py"), replacing the rollout's copy. Each such path must be protected.
    dir: str
    # The held-out tests' pytest node ids (a test function's id covers its parameter cases):
    # each must pass in the final run. A command that names node ids runs them too.
    ids: list[str] = Field(min_length=1)

    @field_validator("dir")
    @classmethod
    def _a_relative_dir(cls, v: str) -> str:
        return workspace_path(v)

    @field_validator("ids")
    @classmethod
    def _files_inside(cls, ids: list[str]) -> list[str]:
        for i in ids:
            workspace_path(i.split("::", 1)[0])
        return ids


class DifferentialTarget(BaseModel):
    """One function (or class) a task is about, with its held-out inputs."""

    model_config = ConfigDict(extra="forbid")
    module: str  # import name from the workspace root, e.g. "gcd" or "python_programs.gcd"
    function: str  # a function, or a class when ``script`` (constructor args, then method calls)
    # Each input is the positional argument list; for a script, [constructor args, [[method, args], ...]].
    inputs: list[list] = Field(default_factory=list)
    # The keyword arguments of each input, by its index (recorded calls, agent/differential_record.py:
    # ``sort_items(xs, reverse=True)`` is no ``sort_items(xs, True)`` to a keyword-only option).
    # Shorter than ``inputs`` (a pool, a record written before keywords were): no keywords.
    keywords: list[dict[str, Any]] = Field(default_factory=list)
    script: bool = False
    # The absolute float tolerance of each call is its argument at this index, when the task
    # states it so (QuixBugs' sqrt(x, epsilon): its tests compare with approx(abs=epsilon)).
    tolerance_arg: int | None = None
    # The directory (workspace-relative) the module imports from when it is not the root: a
    # src/ layout the tests reach through pytest's ``pythonpath`` or a conftest's sys.path line.
    path: str = ""
    # The reference's positional parameter names (None: positional-only), as its own run read
    # them: the differential fills them for the rollout's run, which passes half its calls by
    # them, as a caller naming its arguments does (round 23 r23v-4, round 24 r24v-2: renamed or
    # positional-only parameters PASSed). A suite leaves them empty.
    names: list[str | None] = Field(default_factory=list)
    # A script's as ``names``, by method (its constructor's: ``__init__``), past ``self``: half a
    # script's calls pass their arguments by them (round 29 r29v-1). A suite leaves them empty.
    method_names: dict[str, list[str | None]] = Field(default_factory=dict)
    # By input index (shorter than ``inputs``: not for the rest): the input's list arguments
    # passed as generators over their items, as a caller's ``f(x.strip() for x in lines)``
    # (agent/differential_variants.py, round 24 r24v-9). The differential adds such inputs;
    # a suite leaves it empty.
    iterated: list[bool] = Field(default_factory=list)
    # By input index, as ``iterated``: an input the differential asks beyond the sample (its
    # variants: agent/differential_variants.py), left out where the reference raises at it.
    asked: list[bool] = Field(default_factory=list)
    # By input index, as ``iterated``: the input's equal lists made one list, as a caller's
    # ``[[0, 0]] * 3`` is (agent/differential_runner.py ``_givens``; round 27 r27v-13): JSON
    # holds no list twice. The differential adds such inputs (``aliases``); a suite leaves it empty.
    shared: list[bool] = Field(default_factory=list)
    # By input index, as ``iterated``: a widened ``edges`` input of a degenerate shape the
    # pool never holds (a list emptied, a count one past its list, a script's size 0), where a
    # fix refusing it with ValueError or TypeError agrees with a reference answering an empty
    # or degenerate result (round 28 r28v-12; agent/differential.py ``_refused``). The
    # differential adds such inputs; a suite leaves it empty.
    refusable: list[bool] = Field(default_factory=list)

    @field_validator("path")
    @classmethod
    def _inside_the_workspace(cls, v: str) -> str:
        if v.startswith("/") or "\x00" in v or ".." in v.split("/"):
            raise ValueError(f"{v!r} is not a directory inside the workspace")
        return v

    def keywords_of(self, i: int) -> dict[str, Any]:
        """Input ``i``'s keyword arguments (none for most)."""
        return self.keywords[i] if i < len(self.keywords) else {}

    def iterated_at(self, i: int) -> bool:
        """Input ``i``'s list arguments are passed as generators (``iterated``)."""
        return i < len(self.iterated) and self.iterated[i]

    def asked_at(self, i: int) -> bool:
        """Input ``i`` is a variant the differential asks (``asked``)."""
        return i < len(self.asked) and self.asked[i]

    def shared_at(self, i: int) -> bool:
        """Input ``i``'s equal lists are one list (``shared``)."""
        return i < len(self.shared) and self.shared[i]

    def refusable_at(self, i: int) -> bool:
        """Input ``i`` is a degenerate edge a fix may refuse (``refusable``)."""
        return i < len(self.refusable) and self.refusable[i]

    def picked(self, index: list[int], extra: list[list] | None = None) -> DifferentialTarget:
        """This target with only the inputs at ``index`` (in that order), their keywords
        and ``iterated`` marks beside them, then ``extra`` positional inputs."""
        keywords = [self.keywords_of(i) for i in index]
        while keywords and not keywords[-1]:
            keywords.pop()
        marks = {}
        for name, at in (
            ("iterated", self.iterated_at),
            ("asked", self.asked_at),
            ("shared", self.shared_at),
            ("refusable", self.refusable_at),
        ):
            kept = [at(i) for i in index]
            while kept and not kept[-1]:
                kept.pop()
            marks[name] = kept
        inputs = [self.inputs[i] for i in index] + (extra or [])
        return self.model_copy(update={"inputs": inputs, "keywords": keywords, **marks})


# The kinds of widened held-out inputs (agent/widened_inputs.py).
WidenKind = Literal[
    "ties",
    "iterables",
    "floats",
    "small",
    "text",
    "values",
    "edges",
    "sizes",
    "depth",
    "ordered",
    "aliases",
    "characters",
    "repeats",
    "length",
]


class Differential(BaseModel):
    """The task's held-out differential check (agent/differential.py): the pool lives in a
    file the workspace never holds (``pool``, relative to the suite file, a hidden path), or
    inline for generated suites that record it."""

    model_config = ConfigDict(extra="forbid")
    pool: str | None = None  # a JSON file {"targets": [DifferentialTarget, ...]}
    targets: list[DifferentialTarget] = Field(default_factory=list)
    # Inputs drawn per target for each final run. Calls cost microseconds: a large sample keeps
    # the boundary and large values of a pool in every draw (a bug only above 10**4 fails).
    sample: int = 64
    float_tolerance: float = 1e-9  # relative and absolute; a task may state its own
    # Structured cases called beside the sample, inside the pool's domain (agent/structured_inputs.py):
    # for functions of integers or of a list of integers, where a bug hides in a sparse class.
    structured: bool = False
    # Widened inputs called beside the sample (agent/widened_inputs.py): the pool's own inputs
    # varied by the kinds the task's goal admits (none by default: each asks past the pool's domain).
    widen: list[WidenKind] = Field(default_factory=list)
    # Whether the task's contract fixes the order of the keys of the dicts it answers, where
    # the reference's is stable (agent/differential_dict_order.py): a parsed query's pairs keep
    # the query's order (a caller rebuilding the URL sees it, r24v-1). False where the answer
    # is a table whose order no caller's contract reads: counts of words, most common first,
    # are as right as first met (round 30 r30v-18).
    dict_order: bool = True


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    source: Source
    goal: str
    # argv run from the workspace root; a string is split with shlex.
    test_command: list[str] | str = Field(default_factory=lambda: ["python", "-m", "pytest", "-q"])
    timeout_s: float = 60.0  # whole test run
    per_test_timeout_s: float | None = 10.0
    # Relative paths (files or dirs) the final test run restores; changing one = tampered.
    protected: list[str] = Field(default_factory=list)
    # Relative paths never copied into the workspace (reference fixes, answers).
    hidden: list[str] = Field(default_factory=list)
    # Directory (relative to the suite file) whose files overlay the source to fix it.
    reference_fix: str | None = None
    # Single-file fixes that live elsewhere (QuixBugs' correct_python_programs/x.py fixes
    # python_programs/x.py): workspace path -> file relative to the suite's base_dir.
    reference_fix_files: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    # Held-out inputs on which the rollout's code is compared with the reference fix.
    differential: Differential | None = None
    # Hidden tests: workspace-relative text file -> the share of its lines held out of the
    # workspace (drawn by suite, version, task and path) and put back for the final run.
    hold_out_lines: dict[str, float] = Field(default_factory=dict)
    # Difficulty features of generated tasks (operator, lines changed, failing tests,
    # call distance from a failing test to the bug), for calibration and selection.
    features: dict[str, str | int | float] = Field(default_factory=dict)
    # The Python environment the tests run in (agent/suites/env.py): None or "none" is
    # repo-agent's own; "auto" a venv built from what the source declares; else a venv path.
    env: str | None = None
    hidden_tests: HiddenTests | None = None
    held_out_tests: HeldOutTests | None = None

    @field_validator("protected", "hidden")
    @classmethod
    def _inside_workspace(cls, paths: list[str]) -> list[str]:
        for rel in paths:
            workspace_path(rel)
        return paths

    @model_validator(mode="after")
    def _held_out_tests_hidden_and_protected(self) -> Task:
        """The held-out tests' directory is never copied into a workspace, and each test file
        they name is protected: the final run's restore takes them out again."""
        held = self.held_out_tests
        if held is None:
            return self
        if not _under(held.dir, self.hidden):
            raise ValueError(f"held_out_tests.dir {held.dir!r} is not one of the task's hidden paths")
        for i in held.ids:
            if not _under(i.split("::", 1)[0], self.protected):
                raise ValueError(f"held-out test {i!r} is not in a protected path (the tests' files)")
        return self

    @field_validator("reference_fix_files")
    @classmethod
    def _fix_targets_inside_workspace(cls, files: dict[str, str]) -> dict[str, str]:
        for rel in files:
            workspace_path(rel)
        return files


def _under(rel: str, roots: list[str]) -> bool:
    parts = PurePosixPath(rel).parts
    return any(parts[: len(PurePosixPath(r).parts)] == PurePosixPath(r).parts for r in roots)


def workspace_path(rel: str) -> str:
    """``rel`` when it names a place inside a workspace; else ValueError naming the entry.

    The final run deletes each protected path and copies it back from the source: an
    absolute path or a ``..`` would delete files outside the workspace (docs/hostile-files.md).
    """
    from agent.untrusted import neutralise_line

    p = PurePosixPath(rel)
    if not rel.strip() or "\x00" in rel or p.is_absolute() or rel.startswith("~") or ".." in p.parts:
        raise ValueError(
            f"entry {neutralise_line(rel, markup=False)!r} leads outside the workspace "
            "(give a path relative to the task's source, without '..')"
        )
    return rel


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    # Part of the differential sample's seed: a new version draws new held-out inputs.
    version: str = "1"
    tasks: list[Task]
    # Where relative paths resolve from; set by the loader, not part of the file.
    base_dir: Path | None = Field(default=None, exclude=True)

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)
