"""A real served studio for the serve tests: `repo-agent studio DIR --serve --port 0` in a
subprocess, its port read from the line it prints, stopped (with its sessions) afterwards."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANN = "ann-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef"


@dataclass
class Served:
    port: int
    proc: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serve(traces: Path, *flags: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "studio", str(traces), "--serve", "--port", "0", *flags],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # its sessions are its children: stopped with it
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line + proc.stdout.read()
        yield Served(int(found.group(1)), proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any session left behind
        except ProcessLookupError:
            pass
        proc.wait(timeout=20)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read().decode("utf-8", "replace"), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), dict(exc.headers)


def write_labelers(path: Path) -> Path:
    path.write_text(f"ann {ANN}\nbob {BOB}\n")
    return path
