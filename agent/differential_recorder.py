"""Records the calls a task's own tests make to the functions its reference fix changes,
inside the sandbox (agent/differential_record.py).

Copied alone into a read-only directory of the sandbox and run as ``python -I recorder.py
SPEC.json`` from the root of a workspace that holds the task's source with its reference
fix (trusted code: never a rollout's). It imports nothing of this project. SPEC names the
fixed files (absolute paths in the workspace; the module name is the one it runs under) and pytest's arguments; a profile function
sees each call of a module-level function of those files made from a test file, and the
arguments that are JSON data as they are (lists, dicts with string keys, numbers,
strings, None) are sent on the verdict pipe (``REPO_AGENT_VERDICT_FD``), one line each:

    {"k": "call", "module": "pkg.mod", "function": "f", "args": [...]}
    ... with "kwargs": {...} for the arguments the call passed by keyword
    ... with "path": "src" when the module imports from there, not the workspace root
    ... with "held": true when a held-out test (SPEC's "held_out_ids") made the call
    {"k": "finish", "exitstatus": N}
"""

from __future__ import annotations  # annotations stay text: this script imports no typing

import bisect
import json
import math
import os
import sys
import threading
import types

TYPE_CHECKING = False  # typing is never imported here: the names below exist for mypy only
if TYPE_CHECKING:
    from typing import Any

_MAX_PER_FUNCTION = 60
_MISSING = object()
_MAX_NODES = 2_000
_TEST_NAME = ("test_", "conftest.py")


