"""Standard objects that carry the machine's state to the code under test (round 26 r26v-6,
r26v-10, r26v-11; agent/suspect_ast.py reports the hits; docs/sandbox-and-verdicts.md).

A name rule sees ``time.time()`` and ``sys._getframe()``; it does not see the same answers
handed over inside an object:

- a log record: logging fills each one with the clock (``created``, ``relativeCreated``,
  ``msecs``), the process (``process``, ``thread``) and the caller's frame (``funcName``,
  ``lineno``, ``pathname``). The bound is where a record reaches code of the patch: a method of
  its own class deriving from one of logging's (a handler's ``emit``, a filter's ``filter``, a
  formatter's ``format``) that reads the record it is given, a function of its own given as a
  filter or as the record factory, a handler that keeps records for the code to read (a
  buffer, a queue), or a format naming those fields (read back from a stream of the code's).
  Logging used as a library is used (``getLogger(__name__).debug``, a ``NullHandler``, a
  handler class that drops its records): none of these reads a record.
- an event loop: its ``time()`` is ``time.monotonic``, and ``call_later`` reads it. A method of
  a loop the code got from asyncio is judged as the loop class's own method through
  agent/suspect_machine.py (what the method's source reads).
- any standard class's member through any receiver (round 28 r28v-9/10/11): a classmethod
  answers the same called on an instance (``datetime.datetime.min.now()``,
  ``date(2000, 1, 1).today()``, ``Path("x").home()``, ``Path("x").cwd()``), and a function a
  class holds answers as itself (``logging.Formatter().converter()`` is ``time.localtime()``).
  The bound is the class, not the receiver's spelling: an attribute read on a value reached
  from a standard class is judged as that class's member (agent/suspect_machine.py
  ``class_members``), by the scan's name rules and what its source reads.
- a log record made by logging's own methods (r28v-19: ``getLogger(n).makeRecord(...)``):
  its machine fields read on any value logging made (``.process``, ``.created``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

# Calls of asyncio that hand back an event loop, and the class whose methods a loop runs.
LOOP_MAKERS = frozenset({"new_event_loop", "get_event_loop", "get_running_loop", "SelectorEventLoop", "get_loop"})
LOOP_CLASS = "asyncio.base_events.BaseEventLoop"
# Handlers that keep records where the code reads them back (``handler.buffer``, a queue).
KEEPING_HANDLERS = frozenset(
    {"logging.handlers.BufferingHandler", "logging.handlers.MemoryHandler", "logging.handlers.QueueHandler"}
)
# The record's fields that are the machine's, as a format names them (``%(funcName)s``,
# ``{relativeCreated}``, ``$funcName``): the default format names none.
MACHINE_FIELDS = (
    "asctime",
    "created",
    "relativeCreated",
    "msecs",
    "funcName",
    "lineno",
    "pathname",
    "filename",
    "module",
    "stack_info",
    "process",
    "processName",
    "thread",
    "threadName",
)
# The names only a record has are read in each style; a common word (``{module}``,
# ``{lineno}``) only in logging's own ``%(...)`` style, which a format string of another kind
# does not use.
_OWN_FIELDS = ("asctime", "relativeCreated", "msecs", "funcName", "pathname", "stack_info", "processName", "threadName")
_FORMATS = (
    *(f"%({name})" for name in MACHINE_FIELDS),
    *(f for name in _OWN_FIELDS for f in (f"{{{name}}}", f"${name}", f"${{{name}}}")),
)

Resolve = Callable[[ast.expr], set[str]]


def carried(
    tree: ast.Module,
    resolve: Resolve,
    kinds: Resolve,
    machine: Callable[[str], str],
    member: tuple[Resolve, Callable[[str], str]] | None = None,
) -> Iterator[tuple[str, ast.AST, str]]:
    """(rule, node, key) for each place the machine's state reaches the code through a log
    record, an event loop or a standard class's member. ``resolve``: a node's qualified names;
    ``kinds``: what a node may come from, calls followed (``asyncio.new_event_loop().time`` is
    ``asyncio.new_event_loop.time``); ``machine``: agent/suspect_machine.py's rule for a
    standard function; ``member``: what a node may be with calls marked ``()``
    (``pathlib.Path().home``) and the rule for such a name read as a standard class's member."""
    own_functions = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for node in ast.walk(tree):
        if member is not None and isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            yield from _member_read(node, resolve, *member)
        if isinstance(node, ast.ClassDef) and any(_of_logging(resolve(b)) for b in node.bases):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and _reads_its_record(item):
                    yield "frames", item, "log record"  # a handler, filter or formatter of the patch's
        elif isinstance(node, ast.Call):
            func = node.func
            names = resolve(func)
            if names & {"logging.setLogRecordFactory"} or names & KEEPING_HANDLERS:
                yield "frames", node, "log record"
            elif isinstance(func, ast.Attribute) and func.attr == "addFilter" and node.args:
                given = node.args[0]
                if isinstance(given, ast.Lambda) or (isinstance(given, ast.Name) and given.id in own_functions):
                    yield "frames", node, "log record"  # a function of the patch's handed each record
            rule = _loop_rule(kinds(func), machine)
            if rule:
                yield rule, node, "event loop"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and any(f in node.value for f in _FORMATS):
            yield "frames", node, "log record"


# A record's fields by what they hold: the pid or thread, the clock; the rest name the caller.
_RECORD_FIELD_RULES = {
    **dict.fromkeys(("process", "processName", "thread", "threadName"), "process_probe"),
    **dict.fromkeys(("created", "relativeCreated", "msecs", "asctime"), "reads_clock"),
}


def _member_read(
    node: ast.Attribute, resolve: Resolve, made: Resolve, member: Callable[[str], str]
) -> Iterator[tuple[str, ast.AST, str]]:
    """A standard class's member read through a receiver (an instance, a class attribute), and
    a log record's machine field read on a value logging made."""
    for name in sorted(made(node)):
        rule = member(name)
        if rule:
            yield rule, node, "class member"
            return
    # (a value, not a name the scan resolves: ``logging.thread`` would be a module's attribute)
    if (
        node.attr in MACHINE_FIELDS
        and not resolve(node.value)
        and any(n.startswith("logging.") for n in made(node.value))
    ):
        yield _RECORD_FIELD_RULES.get(node.attr, "frames"), node, "log record"


def _of_logging(names: set[str]) -> bool:
    return any(n == "logging" or n.startswith("logging.") for n in names)


def _reads_its_record(method: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """The method reads the record handed to it (its first parameter past ``self``)."""
    params = [*method.args.posonlyargs, *method.args.args]
    if method.name == "__init__" or len(params) < 2:
        return False
    record = params[1].arg
    return any(isinstance(n, ast.Name) and n.id == record for n in ast.walk(method))


def _loop_rule(kinds: set[str], machine: Callable[[str], str]) -> str:
    """The rule of a method called on an event loop asyncio handed back (``loop.time``), as the
    loop class's own method reads the machine; ``""`` for none."""
    for k in kinds:
        parts = k.split(".")
        if parts[0] != "asyncio":
            continue
        at = [i for i, p in enumerate(parts) if p in LOOP_MAKERS]
        if at and at[-1] == len(parts) - 2:
            rule = machine(f"{LOOP_CLASS}.{parts[-1]}")
            if rule:
                return rule
    return ""
