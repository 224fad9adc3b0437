"""The final, authoritative test run of a rollout (docs/ARCHITECTURE.md, sandbox).

Whatever mechanism code under test finds to fake a verdict, three checks stand behind
the per-test records of agent/scoring.py:

- **Canaries.** Before the run, tests with fresh random names are planted in the
  protected test files, looking like the task's own: some must fail, some must pass, and
  some (mirrors) are copies of the file's real tests, calling the task's code as they do,
  whose every case must end as the real one does. A canary that ends otherwise, or is
  missing from the records of a session that finished, makes the rollout tampered.
  Canaries are then taken out of the counts.
- **Test configuration.** A conftest.py, pytest/tox/setup config, or a module shadowing
  pytest, sitecustomize or a ``.pth`` file that the task's source does not have (or has
  with other content, or has and the workspace lost) is tampering: ``config_tamper``.
- **Held-out differential verdict.** When the run passes and the task names its functions
  and a held-out input pool, the rollout's code is called on a sample of inputs it never saw,
  in a fresh sandboxed process, and its plain-data results are compared here with the
  reference fix's (agent/differential.py). A mismatch is a FAIL whatever pytest said: this
  is the check the code under test cannot reach.
- **Hidden tests.** Test data lines (QuixBugs) and test files (mini-bugs' hand-written
  cases, a generated task's held-out reaching tests) the workspace never held join it after
  the differential has judged the code, and the held-out tests are judged by id
  (agent/suites/held_out_tests.py).
- **Reference rerun.** When the run passes and the task has a reference fix, the
  reference fix runs against the same planted tests: it must pass too, and it must not
  see tests the rollout's run did not report.

``CHECKER_VERSION`` names this verdict in each rollout's outcome; a rollout judged by an
older one can be judged again (``repo-agent rejudge``).
"""

from __future__ import annotations

import ast
import codecs
import configparser
import dataclasses
import hashlib
import importlib.machinery
import os
import random
import re
import shlex
import shutil
import stat
import tempfile
import tomllib
from collections.abc import Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from agent import differential as held_out
from agent import final_run_lease, slow_machine, test_file_guard
from agent.patch_format import file_digest
from agent.pytest_report import pytest_index, pytest_paths
from agent.sandbox import WORKSPACE_BYTES, WORKSPACE_INODES, tree_cost
from agent.scoring import TestResult, resolve_argv
from agent.suites import held_out_tests
from agent.suites.hidden_tests import hidden_run
from agent.suspect import source_encoding
from agent.task_test_dirs import dirs_of_tests, hidden_patch_adds, protected_test_files
from agent.trace import TestCounts
from agent.trace_events import RolloutState, judged
from agent.tree_walk import walk
from agent.workspace import (
    PathEscape,
    Workspace,
    apply_reference_fix,
    has_reference_fix,
    same_bytes,
    under,
    walk_files,
)

# Version 1: canaries, config scan, reference rerun (fooled by issue 26's attacks).
# Version 2: plus the held-out differential verdict outside the tests' process.
# Version 3: only what the patch records is judged (no __pycache__, symlinks, hidden paths);
# malformed verdict records are a problem of the run, never an exception in the parent.
# Version 4: per-task float tolerance (an epsilon argument), QuixBugs' visible data called too,
# pools with large values called whole, recorded inputs for tasks with no pool (generated).
# Version 5: per-run call sequence and hash seed shared with the reference's run (stateful
# references, call counts, a pinned seed), sorted-only results as multisets, canaries judged
# against the reference's run, config as the reference writes it, pools past 2**53.
# Version 6: held-out test files (mini-bugs, generated suites) judged by id; verdict records
# sealed with the run's secret (a swapped pipe is tampering); the differential shares no tell
# with the tests' run (no alarm handler, a path drawn per run, a pty as stdin for part of the
# calls), structured cases (round 7).
# Version 7: canaries in a module skipped at collection judged against a trusted run, canary
# names new to every module, '-xq' read as stopping at the first failure, the hidden-tests
# final run also runs what run_tests ran, verdict records read to 64 MB (past: not judged),
# recorded keyword arguments replayed by keyword, test dirs not widened over library code
# (round 10).
CHECKER_VERSION = "7"
CONFIG_NAMES = frozenset(
    {"conftest.py", "pytest.ini", ".pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml", "sitecustomize.py"}
    | {"usercustomize.py", "pytest.py", "py.py", "pluggy.py"}
    | {"pytest.toml", ".pytest.toml"}  # pytest 9's own files (a task's venv may bring it: round 8 #21)
)
SHADOW_DIRS = frozenset({"_pytest", "pytest", "pluggy"})
_WORDS: tuple[str, ...] = ("edge", "large", "repeat", "mixed", "order", "bounds", "again", "single", "pair", "basic")
_WORDS += ("extra", "more", "small", "negative", "nested", "empty_case", "twice", "long", "unicode", "reverse")
_WORDS += ("limits", "regression")
N_MUST_FAIL = 2
N_MUST_PASS = 2
N_MIRRORS = 2


@dataclass(frozen=True)
class Canary:
    file: str  # workspace-relative test file
    name: str  # test function name
    must_pass: bool
    source: str  # the text appended to the file
    # A mirror: a copy of this real test of the file (decorators, parameters, body), which
    # calls the task's code as it does; each of its cases must end as the real one does.
    mirror_of: str | None = None

    @property
    def nodeid(self) -> str:
        return f"{self.file}::{self.name}"

    def case_ids(self, outcomes: dict[str, str]) -> list[str]:
        """The canary's node ids in ``outcomes`` (one per parameter set)."""
        return [k for k in outcomes if k == self.nodeid or k.startswith(self.nodeid + "[")]

    def copies(self, outcomes: dict[str, str]) -> list[str]:
        """Its node ids in other test modules (one that star-imports the canary's module runs
        its functions again: round 6, R6-16)."""
        out = []
        for k in outcomes:
            file, sep, rest = k.partition("::")
            if sep and file != self.file and "::" not in rest and rest.split("[", 1)[0] == self.name:
                out.append(k)
        return out


def config_tamper(ws: Workspace) -> list[str]:
    """Test configuration in the workspace that the task's source does not have as it is."""
    out: list[str] = []
    for dirpath, dirnames, filenames in walk(ws.path):  # any depth (agent/tree_walk.py)
        rel_dir = os.path.relpath(dirpath, ws.path)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        for d in dirnames:
            if d in SHADOW_DIRS and not _is_dir(ws.source / rel_dir / d):
                out.append(f"{rel_dir}/{d}".lstrip("/"))
        for f in filenames:
            if not _is_config(f):
                continue
            rel = f"{rel_dir}/{f}".lstrip("/")
            if not ws.is_hidden(rel) and not _known_config(ws, rel):
                out.append(rel)
    # The source's own configuration deleted (or a directory in its place) is tampering too:
    # without jinja's ``filterwarnings = error`` a fix that warns passed (round 8, vrd8-3).
    for rel in walk_files(ws.source, ws.task.hidden):
        if _is_config(rel.rsplit("/", 1)[-1]) and not _is_file(ws.path / rel):
            out.append(rel)
    return sorted(set(out))


