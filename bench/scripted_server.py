"""Serve the scripted OpenAI-compatible model until Ctrl-C (for demos without a real model).

    uv run python bench/scripted_server.py --suite mini-bugs --pass-prob 0.5 --port 8765
    # in another terminal:
    uv run repo-agent run --suite mini-bugs --model scripted --base-url http://127.0.0.1:8765/v1 --rollouts 4

``--script NAME`` plays one script for every rollout (clean, wandering, wrong_fix,
invalid_then_recover, tamper, never_finish, summary_only); ``--stuck KIND`` plays a
model that loops (repeat, alternate, same_wrong_fix: tests/doubles/loop_policies.py);
otherwise the mixed policy passes each rollout with probability ``--pass-prob``,
deterministic per (task, seed). ``--delay S`` waits S seconds before each answer (to
watch rollouts run in the studio's fleet view).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.suites.loading import load_suite
from tests.doubles.loop_policies import AlternatePolicy, RepeatPolicy, SameWrongFixPolicy
from tests.doubles.scripted_llm import SCRIPTS, MixedPolicy, ScriptedLLM, ScriptedPolicy

STUCK = {"repeat": RepeatPolicy, "alternate": AlternatePolicy, "same_wrong_fix": SameWrongFixPolicy}


class Delayed:
    """A policy that waits ``delay`` seconds before each answer (a slow model)."""

    def __init__(self, inner: Callable[[Any], Any], delay: float, suite: Any) -> None:
        self.inner, self.delay, self.suite = inner, delay, suite

    def __call__(self, req: Any) -> Any:
        time.sleep(self.delay)
        return self.inner(req)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="mini-bugs")
    ap.add_argument("--script", choices=sorted(SCRIPTS))
    ap.add_argument("--pass-prob", type=float, default=0.5)
    ap.add_argument("--stuck", choices=sorted(STUCK), help="a model that loops")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    args = ap.parse_args()
    suite = load_suite(args.suite)
    policy: Callable[[Any], Any]
    if args.stuck:
        policy = STUCK[args.stuck](suite)
    else:
        policy = ScriptedPolicy(suite, args.script) if args.script else MixedPolicy(suite, pass_prob=args.pass_prob)
    if args.delay:
        policy = Delayed(policy, args.delay, suite)
    llm = ScriptedLLM(policy, port=args.port).start()
    print(f"scripted model for suite {suite.name} at {llm.base_url}  (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        llm.close()
        print(f"served {len(llm.requests)} requests")


if __name__ == "__main__":
    main()
