"""How many honest fixes the SUSPECT scan would flag: every task's reference fix, scanned as
the loop scans a passing rollout's patch (agent/suspect.py). Prints the count per suite and
each hit. Usage: uv run python bench/suspect_false_alarms.py [SUITE ...] (default mini-bugs);
``--git GIT_DIR N`` scans the last N commits of a repository instead: human changes to its
code (test files are test code to the rules, as a task's protected tests are); with
``--patch-only`` after N, each patch alone, as an imported rollout's is scanned; with
``--py-only``, the commits' Python files only (the scan reads every text file a patch changes)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from agent.patch_format import file_diff
from agent.suites.loading import load_suite
from agent.suspect import SOURCE_READ_MAX, SourceTree, is_test_path, scan_patch, source_reader
from agent.suspect_modules import TEST_FILES_MAX, imported_by, watched_of
from agent.workspace import source_dir


def reference_patch(base: Path, source: Path, task) -> tuple[str, dict[str, str]]:
    """The reference fix as a patch over the task's source, and its new texts by path."""
    pairs: list[tuple[str, Path]] = []
    if task.reference_fix:
        root = base / task.reference_fix
        pairs += [(str(p.relative_to(root)), p) for p in sorted(root.rglob("*")) if p.is_file()]
    pairs += [(dst, base / fix) for dst, fix in task.reference_fix_files.items()]
    parts, texts = [], {}
    for rel, new in pairs:
        old_path = source / rel
        old = old_path.read_bytes() if old_path.is_file() else None
        data = new.read_bytes()
        if old != data:
            parts.append(file_diff(rel, old, data))
            texts[rel] = data.decode("utf-8", "replace")
    return "".join(parts), texts


def main(specs: list[str]) -> None:
    total = flagged = 0
    t0 = time.perf_counter()
    for spec in specs or ["mini-bugs"]:
        suite = load_suite(spec)
        base = Path(suite.base_dir or ".")
        n = hit = 0
        for task in suite.tasks:
            if not (task.reference_fix or task.reference_fix_files):
                continue
            source = source_dir(suite, task)
            patch, texts = reference_patch(base, source, task)
            hits = scan_patch(patch, task.protected, source_reader(source), texts.get)
            n += 1
            if hits:
                hit += 1
                for h in hits:
                    print(f"  {suite.name}/{task.id}: {h.rule} {h.path}:{h.line} {h.text[:100]}")
        print(f"{spec}: {hit} of {n} reference fixes flagged SUSPECT")
        total += n
        flagged += hit
    print(f"all: {flagged} of {total} honest fixes flagged ({time.perf_counter() - t0:.1f} s)")


def _git_text(git_dir: str, rev: str):
    """A file's text at ``rev`` (None where it has none): the old and new sources the loop
    reads from the task's source and the workspace."""

    def read(rel: str) -> str | None:
        got = subprocess.run(["git", "--git-dir", git_dir, "show", f"{rev}:{rel}"], capture_output=True)
        return got.stdout.decode("utf-8", "replace") if got.returncode == 0 else None

    return read


class GitTree(SourceTree):
    """The task's source as a commit of a repository holds it: a file's text, and the modules
    ``library_patched`` watches (the commit's test files' imports, less its own modules)."""

    def __init__(self, git_dir: str, rev: str) -> None:
        super().__init__(Path(git_dir), SOURCE_READ_MAX)
        self.git_dir, self.rev = git_dir, rev
        self.read = _git_text(git_dir, rev)

    def __call__(self, rel: str) -> str | None:
        return self.read(rel)

    def _names(self) -> list[str]:
        got = subprocess.run(
            ["git", "--git-dir", self.git_dir, "ls-tree", "-r", "--name-only", self.rev], capture_output=True, text=True
        )
        return got.stdout.split("\n") if got.returncode == 0 else []

    def imports(self) -> frozenset[str]:
        """What the commit's Python files import, and its top-level names (``network_client``)."""
        names = self._names()
        py = [n for n in names if n.endswith(".py")][:TEST_FILES_MAX]
        texts = (t for t in map(self.read, py) if t is not None)
        return imported_by(texts) | {n.split("/")[0].removesuffix(".py") for n in names if n}

    def watched(self, protected: Sequence[str]) -> frozenset[str]:
        names = self._names()
        tops = [p.strip("/") for p in protected]
        tests = [n for n in names if n.endswith(".py") and is_test_path(n, tops)]
        own: set[str] = set()
        for n in names:
            parts = n.split("/")
            for i, part in enumerate(parts):  # a module at the root, under src/, beside the tests
                if i == 0 or parts[i - 1] == "src" or parts[i - 1] in tops:
                    name = part[:-3] if part.endswith(".py") and i == len(parts) - 1 else part
                    if i < len(parts) - 1 or part.endswith(".py"):
                        own.add(name)
        texts = (t for t in map(self.read, tests[:TEST_FILES_MAX]) if t is not None)
        return watched_of(imported_by(texts), frozenset(own))


def main_git(git_dir: str, count: int, patch_only: bool = False, py_only: bool = False) -> None:
    shas = subprocess.run(
        ["git", "--git-dir", git_dir, "rev-list", "--no-merges", f"--max-count={count}", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    flagged = 0
    for sha in shas:
        patch = subprocess.run(
            ["git", "--git-dir", git_dir, "show", "--format=", "--no-color", "--no-ext-diff", sha]
            + (["--", "*.py"] if py_only else []),
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8", "replace")
        if patch_only:  # as an imported rollout is scanned: the patch alone (agent/importers/writer.py)
            hits = scan_patch(patch)
        else:
            hits = scan_patch(patch, ["tests", "test", "testing"], GitTree(git_dir, f"{sha}^"), _git_text(git_dir, sha))
        if hits:
            flagged += 1
            for h in hits:
                print(f"  {sha[:10]}: {h.rule} {h.path}:{h.line} {h.text[:100]}")
    print(f"{git_dir}: {flagged} of {len(shas)} commits flagged")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)
    elif sys.argv[1:2] == ["--git"]:
        main_git(sys.argv[2], int(sys.argv[3]), "--patch-only" in sys.argv[4:], "--py-only" in sys.argv[4:])
    else:
        main(sys.argv[1:])
