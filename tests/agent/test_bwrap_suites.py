"""agent/bwrap.py: the installed package's suites, and every installed metadata file that names a file of
them (a wheel's RECORD, an egg-info's SOURCES.txt and installed-files.txt: round 27 r27s-4), are unreadable in
the sandbox; metadata that names none of them stays as it is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agent.bwrap import _hide_installed_suites
from agent.sandbox import run_command_full

_NAMING = {
    "repo_agent_studio-0.1.0.dist-info/RECORD": "agent/suites/mini_bugs/fix_x/_fix/x.py,sha256=abc,12\n",
    "repo_agent_studio.egg-info/SOURCES.txt": "agent/suites/mini_bugs/fix_x/_hidden/test_x.py\n",
    "old.egg-info/installed-files.txt": "../agent/suites/mini_bugs/fix_x/_heldout/inputs.json\n",
}
_OTHER = {
    "repo_agent_studio-0.1.0.dist-info/METADATA": "Metadata-Version: 2.3\nName: repo-agent-studio\n",
    "repo_agent_studio-0.1.0.dist-info/direct_url.json": '{"url": "file:///src/repo-agent-studio"}\n',
    "other-1.0.dist-info/RECORD": "other/__init__.py,sha256=def,0\n",
}


def _venv_with_the_wheel(tmp_path: Path) -> tuple[Path, Path]:
    """A venv (its python, its site directory) where the package is installed as a wheel
    installs it, with the metadata files of ``_NAMING`` and ``_OTHER``."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "agent/suites/mini_bugs/fix_x/_fix").mkdir(parents=True)
    (site / "agent/suites/mini_bugs/fix_x/_fix/x.py").write_text("fixed\n")
    for name, text in (_NAMING | _OTHER).items():
        (site / name).parent.mkdir(exist_ok=True)
        (site / name).write_text(text)
    return venv / "bin" / "python", site


def test_dev_null_covers_each_metadata_file_naming_the_suites(tmp_path):
    _, site = _venv_with_the_wheel(tmp_path)
    argv = _hide_installed_suites([str(tmp_path / "venv")])
    covered = {argv[i + 2] for i in range(len(argv) - 2) if argv[i : i + 2] == ["--ro-bind", "/dev/null"]}
    # (each by every path it has: a venv's lib64 is a link to its lib)
    assert {str(Path(c).resolve()) for c in covered} == {str((site / name).resolve()) for name in _NAMING}, argv
    assert str(site / "agent/suites") in argv


_READ = r"""
import glob, json, os, sys
site = glob.glob(os.path.join(sys.prefix, "lib/python3*/site-packages"))[0]
got = {}
for name in NAMES:
    try:
        with open(os.path.join(site, name)) as f:
            got[name] = f.read()
    except OSError as e:
        got[name] = e.errno
got["suites"] = os.listdir(os.path.join(site, "agent/suites"))
print("READ " + json.dumps(got))
"""


def test_the_sandbox_reads_no_metadata_naming_the_suites(tmp_path):
    python, _ = _venv_with_the_wheel(tmp_path)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "read.py").write_text(_READ.replace("NAMES", repr(sorted(_NAMING | _OTHER))))
    run = run_command_full([str(python), "read.py"], ws, timeout_s=60, sandbox="bwrap", python=str(python))
    lines = [line for line in run.output.splitlines() if line.startswith("READ ")]
    assert lines, run.output[-500:]
    got = json.loads(lines[-1].removeprefix("READ "))
    assert got == dict.fromkeys(_NAMING, 13) | _OTHER | {"suites": []}  # EACCES: /dev/null on a nodev bind
