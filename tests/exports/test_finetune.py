"""`repo-agent finetune` and `jobs`: the real Together SDK against a local server speaking its
files and fine-tuning API (tests/doubles/fake_together.py); no network, a fake key."""

from __future__ import annotations

import _thread
import argparse
import hashlib
import io
import json
import signal
import sys
import threading
from pathlib import Path

import pytest

from exports import DpoOptions, SftOptions, export_dpo, export_sft
from labeling.store import LabelStore
from tests.doubles.fake_together import KNOWN_MODEL, FakeTogether
from tests.exports.conftest import Spec
from tui.cli import main

FAKE_KEY = "tg-fake-key-for-finetune-tests-9f8e7d"


@pytest.fixture
def together(monkeypatch):
    srv = FakeTogether()
    monkeypatch.setenv("TOGETHER_API_KEY", FAKE_KEY)
    monkeypatch.setenv("TOGETHER_BASE_URL", srv.url)
    yield srv
    srv.close()


@pytest.fixture
def dpo(env, tmp_path: Path) -> Path:
    """A DPO export of one confirmed pair, beside its sidecar and held-out suite; the store at tmp_path."""
    env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
    env.batch("b2", [Spec("fix_bitcount", 0, passed=True), Spec("fix_bitcount", 1, passed=False)])
    pair = env.pair_for("fix_gcd")
    env.store.set_verdict(pair.pair_id, "confirm")
    out = tmp_path / "data" / "dpo.jsonl"
    report = export_dpo(env.store, out, DpoOptions(holdout_tasks=["fix_bitcount"]))
    assert report.examples == 1
    return out


def finetune(path: Path, *extra: str) -> int:
    return main(["finetune", str(path), "--model", KNOWN_MODEL, "--poll-seconds", "0", *extra])


def stored_jobs(tmp_path: Path):
    with LabelStore(tmp_path / "labels.sqlite") as s:
        return s.jobs()


def test_happy_path_prices_launches_follows_and_records_the_labels(dpo, together, tmp_path, capsys) -> None:
    assert finetune(dpo, "--budget-usd", "10", "--yes", "--epochs", "2", "--suffix", "gcd-v1") == 0
    out = capsys.readouterr().out
    assert "123,456 training tokens" in out and "$4.20 (Together's estimate)" in out and "$300.00" in out
    assert "trained on     1 examples (confirm 1)" in out
    assert "launched: ft-0001" in out and "status: completed" in out
    assert "Training started" in out and "Fine-tuning job completed" in out  # the events, as they came
    assert f"the fine-tuned model is me/{KNOWN_MODEL.split('/')[1]}-ft-0001" in out
    holdout = dpo.with_name("dpo.holdout.suite.json")
    assert f"repo-agent compare --job ft-0001 --trace-dir {tmp_path} --suite {holdout} --llm-provider together" in out

    # The SDK's routes, in order: limits before anything is sent, the upload, the price of the
    # exact request, the job, then progress until it ends.
    calls = together.calls()
    assert calls[:5] == [
        ("GET", "/v1/fine-tunes/models/limits"),
        ("POST", "/v1/files"),
        ("PUT", "/put/file-0001"),
        ("POST", "/v1/files/file-0001/preprocess"),
        ("POST", "/v1/fine-tunes/estimate-price"),
    ]
    assert ("POST", "/v1/fine-tunes") in calls and ("GET", "/v1/fine-tunes/ft-0001/events") in calls
    est = together.bodies("/v1/fine-tunes/estimate-price")[0]
    assert est["training_file"] == "file-0001" and est["n_epochs"] == 2 and est["training_method"]["method"] == "dpo"
    assert est["training_type"]["type"] == "Lora"
    job_req = together.bodies("/v1/fine-tunes")[0]
    assert job_req["training_file"] == "file-0001" and job_req["model"] == KNOWN_MODEL
    assert job_req["n_epochs"] == 2 and job_req["suffix"] == "gcd-v1" and job_req["training_method"]["method"] == "dpo"
    assert all(
        h.get("Authorization") == f"Bearer {FAKE_KEY}" for m, p, h, _ in together.requests if p.startswith("/v1")
    )

    # Provenance: the job in the store the sidecar names, with the labels it was trained on.
    (job,) = stored_jobs(tmp_path)
    sidecar = dpo.with_name("dpo.meta.json")
    assert job.job_id == "ft-0001" and job.status == "completed" and job.method == "dpo"
    assert job.output_model == f"me/{KNOWN_MODEL.split('/')[1]}-ft-0001"
    assert job.training_file_id == "file-0001" and job.file_sha256 == hashlib.sha256(dpo.read_bytes()).hexdigest()
    assert job.sidecar_sha256 == hashlib.sha256(sidecar.read_bytes()).hexdigest()
    assert job.estimate["price_usd"] == 4.2 and job.options["epochs"] == 2
    (line,) = job.verdicts["lines"]
    assert line["verdict"] == "confirm" and line["task_id"] == "fix_gcd" and job.verdicts["counts"] == {"confirm": 1}
    # The key never reaches the store.
    for f in tmp_path.glob("labels.sqlite*"):
        assert FAKE_KEY.encode() not in f.read_bytes()

    # The same file again: its upload is reused (Together is asked that it still has it).
    together.requests.clear()
    assert finetune(dpo, "--yes", "--detach", "--validation", str(dpo)) == 0
    assert "file-0001 (reused" in capsys.readouterr().out
    assert ("POST", "/v1/files") not in together.calls() and ("GET", "/v1/files/file-0001") in together.calls()
    second = together.bodies("/v1/fine-tunes")[0]
    assert second["validation_file"] == "file-0001" and second["n_evals"] == 4

    assert main(["jobs", str(tmp_path), "--json"]) == 0
    listed = {j["job_id"]: j for j in json.loads(capsys.readouterr().out)}
    assert set(listed) == {"ft-0001", "ft-0002"} and listed["ft-0002"]["validation_file_id"] == "file-0001"
    assert listed["ft-0001"]["verdicts"]["lines"][0]["verdict"] == "confirm"


