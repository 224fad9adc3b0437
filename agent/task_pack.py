"""A task's files as one archive, for workers that share no filesystem with the driver
(agent/ray_executor.py): packed once per batch, unpacked once per node into a cache keyed
by the archive's digest."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from agent.private_dir import private_dir
from agent.suites.models import DirSource, Suite, Task
from agent.workspace import source_dir, walk_files

CACHE_DIR = "repo-agent-ray-cache"  # under the worker node's temp dir


def pack_task(suite: Suite, task: Task) -> tuple[str, bytes, Task]:
    """The files a rollout of ``task`` needs, as one tar (digest, bytes), and the task
    rewritten to find them relative to the unpacked directory."""
    buf = io.BytesIO()
    update: dict[str, Any] = {"source": DirSource(path="src")}
    base = Path(suite.base_dir or ".")
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add_tree(root: Path, arc: str) -> None:
            for rel in walk_files(root):
                tar.add(root / rel, arcname=f"{arc}/{rel}", recursive=False)

        add_tree(source_dir(suite, task), "src")
        if task.reference_fix:
            add_tree(base / task.reference_fix, "fix")
            update["reference_fix"] = "fix"
        files = {}
        for i, (dst, fix) in enumerate(sorted(task.reference_fix_files.items())):
            tar.add(base / fix, arcname=f"fixfiles/{i}", recursive=False)
            files[dst] = f"fixfiles/{i}"
        update["reference_fix_files"] = files
    data = buf.getvalue()
    return hashlib.sha256(data).hexdigest()[:32], data, task.model_copy(update=update)


def unpack_task(digest: str, data: bytes, root: Path | None = None) -> Path:
    """Unpack once per node: later rollouts of the task reuse the directory."""
    root = private_dir(Path(root or tempfile.gettempdir()) / CACHE_DIR)
    target = root / digest
    if target.is_dir():
        return target
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=root))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(tmp, filter="data")  # our own archive, still never trusted to write outside
    try:
        os.rename(tmp, target)
    except OSError:  # another worker on this node got there first
        shutil.rmtree(tmp, ignore_errors=True)
    return target