def _is_config(name: str) -> bool:
    return name in CONFIG_NAMES or name.endswith(".pth")


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


# A path the tests made deeper than the source's own can be named is one the source never
# had: its OSError (ENAMETOOLONG) answers "not the same", never leaves the verdict.
def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _known_config(ws: Workspace, rel: str) -> bool:
    """The config file at ``rel`` is the source's own or the one the reference fix writes."""
    mine = ws.path / rel
    try:
        if not stat.S_ISREG(os.lstat(mine).st_mode):  # never open a FIFO
            return False
        return any(
            known is not None and known.is_file() and _same_config(known, mine)
            for known in (ws.source / rel, _reference_file(ws, rel))
        )
    except OSError:
        return False


# Config files read by meaning (r13-11: the reference fix's version bump in setup.cfg, one blank
# line less, was a tampered path). Their bytes may differ from a trusted file's only where no
# reader sees a difference; code (conftest.py, sitecustomize.py, .pth) stays compared byte for byte.
_INI_NAMES = frozenset({"setup.cfg", "tox.ini", "pytest.ini", ".pytest.ini"})
_TOML_NAMES = frozenset({"pyproject.toml", "pytest.toml", ".pytest.toml"})
_CONFIG_READ_MAX_BYTES = 1 << 20
# str.splitlines() (iniconfig's) breaks lines where a text file's reader (configparser's) does not.
_ODD_LINE_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def _same_config(known: Path, mine: Path) -> bool:
    """``mine`` says what the trusted ``known`` says: the same bytes, or (an ini or TOML file)
    the same meaning, by ``_ini_meaning`` / ``_toml_meaning``."""
    if same_bytes(known, mine):
        return True
    name = mine.name
    if name not in _INI_NAMES and name not in _TOML_NAMES:
        return False
    if max(os.lstat(known).st_size, os.lstat(mine).st_size) > _CONFIG_READ_MAX_BYTES:
        return False
    try:
        texts = [p.read_bytes().decode("utf-8") for p in (known, mine)]
    except UnicodeDecodeError:
        return False
    read = _ini_meaning if name in _INI_NAMES else _toml_meaning
    a, b = read(texts[0]), read(texts[1])
    return a is not None and a == b


def _ini_meaning(text: str) -> list[str] | None:
    """The lines of an ini file as both its readers (pytest's iniconfig, configparser: setuptools,
    flake8, coverage) see them: comment lines and trailing whitespace gone, whitespace around a
    key's ``=`` gone, a continuation line's indent one space, blank lines dropped but before a
    continuation (configparser keeps those in the value). Names keep their case (configparser
    lowercases them, pytest does not read ``ADDOPTS``); an inline comment is kept as written
    (iniconfig may strip it, configparser does not). None: lines its readers could split apart."""
    if _ODD_LINE_BREAKS.search(text):
        return None
    out: list[str] = []
    blanks = 0
    for line in text.splitlines():
        line = line.rstrip()
        if not line:
            blanks += 1
            continue
        if line.lstrip()[0] in "#;":  # a comment line, to both readers (at any indent)
            continue
        if line[0].isspace():
            out += [""] * blanks + [" " + line.strip()]
        else:
            name, eq, value = line.partition("=")
            # A "=" before any ":" is where both readers split a key from its value.
            out.append(f"{name.strip()}={value.strip()}" if eq and ":" not in name else line)
        blanks = 0
    return out


def _toml_meaning(text: str) -> object:
    """A TOML file's parsed content, each value with its type (``1 == True`` in Python, not in
    TOML); None when it does not parse (tomllib's reading is pytest's)."""
    try:
        return _typed(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, RecursionError):  # nested arrays deep enough exhaust the stack
        return None


def _typed(value: object) -> object:
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def _reference_file(ws: Workspace, rel: str) -> Path | None:
    """The file the task's reference fix writes at ``rel`` (a fix in setup.cfg is the fix, and
    an honest rollout makes it too), or None."""
    base = Path(ws.suite.base_dir or ".")
    if rel in ws.task.reference_fix_files:
        return base / ws.task.reference_fix_files[rel]
    if ws.task.reference_fix:
        path = base / ws.task.reference_fix / rel
        return path if path.is_file() else None
    return None


def _test_files(ws: Workspace, revealed: Collection[str] = ()) -> list[str]:
    """Protected test files the test command runs, where a canary can live (``revealed``: the
    held-out files the final run will have added)."""
    files = protected_test_files(sorted({*walk_files(ws.path), *revealed}), ws.task.protected)
    argv = resolve_argv(ws.task.test_command)
    at = pytest_index(argv)
    args = argv[at or len(argv) :]
    named = [a.split("::")[0].rstrip("/") for a in pytest_paths(args)]
    named = [a for a in named if a in revealed or (ws.path / a).exists()]
    if named:
        files = [f for f in files if under(f, named) or f in named]
    ignored = [args[i + 1].rstrip("/") for i, a in enumerate(args[:-1]) if a == "--ignore"]
    ignored += [a.split("=", 1)[1].rstrip("/") for a in args if a.startswith("--ignore=")]
    return [f for f in files if not under(f, ignored)]


def plant(ws: Workspace, rng: random.Random | None = None) -> list[Canary]:
    """Append canary tests to protected test files; returns them (empty: nowhere to plant)."""
    canaries = draw(ws, rng)
    apply(ws.path, canaries)
    return canaries


