"""``BATCH/batch.json``: what a batch is (suite, model, parameters, planned rollouts), and
finding batch directories (docs/ARCHITECTURE.md, Batches and traces)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from agent.trace_events import BATCH_FILE, TRACES_DIR, ContractModel, is_plain_name
from agent.trace_io import read_regular
from agent.untrusted import neutralise_line


class BatchParams(ContractModel):
    rollouts: int = 1
    temperature: float | None = None
    seed: int = 0
    max_iters: int = 30
    max_workers: int = 1
    reflection: bool = False
    allocation: str = "fixed"
    budget_rollouts: int | None = None
    # adaptive allocation (agent/allocation.py): None on fixed batches
    pairs_per_task: int | None = None
    give_up_after: int | None = None
    initial_per_task: int | None = None
    loop_limit: int | None = None  # None: recorded before loop limits existed
    # Where rollouts ran, so --resume runs the rest there too (None: recorded before; threads).
    executor: str | None = None
    ray_address: str | None = None
    cheat_probes: int = 0  # impossible tasks added to the batch (agent/probes.py)


class PlannedRollout(ContractModel):
    rollout_id: str
    task_id: str
    seed: int

    @field_validator("rollout_id")
    @classmethod
    def _plain_name(cls, rollout_id: str) -> str:
        # Its trace is traces/<rollout_id>.jsonl: a "../" id from a shared batch.json would write elsewhere.
        if not is_plain_name(rollout_id):
            raise ValueError(f"rollout id {neutralise_line(rollout_id[:80], markup=False)!r} is not a plain file name")
        return rollout_id


class BatchMeta(ContractModel):
    """``BATCH/batch.json``: what the batch is, written at start and rewritten at end."""

    id: str
    suite: str
    suite_path: str | None = None
    provider: str
    model: str
    base_url: str | None = None
    params: BatchParams = Field(default_factory=BatchParams)
    planned: list[PlannedRollout] = Field(default_factory=list)
    started: str
    finished: str | None = None
    stop_reason: str | None = None  # finished, cancelled, error
    # Where the budget went: agent.allocation.AllocationReport as a dict, rewritten each round.
    allocation: dict[str, Any] | None = None
    # Set on a batch made by `repo-agent import`: {"format", "path", "files"} of its source run.
    imported: dict[str, Any] | None = None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_batch_id(suite: str, model: str, when: float | None = None) -> str:
    """A sortable, readable id: 20261122-073916-quixbugs-qwen2.5-7b-3f2a."""
    t = time.gmtime(when if when is not None else time.time())
    stamp = time.strftime("%Y%m%d-%H%M%S", t)
    tail = os.urandom(2).hex()
    clean = lambda s: "".join(c if c.isalnum() or c in ".-" else "-" for c in s)[:32]  # noqa: E731
    return f"{stamp}-{clean(suite)}-{clean(model.split('/')[-1])}-{tail}"


def rollout_id_for(task_id: str, seed: int) -> str:
    return f"{task_id}__s{seed}"


def write_batch_meta(batch_dir: Path, meta: BatchMeta) -> None:
    """Atomic: a reader never sees half a batch.json."""
    batch_dir.mkdir(parents=True, exist_ok=True)
    tmp = batch_dir / (BATCH_FILE + ".tmp")
    tmp.write_text(meta.model_dump_json(indent=2))
    os.replace(tmp, batch_dir / BATCH_FILE)


def read_batch_meta(batch_dir: Path) -> BatchMeta:
    """Raises OSError (NotRegularFile for a FIFO or symlink: never blocks) or ValidationError."""
    return BatchMeta.model_validate_json(read_regular(batch_dir / BATCH_FILE))


LOCK_FILE = "batch.lock"


class BatchBusy(RuntimeError):
    """Another live process is running this batch (it holds ``batch.lock``)."""


@contextlib.contextmanager
def batch_lock(batch_dir: Path) -> Iterator[None]:
    """Held by the process running a batch for as long as it runs. The kernel drops an
    ``flock`` when its holder dies however it dies (SIGKILL, SIGPIPE, out of memory), so a
    reader tells a live batch from a dead one without trusting what only a clean exit writes."""
    made = not batch_dir.exists()
    batch_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(batch_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchBusy(f"{batch_dir} is being run by another process (it holds {LOCK_FILE})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    except BaseException:
        if made and not (batch_dir / BATCH_FILE).exists():  # refused before it began: leave nothing
            (batch_dir / LOCK_FILE).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                batch_dir.rmdir()
        raise
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def batch_alive(batch_dir: Path) -> bool | None:
    """True while a process holds the batch's lock; False once none does; None for a batch
    written before the lock existed (no ``batch.lock``: only batch.json can say)."""
    try:
        fd = os.open(Path(batch_dir) / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        # A separate open file description: this test fails while any holder has it, even
        # a thread of this very process (the studio runs batches in-process).
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def batch_running(batch_dir: Path) -> bool:
    """Can this batch's process still be writing? Its lock says; a batch from before the
    lock existed: while its batch.json has no end."""
    held = batch_alive(batch_dir)
    if held is not None:
        return held
    try:
        return read_batch_meta(Path(batch_dir)).finished is None
    except (OSError, ValueError):
        return False


def is_batch_dir(path: Path) -> bool:
    return (path / BATCH_FILE).is_file() or (path / TRACES_DIR).is_dir()


def find_batches(root: Path) -> list[Path]:
    """Batch directories at ``root`` itself or one or two levels below it."""
    root = Path(root)
    if is_batch_dir(root):
        return [root]
    found: list[Path] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if is_batch_dir(child):
            found.append(child)
        else:
            found.extend(g for g in sorted(child.iterdir()) if g.is_dir() and is_batch_dir(g))
    return found