def test_an_sft_export_launches_as_sft(env, together, tmp_path, capsys) -> None:
    env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
    sft = tmp_path / "sft.jsonl"
    export_sft(env.store, sft, SftOptions())
    assert finetune(sft, "--yes", "--detach") == 0
    req = together.bodies("/v1/fine-tunes")[0]
    assert req["training_method"] == {"method": "sft", "train_on_inputs": "auto"}
    assert [(j.method, j.verdicts["examples"]) for j in stored_jobs(tmp_path)] == [("sft", 1)]
    assert finetune(sft, "--yes", "--dpo-beta", "0.1") == 2
    assert "--dpo-beta is for DPO files only" in capsys.readouterr().err


def test_refused_over_budget_before_any_job(dpo, together, tmp_path, capsys) -> None:
    assert finetune(dpo, "--budget-usd", "1", "--yes") == 2
    err = capsys.readouterr().err
    assert "not launched: estimated $4.20 is over --budget-usd 1" in err and "Traceback" not in err
    assert ("POST", "/v1/fine-tunes") not in together.calls()
    assert stored_jobs(tmp_path) == []


def test_refused_when_together_says_the_account_may_not_proceed(dpo, together, tmp_path, capsys) -> None:
    together.estimate.update(allowed_to_proceed=False, user_limit=2.0)
    assert finetune(dpo, "--yes") == 2
    err = capsys.readouterr().err
    assert "Together says this account may not proceed (estimated $4.20, the account's limit $2.00)" in err
    assert ("POST", "/v1/fine-tunes") not in together.calls() and stored_jobs(tmp_path) == []
    together.estimate = {"estimation_available": False, "unavailable_reason": "train_file_invalid"}
    assert finetune(dpo, "--yes") == 2
    assert "cannot estimate the price (train_file_invalid)" in capsys.readouterr().err


def test_no_yes_without_a_terminal_refuses_rather_than_spends(dpo, together, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # piped input is not a person saying yes
    assert finetune(dpo) == 2
    err = capsys.readouterr().err
    assert "no terminal to confirm on (estimated $4.20); pass --yes" in err
    assert ("POST", "/v1/fine-tunes") not in together.calls() and stored_jobs(tmp_path) == []

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))  # a person at a terminal says no
    assert finetune(dpo) == 1
    assert "Launch this job for about $4.20? [y/N]" in capsys.readouterr().out
    assert ("POST", "/v1/fine-tunes") not in together.calls() and stored_jobs(tmp_path) == []
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))  # ... and then yes
    assert finetune(dpo, "--detach") == 0
    assert [j.job_id for j in stored_jobs(tmp_path)] == ["ft-0001"]


def test_a_job_that_ends_in_error(dpo, together, tmp_path, capsys) -> None:
    together.script = ["queued", "running", "error"]
    assert finetune(dpo, "--yes") == 1
    out = capsys.readouterr().out
    assert "status: error" in out and "the job ended in error: Training failed: CUDA out of memory at step 3" in out
    assert "compare" not in out
    assert [j.status for j in stored_jobs(tmp_path)] == ["error"]


