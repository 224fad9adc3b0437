"""Where the differential runner's calls happen: made to look like real use, and unlike the
tests' run (docs/sandbox-and-verdicts.md, "The verdict").

A wrong fix can be right only where it recognises a judge (round 7): while an alarm handler
is installed, while stdin is no terminal, while its own file sits in a ``<task>-<8 hex>``
workspace. The judge's runs must not share such a tell with one another, so that a fix
keyed on any one of them disagrees with the reference somewhere: the tests run in the
workspace with stdin at /dev/null, and the differential runs its calls

- at a path drawn per run, shaped as a checkout is (``/home/<user>/<project>``, ``/srv/<project>``...),
  never the workspace's own (the sandbox shows the workspace there: ``VerdictPipe.shown_at``);
- with a terminal (a pty opened here) as stdin at import and for part of the calls, and
  /dev/null for the rest (``tty_plan``);
- with no signal handler of its own (agent/differential_runner.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import struct
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from agent.bwrap import runtime_dirs

# Names are drawn letter by letter, never from a list or a grammar narrower than real names: a
# list is a vocabulary a wrong fix can carry and match (round 16, r16-4), and so is a grammar
# (consonant-vowel syllables, r16-8). Any pattern that takes in every drawn path takes in real
# checkouts such as /home/bob/myproj as well.
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ROOTS = (
    "/home/{user}",
    "/home/{user}/{dir}",
    "/srv",
    "/workspace",
    "/builds/{user}",
    "/code",
    "/opt",
    "/app",
    "/data/{user}",
    "/{dir}",
)


# Top-level names a drawn "/<dir>" root must not take: the sandbox's own and the system's.
_SYSTEM_DIRS = frozenset(
    [
        "bin",
        "boot",
        "dev",
        "etc",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "media",
        "mnt",
        "proc",
        "root",
        "run",
        "sbin",
        "snap",
        "sys",
        "tmp",
        "usr",
        "var",
    ]
)


def _word(rng: random.Random, lengths: tuple[int, int], digits: bool = False) -> str:
    chars = _LETTERS + ("0123456789" if digits else "")
    return rng.choice(_LETTERS) + "".join(rng.choice(chars) for _ in range(rng.randint(*lengths) - 1))


def script_name(rng: random.Random) -> str:
    """A name for the runner's script, its calls and its directory, drawn per run (r16-9: a
    fixed ``runner.py`` in a ``repo-agent-diff-`` directory told a fix it was judged). Its
    directory is sys.path[0] as the runner starts: never a standard module's name (its own
    ``import json`` would import the runner again)."""
    while True:
        name = _project(rng).replace("-", "_")
        if name not in sys.stdlib_module_names and name not in ("sitecustomize", "usercustomize"):
            return name


def _project(rng: random.Random) -> str:
    name = _word(rng, (2, 10), digits=True)
    tail = rng.choice(("", "", "", f"-{_word(rng, (2, 8), True)}", f"_{_word(rng, (2, 8), True)}"))
    return name + tail


def shown_path(python: str, rng: random.Random) -> Path:
    """A path for the workspace inside the sandbox, drawn per run: a checkout's shape, away
    from every directory the sandbox mounts for ``python``."""
    mounted = runtime_dirs(python)
    while True:
        root = rng.choice(_ROOTS).format(user=_word(rng, (2, 8)), dir=_word(rng, (2, 8)))
        path = f"{root}/{_project(rng)}"
        if path.split("/")[1] in _SYSTEM_DIRS:
            continue
        if not any(path == d or path.startswith(d + "/") or d.startswith(path + "/") for d in mounted):
            return Path(path)


def tty_plan(parts: list[str], rng: random.Random) -> list[bool]:
    """Per run of calls, whether its calls see the terminal as stdin: the first pass one
    way and the second pass the other (each input is called both ways), the later calls
    drawn one by one. ``parts``: each run's part of the sequence ("" for the first pass)."""
    first = rng.random() < 0.5
    out = []
    for part in parts:
        if part == "":
            out.append(first)
        elif "second" in part:
            out.append(not first)
        else:
            out.append(rng.random() < 0.5)
    return out


# How fast the terminal's output is read and dropped (``_drain``): far past what a person's
# terminal shows, so an honest call printing to it waits little; a flood waits on it instead.
TERMINAL_BYTES_PER_S = 4 * 1024**2
_TERMINAL_READ = 4096  # n_tty's read buffer: the most one read of the terminal returns
_TERMINAL_BURST_S = 0.25
_TERMINAL_SLEEP_S = 0.01


@contextlib.contextmanager
def terminal() -> Iterator[int | None]:
    """A pty's slave end for a command's stdin (24 x 80, as a terminal window is), its
    output read and dropped here; None when no pty can be had (the calls then see /dev/null
    throughout: a judge without a terminal is still a judge)."""
    try:
        master, slave = os.openpty()
    except OSError:
        yield None
        return
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    except OSError:
        pass
    drain = threading.Thread(target=_drain, args=(master,), daemon=True)
    drain.start()
    try:
        yield slave
    finally:
        os.close(slave)  # the sandbox is gone: the master reads EIO and the drain ends
        drain.join(timeout=5)
        if not drain.is_alive():
            os.close(master)


def _drain(master: int) -> None:
    """Read and drop what the command writes to its terminal, at most ``TERMINAL_BYTES_PER_S``.

    A pty cannot be spliced: each read is a syscall into the tty layer returning at most
    n_tty's 4 kB, and the kernel's tty worker moves every chunk outside the sandbox's cgroup.
    Drained as fast as it came, a flood written to the terminal (its stdin and stdout) cost
    repo-agent a third of a core (round 24 r24s-1). Paced, the writer waits on a full terminal
    (its own time, as at a slow terminal window), and this costs a few ms of CPU a second. The
    bound is on reads as well as bytes (a read costs ``_TERMINAL_READ`` at least: one-byte
    writes read one by one are no cheaper to pace), and a quiet spell earns at most
    ``_TERMINAL_BURST_S`` of reads at once."""
    due = time.monotonic()  # when the bytes read so far may have been read at the pace
    while True:
        try:
            n = len(os.read(master, 65536))
        except InterruptedError:
            continue
        except OSError:
            return
        if not n:
            return
        now = time.monotonic()
        due = max(due, now - _TERMINAL_BURST_S) + max(n, _TERMINAL_READ) / TERMINAL_BYTES_PER_S
        if due - now > _TERMINAL_SLEEP_S:  # sleeps of 10 ms at least: few wake-ups a second
            time.sleep(due - now)
