"""A task venv made with ``--system-site-packages`` (an honest user setup): its tests load the
base interpreter's pytest plugins, whose hooks are the user's, not the run's
(agent/suites/env.py ``trusted_env_dirs``)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from agent.pytest_report import judge
from agent.suites.env import trusted_env_dirs


def _records(*recs: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in recs)


def _run(hook_file: str) -> bytes:
    test = [
        {"k": "report", "id": "t::a", "when": w, "outcome": "passed", "xfail": False}
        for w in ("setup", "call", "teardown")
    ]
    hook = {"k": "hook", "hook": "pytest_runtest_makereport", "file": hook_file}
    return _records({"k": "hello", "pid": 7}, *test, hook, {"k": "finish", "exitstatus": 0})


def test_a_system_site_packages_venv_trusts_the_base_plugins_and_nothing_more(tmp_path: Path) -> None:
    base_python = str(Path(sys.base_prefix) / "bin" / "python3")
    for name, flags in (("ssp", ["--system-site-packages"]), ("plain", [])):
        subprocess.run([base_python, "-m", "venv", "--without-pip", *flags, str(tmp_path / name)], check=True)
    base_site = os.path.realpath(sysconfig.get_path("purelib", vars={"base": sys.base_prefix}))
    ssp, plain = trusted_env_dirs(tmp_path / "ssp"), trusted_env_dirs(tmp_path / "plain")
    assert base_site in ssp and base_site not in plain and str(tmp_path / "plain") in plain
    assert not any(d.startswith(os.path.expanduser("~/.local") + os.sep) for d in ssp)  # not mounted: not trusted
    ws = tmp_path / "ws"
    ws.mkdir()
    benchmark = _run(os.path.join(base_site, "pytest_benchmark", "plugin.py"))
    # The honest run: pytest-benchmark's hooks from the base interpreter, loaded by the venv's pytest.
    assert judge(benchmark, 0, trusted_dirs=ssp, workspace=str(ws)).tamper == []
    assert judge(benchmark, 0, trusted_dirs=plain, workspace=str(ws)).tamper != []  # not its venv's: tampering
    # A hook the run's own code registers is tampering whatever the venv.
    (ws / "gcd.py").write_text("")
    assert judge(_run(f"{ws}/gcd.py"), 0, trusted_dirs=ssp, workspace=str(ws)).tamper == [
        "pytest hook pytest_runtest_makereport implemented in gcd.py"
    ]


def test_an_unreadable_pyvenv_cfg_names_no_home(tmp_path) -> None:
    # A pyvenv.cfg that is not UTF-8 was a UnicodeDecodeError traceback through env_home.
    from agent.suites.env import env_home

    (tmp_path / "pyvenv.cfg").write_bytes(b"home = /usr/bin\xff\n")
    assert env_home(tmp_path) is None
    (tmp_path / "pyvenv.cfg").write_text("Home = /usr/bin\n", encoding="utf-8")
    assert env_home(tmp_path) == Path("/usr/bin")


def test_a_base_interpreter_not_answering_is_asked_again(monkeypatch) -> None:
    # One slow start (the ask timed out on a loaded machine) left the base site dirs untrusted
    # for the process's life: only an answer is cached.
    from agent.suites import env

    monkeypatch.setattr(env, "_asked_site_dirs", functools.lru_cache(maxsize=16)(env._asked_site_dirs.__wrapped__))
    real = subprocess.run

    def slow(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs.get("timeout", 30))

    monkeypatch.setattr(env.subprocess, "run", slow)
    assert env._base_site_dirs(sys.executable) == ()
    monkeypatch.setattr(env.subprocess, "run", real)
    known = env._base_site_dirs(sys.executable)
    assert known and all(os.path.isabs(d) for d in known)
    monkeypatch.setattr(env.subprocess, "run", slow)
    assert env._base_site_dirs(sys.executable) == known  # the answer is kept