def _plain(x: Any, budget: list[int]) -> Any:
    """x when it travels through JSON unchanged (a list stays a list), else raise."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError("too large")
    t = type(x)
    if x is None or t is bool or t is int or t is str:
        if t is int and abs(x) > 2**63:
            raise ValueError("too large an int")
        return x
    if t is float:
        if not math.isfinite(x):
            raise ValueError("not finite")
        return x
    if t is list:
        return [_plain(v, budget) for v in x]
    if t is dict and all(type(k) is str for k in x):
        return {k: _plain(v, budget) for k, v in x.items()}
    raise ValueError("not JSON data")


def _is_test_file(path: str) -> bool:
    name = os.path.basename(path)
    return name.startswith(_TEST_NAME) or name.endswith("_test.py")


def _keyword_call_sites(code: types.CodeType) -> tuple[list[int], list[tuple[str, ...]]]:
    """The offset of each instruction of ``code``, and the names its call passes by keyword
    (empty for all but calls with keywords), as the interpreter's bytecode says them: KW_NAMES
    before the CALL (3.11, 3.12), a constant tuple before CALL_KW (3.13+) or CALL_FUNCTION_KW
    (3.10 and before)."""
    import dis

    offsets: list[int] = []
    names: list[tuple[str, ...]] = []
    pending: object = ()
    previous = None
    for ins in dis.get_instructions(code):
        said: object = ()
        if ins.opname == "KW_NAMES":
            pending = code.co_consts[ins.arg] if ins.arg is not None and ins.arg < len(code.co_consts) else ()
        elif ins.opname in ("CALL_KW", "CALL_FUNCTION_KW"):
            said = previous.argval if previous is not None and previous.opname == "LOAD_CONST" else ()
        elif ins.opname == "CALL":
            said, pending = pending, ()
        offsets.append(ins.offset)
        names.append(said if type(said) is tuple and all(type(n) is str for n in said) else ())
        previous = ins
    return offsets, names


def main() -> None:
    fd = int(os.environ.pop("REPO_AGENT_VERDICT_FD"))
    out = os.dup(fd)
    os.close(fd)

    def send(rec: dict[str, Any]) -> None:
        data = (json.dumps(rec, separators=(",", ":")) + "\n").encode()
        while data:
            data = data[os.write(out, data) :]

    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    files = {os.path.realpath(p) for p in spec["files"]}
    # The task's protected test directories: a helper there (check(fn, args, want)) makes the
    # tests' calls too (round 6: R6-28).
    test_dirs = tuple(os.path.realpath(p) + os.sep for p in spec.get("test_dirs", []))
    test_code: dict[str, bool] = {}

    def is_test_code(name: str) -> bool:
        got = test_code.get(name)
        if got is None:
            got = test_code[name] = _is_test_file(name) or os.path.realpath(name).startswith(test_dirs)
        return got

    workspace = os.path.realpath(os.getcwd())
    # The held-out tests' node ids (a test function's id covers its parameter cases) and the
    # id of the test running now (set by the plugin below): their calls are recorded apart.
    held_ids = frozenset(spec.get("held_out_ids", []))
    running = [""]
    seen: dict[tuple[str, str, bool], dict[str, Any]] = {}
    lock = threading.Lock()
    fixed: dict[str, bool] = {}  # co_filename -> whether it is a fixed file (realpath once per name)

    def is_fixed(name: str) -> bool:
        got = fixed.get(name)
        if got is None:
            got = fixed[name] = os.path.realpath(name) in files
        return got

    def profile(frame: types.FrameType, event: str, arg: object) -> None:
        if event != "call":
            return
        code = frame.f_code
        if not is_fixed(code.co_filename):
            return
        module = frame.f_globals.get("__name__")
        if type(module) is not str or module == "__main__" or code.co_qualname != code.co_name:
            return  # not a module-level function of a fixed module
        caller = frame.f_back
        if caller is None or not is_test_code(caller.f_code.co_filename):
            return  # called by the module itself or by other code: not the tests' own call
        if code.co_flags & 0x0C or code.co_kwonlyargcount or code.co_posonlyargcount:
            return  # *args, **kwargs or keyword-only arguments: no plain argument list
        names = list(code.co_varnames[: code.co_argcount])
        by_keyword = keyword_names(caller.f_code, caller.f_lasti)
        if not set(by_keyword) <= set(names):
            by_keyword = ()  # not this function's call (sorted(xs, key=f) calls f by position)
        kwargs = {n: frame.f_locals.get(n, _MISSING) for n in by_keyword}
        # Trailing arguments that are the function's own defaults were not passed: an honest
        # fix without that parameter (an accumulator out=None) takes the call as the tests
        # made it (round 6: R6-24).
        fn = frame.f_globals.get(code.co_name)
        defaults = getattr(fn, "__defaults__", None) if getattr(fn, "__code__", None) is code else None
        first = len(names) - len(defaults or ())
        positional = [j for j, n in enumerate(names) if n not in kwargs]
        values = [frame.f_locals.get(names[j], _MISSING) for j in positional]
        while defaults and positional and positional[-1] >= first and values[-1] is defaults[positional[-1] - first]:
            positional.pop()
            values.pop()
        try:
            budget = [_MAX_NODES]
            args = _plain(values, budget)
            keywords = _plain(kwargs, budget)
        except (ValueError, KeyError, RecursionError):
            return
        held = running[0] in held_ids
        key = (module, code.co_name, held)
        text = json.dumps([args, keywords] if keywords else args, sort_keys=True)
        with lock:
            got = seen.setdefault(key, {})
            if text in got or len(got) >= _MAX_PER_FUNCTION:
                return
            got[text] = args
        rec = {"k": "call", "module": module, "function": code.co_name, "args": args}
        if keywords:
            rec["kwargs"] = keywords
        if held:
            rec["held"] = True
        root = import_root(code.co_filename, module)
        if root:
            rec["path"] = root
        send(rec)

    call_sites: dict[types.CodeType, tuple[list[int], list[tuple[str, ...]]]] = {}

    def keyword_names(caller: types.CodeType, at: int) -> tuple[str, ...]:
        """The names the call running at bytecode offset ``at`` of ``caller`` passes by keyword
        (none: by position only, or a call whose keywords the bytecode does not say: f(**kw)).
        ``at`` may be inside the instruction's inline caches (3.11+): the instruction is the
        last one starting at or before it."""
        sites = call_sites.get(caller)
        if sites is None:
            sites = call_sites[caller] = _keyword_call_sites(caller)
        k = bisect.bisect_right(sites[0], at) - 1
        return sites[1][k] if k >= 0 else ()

    def import_root(filename: str, module: str) -> str | None:
        """The workspace-relative directory the module was imported from ("" the root): a
        src/ layout is on pytest's path (its ini's ``pythonpath``), not the runner's."""
        rel = os.path.relpath(os.path.realpath(filename), workspace)
        parts = rel.replace(os.sep, "/").split("/")
        depth = len(module.split(".")) - (parts[-1] == "__init__.py")
        if rel.startswith("..") or depth >= len(parts):
            return ""
        return "/".join(parts[: len(parts) - depth])

    sys.path[0] = os.getcwd()  # the workspace, in place of this script's directory
    if spec.get("runner") == "unittest":
        import unittest

        sys.setprofile(profile)
        threading.setprofile(profile)
        try:
            program = unittest.main(module=None, argv=["python -m unittest", *spec["pytest_args"]], exit=False)
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
        send({"k": "finish", "exitstatus": 0 if program.result.wasSuccessful() else 1})
        sys.stdout.flush()
        os._exit(0)
    import pytest

    class _Start:
        """Profiles from the end of collection: pytest's start-up calls are not the tests'."""

        def pytest_collection_finish(self, session: Any) -> None:
            sys.setprofile(profile)
            threading.setprofile(profile)

        def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> None:
            running[0] = item.nodeid.split("[", 1)[0]  # which test's calls follow (None: pytest's own protocol runs)

    try:
        status = pytest.main(list(spec["pytest_args"]), plugins=[_Start()])
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    send({"k": "finish", "exitstatus": int(status)})
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