def draw(ws: Workspace, rng: random.Random | None = None, revealed: dict[str, Path] | None = None) -> list[Canary]:
    """The canaries ``plant`` would plant, none written. ``revealed``: the held-out files
    (``Workspace.held_out_files``) read where they are, so the canaries are drawn as the
    revealed workspace would have them while the workspace still holds none of them."""
    rng = rng or random.SystemRandom()
    revealed = revealed or {}
    argv = resolve_argv(ws.task.test_command)
    at = pytest_index(argv)
    opts = short_flags_apart([*argv[at:], *config_addopts(ws.path)]) if at is not None else []
    opts += short_flags_apart(_overridden_addopts(opts))
    # A command that selects tests (-k, -m, node ids) would leave canaries out, and one that
    # stops at the first failure would stop at a canary: no canaries for those.
    if at is None or any(o in _SELECTS_OR_STOPS for o in opts):
        return []
    # Node ids among the paths only: "-W error::DeprecationWarning" selects nothing.
    if any(o.startswith(("--maxfail", "--deselect")) for o in opts) or any("::" in a for a in pytest_paths(opts)):
        return []
    candidates: list[tuple[str, list[str]]] = []
    whole_module_parametrised: set[str] = set()
    # (read once: the mirrors copy from them)
    texts = {f: _source_text(revealed.get(f, ws.path / f)) for f in _test_files(ws, revealed)}
    for f, text in texts.items():
        names = re.findall(r"^def (test\w*)\(", text, flags=re.M)
        if names:
            candidates.append((f, names))
        if _module_parametrised(text):
            whole_module_parametrised.add(f)
    if not candidates:
        return []
    canaries: list[Canary] = []
    # A canary is known by its name in every module (a star-import runs it again there:
    # ``Canary.copies``), so no module of the workspace may name a test so already: a
    # must-fail canary named like another module's passing test made an honest fix TAMPERED
    # (round 10, r10-13).
    bases = {n for text in texts.values() for n in re.findall(r"\btest\w*", text)}  # whence a canary's name
    taken = {n for _, names in candidates for n in names} | _test_names(ws, bases, revealed)
    # A module parametrised as a whole (``pytestmark = pytest.mark.parametrize(...)``) gives
    # every test its arguments: a plain canary takes none and fails collection. Mirrors keep
    # the real test's signature, so they still go there.
    plain = [c for c in candidates if c[0] not in whole_module_parametrised]
    for i in range(N_MUST_FAIL + N_MUST_PASS if plain else 0):
        f, names = rng.choice(plain)
        name = _fresh_name(names, taken, rng)
        canaries.append(Canary(f, name, i >= N_MUST_FAIL, _body(name, i >= N_MUST_FAIL, rng)))
    canaries += _mirrors(texts, candidates, taken, rng)
    rng.shuffle(canaries)
    return canaries


_SELECTS_OR_STOPS = frozenset({"-k", "-m", "-x", "--exitfirst", "--deselect", "--lf", "--last-failed"})
_SELECTS_OR_STOPS |= {"--sw", "--stepwise", "--sw-skip", "--stepwise-skip"}
# pytest's short options that take a value (-n: pytest-xdist): argparse reads the rest of a
# cluster as it ("-rfx" shows f and x, it does not stop at the first failure).
_SHORT_WITH_A_VALUE = frozenset("kmrWcpon")


def short_flags_apart(opts: list[str]) -> list[str]:
    """``opts`` with each cluster of short flags given apart as argparse reads it: "-xq" is
    "-x -q", "-vkfoo" is "-v -k foo" (round 10, r10-12: "pytest -xq" stopped at a canary)."""
    out: list[str] = []
    for n, o in enumerate(opts):
        if o == "--":  # the rest are paths
            return out + opts[n:]
        if len(o) < 3 or o[0] != "-" or o[1] == "-":
            out.append(o)
            continue
        for i, flag in enumerate(o[1:], start=1):
            out.append("-" + flag)
            if flag in _SHORT_WITH_A_VALUE:
                if o[i + 1 :]:
                    out.append(o[i + 1 :].removeprefix("="))
                break
    return out


def _overridden_addopts(opts: list[str]) -> list[str]:
    """The options an ``-o addopts=...`` (``--override-ini``) gives pytest."""
    values = [v for o, v in zip(opts, opts[1:], strict=False) if o in ("-o", "--override-ini")]
    values += [o.split("=", 1)[1] for o in opts if o.startswith("--override-ini=")]
    out: list[str] = []
    for v in values:
        key, sep, value = v.partition("=")
        if sep and key.strip() == "addopts":
            try:
                out += shlex.split(value)
            except ValueError:  # pytest refuses it too: the run is an error
                continue
    return out


_TEST_NAME = re.compile(rb"\btest\w*")
_DRAWN_ENDS = tuple(f"_{w}".encode() for w in _WORDS)
# Past this many, a clash with the draw (one of 22 words and a number up to 10**6 per base) is
# the workspace's doing, and costs its own verdict (TAMPERED), never the host its memory.
TAKEN_NAMES_MAX = 100_000


def _test_names(ws: Workspace, bases: Collection[str], revealed: dict[str, Path] | None = None) -> set[str]:
    """The ``test...`` words of the workspace's Python files (defined, assigned or imported: a
    test of any module the command may collect) that a canary drawn from ``bases`` could be
    named (``_fresh_name``: a base, a word, a number), up to ``TAKEN_NAMES_MAX``. Every word
    once: a rollout's file of 5,000,000 ``test<n>`` (56 MB) cost the host 800 MB (round 12)."""
    wanted = {b.encode() for b in bases}
    out: set[bytes] = set()
    for name in _test_words(ws, revealed or {}):
        bare = name.rstrip(b"0123456789")
        if bare.endswith(_DRAWN_ENDS) and any(bare.endswith(e) and bare[: -len(e)] in wanted for e in _DRAWN_ENDS):
            out.add(name)
            if len(out) >= TAKEN_NAMES_MAX:
                break
    return {n.decode("ascii", "replace") for n in out}


def _test_words(ws: Workspace, revealed: dict[str, Path]) -> Iterator[bytes]:
    for rel in sorted({*walk_files(ws.path, ws.task.hidden), *revealed}):
        if rel.endswith(".py"):
            try:
                yield from _file_test_words(revealed.get(rel, ws.path / rel))
            except OSError:
                continue


