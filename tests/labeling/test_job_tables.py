"""Fine-tuning jobs in the label store (schema 6): a store of an older version gains the
tables at open, and a job is inserted, then updated in place by its id."""

from __future__ import annotations

import sqlite3

from labeling.records import JobRow, UploadRow
from labeling.sqlite_db import SCHEMA_VERSION
from labeling.store import LabelStore


def test_a_version_4_store_gains_the_job_tables_and_keeps_jobs_by_id(tmp_path):
    path = tmp_path / "labels.sqlite"
    LabelStore(path).close()
    with sqlite3.connect(path) as c:  # what a version-4 store looked like
        c.execute("DROP TABLE finetune_jobs")
        c.execute("DROP TABLE finetune_uploads")
        c.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    with LabelStore(path, labeler="tester") as store:
        assert store.jobs() == [] and store.uploaded("ab" * 32) is None
        store.record_upload(UploadRow(sha256="ab" * 32, file_id="file-1", filename="dpo.jsonl", bytes=10))
        job = JobRow(
            job_id="ft-1",
            created_at="2026-12-06T08:00:00+00:00",
            status="queued",
            base_model="Qwen/Qwen2.5-7B-Instruct",
            method="dpo",
            verdicts={"counts": {"confirm": 2}, "lines": [{"pair_id": "p1", "verdict": "confirm"}]},
        )
        store.record_job(job)
        store.record_job(job.model_copy(update={"status": "completed", "output_model": "me/Qwen-ft-1"}))
        (got,) = store.jobs()
        assert got.status == "completed" and got.output_model == "me/Qwen-ft-1" and got.final
        assert got.verdicts == job.verdicts and store.job("ft-1") == got
        assert store.uploaded("ab" * 32).file_id == "file-1"
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
