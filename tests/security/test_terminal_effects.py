"""Escape codes in traces, file names and files never act on the terminal (issue 24).

The CLI (`stats`, `import`, `check`) and the studio (Runs, a rollout's tool output and
final summary) run in a real tmux pane fed with every kind of sequence, each carrying a
unique marker (tests/security/hostile_inputs.py). The test asserts on effects a rendered
screen does not show: the pane title (``#{pane_title}``), tmux's paste buffers with
``set-clipboard on`` (where an OSC 52 clipboard write lands), and the raw bytes the
terminal received (``pipe-pane -O``).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.security import hostile_inputs as h

PROJECT = Path(__file__).resolve().parents[2]


class Tmux:
    def __init__(self, socket: str):
        self.socket = socket

    def __call__(self, *args: str, check: bool = True) -> str:
        cp = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True)
        if check and cp.returncode != 0:
            raise AssertionError(f"tmux {args[0]}: {cp.stderr.strip()}")
        return cp.stdout

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float = 120) -> None:
        # A bound on a hang, not a speed target: CI at load 30 on 2 cores (a 54-minute run)
        # left the studio's pane blank for 30 s between the Runs screen and a rollout's.
        end = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > end:
                screen = self("capture-pane", "-p", "-t", "s", check=False)
                raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{screen}")
            time.sleep(0.05)  # polling a condition, not waiting a fixed time

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "s")


def _step(tmux: Tmux, arrived: str, key: str) -> bool:
    """One step of driving the studio under load: True once ``arrived`` shows; else press
    ``key`` (or ``o``, back to the rollout, when a late key opened the Steps screen) and give
    the screen 0.7 s to move before the caller looks again."""
    screen = tmux.screen()
    if arrived in screen:
        return True
    tmux("send-keys", "-t", "s", "o" if "Mark bad" in screen else key)
    deadline = time.monotonic() + 0.7
    while time.monotonic() < deadline:
        now = tmux.screen()
        if arrived in now:
            return True
        if now != screen:
            return False  # something moved: look again
        time.sleep(0.05)
    return False


@pytest.fixture
def tmux():
    if shutil.which("tmux") is None:
        pytest.fail("this test needs tmux (apt-get install tmux)", pytrace=False)
    t = Tmux(f"hostile-{uuid.uuid4().hex[:8]}")
    yield t
    t("kill-server", check=False)


def test_escape_codes_never_act_on_the_terminal(tmp_path, tmux):
    traces = tmp_path / "traces"
    h.escape_batch(traces)
    handed = tmp_path / "handed"
    h.markup_path(handed)
    check_me = tmp_path / "esc\x1b]0;MARK_CHECK_TITLE\x07.jsonl"
    check_me.write_text(json.dumps({h.PAYLOAD: 1}) + "\n")  # "keys [...] name no known format"
    # The CLI's three commands in one interpreter (one start-up), beside the studio in a pane of
    # its own: the two start in parallel on a shared machine.
    commands = [
        ["stats", str(traces), "--db", str(tmp_path / "cli.sqlite")],
        ["import", str(handed), "--out", str(tmp_path / "out")],
        ["check", str(check_me)],
    ]
    (tmp_path / "cli.py").write_text("from tui.cli import main\n" + "".join(f"main({c!r})\n" for c in commands))
    python = shlex.quote(sys.executable)
    panes = {
        "c": f"{python} {shlex.quote(str(tmp_path / 'cli.py'))}",
        "s": f"{python} -m tui.cli studio {shlex.quote(str(traces))} --screen runs --no-bell --import no",
    }
    # A first session starts the server, whose options the panes then get (it stays: a server
    # left without sessions exits, racing the next new-session).
    tmux("new-session", "-d", "-s", "boot", "sleep 600")
    tmux("set-option", "-g", "set-clipboard", "on")
    tmux("set-option", "-g", "allow-rename", "on")
    tmux("set-option", "-g", "allow-passthrough", "off")
    for name, command in panes.items():
        script = tmp_path / f"{name}.sh"
        script.write_text(f"cd {shlex.quote(str(PROJECT))}\n{command}\necho ALL_DONE_$((40+2))\nsleep 600\n")
        tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "45", f"read go; sh {shlex.quote(str(script))}")
        tmux("pipe-pane", "-O", "-t", name, f"cat >> {shlex.quote(str(tmp_path / name))}.raw")
        tmux("send-keys", "-t", name, "Enter")  # start once the pipe is on

    def finished(name: str) -> bool:
        raw = tmp_path / f"{name}.raw"
        return raw.exists() and b"ALL_DONE_42" in raw.read_bytes()

    tmux.wait_for("the Runs screen's rollouts", lambda: "PASS" in tmux.screen())
    # One enter focuses the batch's rollouts, the next opens one (a press that lands before the
    # focus moved only focuses again); then the final summary (and the patch).
    tmux.wait_for("the rollout screen", lambda: _step(tmux, "· calls 1", "Enter"))
    tmux.wait_for("the final summary", lambda: _step(tmux, "final summary", "e"))
    tmux("send-keys", "-t", "s", "C-q")
    tmux.wait_for("the studio to quit", lambda: finished("s"))
    tmux.wait_for("the CLI commands", lambda: finished("c"))

    cli_out = (tmp_path / "c.raw").read_bytes()
    assert b"MARK_TASK_TITLE" in cli_out and b"MARK_PATH_TITLE" in cli_out and b"MARK_CHECK_TITLE" in cli_out
    studio_out = (tmp_path / "s.raw").read_bytes()
    assert b"\\x1b]0;MARK_TITLE\\x07" in studio_out  # the tool output's title sequence, shown as text
    for name in panes:
        received = (tmp_path / f"{name}.raw").read_bytes()
        assert b"MARK_TITLE" in received and b"MARK_CLIP" not in received  # shown as text; base64 stays base64
        leaked = [seq for seq in h.FORBIDDEN_BYTES if seq in received]
        assert not leaked, f"escape sequences reached the terminal from {name}: {leaked}"
        assert re.search(h.FORBIDDEN_LINK, received) is None, f"a hyperlink to a marked address from {name}"
        title = tmux("display-message", "-p", "-t", name, "#{pane_title}")
        assert "MARK" not in title, title
    buffers = tmux("list-buffers", "-F", "#{buffer_sample}", check=False)
    assert "MARK" not in buffers and "pwned" not in buffers, buffers
