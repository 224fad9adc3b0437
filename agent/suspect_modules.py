"""Which modules the SUSPECT scan's ``library_patched`` rule watches for a task
(agent/suspect_ast.py; docs/sandbox-and-verdicts.md, "SUSPECT").

The tests assert with what they import: a third-party ``checks.assert_equal``, numpy's
``np.testing``, a helper library of the project's own environment. Code under test that sets
an attribute of one of those modules (or of a class of one) replaces the tests' own
assertions inside their process (round 14, r14-9). The watched modules are the test and
assertion libraries every task has (``TEST_LIBRARIES``) and the modules the task's tests
import, less the task's own modules (the code under test and its helpers: patching among
them is the project's business) and a few standard modules whose process state honest code
sets (``sys.stdout``, ``warnings.showwarning``, a logger).

Read from the task's source (the tests as the task ships them, never the workspace's): at
most ``TEST_FILES_MAX`` test files, each up to ``TEST_FILE_MAX_BYTES``, by one linear pattern
per line (no parse).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from agent.suspect_ast import TEST_LIBRARIES
from agent.trace_io import read_regular
from agent.tree_walk import walk

TEST_FILES_MAX = 2_000
TEST_FILE_MAX_BYTES = 1_000_000
# Process state honest code sets through these modules' attributes (a redirected stdout, a
# warnings hook, a log level); ``builtins`` has a rule of its own.
NOT_WATCHED = frozenset({"sys", "os", "warnings", "logging", "builtins", "__future__", "__main__"})
_IMPORT = re.compile(r"^[ \t]*+(?:from[ \t]++([\w.]++)[ \t]++import\b|import[ \t]++([\w.][\w., \t]*+))", re.M)


def tests_import(source: Path, protected: Sequence[str]) -> frozenset[str]:
    """The modules (dotted, absolute imports only) the Python files under the task's
    protected paths import: ``from a.b import c`` names ``a.b``, ``import a.b as x`` ``a.b``."""
    return imported_by(_test_texts(source, protected))


def imported_by(texts: Iterable[str]) -> frozenset[str]:
    """The modules the Python sources ``texts`` import (as ``tests_import``)."""
    out: set[str] = set()
    for text in texts:
        for m in _IMPORT.finditer(text):
            if m.group(1) is not None:
                out.add(m.group(1))
                continue
            for part in m.group(2).split(","):
                name = part.split()[0] if part.split() else ""
                if name and not name.startswith("."):
                    out.add(name)
    return frozenset(n for n in out if n and not n.startswith("."))


def source_imports(source: Path) -> frozenset[str]:
    """The modules the task's Python files import (at most ``TEST_FILES_MAX`` files, each up to
    ``TEST_FILE_MAX_BYTES``), and its own top-level names: what its code already uses."""
    return _imported_exactly(source_texts(source)) | own_modules(source, ())


def source_texts(source: Path) -> list[str]:
    """The task's Python files' texts (at most ``TEST_FILES_MAX``, each up to ``TEST_FILE_MAX_BYTES``)."""
    texts: list[str] = []
    if source.is_dir() and not source.is_symlink():
        for d, _, names in walk(source):
            for n in sorted(names):
                if not n.endswith(".py") or len(texts) >= TEST_FILES_MAX:
                    continue
                try:
                    texts.append(read_regular(os.path.join(d, n), TEST_FILE_MAX_BYTES).decode("utf-8", "replace"))
                except OSError:
                    continue
    return texts


# ``from X import a, (b as c)``: the names imported, up to the line's end or the closing paren.
_FROM_IMPORT = re.compile(r"^[ \t]*+from[ \t]++([\w.]++)[ \t]++import[ \t]*+(\([^)]*+\)|[^\n#;]*+)", re.M)


def _imported_exactly(texts: list[str]) -> frozenset[str]:
    """``imported_by``, but ``from X import a`` as ``X.a`` (and X only for ``import *``): the
    network client excuse is the exact module the source imports (r17-35: ``from urllib
    import parse`` excused a new ``urllib.request``); ``X.a`` still excuses ``X`` itself
    where X is the client (``from urllib.request import urlopen``)."""
    out = set(imported_by(texts))
    for text in texts:
        for m in _FROM_IMPORT.finditer(text):
            names = [p.split()[0] for p in m.group(2).strip("()").replace("\\", " ").split(",") if p.split()]
            if names and "*" not in names:
                out.discard(m.group(1))
                out.update(f"{m.group(1)}.{n}" for n in names)
    for text in texts:  # a module imported whole elsewhere keeps its own name
        for m in _IMPORT.finditer(text):
            if m.group(2) is not None:
                out.update(p.split()[0] for p in m.group(2).split(",") if p.split())
    return frozenset(n for n in out if n and not n.startswith("."))


def own_modules(source: Path, protected: Sequence[str]) -> frozenset[str]:
    """Top-level names the task's source defines: a module or package at its root, under
    ``src/``, or beside its tests (a test helper imported by name)."""
    out: set[str] = set()
    dirs = [source, source / "src"] + [source / p.strip("/") for p in protected if p.strip("/")]
    for d in dirs:
        try:
            entries = list(os.scandir(d)) if d.is_dir() and not d.is_symlink() else []
        except OSError:
            continue
        for e in entries:
            if e.name.endswith((".py", ".pyi")):
                out.add(e.name.rsplit(".", 1)[0])
            elif e.is_dir(follow_symlinks=False) and e.name.isidentifier():
                out.add(e.name)
    return frozenset(out)


def watched_modules(source: Path, protected: Sequence[str]) -> frozenset[str]:
    """What ``library_patched`` watches for a task whose source is ``source``."""
    return watched_of(tests_import(source, protected), own_modules(source, protected))


def watched_of(imported: Iterable[str], own: frozenset[str]) -> frozenset[str]:
    """The test libraries, and the modules the tests import that are not the task's ``own``."""
    return TEST_LIBRARIES | frozenset(n for n in imported if n.split(".")[0] not in own | NOT_WATCHED)


def _test_texts(source: Path, protected: Sequence[str]) -> list[str]:
    texts: list[str] = []
    for p in protected:
        top = source / p.strip("/")
        if not p.strip("/") or top.is_symlink():
            continue
        if top.is_file():
            found = [str(top)]
        elif top.is_dir():
            found = [os.path.join(d, n) for d, _, names in walk(top) for n in names if n.endswith(".py")]
        else:
            continue
        for path in sorted(found):
            if len(texts) >= TEST_FILES_MAX:
                return texts
            try:
                texts.append(read_regular(path, TEST_FILE_MAX_BYTES).decode("utf-8", "replace"))
            except OSError:  # not a regular file (never opened: a FIFO would block), unreadable
                continue
    return texts
