"""Fixtures for the rollout-engine tests (providers, loop, batch, CLI run).

A tiny two-task suite written into tmp dirs (fast pytest runs: plugin autoload off), a
scripted chat-completions server factory, and fast retries. Test modules import what
they use: ``from tests.agent.rollout_fixtures import *``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.batch import run_batch
from agent.batch_spec import BatchCallbacks, BatchControls, BatchSpec
from agent.providers import OpenAIProvider, RetryPolicy
from agent.suites.loading import load_suite
from tests.doubles.scripted_llm import ScriptedLLM

FAST_RETRY = RetryPolicy(max_retries=3, base_delay_s=0.001, max_delay_s=0.01)
FAKE_OPENAI_KEY = "sk-test-DO-NOT-LEAK-0123456789abcdef"
FAKE_TOGETHER_KEY = "tg-test-DO-NOT-LEAK-fedcba9876543210"

_FILES = {
    "fix_gcd": {
        "src/gcd.py": "def gcd(a, b):\n    while b:\n        a, b = b, a // b\n    return a\n",
        "src/test_gcd.py": "from gcd import gcd\n\n\ndef test_gcd():\n    assert gcd(12, 8) == 4\n\n\ndef test_gcd_zero():\n    assert gcd(5, 0) == 5\n",
        "fix/gcd.py": "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n",
    },
    "fix_largest": {
        "src/largest.py": "def largest(xs):\n    best = xs[0]\n    for x in xs[1:-1]:\n        if x > best:\n            best = x\n    return best\n",
        "src/test_largest.py": "from largest import largest\n\n\ndef test_last_is_largest():\n    assert largest([1, 2, 9]) == 9\n\n\ndef test_second_is_largest():\n    assert largest([1, 9, 2]) == 9\n",
        "fix/largest.py": "def largest(xs):\n    best = xs[0]\n    for x in xs[1:]:\n        if x > best:\n            best = x\n    return best\n",
    },
}


def write_tiny_suite(root: Path) -> Path:
    tasks = []
    for tid, files in _FILES.items():
        for rel, text in files.items():
            p = root / tid / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        test_file = next(r for r in files if r.startswith("src/test_")).removeprefix("src/")
        tasks.append(
            {
                "id": tid,
                "source": {"kind": "dir", "path": f"{tid}/src"},
                "goal": f"The function in task {tid} returns wrong results. Find and fix the bug.",
                "test_command": ["python", "-m", "pytest", "-q", "--disable-plugin-autoload"],
                "timeout_s": 30,
                "per_test_timeout_s": 5,
                "protected": [test_file],
                "reference_fix": f"{tid}/fix",
            }
        )
    path = root / "suite.json"
    path.write_text(json.dumps({"name": "tiny", "tasks": tasks}))
    return path


@pytest.fixture(scope="session")
def tiny_suite_path(tmp_path_factory) -> Path:
    return write_tiny_suite(tmp_path_factory.mktemp("tiny_suite"))


@pytest.fixture
def tiny_suite(tiny_suite_path):
    return load_suite(str(tiny_suite_path))


@pytest.fixture
def scripted():
    """``scripted(policy, **kw)`` starts a ScriptedLLM that is closed after the test."""
    servers: list[ScriptedLLM] = []

    def start(policy, **kw) -> ScriptedLLM:
        server = ScriptedLLM(policy, **kw).start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.close()


def batch_args(suite, factory, batch_dir: Path, **kw) -> tuple[BatchSpec, BatchCallbacks, BatchControls]:
    """``run_batch``'s three objects from one flat set of keywords (``on_event``, ``cancel``, ``rollouts``, ...)."""
    observer = BatchCallbacks(**{k.removeprefix("on_"): kw.pop(k) for k in list(kw) if k.startswith("on_")})
    controls = BatchControls(**{k: kw.pop(k) for k in ("cancel", "executor", "rollout_cancels", "budget") if k in kw})
    return BatchSpec(suite, factory, batch_dir, **kw), observer, controls


def scripted_batch(suite, factory, batch_dir: Path, tmp_path: Path, **kw):
    """``run_batch`` as the tests call it: provider "openai", model "scripted", workspaces under tmp_path/ws."""
    kw = {"provider_name": "openai", "model": "scripted", "workspace_root": tmp_path / "ws", **kw}
    return run_batch(*batch_args(suite, factory, batch_dir, **kw))


def model_flags(server: ScriptedLLM, model: str = "scripted") -> list[str]:
    """The CLI flags that point a command at a scripted model server."""
    return ["--llm-provider", "openai", "--model", model, "--base-url", server.base_url]


def openai_for(server: ScriptedLLM, **kw) -> OpenAIProvider:
    return OpenAIProvider("scripted", base_url=server.base_url, retry=kw.pop("retry", FAST_RETRY), **kw)


__all__ = [
    "FAST_RETRY",
    "batch_args",
    "FAKE_OPENAI_KEY",
    "FAKE_TOGETHER_KEY",
    "write_tiny_suite",
    "tiny_suite_path",
    "tiny_suite",
    "scripted",
    "openai_for",
    "model_flags",
    "scripted_batch",
]
