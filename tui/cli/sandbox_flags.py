"""`--unsafe-no-sandbox` on every command that runs model-written code, and Ctrl-C twice.

Without bwrap, agent/sandbox.py refuses to run tests unless the user opts in: this flag
(or ``REPO_AGENT_UNSAFE_NO_SANDBOX=1`` in the environment, which is how the studio's
launch form gets it). A second Ctrl-C ends the process at once, even when a rollout is
stuck in a tool or a test run: sandboxed processes die with us (bwrap
``--die-with-parent``) and live workspaces are removed first.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading

from tui.cli.errors import UserError

# Commands (and sub-commands) that run rollouts or a suite's tests.
RUNS_CODE = {
    ("run",),
    ("branch",),
    ("prefs",),
    ("suite", "check"),
    ("suite", "mutate"),
    ("suite", "calibrate"),
    ("compare",),
}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _command(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser | None:
    for name in path:
        sub = _subparsers(parser).get(name)
        if sub is None:
            return None
        parser = sub
    return parser


def add_unsafe_flag(parser: argparse.ArgumentParser) -> None:
    for path in RUNS_CODE:
        p = _command(parser, path)
        if p is not None:
            p.add_argument(
                "--unsafe-no-sandbox",
                action="store_true",
                help="run model-written code even without bwrap (resource limits only: it can read your "
                "files and see secrets in /proc); also REPO_AGENT_UNSAFE_NO_SANDBOX=1",
            )


@contextlib.contextmanager
def active(args: argparse.Namespace):
    """Act on the parsed flags; while the command runs, a second Ctrl-C exits (main thread only)."""
    global _interrupts
    from agent.sandbox import allow_unsafe

    if getattr(args, "unsafe_no_sandbox", False):
        allow_unsafe()
    if hasattr(args, "unsafe_no_sandbox"):  # this command runs model-written code
        from agent.sandbox import SandboxError, require_sandbox

        try:
            require_sandbox()  # before any token is spent
        except SandboxError as exc:
            raise UserError(str(exc)) from None
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _interrupts = 0
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


_interrupts = 0


def _on_sigint(signum, frame) -> None:
    global _interrupts
    _interrupts += 1
    if _interrupts == 1:
        raise KeyboardInterrupt
    from agent.workspace import remove_live_workspaces

    remove_live_workspaces()
    os.write(2, b"\nstopped (second Ctrl-C)\n")
    os._exit(130)
