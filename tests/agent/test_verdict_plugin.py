"""The verdict plugin's own guards, called in this process (agent/_pytest_plugins/repo_agent_verdict.py)."""

from __future__ import annotations

import importlib.util
import json
import os
from types import SimpleNamespace

import pytest

from agent.sandbox import PLUGIN_DIR


@pytest.fixture(scope="module")
def plugin():
    spec = importlib.util.spec_from_file_location("verdict_plugin_under_test", PLUGIN_DIR / "repo_agent_verdict.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # no REPO_AGENT_VERDICT_FD here: its sender writes nothing
    return module


def _kinds(data: bytes) -> list[tuple[str, object]]:
    return [(r["k"], r.get("what", r.get("outcome"))) for r in map(json.loads, data.splitlines())]


def test_a_sender_called_from_foreign_code_says_so_first(plugin):
    """r13-1: a wrapper put between the hooks and the sender (a swapped default argument)
    rewrites records before they are sealed: the sender sees its caller is not the plugin's."""
    r, w = os.pipe()
    try:
        send, _token, allow = plugin._make_sender(w, b"secret")

        def hook(record):  # stands for the plugin's own hook
            send(record)

        def wrapped(record):  # the forger's wrapper
            send(dict(record, outcome="passed"))

        allow([hook.__code__], [])
        allow([wrapped.__code__], [])  # a second call is code under test's: ignored
        hook({"k": "report", "outcome": "failed"})
        wrapped({"k": "report", "outcome": "failed"})
        hook({"k": "report", "outcome": "failed"})
        os.close(w)
        w = -1
        data = os.read(r, 1 << 16)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    assert _kinds(data) == [
        ("report", "failed"),
        ("tamper", plugin.FOREIGN_CALLER),
        ("report", "passed"),
        ("report", "failed"),
    ]


def _sent(plugin, run) -> list[tuple[str, object]]:
    r, w = os.pipe()
    try:
        run(*plugin._make_sender(w, b"secret"))
        os.close(w)
        w = -1
        return _kinds(os.read(r, 1 << 16))
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_a_hook_of_the_plugin_called_by_other_code_than_pluggys_says_so(plugin):
    """Code under test calling the plugin's hook itself (a forged report, a sender of its
    own passed in): the plugin's frames must have been called by pluggy's hook caller."""

    def run(send, _token, allow):
        def hook(outcome):  # stands for the plugin's own hook
            send({"k": "report", "outcome": outcome})

        def multicall(outcome):  # stands for pluggy's _multicall
            hook(outcome)

        allow([hook.__code__], [multicall.__code__])
        multicall("failed")
        hook("passed")  # called by this test, not by pluggy

    assert _sent(plugin, run) == [("report", "failed"), ("tamper", plugin.FOREIGN_CALLER), ("report", "passed")]


def test_the_plugins_own_functions_are_its_senders_callers(plugin):
    """The module's hooks and helpers may send; nothing else was allowed at load."""
    sender = plugin._SEND
    cells = {id(c.cell_contents) for c in sender.__closure__ or () if isinstance(c.cell_contents, dict)}
    assert cells  # the allowed table is held by the sender
    table = next(c.cell_contents for c in sender.__closure__ if isinstance(c.cell_contents, dict))
    for name in ("_tamper", "_check_hooks", "pytest_runtest_logreport", "pytest_collectreport", "pytest_runtest_call"):
        code = getattr(plugin, name).__code__
        assert table.get(id(code)) is code, name
    assert table.get(id(plugin._FINISH.__code__)) is plugin._FINISH.__code__
    assert len(table) < 40
    import pluggy._callers

    entries = [c.cell_contents for c in sender.__closure__ if isinstance(c.cell_contents, dict)]
    assert any(id(pluggy._callers._multicall.__code__) in t for t in entries if t is not table)


def test_xdist_options_are_set_as_n0(plugin):
    """r13-13: tests never run in xdist workers, whose plugin copies have no verdict pipe."""
    option = SimpleNamespace(numprocesses=2, dist="load", tx=["popen", "popen"], distload=True, looponfail=True)
    plugin.pytest_cmdline_main(SimpleNamespace(option=option))
    assert (option.numprocesses, option.dist, option.tx, option.distload, option.looponfail) == (
        0,
        "no",
        [],
        False,
        False,
    )
    plain = SimpleNamespace(verbose=0)  # no xdist in the venv: nothing added
    plugin.pytest_cmdline_main(SimpleNamespace(option=plain))
    assert vars(plain) == {"verbose": 0}
