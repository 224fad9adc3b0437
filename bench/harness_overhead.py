"""Agent harness overhead per step, with a zero-latency model (target: < 20 ms median).

A step's overhead is everything the harness does between two model calls: parsing and
validating the tool calls, running cheap tools (list_dir, read_file, grep, write_file)
in the workspace, appending messages, and writing every trace event (flushed per line).
The model's own time is excluded by construction: the gap is measured from the moment
one ``complete()`` returns to the moment the next one is entered. No step runs the test
command, so its time is excluded too.

Two models: ``inproc`` (a provider object answering instantly) and ``http`` (the scripted
OpenAI-compatible server over localhost through the real ``openai`` client; the HTTP
round trip counts as model time there, as a real server's would).

    uv run python bench/harness_overhead.py [--steps 40] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.loop import RolloutConfig, RolloutSpec, run_rollout
from agent.providers import Completion, OpenAIProvider
from agent.suites.loading import load_suite
from agent.trace import Usage
from tests.doubles.scripted_llm import ScriptedLLM, assistant, task_facts


def cheap_script(facts, steps: int) -> list[dict]:
    moves = [
        ("list_dir", {"rel_dir": ".", "max_files": 50}),
        ("read_file", {"rel_path": facts.bug_file}),
        ("grep", {"pattern": "def ", "rel_dir": "."}),
        ("write_file", {"rel_path": facts.bug_file, "content": facts.source_files[facts.bug_file]}),
        ("read_file", {"rel_path": "{broken"}),  # an invalid call now and then, as models do
    ]
    out = [assistant(i + 1, moves[i % len(moves)]) for i in range(steps)]
    out.append(assistant(steps + 1, ("finish", {"summary": "done", "changes": []})))
    return out


class Timed:
    """Wraps a provider; records when each complete() is entered and returns."""

    def __init__(self, inner):
        self.inner, self.name, self.model = inner, inner.name, inner.model
        self.enter: list[float] = []
        self.leave: list[float] = []

    def complete(self, messages, tools, **kw):
        self.enter.append(time.perf_counter())
        try:
            return self.inner.complete(messages, tools, **kw)
        finally:
            self.leave.append(time.perf_counter())

    def gaps_ms(self) -> list[float]:
        return [(self.enter[i + 1] - self.leave[i]) * 1000 for i in range(len(self.enter) - 1)]


class InstantModel:
    name, model = "inproc", "instant"

    def __init__(self, script):
        self.script = script

    def complete(self, messages, tools, **kw):
        k = sum(1 for m in messages if m.get("role") == "assistant")
        return Completion(self.script[k], Usage(prompt_tokens=1, completion_tokens=1), "tool_calls", 0.0, 0)


class ScriptPolicy:
    def __init__(self, script):
        self.script = script

    def __call__(self, req):
        return self.script[req.step - 1]


def run(kind: str, suite, task, steps: int, runs: int) -> list[float]:
    facts = task_facts(suite, task)
    script = cheap_script(facts, steps)
    gaps: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            if kind == "http":
                server = ScriptedLLM(ScriptPolicy(script), suite=suite).start()
                provider = Timed(OpenAIProvider("scripted", base_url=server.base_url))
            else:
                server, provider = None, Timed(InstantModel(script))
            try:
                run_rollout(
                    RolloutSpec(suite, task, Path(tmp) / f"{kind}{i}.jsonl", rollout_id=f"r{i}", seed=i),
                    provider,
                    config=RolloutConfig(max_iters=steps + 5),
                    workspace_root=Path(tmp) / "ws",
                )
            finally:
                if server:
                    server.close()
            gaps += provider.gaps_ms()
    return gaps


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    suite = load_suite("mini-bugs")
    task = suite.tasks[0]
    out = {}
    for kind in ("inproc", "http"):
        gaps = run(kind, suite, task, args.steps, args.runs)
        out[kind] = {
            "steps": len(gaps),
            "median_ms": statistics.median(gaps),
            "p95_ms": pct(gaps, 0.95),
            "max_ms": max(gaps),
        }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"harness overhead per step (task {task.id}, {args.runs} runs x {args.steps} steps, cheap tools)")
    for kind, r in out.items():
        verdict = "ok" if r["median_ms"] < 20 else "OVER TARGET"
        print(
            f"  {kind:7s} median {r['median_ms']:6.2f} ms   p95 {r['p95_ms']:6.2f} ms   max {r['max_ms']:6.2f} ms"
            f"   ({r['steps']} steps; target < 20 ms median: {verdict})"
        )


if __name__ == "__main__":
    main()