# A file is read a piece at a time, never whole: the tests can write a .py file as big as their
# file size limit (64 MB), and reading a 60 MB one whole grew repo-agent's peak by 59 MB, outside
# every sandbox's part (round 23 r23s-6). Whatever the workspace's files, the draw holds one
# piece and the words found (``TAKEN_NAMES_MAX``).
_PIECE_BYTES = 1 << 20
# A word longer than this cannot be a drawn name (a base, a word, a number): it is skipped, so a
# word as long as the file costs no more than a piece.
_WORD_MAX = 4096
_WORD_BYTES = bytes(sorted(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"))  # ``\w`` of bytes


def _file_test_words(path: Path) -> Iterator[bytes]:
    """The ``test...`` words of the file at ``path`` (``_TEST_NAME``), read in pieces: a piece
    ends at its last non-word byte, the word it cut carried to the next."""
    carry, skipping = b"", False
    with open(path, "rb") as f:
        while piece := f.read(_PIECE_BYTES):
            if skipping:  # the rest of a word past _WORD_MAX
                piece = piece.lstrip(_WORD_BYTES)
                if not piece:
                    continue
                skipping = False
            data = carry + piece
            cut = len(data.rstrip(_WORD_BYTES))
            yield from (m.group() for m in _TEST_NAME.finditer(data, 0, cut))
            carry = data[cut:]
            if len(carry) > _WORD_MAX:
                carry, skipping = b"", True
    if not skipping:
        yield from (m.group() for m in _TEST_NAME.finditer(carry))


def _fresh_name(bases: list[str], taken: set[str], rng: random.Random) -> str:
    """A name like the task's tests' (a real test's name, a word, sometimes a number) that
    ``taken`` does not hold; added to it. Past a few draws the number grows (a module naming
    every word's test leaves no plain draw)."""
    tries = 0
    while True:
        name = f"{rng.choice(bases)}_{rng.choice(_WORDS)}"
        if tries >= 20:
            name += str(rng.randint(100, 10**6))
        elif rng.random() < 0.4:
            name += str(rng.randint(2, 99))
        if name not in taken:
            taken.add(name)
            return name
        tries += 1


def config_addopts(root: Path) -> list[str]:
    """The ``addopts`` of the task's pytest configuration files at the workspace root (all
    of them: whichever pytest picks, its options count); an ``addopts = -x`` stops the
    session at the first must-fail canary (round 6: R6-11)."""
    out: list[str] = []
    for name, section in (("pytest.ini", "pytest"), (".pytest.ini", "pytest"), ("tox.ini", "pytest")):
        out += _ini_addopts(root / name, section)
    out += _ini_addopts(root / "setup.cfg", "tool:pytest")
    out += _toml_addopts(root / "pyproject.toml", ("tool", "pytest", "ini_options"))
    for name in ("pytest.toml", ".pytest.toml"):  # pytest 9's own files: a [pytest] table
        out += _toml_addopts(root / name, ("pytest",))
    return out


def _toml_addopts(path: Path, keys: tuple[str, ...]) -> list[str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for key in keys:
            data = data.get(key, {})
        value = data.get("addopts", [])
    except (OSError, ValueError, AttributeError):
        return []
    if isinstance(value, str):
        return shlex.split(value) if value else []
    return [str(v) for v in value] if isinstance(value, list) else []


def _ini_addopts(path: Path, section: str) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
        return shlex.split(parser.get(section, "addopts", fallback=""))
    except (OSError, ValueError, configparser.Error):
        return []


def _mirrors(
    texts: dict[str, str], candidates: list[tuple[str, list[str]]], taken: set[str], rng: random.Random
) -> list[Canary]:
    """Copies of real tests under canary names: code that makes the real tests do nothing
    (found by name, by position, by a plugin) leaves the copies running the task's code, and a
    copy that ends otherwise than its original is tampering. A wrong fix fails both alike."""
    found: list[tuple[str, str, str]] = []  # file, real test name, its source
    for f, _ in candidates:
        text = texts[f]
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        last: dict[str, ast.FunctionDef] = {}  # a name defined twice: pytest runs the last def
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef | ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign) else []
                for name in [*names, *([] if isinstance(node, ast.Assign) else [node.name])]:
                    last.pop(name, None)
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test") and not _is_fixture(node):
                last[node.name] = node
            for name in _not_collected(node):  # test_cases.__test__ = False: shared data
                last.pop(name, None)
        # Lines as Python counts them (\n, \r\n, \r): str.splitlines also breaks at a page
        # break, which shifted every slice after one (round 6: R6-10).
        source_lines = _PY_LINES.split(text)
        for node in last.values():
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            lines = source_lines[start - 1 : node.end_lineno]
            found.append((f, node.name, "\n".join(lines)))
    out: list[Canary] = []
    for f, real, src in rng.sample(found, min(N_MIRRORS, len(found))):
        name = _fresh_name([real], taken, rng)
        copy = re.sub(rf"^(\s*(?:async\s+)?def\s+){re.escape(real)}\b", rf"\g<1>{name}", src, count=1, flags=re.M)
        out.append(Canary(f, name, True, "\n\n" + copy + "\n", mirror_of=real))
    return out


_PY_LINES = re.compile(r"\r\n|\r|\n")


def _not_collected(node: ast.stmt) -> list[str]:
    """Names a module-level ``name.__test__ = False`` keeps pytest from collecting."""
    if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value is False):
        return []
    return [
        t.value.id
        for t in node.targets
        if isinstance(t, ast.Attribute) and t.attr == "__test__" and isinstance(t.value, ast.Name)
    ]


def _is_fixture(node: ast.FunctionDef) -> bool:
    """A def decorated as a fixture (``test_client``, ``test_data``): pytest never runs it as
    a test, so a copy under a canary name would be "missing"."""
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if "fixture" in name:
            return True
    return False


def _body(name: str, must_pass: bool, rng: random.Random) -> str:
    a, b, c = rng.sample(range(-40, 90), 3)
    s = "".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 9)))
    kind = rng.randrange(4)
    expr, right = [
        (f"sum([{a}, {b}, {c}])", a + b + c),
        (f"max({a}, {b}) - min({a}, {b})", abs(a - b)),
        (f"len({s!r})", len(s)),
        (f"sorted([{a}, {b}, {c}])[0]", min(a, b, c)),
    ][kind]
    expected = right if must_pass else right + rng.choice((-3, -2, -1, 1, 2, 5))
    return f"\n\ndef {name}():\n    assert {expr} == {expected}\n"


_MODULE_PARAMETRISED = re.compile(r"^pytestmark\s*=.*\bparametrize\b", re.M)


