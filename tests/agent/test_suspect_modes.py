"""Files the patch hands on readable that the judge's run could not read (round 31 r31v-18;
agent/suspect_modes.py): a file of the patch whose read bits in the workspace fall short of
the workspace's own is a ``file_environment`` hit; one as readable as the rest is none."""

from __future__ import annotations

import pytest

from agent.patch_format import file_diff
from agent.suspect import scan_patch, source_reader, workspace_reader


@pytest.mark.parametrize(("mode", "hit"), [(0o000, True), (0o600, True), (0o640, True), (0o644, False), (0o755, False)])
def test_a_file_of_the_patch_less_readable_than_the_workspace_is_a_hit(tmp_path, mode: int, hit: bool) -> None:
    source, ws = tmp_path / "source", tmp_path / "ws"
    source.mkdir()
    ws.mkdir()
    ws.chmod(0o755)
    (source / "gcd.py").write_text("def gcd(a, b):\n    return a\n")
    (ws / "gcd.py").write_text("def gcd(a, b):\n    return a\n")
    (ws / "fastpath.py").write_text("def gcd(a, b):\n    return 1\n")
    (ws / "fastpath.py").chmod(mode)
    patch = file_diff("fastpath.py", None, b"def gcd(a, b):\n    return 1\n")
    hits = scan_patch(patch, (), source_reader(source), workspace_reader(ws))
    assert any(h.rule == "file_environment" and h.path == "fastpath.py" for h in hits) is hit, hits


def test_a_workspace_readable_by_its_owner_only_asks_no_more(tmp_path) -> None:
    """A machine's umask 077: the workspace itself is rwx------; its files rw------- are its norm."""
    ws = tmp_path / "ws"
    ws.mkdir()
    ws.chmod(0o700)
    (ws / "fastpath.py").write_text("x = 1\n")
    (ws / "fastpath.py").chmod(0o600)
    hits = scan_patch(file_diff("fastpath.py", None, b"x = 1\n"), (), None, workspace_reader(ws))
    assert not any(h.rule == "file_environment" for h in hits)
