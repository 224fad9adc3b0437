"""Users' data survives: a store and batches made by main at schema 4 (tests/fixtures/store_v4)
open with this version, keep every verdict, mark, note and tag, and export the same lines as
main did, except the deliberate drops (pairs and rollouts with a cancelled side, repeated
lines), which `repo-agent audit` lists. Never regenerate the fixture: later versions must
pass this test on it as it is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from exports.audit import audit
from labeling.sqlite_db import SCHEMA_VERSION
from labeling.store import LabelStore
from labeling.verdict_follow import current_verdicts
from tui.cli import main

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_v4"
EXPORTS = {
    "dpo_labeled": ["export", "dpo"],
    "dpo_auto": ["export", "dpo", "--auto"],
    "sft": ["export", "sft"],
}


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("upgrade") / "runs"
    shutil.copytree(FIXTURE / "runs", runs)
    return runs


def _deliberate(line_meta: dict) -> bool:
    """A line main wrote that this version leaves out on purpose: a side was cancelled."""
    return any(u.startswith("cancelled/") for u in line_meta["uids"])


@pytest.mark.parametrize("name", list(EXPORTS))
def test_exports_keep_every_line_but_the_deliberate_drops(upgraded: Path, tmp_path: Path, name: str, capsys) -> None:
    out = tmp_path / f"{name}.jsonl"
    assert main([*EXPORTS[name], str(upgraded), "--out", str(out)]) == 0
    capsys.readouterr()
    new = out.read_text().splitlines()
    old = (FIXTURE / "expected" / f"{name}.jsonl").read_text().splitlines()
    metas = json.loads((FIXTURE / "expected" / f"{name}.meta.json").read_text())["lines"]
    kept = {line for line, m in zip(old, metas, strict=True) if not _deliberate(m)}
    assert set(new) == kept  # the same lines, byte for byte, but the drops
    assert len(new) == len(set(new))  # and none twice (main wrote copies twice)


def test_every_verdict_mark_note_and_tag_survives(upgraded: Path) -> None:
    want = json.loads((FIXTURE / "expected" / "human.json").read_text())
    with LabelStore.open(None, upgraded, labeler="ana") as store:
        store.ingest([upgraded])
        assert store._db.get_meta()["schema_version"] == str(SCHEMA_VERSION)
        events = store.events()
        assert len(events) >= want["events"]  # appended to, never rewritten
        current = current_verdicts(events)
        for p in want["labeled_pairs"]:
            row = store.pair(p["pair_id"])  # the old pair stays, with its verdict, note and tags
            assert (row.verdict, row.note, row.tags, row.verdicts) == (
                p["verdict"],
                p["note"],
                p["tags"],
                p["verdicts"],
            )
            for labeler, verdict in p["verdicts"].items():
                assert current[(p["pair_id"], labeler)].value == verdict
        marks = {
            uid: {str(k): {"reason": m.reason, "text": m.text, "labeler": m.labeler} for k, m in v.items()}
            for uid, v in store.all_step_marks().items()
        }
        assert marks == want["step_marks"]
        # verdicts on pairs over copies followed the content onto the pairs over the originals
        carried = {
            (e.target, e.labeler, e.value, e.note) for e in events if e.kind == "verdict" and e.id > want["events"]
        }
        assert len(carried) == 3
        assert ("ana", "flip", "the failing one reads better") in {c[1:] for c in carried}
        assert ("ana", "confirm", "clear fix") in {c[1:] for c in carried}
        # the deliberate drop is listed, with its verdict
        dropped = audit(store).dropped_verdicts
        assert [(d.pair_id, d.verdict, d.labeler) for d in dropped] == [("2301312b5275", "confirm", "ana")]