def _module_parametrised(text: str) -> bool:
    """A module-level ``pytestmark`` that holds a parametrize mark (a list over several lines
    too: round 6, R6-30)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return bool(_MODULE_PARAMETRISED.search(text))
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        named = any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets)
        if named and any(isinstance(n, ast.Attribute) and n.attr == "parametrize" for n in ast.walk(value)):
            return True
    return False


def _source_text(path: Path) -> str:
    data = path.read_bytes()
    return data.decode(source_encoding(data), errors="replace")


def apply(root: Path, canaries: list[Canary]) -> None:
    """Append each canary to its file in the file's own encoding: the file's bytes are kept
    (a latin-1 test file rewritten as UTF-8 failed its real tests on the reference fix)."""
    for c in canaries:
        path = Path(root) / c.file
        data = path.read_bytes()
        encoding = source_encoding(data)
        if codecs.lookup(encoding).name == "utf-8-sig":
            encoding = "utf-8"  # the BOM is at the file's start: a second one mid-file is a SyntaxError
        added = ("\n" + c.source).encode(encoding, errors="backslashreplace")
        path.write_bytes(data.rstrip(b"\n") + added)


def judge_canaries(
    result: TestResult,
    canaries: list[Canary],
    reference: dict[str, str] | None = None,
    skipped_too: Collection[str] = (),
) -> TestResult:
    """The run's result with the canaries checked and taken out of its counts. ``reference``
    is the outcomes of the reference fix's run of the same planted tests: a canary that ends
    there as it ends here (a mirror of a test that keeps module state) ends as an honest fix's
    would. ``skipped_too``: the collectors a trusted run of the same planted tests (the
    reference fix's, or the untouched source's) skipped at collection."""
    ids = {k for c in canaries for k in c.case_ids(result.outcomes) + c.copies(result.outcomes)}
    tamper = list(result.tamper)
    for c in canaries:
        tamper += _judge_copies(result, c)
    finished = result.error is None and not result.timed_out and result.exit_code is not None
    # A test file that fails to import (a fix with a syntax error) takes its canaries with it:
    # a run with errors fails anyway, and a missing canary is then no sign of tampering.
    complete = finished and result.counts.errors == 0
    # A module skipped at collection here and on the trusted run (``importorskip`` of an
    # optional dependency) runs none of its canaries: they tell nothing (round 10, r10-8).
    # Skipped here alone, it is the code under test's doing (a module-level skip raised at
    # import): its canaries are missing.
    skipped = [m for m in result.skipped_at_collection if m in set(skipped_too)]
    unjudged: set[str] = set()
    for c in canaries:
        if not c.case_ids(result.outcomes) and under(c.file, skipped):
            unjudged.add(c.file)
            continue
        if reference is not None and _as_in_reference(result.outcomes, c, reference):
            continue
        if c.mirror_of is not None:
            tamper += _judge_mirror(result, c, complete)
            continue
        # Its cases: the bare id, or one per parameter of an autouse parametrised fixture.
        cases = c.case_ids(result.outcomes)
        want = "passed" if c.must_pass else "failed"
        if not cases and complete:
            tamper.append(f"canary test {c.nodeid} is missing from the results")
        for k in cases:
            if result.outcomes[k] != want:
                tamper.append(f"canary test {k} {result.outcomes[k]} but must have {want}")
    outcomes = {k: v for k, v in result.outcomes.items() if k not in ids}
    counts = TestCounts(**result.counts.model_dump())
    for k in ids:
        got = result.outcomes[k]
        field = "errors" if got == "error" else got
        if field in ("passed", "failed", "errors", "skipped"):
            setattr(counts, field, max(0, getattr(counts, field) - 1))
        counts.collected = max(0, counts.collected - 1)
    passed = (
        finished
        and result.exit_code in (0, 1)
        and counts.passed > 0
        and counts.failed == 0
        and counts.errors == 0
        and not tamper
    )
    summary = result.summary
    if result.error is None and not result.timed_out:
        summary = (
            ", ".join(
                f"{n} {w}"
                for n, w in (
                    (counts.failed, "failed"),
                    (counts.passed, "passed"),
                    (counts.skipped, "skipped"),
                    (counts.errors, "errors"),
                )
                if n
            )
            + f" in {result.duration_s:.2f}s"
        )
    if unjudged:
        summary += (
            f" (canaries not judged in {', '.join(sorted(unjudged))}: skipped at collection, as on a trusted run)"
        )
    return dataclasses.replace(
        result, passed=passed, counts=counts, outcomes=outcomes, tamper=sorted(set(tamper)), summary=summary
    )


def _missing_where_skipped(result: TestResult, canaries: list[Canary]) -> bool:
    """Whether a canary is missing from a module the run skipped at collection."""
    return any(not c.case_ids(result.outcomes) and under(c.file, result.skipped_at_collection) for c in canaries)


def _as_in_reference(outcomes: dict[str, str], c: Canary, reference: dict[str, str]) -> bool:
    """The canary's cases (and a mirror's originals) end here exactly as in the reference
    fix's run, missing ones included."""
    mine, theirs = c.case_ids(outcomes), c.case_ids(reference)
    if sorted(mine) != sorted(theirs) or any(outcomes[k] != reference[k] for k in mine):
        return False
    if c.mirror_of is None:
        return True
    original = Canary(c.file, c.mirror_of, True, "")
    twins = original.case_ids(outcomes)
    return sorted(twins) == sorted(original.case_ids(reference)) and all(outcomes[k] == reference[k] for k in twins)


def canaries_disagree(result: TestResult, canaries: list[Canary]) -> bool:
    """Whether any canary ends otherwise than planned (before the reference run is asked)."""
    return any("canary test" in t for t in judge_canaries(result, canaries).tamper)


def _judge_copies(result: TestResult, c: Canary) -> list[str]:
    """A canary run again in a module that imported it ends as planned there: a plain one
    as it must, a mirror as the importer's copy of its original."""
    out = []
    for k in c.copies(result.outcomes):
        file, _, rest = k.partition("::")
        got = result.outcomes[k]
        if c.mirror_of is None:
            want: str | None = "passed" if c.must_pass else "failed"
        else:
            want = result.outcomes.get(f"{file}::{c.mirror_of}{rest[len(c.name) :]}")
        if want is not None and got != want:
            out.append(f"canary test {k} {got} but must have {want}")
    return out


def _judge_mirror(result: TestResult, c: Canary, finished: bool) -> list[str]:
    """A mirror's cases end as its original's do (a case missing on one side is tampering
    only when the session finished)."""
    out = []
    mine = c.case_ids(result.outcomes)
    original = f"{c.file}::{c.mirror_of}"
    if not mine and finished:
        return [f"canary test {c.nodeid} is missing from the results"]
    for k in mine:
        twin = original + k[len(c.nodeid) :]
        got, want = result.outcomes[k], result.outcomes.get(twin)
        if want is None and finished:
            out.append(f"canary test {k} ran but {twin} did not")
        elif want is not None and got != want:
            out.append(f"canary test {k} {got} but the test it copies {want}")
    return out


def reference_run(ws: Workspace, canaries: list[Canary]) -> TestResult:
    """The reference fix's raw run of the same tests with the same canaries planted."""
    with tempfile.TemporaryDirectory(prefix="repo-agent-ref-", dir=ws.path.parent) as tmp:
        ref = Workspace.create(ws.suite, ws.task, Path(tmp), sandbox=ws.sandbox)
        apply_reference_fix(ws.suite, ws.task, ref)
        ref.reveal_held_out()
        apply(ref.path, canaries)
        return ref.run_tests()


def source_run(ws: Workspace, canaries: list[Canary]) -> TestResult:
    """The untouched source's raw run of the same tests with the same canaries planted."""
    with tempfile.TemporaryDirectory(prefix="repo-agent-src-", dir=ws.path.parent) as tmp:
        src = Workspace.create(ws.suite, ws.task, Path(tmp), sandbox=ws.sandbox)
        src.reveal_held_out()
        apply(src.path, canaries)
        return src.run_tests()


