"""A scripted server playing several models at once: the request's ``model`` picks the
policy, so two "models" with known per-task pass probabilities answer on one port."""

from __future__ import annotations

from agent.suites.models import Suite
from tests.doubles.scripted_policies import Message, MixedPolicy, PolicyRequest


class ModelsPolicy:
    """``ModelsPolicy(suite, {"base": {"fix_gcd": 0.2}, "tuned": {"fix_gcd": 0.8}})``: per
    model and task a pass probability, deterministic per (model, task, seed). ``passing`` and
    ``failing`` pick the scripts (one each keeps rollouts short)."""

    def __init__(
        self,
        suite: Suite,
        pass_probs: dict[str, float | dict[str, float]],
        *,
        passing: tuple[str, ...] = ("clean",),
        failing: tuple[str, ...] = ("wrong_fix",),
    ):
        self.suite = suite
        self.by_model = {
            m: MixedPolicy(suite, p, salt=f"model:{m}", passing=passing, failing=failing) for m, p in pass_probs.items()
        }

    def __call__(self, req: PolicyRequest) -> Message:
        policy = self.by_model.get(req.body.get("model") or "")
        if policy is None:
            return {"role": "assistant", "content": f"no such model {req.body.get('model')!r}"}
        return policy(req)
