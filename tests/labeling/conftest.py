"""Fixtures for the label store: batches written with the real `agent.trace.TraceWriter`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from agent.trace import BranchInfo, rollout_id_for
from labeling.store import LabelStore
from tests import factories


def make_patch(path: str, removed: list[str], added: list[str]) -> str:
    """A git-style unified diff changing ``removed`` lines into ``added`` lines of ``path``."""
    return factories.unified_patch(path, removed, added)


FIX = make_patch("prog.py", ["    return x - 1"], ["    return x + 1"])


@dataclass
class Call:
    name: str
    args: dict[str, Any] | None = None
    valid: bool = True
    ok: bool = True
    raw: str | None = None  # raw arguments string (defaults to json of args)


@dataclass
class Spec:
    """One rollout to write. ``calls``: one list of calls per step (default: one read per step)."""

    task_id: str
    seed: int
    passed: bool = False
    patch: str = ""
    steps: int = 3
    tool_calls: int | None = None
    files_touched: int | None = None
    tampered: bool = False
    finished: bool = True
    calls: list[list[Call]] | None = None
    summary: str = "done"
    model: str = "m-7b"
    cost_usd: float | None = 0.01
    branch: BranchInfo | None = None
    extra_text: str = ""

    @property
    def rollout_id(self) -> str:
        return rollout_id_for(self.task_id, self.seed)


def to_rollout(spec: Spec) -> factories.Rollout:
    calls = spec.calls or [[Call("read_file", {"rel_path": "prog.py"})] for _ in range(spec.steps)]
    files = ["prog.py"] if spec.patch else []
    return factories.Rollout(
        task_id=spec.task_id,
        seed=spec.seed,
        steps=[
            [
                factories.Call(
                    c.name,
                    c.args,
                    raw=c.raw,
                    valid=c.valid,
                    violations=None if c.valid else ["rel_dir: required"],
                    ok=c.ok,
                    output="output " + spec.extra_text,
                    output_chars=120,
                    error=None if c.ok and c.valid else "failed",
                )
                for c in step
            ]
            for step in calls
        ],
        passed=spec.passed,
        tampered=spec.tampered,
        patch=spec.patch,
        files=files,
        files_touched=spec.files_touched,
        tool_calls=spec.tool_calls,
        summary=spec.summary,
        finished=spec.finished,
        model=spec.model,
        branch=spec.branch,
        goal="fix prog.py " + spec.extra_text,
        cost_usd=spec.cost_usd,
        duration_s=2.0,
    )


def write_rollout(batch_dir: Path, spec: Spec, *, batch_id: str | None = None, upto: str | None = None) -> Path:
    """Write the spec's trace. ``upto="steps"`` stops before the end (a running rollout)."""
    return factories.write_rollout(batch_dir, to_rollout(spec), batch_id=batch_id, upto=upto)


def make_batch(root: Path, name: str, specs: list[Spec], *, finished: bool = True) -> Path:
    """A batch directory ``root/name`` with batch.json and one trace per spec."""
    return factories.write_batch(
        root, name, [to_rollout(s) for s in specs], finished="2026-11-22T08:10:00+00:00" if finished else None
    )


@dataclass
class Env:
    root: Path
    store: LabelStore
    batches: list[Path] = field(default_factory=list)
    db: str | Path = ""  # the store's file, or its PostgreSQL URL
    backend: str = "sqlite"

    def open(self, labeler: str = "alice") -> LabelStore:
        """Another connection to the same store (another process, a restart)."""
        return LabelStore(self.db, labeler=labeler, base=self.root if self.backend == "postgres" else None)

    def batch(self, name: str, specs: list[Spec], **kw) -> Path:
        b = make_batch(self.root, name, specs, **kw)
        self.batches.append(b)
        return b

    def uid(self, batch: str, spec: Spec) -> str:
        return f"{batch}/{spec.rollout_id}"


def pytest_generate_tests(metafunc):
    """A module with ``BACKENDS = ("sqlite", "postgres")`` runs its store tests on both."""
    if "backend" in metafunc.fixturenames and hasattr(metafunc.module, "BACKENDS"):
        metafunc.parametrize("backend", metafunc.module.BACKENDS, indirect=True)


@pytest.fixture
def backend(request) -> str:
    return getattr(request, "param", "sqlite")


def pg_url(conninfo: str) -> str:
    """tests/postgres.py's conninfo as the ``postgresql://`` URL a user passes to --db."""
    parts = dict(kv.split("=", 1) for kv in conninfo.split())
    return f"postgresql://{parts['user']}@/{parts['dbname']}?host={quote(parts['host'], safe='')}"


@pytest.fixture
def store_db(backend: str, tmp_path: Path, request) -> str | Path:
    """Where the test's store lives: a SQLite file, or a fresh PostgreSQL database's URL."""
    if backend == "postgres":
        return pg_url(request.getfixturevalue("pg_database"))
    return tmp_path / "labels.sqlite"


@pytest.fixture
def env(tmp_path: Path, backend: str, store_db: str | Path):
    root = tmp_path / "traces"
    root.mkdir()
    e = Env(root, None, db=store_db, backend=backend)  # type: ignore[arg-type]
    e.store = e.open("alice")
    yield e
    e.store.close()
