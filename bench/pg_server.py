"""A private PostgreSQL server for the benchmarks (`bench/studio.py --pg auto`).

Like tests/postgres.py: initdb into a temp directory (as ``postgres`` or ``nobody`` when
run as root; PostgreSQL refuses root), listening only on a unix socket in it, trust
auth. Stopped and removed on exit. Needs the server binaries (apt-get install postgresql).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit


def _bin_dir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name))
    if not dirs:
        raise SystemExit("no initdb: install the PostgreSQL server (apt-get install postgresql)")
    return Path(dirs[-1])


@contextmanager
def private_server() -> Iterator[str]:
    """Yields a ``postgresql://`` URL to the server's ``postgres`` database."""
    bindir = _bin_dir()
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="repo-agent-bench-pg-"))
    if os.geteuid() == 0:
        for user in ("postgres", "nobody"):
            try:
                pw = pwd.getpwnam(user)
            except KeyError:
                continue
            prefix = ["runuser", "-u", user, "--"]
            os.chown(root, pw.pw_uid, pw.pw_gid)
            break
    data = root / "data"

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
    opts = f"-k {root} -c listen_addresses='' -c max_connections=50"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "-t", "60", "start")
    try:
        yield f"postgresql://postgres@/postgres?host={quote(str(root), safe='')}"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def database_url(server_url: str, name: str, *, fresh: bool = False) -> str:
    """A database ``name`` on the server (made if missing; emptied first with ``fresh``)."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlsplit(server_url)._replace(path="/" + name).geturl()
