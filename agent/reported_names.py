"""How the host names what a test run reported in its verdict lines (tamper, errors): by what
the host itself can check, never by the string the sandbox chose.

A file name, a test id or a record kind in the verdict records comes from the process under
test (a hook compiled under a "file name" holding the revealed held-out tests' text once
carried them into ``result.tamper``, the trace and the studio: round 10 r10-10). A file is
named by its workspace-relative path when that file exists in the workspace, by its path
when it exists on this machine outside it, and only when each part of that path is a plain
file name (letters, digits, ``_.+-``); else as ``<a file name the tests made>``; a test
id by its file so named and the identifiers after it (a parameter id in brackets is left
out). Whatever is shown is cut and has no control character.
"""

from __future__ import annotations

import os
import re

MADE_UP = "<a file name the tests made>"
SHOWN_MAX = 160  # characters of one name in a verdict line
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}")
# A part of a path as modules are named: the tests can make a file in the workspace whose name
# is the text (spaces, brackets, "==") they mean to carry out; such a name is not repeated.
_PLAIN_PART = re.compile(r"[A-Za-z0-9_.+-]{1,100}")


def shown_text(text: str, limit: int = SHOWN_MAX) -> str:
    """``text`` with control characters escaped, cut to ``limit`` characters (marked)."""
    escaped = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def shown_file(name: object, workspace: str | None, real: str | None = None) -> str:
    """A reported file name as the host can vouch for it (see the module's docstring);
    ``real``: where the kernel resolves it (agent/pytest_report.py ``_real``, its links read
    once per name), None when not asked or not resolvable."""
    if not isinstance(name, str) or "\x00" in name or not name.startswith("/"):
        return MADE_UP  # "<string>", a repr, a relative name: nothing the host can look at
    path = os.path.normpath(name)
    root = os.path.normpath(workspace) if workspace else None
    if root is not None and path.startswith(root + os.sep) and os.path.isfile(path):
        return _plain(os.path.relpath(path, root))
    if real is None or real.startswith("\x00") or not os.path.isfile(real):
        return MADE_UP
    if root is not None and (real + os.sep).startswith(os.path.realpath(root) + os.sep):
        return MADE_UP  # in the workspace only through a name it does not have there
    return _plain(real)


def _plain(path: str) -> str:
    parts = path.strip("/").split("/")
    return shown_text(path) if all(_PLAIN_PART.fullmatch(p) for p in parts) else MADE_UP


def shown_test(nodeid: object, workspace: str | None) -> str:
    """A reported test id: its file as ``shown_file`` names it (relative to the workspace, as
    pytest's ids are), then its class and function names when they are identifiers."""
    if not isinstance(nodeid, str):
        return "a test"
    file, _, rest = nodeid.partition("::")
    shown = shown_file(os.path.join(workspace, file), workspace) if workspace and file else MADE_UP
    for part in rest.split("::") if rest else ():
        name, bracket, _ = part.partition("[")
        shown += "::" + (name if _IDENTIFIER.fullmatch(name) else "<a name the tests made>")
        if bracket:
            shown += "[...]"
    return shown


def shown_identifier(name: object) -> str:
    """A hook's or a record kind's name: an identifier, else not repeated."""
    return name if isinstance(name, str) and _IDENTIFIER.fullmatch(name) else "<a name the tests made>"
