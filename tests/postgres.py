"""A real PostgreSQL server for the store tests, started once per session.

initdb into a fresh temp directory as a non-root user (PostgreSQL refuses to run as
root; we use ``postgres`` or ``nobody`` via ``runuser`` when the tests run as root),
listening only on a unix socket inside that directory: no port, no network. `.ci/run`
installs the server binaries when a machine lacks them. Without them the tests that
need a server skip locally and FAIL under CI=true.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci_guard import _in_ci


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name))
    return Path(dirs[-1]) if dirs else None


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"]
        except KeyError:
            continue
    return []


def _unavailable(why: str) -> None:
    msg = f"PostgreSQL server unavailable: {why}"
    if _in_ci():
        pytest.fail(msg + " (CI: .ci/run installs it with apt-get install postgresql)", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def pg_conninfo() -> Iterator[str]:
    """A libpq connection string to a private server (database ``postgres``, trust auth)."""
    bindir = _bin_dir()
    if bindir is None:
        _unavailable("no initdb on PATH or under /usr/lib/postgresql/*/bin")
    prefix = _run_as()
    root = Path(tempfile.mkdtemp(prefix="repo-agent-pg-"))
    user = prefix[2] if prefix else None
    if user:
        pw = pwd.getpwnam(user)
        os.chown(root, pw.pw_uid, pw.pw_gid)
    data, sock, log = root / "data", root, root / "server.log"

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=timeout)

    started = False
    try:
        r = run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        if r.returncode != 0:
            _unavailable(f"initdb failed: {r.stderr.strip()[-300:]}")
        opts = f"-k {sock} -c listen_addresses='' -F -c max_connections=50"
        r = run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60", "start")
        if r.returncode != 0:
            tail = log.read_text(errors="replace")[-300:] if log.exists() else r.stderr
            _unavailable(f"pg_ctl start failed: {tail.strip()}")
        started = True
        yield f"host={sock} dbname=postgres user=postgres"
    finally:
        if started:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_database(pg_conninfo: str, request) -> Iterator[str]:
    """A fresh database per test on the session's server; dropped afterwards."""
    import psycopg

    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    with psycopg.connect(pg_conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_conninfo.replace("dbname=postgres", f"dbname={name}")
    with psycopg.connect(pg_conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