def test_ctrl_c_detaches_and_follow_picks_up_again(dpo, together, tmp_path, capsys) -> None:
    together.hold_at = 1  # the job stays "running" until released

    def press_ctrl_c() -> None:
        if together.held.wait(timeout=120):
            _thread.interrupt_main(signal.SIGINT)  # as the terminal's Ctrl-C: SIGINT to the main thread

    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    try:
        code = finetune(dpo, "--yes", "--poll-seconds", "0.01")
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped `repo-agent finetune` instead of detaching")
    presser.join(timeout=120)
    captured = capsys.readouterr()
    assert code == 130, captured.err
    assert (
        f"detached: ft-0001 keeps running on Together. Follow it again: repo-agent jobs {tmp_path} follow ft-0001"
        in captured.out
    )
    assert [j.status for j in stored_jobs(tmp_path)] == ["running"]
    assert ("POST", "/v1/fine-tunes/ft-0001/cancel") not in together.calls()  # detaching never cancels

    together.release.set()
    assert main(["jobs", str(tmp_path), "follow", "ft-0001", "--poll-seconds", "0"]) == 0
    out = capsys.readouterr().out
    assert "status: completed" in out and "Fine-tuning job completed" in out
    assert [j.status for j in stored_jobs(tmp_path)] == ["completed"]


def test_cancel_and_list(dpo, together, tmp_path, capsys) -> None:
    together.hold_at = 1
    assert finetune(dpo, "--yes", "--detach") == 0
    assert f"follow it: repo-agent jobs {tmp_path} follow ft-0001" in capsys.readouterr().out
    assert main(["jobs", str(tmp_path), "cancel", "ft-0001"]) == 0
    assert "cancel requested: ft-0001 is cancelled" in capsys.readouterr().out
    assert ("POST", "/v1/fine-tunes/ft-0001/cancel") in together.calls()
    assert main(["jobs", str(tmp_path)]) == 0  # refreshed from Together's job list
    out = capsys.readouterr().out
    assert "ft-0001" in out and "cancelled" in out and "$4.20" in out
    assert ("GET", "/v1/fine-tunes") in together.calls()
    assert main(["jobs", str(tmp_path), "cancel", "ft-9999"]) == 2
    assert "no fine-tuning job ft-9999" in capsys.readouterr().err


def test_refusals_before_anything_is_sent(dpo, together, tmp_path, capsys, monkeypatch) -> None:
    assert main(["finetune", str(dpo), "--model", "no/such-model", "--yes"]) == 2
    assert "model no/such-model: Together answered HTTP 404" in capsys.readouterr().err
    assert finetune(dpo, "--method", "sft", "--yes") == 2
    assert "is a DPO file; --method sft would fail on Together" in capsys.readouterr().err
    assert finetune(dpo, "--epochs", "50", "--yes") == 2
    assert "--epochs 50 is over" in capsys.readouterr().err
    assert finetune(dpo, "--full", "--yes") == 2
    assert "has no full fine-tuning on Together" in capsys.readouterr().err
    assert ("POST", "/v1/files") not in together.calls()
    dpo.write_text(dpo.read_text() + "\n")  # changed since export: provenance would lie
    assert finetune(dpo, "--yes") == 2
    assert "changed since it was exported" in capsys.readouterr().err
    bare = tmp_path / "bare.jsonl"
    bare.write_text(dpo.read_text())
    assert finetune(bare, "--yes") == 2
    assert "has no export sidecar" in capsys.readouterr().err
    monkeypatch.delenv("TOGETHER_API_KEY")
    dpo.write_text(dpo.read_text()[:-1])  # as exported again
    assert finetune(dpo, "--yes") == 2
    assert "TOGETHER_API_KEY is not set" in capsys.readouterr().err
    assert main(["jobs", str(tmp_path), "follow", "ft-0001"]) == 2
    assert "no fine-tuning job ft-0001" in capsys.readouterr().err
    assert together.calls("POST", "/v1/fine-tunes") == []


def test_compare_job_resolves_the_models_and_the_held_out_suite(dpo, together, tmp_path, capsys) -> None:
    from tui.cli.compare import resolve_job
    from tui.cli.errors import UserError

    together.hold_at = 1
    assert finetune(dpo, "--yes", "--detach") == 0
    args = argparse.Namespace(job="ft-0001", db=None, trace_dir=str(tmp_path), model=[], suite=None, train=None)
    with pytest.raises(UserError, match="ft-0001 is queued: no fine-tuned model yet"):
        resolve_job(args)
    together.release.set()
    assert main(["jobs", str(tmp_path), "follow", "ft-0001", "--poll-seconds", "0"]) == 0
    resolve_job(args)
    assert args.model == [KNOWN_MODEL, f"me/{KNOWN_MODEL.split('/')[1]}-ft-0001"]
    assert args.suite == str(dpo.with_name("dpo.holdout.suite.json"))