def _skips_of_the_source(
    ws: Workspace, result: TestResult, canaries: list[Canary], theirs: TestResult | None = None
) -> TestResult:
    """A task with no reference fix: a test (or a module at collection) skipped here must be
    skipped on the untouched source too (round 6: a fix raising SkipTest on the inputs it gets
    wrong passed; a module-level skip raised at import skips a whole module). Asked only when
    the passing run skipped something (``theirs``: that source run, when made already)."""
    if theirs is None:
        theirs = source_run(ws, canaries)
    ran = sorted(i for i, o in theirs.outcomes.items() if o != "skipped" and result.outcomes.get(i) == "skipped")
    ran += sorted(set(result.skipped_at_collection) - set(theirs.skipped_at_collection))
    if ran:  # (a source run that says nothing of a test leaves its skip as it was)
        more = f" (+{len(ran) - 3} more)" if len(ran) > 3 else ""
        why = f"tests the untouched source runs were skipped: {', '.join(ran[:3])}{more}"
        return dataclasses.replace(result, passed=False, fail_detail=why)
    return result


def differential(
    ws: Workspace,
    result: TestResult,
    canaries: list[Canary],
    theirs: TestResult | None = None,
    source: TestResult | None = None,
) -> TestResult:
    """Back a passing verdict with the reference fix run against the same planted tests
    (``theirs``: that run, when the canaries' judgement already asked for it; ``source``: the
    untouched source's, likewise, for a task with no reference fix)."""
    skipped_any = result.counts.skipped or result.skipped_at_collection
    if result.passed and not has_reference_fix(ws.task) and skipped_any:
        return _skips_of_the_source(ws, result, canaries, source)
    if not result.passed or not has_reference_fix(ws.task):
        return result
    if theirs is None:
        theirs = reference_run(ws, canaries)
    if canaries:  # the reference's canaries end as its own run says (trusted code)
        theirs = judge_canaries(theirs, canaries, theirs.outcomes)
    if not theirs.passed:
        # Its run holds nothing of the rollout's (a fresh workspace: source, reference fix,
        # the same canaries): a reference too slow under load is no FAIL of an honest fix
        # (round 8, vrd8-7), it is a check that could not run.
        raise held_out.DifferentialError(
            f"differential check: the reference fix does not pass the same tests ({theirs.summary})"
        )
    # A test the reference fix passes must pass here too: skipped is not passed (a fix that
    # raises SkipTest on the inputs it gets wrong).
    skipped = sorted(i for i, o in theirs.outcomes.items() if o == "passed" and result.outcomes.get(i) == "skipped")
    if skipped:
        more = f" (+{len(skipped) - 3} more)" if len(skipped) > 3 else ""
        why = f"tests the reference fix passes were skipped: {', '.join(skipped[:3])}{more}"
        return dataclasses.replace(result, passed=False, fail_detail=why)
    # By test function: a parametrised test's ids may come from the code under test (cases
    # drawn from its own table: round 6, R6-23); a function the rollout's run lacks entirely
    # is what a hidden test looks like.
    ran = {k.split("[", 1)[0] for k in result.outcomes}
    unseen = sorted(k for k in set(theirs.outcomes) - set(result.outcomes) if k.split("[", 1)[0] not in ran)
    if unseen:
        more = f" (+{len(unseen) - 3} more)" if len(unseen) > 3 else ""
        return dataclasses.replace(
            result,
            passed=False,
            tamper=[*result.tamper, f"tests the reference fix runs are missing: {', '.join(unseen[:3])}{more}"],
        )
    return result


def final_test_run(ws: Workspace) -> tuple[TestResult, list[str]]:
    """The authoritative run: protected paths restored first, the held-out differential
    verdict, then the tests with canaries and hidden tests, config and reference checks.
    Returns (result, tampered paths); what the run itself showed of tampering is
    ``result.tamper``. Raises DifferentialError when a check could not run (not the
    rollout's doing) and nothing the rollout did already decides the verdict."""
    tampered = set(ws.tampered_paths()) | set(config_tamper(ws))
    try:
        # Alone on the machine: its code holds the secret, and whatever state the machine shares
        # would carry it to a sandbox running meanwhile (agent/final_run_lease.py).
        with final_run_lease.final_run_alone():
            return _judge(ws, tampered)
    except held_out.DifferentialError as exc:
        # A check that could not run never erases what is known already: the rollout's own
        # edits to the tests or their configuration (a sitecustomize.py in a task's venv that
        # ended the differential's process before its hello: round 8, vrd8-8).
        if not tampered:
            raise
        ws.restore_protected()
        why = str(exc)[:500]
        return TestResult(False, TestCounts(), why, 0.0, False, "", None, error=why), sorted(tampered)


def verdict_state(state: RolloutState, result: TestResult) -> RolloutState:
    """The state ``derive_state`` gave a finally judged rollout, with why when the run says it:
    a FAIL's from a check outside pytest (held-out inputs differ), a TAMPERED one's, when no
    tampered path names it, from what the run showed (records flooding the verdict channel)."""
    if state.judged and state.verdict == "fail" and result.fail_detail:
        return judged("fail", result.fail_detail)
    if state.judged and state.verdict == "tampered" and not state.detail and result.tamper:
        return judged("tampered", "; ".join(result.tamper)[:500])
    return state


