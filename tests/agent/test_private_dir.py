"""agent/private_dir.py: a predictable directory is used only when no one else can change it."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from agent.private_dir import private_dir


def test_our_own_directory_is_used_and_a_missing_one_made_0700(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o2750)
    assert private_dir(mine) == mine.resolve() and (mine.stat().st_mode & 0o7777) == 0o2750  # modes left alone
    new = tmp_path / "a" / "new"
    assert private_dir(new) == new.resolve() and (new.stat().st_mode & 0o777) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="needs another user to own the name")
def test_a_name_another_user_made_first_gives_one_stable_private_fallback(monkeypatch):
    shared = Path(tempfile.mkdtemp(prefix="pd-"))
    try:
        shared.chmod(0o1777)
        monkeypatch.setattr(tempfile, "tempdir", str(shared))
        squat = shared / "repo-agent-ray-cache"
        subprocess.run(["runuser", "-u", "nobody", "--", "mkdir", "-m", "0777", str(squat)], check=True)
        first, again = private_dir(squat), private_dir(squat)
        assert first == again == shared.resolve() / f"repo-agent-ray-cache-{os.geteuid()}"  # the cache still hits
        assert first.stat().st_uid == os.geteuid() and (first.stat().st_mode & 0o777) == 0o700
        writable = shared / "open"  # ours, but any user may rename what is in it
        writable.mkdir()
        writable.chmod(0o777)
        assert private_dir(writable / "ws").parent == shared.resolve()
    finally:
        subprocess.run(["rm", "-rf", str(shared)], check=False)
