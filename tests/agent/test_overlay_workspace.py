"""A root sandbox's workspace as an overlay (agent/overlay_mount.py, agent/sandbox.py
``CappedWorkspace``): nothing copied in, only what the run changed back, with the copy's rules."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent import overlay_mount
from agent import sandbox as sb
from agent.sandbox import run_command_full

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the workspace tmpfs needs root (documented)")

_RUN = r"""
set -e
echo changed > d/f
echo new > d/new
rm g
rm -r gone
rm -r again && mkdir again && echo only > again/only
rm file_to_dir && mkdir file_to_dir && echo in > file_to_dir/x
rm -r dir_to_file && echo now-a-file > dir_to_file
ln -s /etc/passwd link
mkfifo fifo
echo s > setuid && chmod 4777 setuid
echo a > linked_a && ln linked_a linked_b
chmod 0777 d
touch -d 2001-01-01 kept_but_touched
"""


def _workspace(root: Path) -> Path:
    ws = root / "ws"
    for rel, text in {
        "d/f": "old",
        "g": "g",
        "gone/deep/x": "x",
        "again/old1": "1",
        "again/sub/old2": "2",
        "file_to_dir": "f",
        "dir_to_file/y": "y",
        "untouched/u": "u",
        "kept_but_touched": "k",
    }.items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
    return ws


def _tree(ws: Path) -> dict[str, str]:
    out = {}
    for p in sorted(ws.rglob("*")):
        st = os.lstat(p)
        rel = str(p.relative_to(ws))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = "-> " + os.readlink(p)
        elif stat.S_ISFIFO(st.st_mode):
            out[rel] = "fifo"
        elif stat.S_ISREG(st.st_mode):
            out[rel] = p.read_text()
        else:
            out[rel] = "dir"
    return out


def test_only_what_the_run_changed_comes_back_as_the_copy_brought_it(tmp_path, monkeypatch):
    ws = _workspace(tmp_path)
    untouched = os.lstat(ws / "untouched/u")
    copied: list[str] = []
    real = sb._copy_entry

    def counted(src, dst, st, budget):
        copied.append(os.path.relpath(dst, ws))
        return real(src, dst, st, budget)

    monkeypatch.setattr(sb, "_copy_entry", counted)
    r = run_command_full(["/bin/sh", "-c", _RUN], ws, timeout_s=30, sandbox="bwrap")
    assert r.exit_code == 0, r.output
    assert _tree(ws) == {
        "again": "dir",
        "again/only": "only\n",
        "d": "dir",
        "d/f": "changed\n",
        "d/new": "new\n",
        "dir_to_file": "now-a-file\n",
        "fifo": "fifo",
        "file_to_dir": "dir",
        "file_to_dir/x": "in\n",
        "kept_but_touched": "k",
        "link": "-> /etc/passwd",
        "linked_a": "a\n",
        "linked_b": "a\n",
        "setuid": "s\n",
        "untouched": "dir",
        "untouched/u": "u",
    }
    # Nothing the run did not write was copied, either way: the same file, not a copy of it.
    now = os.lstat(ws / "untouched/u")
    assert (now.st_ino, now.st_ctime_ns) == (untouched.st_ino, untouched.st_ctime_ns)
    assert "untouched/u" not in copied and "d/f" in copied
    # The copy's rules: links stay one file, no setuid, no group or others' write, all root's.
    assert os.lstat(ws / "linked_a").st_ino == os.lstat(ws / "linked_b").st_ino
    assert not os.lstat(ws / "setuid").st_mode & (stat.S_ISUID | stat.S_IWOTH)
    assert stat.S_IMODE(os.lstat(ws / "d").st_mode) & 0o022 == 0
    assert all(os.lstat(p).st_uid == 0 for p in ws.rglob("*"))
    assert os.lstat(ws / "kept_but_touched").st_mtime < 1e9 + 1e8  # its times as the run left them


def test_a_run_that_changed_nothing_copies_nothing(tmp_path, monkeypatch):
    ws = _workspace(tmp_path)
    copied: list[str] = []
    monkeypatch.setattr(sb, "_copy_entry", lambda *a: copied.append(a[1]))
    r = run_command_full(["/bin/cat", "d/f", "untouched/u"], ws, timeout_s=30, sandbox="bwrap")
    assert (r.exit_code, r.output) == (0, "oldu") and copied == []


def test_a_workspace_holding_another_users_file_is_copied_as_before(tmp_path, monkeypatch):
    """The overlay shows only root's files as the sandbox's: with another uid's file in the
    workspace the run gets a copy, its files all its own, as before the overlay."""
    ws = _workspace(tmp_path)
    os.chown(ws / "d/f", 65534, 65534)
    copied: list[str] = []
    real = sb._copy_entry
    monkeypatch.setattr(sb, "_copy_entry", lambda *a: copied.append(a[1]) or real(*a))
    r = run_command_full(["/bin/sh", "-c", "echo mine > d/f"], ws, timeout_s=30, sandbox="bwrap")
    assert r.exit_code == 0, r.output
    assert (ws / "d/f").read_text() == "mine\n" and len(copied) == 2 * 9  # all 9 files, in and back


def test_a_workspace_holding_a_file_past_the_file_size_limit_is_copied(tmp_path, monkeypatch):
    """The overlay copies a file up in the tests' process, under their RLIMIT_FSIZE: with a
    file past it in the workspace the run gets a copy, where touching it works (r23s-1)."""
    monkeypatch.setattr(sb, "FSIZE_LIMIT", 2**20)  # the sandbox's limit too: a 2 MB file is past it
    ws = _workspace(tmp_path)
    (ws / "big.bin").write_bytes(b"x" * 2 * 2**20)
    r = run_command_full(
        ["/bin/sh", "-c", "touch big.bin && chmod 600 big.bin && echo ok"], ws, timeout_s=30, sandbox="bwrap"
    )
    assert (r.exit_code, r.output.strip()) == (0, "ok"), r.output
    assert stat.S_IMODE(os.lstat(ws / "big.bin").st_mode) == 0o600 and (ws / "big.bin").stat().st_size == 2 * 2**20


def test_a_machine_without_the_overlays_user_namespace_copies_as_before(tmp_path, monkeypatch):
    """Where a step of the overlay is refused after its directories were made (on aarch64,
    ``_userns`` refuses: no pause(2) for the clone's child), the tmpfs is emptied and the run
    gets a copy, all of it back, as before the overlay; no mount of the run's is left."""
    monkeypatch.setattr(overlay_mount.platform, "machine", lambda: "aarch64")
    ws = _workspace(tmp_path)
    names = sorted(p.name for p in ws.iterdir())
    copied: list[str] = []
    real = sb._copy_entry
    monkeypatch.setattr(sb, "_copy_entry", lambda *a: copied.append(os.path.relpath(a[1], ws)) or real(*a))
    mounted: list[str] = []  # the run's mount points (other processes of the machine mount theirs)
    hold = sb.REAPER.hold
    monkeypatch.setattr(sb.REAPER, "hold", lambda path: mounted.append(path) or hold(path))
    r = run_command_full(["/bin/sh", "-c", "ls -A && echo mine > d/f"], ws, timeout_s=30, sandbox="bwrap")
    assert r.exit_code == 0, r.output
    assert r.output.split() == names, r.output  # the workspace's own names: no upper, work or lower
    assert (ws / "d/f").read_text() == "mine\n" and "untouched/u" in copied and len(copied) == 2 * 9
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    assert mounted and not set(mounted) & set(points), (mounted, points)


def test_the_overlay_is_mounted_where_only_root_reaches(tmp_path, monkeypatch):
    # Its root shows the workspace's owner and mode (0755), not its mount point's: the
    # directory it is mounted in keeps every local user out (round 25 r25s-3).
    seen: list[tuple[int, int, bool]] = []
    real = overlay_mount.mount_overlay

    def mounted(lower, uid, base, merged):
        real(lower, uid, base, merged)
        parent = os.stat(Path(merged).parent)
        seen.append((stat.S_IMODE(parent.st_mode), parent.st_uid, os.path.ismount(merged)))

    monkeypatch.setattr(overlay_mount, "mount_overlay", mounted)
    ws = _workspace(tmp_path)
    r = run_command_full(["/bin/cat", "d/f"], ws, timeout_s=30, sandbox="bwrap")
    assert (r.exit_code, r.output) == (0, "old")
    assert len(seen) == 1 and seen[0][2], seen  # the run went through the overlay
    mode, owner, _ = seen[0]
    assert mode & 0o077 == 0 and owner == 0, f"the overlay is mounted in a directory of mode {mode:o}, uid {owner}"


def _walked(monkeypatch) -> list[int]:
    """The names every walk of ``tree_cost``'s kind looks at, appended as it goes."""
    walked: list[int] = []
    real = sb.measure

    def counted(*args, **kwargs):
        cost = real(*args, **kwargs)
        walked.append(cost.names)
        return cost

    monkeypatch.setattr(sb, "measure", counted)
    return walked


def test_a_run_that_wrote_one_file_walks_the_workspace_once_not_twice(tmp_path, monkeypatch):
    """Within the cap by what the merge wrote (round 25 r25s-2): the workspace measured before
    the run and what came back are enough, no second walk of the names the run never touched."""
    ws = _workspace(tmp_path)
    for i in range(500):
        (ws / "untouched" / f"pad{i}").touch()
    walked = _walked(monkeypatch)
    r = run_command_full(
        ["/bin/sh", "-c", "echo x > d/one && mkdir -p n/m && echo y > n/m/two"], ws, timeout_s=30, sandbox="bwrap"
    )
    assert r.exit_code == 0, r.output
    assert (ws / "d/one").read_text() == "x\n" and (ws / "n/m/two").read_text() == "y\n"
    assert len(walked) == 1 and walked[0] > 500, walked  # the check before the run alone


def test_what_the_merge_wrote_past_the_cap_is_trimmed_as_before(tmp_path, monkeypatch):
    """The bound is the workspace before and all the merge wrote: a run that takes a workspace
    near the cap past it is walked and trimmed, as every run was."""
    monkeypatch.setattr(sb, "WORKSPACE_BYTES", 2 << 20)
    ws = _workspace(tmp_path)
    (ws / "untouched/big").write_bytes(b"b" * (1 << 20))
    walked = _walked(monkeypatch)
    r = run_command_full(
        ["/bin/sh", "-c", "head -c 1500000 /dev/zero | tr '\\0' a > d/more"], ws, timeout_s=30, sandbox="bwrap"
    )
    assert r.exit_code == 0, r.output
    assert len(walked) == 2, walked  # past the cap by the estimate: measured for real
    assert sb.tree_cost(ws)[0] <= sb.WORKSPACE_BYTES
    assert (ws / "d/more").stat().st_size == 0 and "past the workspace cap" in r.output


def test_the_merge_counts_every_name_and_block_it_wrote(tmp_path):
    """``Merged``'s figures are what the workspace grew by as ``tree_cost`` counts it (an upper
    bound: equal here, where nothing was removed)."""
    ws = _workspace(tmp_path)
    upper = tmp_path / "upper"
    (upper / "d" / "sub").mkdir(parents=True)
    (upper / "d" / "sub" / "f").write_bytes(b"z" * 10_000)
    (upper / "top").write_text("t")
    os.link(upper / "top", upper / "top2")
    for i in range(300):  # a directory of the workspace grows past its first block
        (upper / "d" / f"name-long-enough-to-fill-blocks-{i:04}").touch()
    before = sb.tree_cost(ws)
    merged = sb._merge_back(upper, ws)
    after = sb.tree_cost(ws)
    assert merged.names == after[1] - before[1] == 1 + 1 + 2 + 300
    assert merged.bytes == after[0] - before[0] > 0