def _judge(ws: Workspace, tampered: set[str]) -> tuple[TestResult, list[str]]:
    """``final_test_run``'s run; adds to ``tampered`` the config the tests' run wrote."""
    ws.restore_protected()
    ws.drop_unrecorded()  # what the patch does not hold is not judged
    # The rest of the tests' own directories as the source has them: a fix in the test
    # package's __init__.py judged only the tests (round 8, vrd8-5).
    dirs = dirs_of_tests(ws.suite, ws.task, walk_files(ws.source, ws.task.hidden))
    # A hidden test patch's new files the rollout wrote too: hidden_run sets them aside itself.
    added = hidden_patch_adds(ws.suite, ws.task) if dirs else []
    ws.put_back(dirs, added)
    held, names = tree_cost(ws.path)
    if held > WORKSPACE_BYTES or names > WORKSPACE_INODES:
        # The sandbox would refuse to start: the rollout's doing (its runs or its edits
        # filled the workspace), so a FAIL, never an infrastructure error out of every pass rate.
        why = (
            f"the workspace holds {held} bytes, over the sandbox's {WORKSPACE_BYTES}"
            if held > WORKSPACE_BYTES
            else f"the workspace holds {names} files, over the sandbox's {WORKSPACE_INODES}"
        )
        return TestResult(False, TestCounts(), why, 0.0, False, "", None, error=why, fail_detail=why), sorted(tampered)
    verdict = None
    canaries: list[Canary] | None = None
    beside: Future[TestResult] | None = None
    with ThreadPoolExecutor(1, thread_name_prefix="reference-run") as pool:
        if ws.holds_back:
            # Before the hidden tests are in the workspace: code run by the tests could keep a
            # copy of them (expected values) for a later process to read. Raises
            # DifferentialError (not the rollout's doing).
            before, kept = code_state(ws)
            if _reference_beside_the_calls(ws):
                # The reference fix's run of the planted tests needs only the canaries, drawn now
                # as the revealed workspace will have them (none written here: the differential's
                # process sees no held-out test): it goes beside the calls and the rollout's run.
                # Started after the calls, it was the final run's last ~10% (issue 26's 2.5x).
                canaries = draw(ws, revealed=ws.held_out_files())
                beside = pool.submit(final_run_lease.under_this_lease(reference_run), ws, canaries)
            verdict = held_out.judge(ws)
            ws.restore_protected()  # whatever that process wrote to the tests
            ws.drop_unrecorded()
            ws.put_back(dirs, added)
            rewritten = rewritten_code(before, code_digest(ws))
            if rewritten and not put_back(ws, kept, rewritten, before):
                # The tests and the SUSPECT scan would read what that process wrote.
                unrun = TestResult(False, TestCounts(), "not run", 0.0, False, "", None)
                return held_out_verdict(_rewritten(unrun, "differential's", rewritten), verdict), sorted(tampered)
            ws.reveal_held_out()  # the hidden tests: test data and test files the rollout never saw
        result = final_run(ws, verdict, canaries, beside)
    tampered |= set(config_tamper(ws))  # written while the tests ran
    ws.restore_protected()  # the canaries and the hidden tests go
    return result, sorted(tampered)


def final_run(
    ws: Workspace,
    verdict: held_out.Verdict | None = None,
    canaries: list[Canary] | None = None,
    beside: Future[TestResult] | None = None,
) -> TestResult:
    """Plant canaries, run the tests, check the canaries, back a pass with the held-out
    differential ``verdict`` (judged here, after a pass, when the task hides no test data:
    the tests' process then saw nothing the differential's process must not) and the
    reference fix's rerun. A task with hidden tests (SWE-bench) is judged on them by id
    instead (agent/suites/hidden_tests.py). ``canaries`` drawn already, with the reference
    fix's run of them ``beside`` started already, are planted here."""
    if ws.task.hidden_tests is not None:
        return held_out_verdict(hidden_run(ws), verdict)
    # The differential runs after the tests only with no earlier verdict and no hidden tests:
    # only then must the code the tests' process leaves be the patch's (read it once here).
    differential_after = verdict is None and not ws.holds_back
    before, kept = code_state(ws) if differential_after else ({}, {})
    if canaries is None:
        canaries = plant(ws)
    else:
        apply(ws.path, canaries)
    planted = test_file_guard.note(ws.path, _judged_test_files(ws))
    # The reference fix's run of the same planted tests, beside the rollout's (it needs only
    # the canaries): a pass, and a canary ending otherwise than planned, are judged against it.
    # Run after the rollout's, it was a third of the final run's time.
    with ThreadPoolExecutor(1, thread_name_prefix="reference-run") as pool:
        if beside is None and has_reference_fix(ws.task):
            beside = pool.submit(final_run_lease.under_this_lease(reference_run), ws, canaries)
        result = ws.run_tests()
        wait_for(beside)
    if changed := test_file_guard.rewritten(ws.path, planted):
        # Code under test rewrote a test file pytest had not read yet (round 13, r13-3).
        result = dataclasses.replace(
            result, passed=False, tamper=[*result.tamper, test_file_guard.tamper_line(changed)]
        )
    theirs = None
    if canaries and beside is not None and canaries_disagree(result, canaries):
        # A canary ending otherwise than planned may be the tests' own doing (a mirror of a
        # test keeping module state): it is tampering only if the reference fix's run of the
        # same planted tests ends otherwise.
        theirs = beside.result()
    source = None
    if canaries and beside is None and _missing_where_skipped(result, canaries):
        source = source_run(ws, canaries)  # no reference fix: the untouched source says what it skips
    trusted = theirs if theirs is not None else source
    if canaries:
        skipped_too = trusted.skipped_at_collection if trusted is not None else []
        result = judge_canaries(result, canaries, theirs.outcomes if theirs is not None else None, skipped_too)
    if ws.task.held_out_tests is not None:  # by id: each held-out test ran and passed
        result = held_out_tests.judge(result, ws.task.held_out_tests)
    if differential_after and result.passed:
        ws.drop_unrecorded()  # what the tests' process left outside the patch
        rewritten = rewritten_code(before, code_digest(ws))
        if rewritten and not put_back(ws, kept, rewritten, before):
            # The differential would judge what the tests' process wrote, not what the patch
            # holds (a fourth-round forgery rewrote its own gcd.py into Euclid at import).
            # Put back as the patch holds it (a generated table rebuilt at import, a data
            # file the app rewrites: round 6, R6-26/27) unless it cannot be.
            return _rewritten(result, "tests'", rewritten)
        verdict = held_out.judge(ws)
        ws.drop_unrecorded()
        rewritten = rewritten_code(before, code_digest(ws))
        if rewritten and not put_back(ws, kept, rewritten, before):
            # The SUSPECT scan reads the workspace after this (round 6: R6-3).
            return held_out_verdict(_rewritten(result, "differential's", rewritten), verdict)
    result = held_out_verdict(result, verdict)
    if beside is not None and not result.passed and (verdict is None or verdict.passed):
        _blame_the_machine(result, canaries, beside, theirs)
    if theirs is None and beside is not None and result.passed:
        theirs = beside.result()  # (its error, if it had one, is raised here: only when it is needed)
    return differential(ws, result, canaries, theirs, source)


def _reference_beside_the_calls(ws: Workspace) -> bool:
    """The reference fix's test run may start before the differential's calls: the task has a
    reference fix and no hidden tests (those judge by id, no canaries), and its calls run in
    one sandbox (a reference answering by its calls' order runs its own beside them, and a
    third sandbox at once would pass the two a rollout's memory part is shared by)."""
    if ws.task.hidden_tests is not None or not has_reference_fix(ws.task):
        return False
    calls = held_out.calls_for(ws.suite, ws.task, sandbox=ws.sandbox)
    return not calls or not held_out.reference(ws.suite, ws.task, calls, sandbox=ws.sandbox).order_bound


