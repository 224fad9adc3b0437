"""Bad input refused with one line and a non-zero exit, nothing created (issue 25)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import factories
from tui.cli import main


@pytest.mark.parametrize(
    "argv",
    [
        ["stats"],
        ["pairs", "list"],
        ["steps", "list", "-", "x"],
        ["audit"],
        ["export", "dpo", "--out", "OUT"],
    ],
    ids=["stats", "pairs-list", "steps-list", "audit", "export"],
)
def test_a_folder_with_no_traces_and_no_store_is_refused_and_left_empty(tmp_path: Path, argv, capsys) -> None:
    empty = tmp_path / "typo"
    empty.mkdir()
    args = [a.replace("OUT", str(tmp_path / "o.jsonl")) for a in argv]
    if "-" in args:
        args[args.index("-")] = str(empty)
    else:
        args.insert(2 if argv[0] in ("pairs", "export") else 1, str(empty))
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert ("holds no trace batches and no label store" in err or "no label store at" in err) and len(
        err.splitlines()
    ) == 1
    assert list(empty.iterdir()) == []


def test_a_step_past_the_end_and_a_reversed_band_are_refused(tmp_path: Path, capsys) -> None:
    root = tmp_path / "runs"
    factories.write_batch(
        root, "b", [factories.Rollout(task_id="t", seed=0, steps=[[factories.Call("read_file")]] * 4)]
    )
    assert main(["ingest", str(root)]) == 0
    assert main(["steps", "mark", str(root), "b/t__s0", "4", "loop"]) == 0
    capsys.readouterr()
    assert main(["steps", "mark", str(root), "b/t__s0", "999", "loop"]) == 2
    assert "no step 999 in b/t__s0: it has 4 step(s)" in capsys.readouterr().err
    assert main(["stats", str(root), "--band-low", "0.9", "--band-high", "0.1"]) == 2
    assert "bad learnable band 0.9-0.1" in capsys.readouterr().err
