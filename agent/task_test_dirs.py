"""The directories a task's tests live in, beyond its protected files (round 8, vrd8-5).

A generated suite protects the test files it selects and every conftest.py; the rest of
their directory (the test package's ``__init__.py``, helpers, data) is imported or read by
the tests all the same. A fix placed there (``tests/__init__.py`` rebinding
``clock.hours``) passed while the code under test stayed wrong for every other caller. The
final run puts these directories back as the source has them (``Workspace.put_back``).

A test directory is the directory of a protected test module, widened to its parents while
they hold none of the code under test (the files the reference fix writes, the modules the
differential calls) and are not the workspace root: ``tests/unit`` widens to ``tests``,
``toolz/tests`` stays itself. Neither a directory nor a parent counts while it holds a library
module (a Python file that is no test's own and not under a ``tests``/``test`` directory):
a fix may touch it though the reference fix does not (rounds 10 and 11, r10-9, r11-9). With no
code under test known (no reference fix, no
differential targets), a directory counts only while every Python file under it is a test
module, a conftest.py or an ``__init__.py`` (a helper there cannot be told from the code).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from agent.suites.hidden_tests import added_files, patch_text
from agent.suites.models import Suite, Task
from agent.workspace import under, walk_files

_TEST_MODULE = re.compile(r"test_\w*\.py|\w*_test\.py")


def is_test_module(rel: str) -> bool:
    """A Python test module by its name (``test_x.py``, ``x_test.py``), wherever it lies."""
    return _TEST_MODULE.fullmatch(PurePosixPath(rel).name) is not None


def protected_test_files(files: list[str], protected: list[str]) -> list[str]:
    """The protected test files among ``files``: test modules under a protected path. The one
    rule for where a task's tests live (canaries, probes, the differential's order)."""
    return [rel for rel in files if under(rel, protected) and is_test_module(rel)]


def fix_sources(suite: Suite, task: Task) -> dict[str, Path]:
    """The files the task's reference fix writes: workspace path -> its file on disk (as
    ``apply_reference_fix`` writes them: the fix directory's, then ``reference_fix_files``)."""
    base = Path(suite.base_dir or ".")
    out: dict[str, Path] = {}
    if task.reference_fix:
        root = base / task.reference_fix
        out.update((rel, root / rel) for rel in walk_files(root))
    out.update((dst, base / src) for dst, src in task.reference_fix_files.items())
    return out


def code_under_test(suite: Suite, task: Task) -> list[str]:
    """Workspace paths of what the task's fix is about: the reference fix's files, and the
    module (as a file and as a package) of each inline differential target."""
    out = list(fix_sources(suite, task))
    for t in task.differential.targets if task.differential else []:
        mod = "/".join(p for p in (t.path.strip("/"), t.module.replace(".", "/")) if p)
        out += [mod, f"{mod}.py"]
    return sorted(set(out))


def dirs_of_tests(suite: Suite, task: Task, source_files: list[str]) -> list[str]:
    """The task's test directories (outermost only) not already under a protected path;
    ``source_files``: the source's files, as ``walk_files`` lists them."""
    others = [rel for rel in source_files if rel.endswith(".py") and not _tests_own(rel)]
    code = code_under_test(suite, task) or others  # no fix known: any Python file but the tests' own
    library = [rel for rel in others if not _in_a_tests_dir(rel)]  # tests/helpers.py is the tests'
    found: set[str] = set()
    for rel in protected_test_files(source_files, task.protected):
        d = _parent(rel)
        # A directory holding library modules beside its tests is the code's too: a fix may
        # touch them though the reference fix does not (round 11 r11-9: pkg/sub/util.py beside
        # pkg/sub/test_util.py was put back, an honest fix reverted).
        if not d or _holds(d, code) or _holds(d, library):
            continue
        # Widened to a parent only while it holds no module of its own beside the tests' dir: a
        # library module there is code a fix may touch, though the reference fix does not (put
        # back, an honest fix in pkg/b/util.py was reverted: round 10 r10-9).
        while "/" in d and not _holds(_parent(d), code) and not _beside(_parent(d), d, library):
            d = _parent(d)
        found.add(d)
    outermost = [d for d in found if not any(o != d and under(d, [o]) for o in found)]
    return sorted(d for d in outermost if not under(d, task.protected) and not under(d, task.hidden))


def hidden_patch_adds(suite: Suite, task: Task) -> list[str]:
    """The files a task's hidden test patch creates (SWE-bench): left for ``hidden_run``, which
    sets the rollout's own file at that path aside for the run and puts it back after."""
    return added_files(patch_text(suite, task)) if task.hidden_tests is not None else []


def _tests_own(rel: str) -> bool:
    name = PurePosixPath(rel).name
    return name in ("__init__.py", "conftest.py") or is_test_module(name)


def _parent(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def _in_a_tests_dir(rel: str) -> bool:
    # "testing" is left out: numpy.testing, pandas._testing are library code a fix may touch
    return any(part in ("tests", "test") for part in PurePosixPath(rel).parts[:-1])


def _beside(parent: str, d: str, modules: list[str]) -> bool:
    """``parent`` holds one of ``modules`` outside ``d``."""
    return any(under(m, [parent]) and not under(m, [d]) for m in modules)


def _holds(d: str, code: list[str]) -> bool:
    return any(under(c, [d]) for c in code)
