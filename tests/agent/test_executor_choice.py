"""`--executor thread|ray` and `--ray-address`: parsed into the batch request, checked, and
one clear error naming the extra when Ray is not installed. (Ray itself runs in
tests/agent/test_ray_executor.py.)"""

from __future__ import annotations

import sys

import pytest

from agent.batch_request import BatchRequest, BatchRequestError, make_executor, plan_batch
from agent.ray_executor import RayExecutor
from tests.agent.rollout_fixtures import *
from tui.cli import build_parser, main


def test_the_request_carries_the_executor_and_the_plan_builds_it(tiny_suite_path):
    r = BatchRequest.parse(suite=str(tiny_suite_path), model="m", executor="ray", ray_address="auto", max_workers=3)
    plan = plan_batch(r, factory=lambda t, s: None)
    assert isinstance(plan.executor, RayExecutor)
    assert (plan.executor.address, plan.executor.max_workers) == ("auto", 3)
    assert plan.controls().executor is plan.executor
    assert (
        plan_batch(BatchRequest.parse(suite=str(tiny_suite_path), model="m"), factory=lambda t, s: None).executor
        is None
    )


def test_a_ray_address_needs_the_ray_executor(tiny_suite_path):
    with pytest.raises(BatchRequestError, match="--ray-address needs --executor ray"):
        BatchRequest.parse(suite=str(tiny_suite_path), model="m", ray_address="auto")
    with pytest.raises(BatchRequestError, match="--executor"):
        BatchRequest.parse(suite=str(tiny_suite_path), model="m", executor="dask")


def test_without_the_extra_ray_is_one_error_naming_it(monkeypatch, tiny_suite_path, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as without the extra
    with pytest.raises(BatchRequestError, match=r"uv sync --extra ray"):
        make_executor("ray", 2)
    argv = ["--suite", str(tiny_suite_path), "--model", "m", "--base-url", "http://127.0.0.1:9/v1"]
    rc = main(["run", *argv, "--executor", "ray", "--trace-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc != 0 and "ray extra" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing ran


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--suite", "s"],
        ["prefs", "--suite", "s", "--out", "o.jsonl"],
        ["branch", "--from", "b"],
        ["suite", "calibrate", "s", "--k", "2"],
    ],
)
def test_every_rollout_command_takes_the_flags(command):
    args = build_parser().parse_args([*command, "--executor", "ray", "--ray-address", "auto"])
    assert (args.executor, args.ray_address) == ("ray", "auto")
    assert build_parser().parse_args(command).executor is None  # threads, or where a resumed batch ran


def test_an_unreachable_ray_address_is_one_error_before_the_batch_exists(tiny_suite_path, tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = main(
        ["run", "--suite", str(tiny_suite_path), "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
         "--executor", "ray", "--ray-address", f"127.0.0.1:{port}", "--trace-dir", str(tmp_path / "runs")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "no Ray head answers there" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    with pytest.raises(BatchRequestError, match="HOST:PORT"):
        make_executor("ray", 2, "not-an-address")


def test_a_resumed_batch_runs_where_it_ran(tmp_path):
    """batch.json records the executor and address; --resume takes them unless told otherwise."""
    import json
    import shutil

    from tests.agent.test_batch_request import SAMPLE

    batch = tmp_path / "b"
    shutil.copytree(SAMPLE, batch)
    meta = json.loads((batch / "batch.json").read_text())
    meta["params"].update(executor="ray", ray_address="auto")
    (batch / "batch.json").write_text(json.dumps(meta))
    common = dict(suite="mini-bugs", provider="replay", replay_from=str(SAMPLE), resume=str(batch))
    plan = plan_batch(BatchRequest.parse(**common))
    assert isinstance(plan.executor, RayExecutor) and plan.executor.address == "auto"
    assert plan_batch(BatchRequest.parse(**common, executor="thread")).executor is None
    # A batch recorded before executors were recorded (no field) resumes on threads.
    meta["params"].pop("executor"), meta["params"].pop("ray_address")
    (batch / "batch.json").write_text(json.dumps(meta))
    assert plan_batch(BatchRequest.parse(**common)).executor is None
