"""A served studio's rules, in process: who may connect as whom, what reaches a session's
environment, no model code unless allowed, and typed paths that stay inside DIR."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.conftest import settle
from tui.screens.export import ExportScreen
from tui.screens.runs import RunsScreen
from tui.serve.access import Access, AccessError, allowed_hosts, host_ok, origin_ok, read_labelers
from tui.serve.limits import LAUNCH_OFF, OutsideRoot, ServedLimits
from tui.serve.server import SESSION_ENV, SessionConfig, session_environment

ANN = "ann-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef"


def test_labelers_file_the_token_decides_who_labels(tmp_path):
    f = tmp_path / "labelers"
    f.write_text(f"# team\nann {ANN}\n\nbob {BOB}\n")
    access = Access(labelers=read_labelers(f))
    assert access.labeler_for(ANN, None) == "ann"
    assert access.labeler_for(BOB, "ann") == "bob"  # the URL's labeler= cannot sign as another
    assert access.labeler_for("x" * 26, "ann") is None and access.labeler_for(None, "ann") is None
    for bad, why in (
        (f"ann {ANN}\nann {BOB}\n", "listed twice"),
        (f"ann {ANN}\nbob {ANN}\n", "shares a token"),
        ("ann short\n", "at least 16"),
        (f"a;rm {ANN}\n", "not a labeler name"),
        (f"ann {ANN} extra\n", "expected 'NAME TOKEN'"),
    ):
        f.write_text(bad)
        with pytest.raises(AccessError, match=why):
            read_labelers(f)


def test_shared_token_takes_a_plain_name_only():
    access = Access(shared_token=ANN)
    assert access.labeler_for(ANN, "carol") == "carol"
    for name in ("", "carol; rm -rf ~", "$(id)", "a b", "../x", "<b>", "x" * 65, None):
        assert access.labeler_for(ANN, name) is None, name
    assert access.labeler_for(BOB, "carol") is None


def test_host_and_origin_checks():
    hosts = allowed_hosts("127.0.0.1", 8123)
    assert host_ok("127.0.0.1:8123", hosts) and host_ok("LOCALHOST:8123", hosts)
    assert not host_ok("evil.example:8123", hosts) and not host_ok("127.0.0.1:80", hosts) and not host_ok(None, hosts)
    assert origin_ok("http://127.0.0.1:8123", "127.0.0.1:8123", required=True)
    assert not origin_ok("http://evil.example", "127.0.0.1:8123", required=True)
    assert not origin_ok("null", "127.0.0.1:8123", required=True)
    assert not origin_ok(None, "127.0.0.1:8123", required=True) and origin_ok(None, "127.0.0.1:8123", required=False)


def test_session_environment_carries_the_session_and_no_secret(tmp_path):
    base = {"PATH": "/bin", "TOGETHER_API_KEY": "sk-1", "OPENAI_API_KEY": "sk-2", "REPO_AGENT_SERVE_TOKEN": ANN}
    base["PGPASSWORD"] = "the store's"  # the session needs it to open a PostgreSQL store
    cfg = SessionConfig(traces_dir=tmp_path, db=str(tmp_path / "labels.sqlite"), labeler="ann")
    env = session_environment(base, cfg, width=100, height=30)
    assert (
        env["PATH"] == "/bin"
        and env["PGPASSWORD"] == "the store's"
        and SessionConfig.model_validate_json(env[SESSION_ENV]) == cfg
    )
    assert not {"TOGETHER_API_KEY", "OPENAI_API_KEY", "REPO_AGENT_SERVE_TOKEN"} & env.keys()
    launching = session_environment(base, cfg.model_copy(update={"allow_launch": True}), width=100, height=30)
    assert launching["TOGETHER_API_KEY"] == "sk-1" and "REPO_AGENT_SERVE_TOKEN" not in launching
    with pytest.raises(ValueError):
        SessionConfig(traces_dir=tmp_path, db="x", labeler="ann; id")


def test_typed_paths_stay_inside_dir(tmp_path):
    root = tmp_path / "traces"
    (root / "exports").mkdir(parents=True)
    (root / "out-link").symlink_to(tmp_path)
    limits = ServedLimits(root)
    assert limits.confine(root / "exports" / "dpo.jsonl") == (root / "exports" / "dpo.jsonl").resolve()
    assert limits.confine("exports/sft.jsonl") == (root / "exports" / "sft.jsonl").resolve()
    for bad in ("../x.jsonl", "/etc/cron.d/x", "out-link/x.jsonl", str(root)):
        with pytest.raises(OutsideRoot):
            limits.confine(bad)


async def test_served_studio_refuses_to_launch_or_resume(traces, make_app):
    app = make_app(traces, start="runs", served=ServedLimits(traces.resolve()))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)  # no launch form
        await pilot.press("R")
        await pilot.pause()
        refusals = [n for n in app._notifications if n.message == LAUNCH_OFF]
        assert len(refusals) == 2 and not app.state.running_batches
    assert ServedLimits(traces, allow_launch=True).launch_refusal() is None  # --allow-launch: as in a terminal


async def test_served_export_writes_only_inside_dir(tmp_path, traces, make_app):
    app = make_app(traces, start="export", served=ServedLimits(traces.resolve()))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        outside = tmp_path / "outside.jsonl"
        screen.query_one("#x-out").value = str(outside)
        await pilot.press("ctrl+w")
        await settle(pilot)
        assert not outside.exists() and screen.written is None
        assert "writes only inside" in str(screen.query_one("#export-report").render())


def test_export_paths_are_read_inside_dir(traces):
    from exports.options import DpoOptions

    limits = ServedLimits(traces)
    out, options = limits.confine_export(Path("mine/dpo.jsonl"), DpoOptions(holdout_out="h.json", suite="mini-bugs"))
    assert out == (traces / "mine" / "dpo.jsonl").resolve()  # relative to DIR, not the server's cwd
    assert options.holdout_out == str((traces / "h.json").resolve()) and options.suite == "mini-bugs"  # a builtin name
    for bad in (DpoOptions(tokenizer_path="/etc/passwd"), DpoOptions(suite="../other/suite.json")):
        with pytest.raises(OutsideRoot):
            limits.confine_export(Path("x.jsonl"), bad)


def test_serve_flags_errors_are_one_line(traces, tmp_path, capsys):
    from tui.cli import main

    bad = tmp_path / "labelers"
    bad.write_text("ann short\n")
    assert main(["studio", str(traces), "--serve", "--labelers", str(bad)]) == 2
    assert main(["studio", str(traces), "--serve", "--token", "abcdefghijklmnopqrstu", "--labeler", "ann"]) == 2
    assert main(["studio", str(traces), "--serve", "--token", "short"]) == 2
    err = capsys.readouterr().err
    assert "labelers" in err and "from each session's token" in err and "at least 16 characters" in err
    assert "Traceback" not in err