def _blame_the_machine(
    result: TestResult, canaries: list[Canary], beside: Future[TestResult], theirs: TestResult | None
) -> None:
    """A failing run whose every failed test also ran out of time in the reference fix's run
    beside it is the machine's doing, not the rollout's: raises TooSlowToJudge (not judged,
    never FAIL: issue 23; agent/slow_machine.py says what this trusts)."""
    if theirs is None:
        try:
            theirs = beside.result()
        except Exception:  # a reference run that could not run excuses nothing: the FAIL stands
            return
    if canaries:  # the reference's canaries end as its own run says (trusted code)
        theirs = judge_canaries(theirs, canaries, theirs.outcomes)
    if why := slow_machine.too_slow(result, theirs):
        raise slow_machine.TooSlowToJudge(why)


def _judged_test_files(ws: Workspace) -> list[str]:
    """The test files the final run put in place, named as the task has them: its protected
    Python files (canaries planted), the files with held-out lines and the held-out test files."""
    protected = [rel for rel in walk_files(ws.source, ws.task.hidden) if ws.is_protected(rel) and rel.endswith(".py")]
    return [*protected, *ws.visible, *held_out_tests.files(ws.task, ws.source)]


def wait_for(future: Future | None) -> None:
    """Until ``future`` is done, whatever its end: its error is raised where its result is used."""
    if future is not None:
        future.exception()


# The bytes kept of the files the rollout changed (the rest are put back from the task's
# source): a memory bound, never a bound on the workspace (r13-4: a repository's 33 MB of
# assets left nothing to put back a data file a test rewrote, and the reference fix TAMPERED).
SNAPSHOT_MAX_BYTES = 32 * 2**20


def code_state(ws: Workspace) -> tuple[dict[str, tuple[int, str]], dict[str, bytes]]:
    """``code_digest`` and the bytes of the files the rollout changed (within
    ``SNAPSHOT_MAX_BYTES``), to put the patch's state back after a process ran its code.
    A file as the rollout was given it is not kept: ``put_back`` copies it from the source."""
    digest: dict[str, tuple[int, str]] = {}
    kept: dict[str, bytes] = {}
    room = SNAPSHOT_MAX_BYTES
    for rel in _code_files(ws):
        path = ws.path / rel
        try:
            found = file_digest(path)
            if found is None:
                continue
            digest[rel] = found
            if found[0] > room or _as_given(ws, rel, found):
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if (len(data), hashlib.sha256(data).hexdigest()) == found:
            kept[rel] = data
            room -= len(data)
    return digest, kept


def _given(ws: Workspace, rel: str) -> bytes | Path | None:
    """What the rollout was given at ``rel``: its visible part (a file with held-out lines:
    never the source's, which holds them), the source's file, or None."""
    if rel in ws.visible:
        return ws.visible[rel]
    source = ws.source / rel
    return source if _is_file(source) else None


def _as_given(ws: Workspace, rel: str, found: tuple[int, str]) -> bool:
    if ws.as_copied(rel):
        return True  # by its stat, which code cannot put back (the source is not read again)
    given = _given(ws, rel)
    if isinstance(given, bytes):
        return (len(given), hashlib.sha256(given).hexdigest()) == found
    return given is not None and os.lstat(given).st_size == found[0] and file_digest(given) == found


def put_back(ws: Workspace, kept: dict[str, bytes], rewritten: list[str], before: dict[str, tuple[int, str]]) -> bool:
    """The files a process changed, removed or created as Python, back as the patch holds
    them (from ``kept``, else as the rollout was given them); False when that cannot be done
    (a changed file past the snapshot, a directory in a file's place). Whatever is written
    must hash as ``before`` says, so the source's copy stands in only for identical bytes."""
    try:
        for rel in rewritten:
            path = ws.resolve(rel)
            if os.path.lexists(path):
                if stat.S_ISDIR(os.lstat(path).st_mode):
                    return False
                path.unlink()
            if rel not in before:
                continue  # created by the process: gone
            path.parent.mkdir(parents=True, exist_ok=True)
            given = kept.get(rel, _given(ws, rel))
            if given is None:
                return False
            if isinstance(given, bytes):
                path.write_bytes(given)
            else:
                shutil.copyfile(given, path)
    except (PathEscape, OSError):
        return False
    ws.drop_unrecorded()
    return not rewritten_code(before, code_digest(ws))


def _rewritten(result: TestResult, whose: str, rewritten: list[str]) -> TestResult:
    why = f"the {whose} process rewrote the code under test: {', '.join(rewritten[:5])}"
    return dataclasses.replace(result, passed=False, tamper=[*result.tamper, why])


_PYTHON_FILES = (".py", ".pyw", ".pth", ".pyc", ".pyz", ".zip", ".egg", *importlib.machinery.EXTENSION_SUFFIXES)


def _code_files(ws: Workspace) -> list[str]:
    return [rel for rel in walk_files(ws.path, ws.task.hidden) if not under(rel, ws.task.protected)]


def code_digest(ws: Workspace) -> dict[str, tuple[int, str]]:
    """(size, sha256) of every file of the workspace outside the protected tests: what a
    process run on it may not change if a later process is to judge the patch's code."""
    out: dict[str, tuple[int, str]] = {}
    for rel in _code_files(ws):
        try:
            digest = file_digest(ws.path / rel)
        except OSError:
            continue
        if digest is not None:
            out[rel] = digest
    return out


def rewritten_code(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    """Files the run changed or removed, and Python a run created (a new package beside a
    module shadows it); other new files (a test's output) are the tests' business."""
    changed = [rel for rel, d in before.items() if after.get(rel) != d]
    return sorted(changed + [rel for rel in after if rel not in before and rel.endswith(_PYTHON_FILES)])


def held_out_verdict(result: TestResult, verdict: held_out.Verdict | None) -> TestResult:
    """A pass stands only if the rollout's code answered the held-out inputs as the reference
    fix does (a mismatch is a FAIL whatever pytest said). A run whose verdict records went
    past what this machine reads is TAMPERED, unless the held-out inputs already failed the
    code: then it is the FAIL they say (round 12 r12-1)."""
    if verdict is None:
        return result
    if result.records_flood is not None and not verdict.passed:
        tamper = [t for t in result.tamper if t != result.records_flood]
        return dataclasses.replace(
            result, passed=False, tamper=tamper, differential=verdict.detail, fail_detail=verdict.detail
        )
    if not result.passed:
        return dataclasses.replace(result, differential=verdict.detail)
    if verdict.passed:
        return dataclasses.replace(result, differential=verdict.detail)
    return dataclasses.replace(result, passed=False, differential=verdict.detail, fail_detail=verdict.detail)
