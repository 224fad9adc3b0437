"""An in-process provider for unit tests of the loop: the same policies as the scripted
HTTP server (tests/doubles/scripted_policies.py), answered by a direct call.

The HTTP double (tests/doubles/scripted_llm.py) proves the real SDK clients work; this one
keeps loop tests about the loop: no server, no client, no retries, and faults raised as
the typed `ProviderError`s the loop sees.
"""

from __future__ import annotations

import copy
from typing import Any

from agent.providers import Completion, ProviderError, assistant_message
from agent.suites.models import Suite
from agent.trace import Usage
from tests.doubles.scripted_policies import Policy, PolicyRequest, resolve_task


class FakeProvider:
    name = "fake"

    def __init__(self, suite: Suite, policy: Policy, *, model: str = "fake-model") -> None:
        self.suite, self.policy, self.model = suite, policy, model
        self.calls: list[dict[str, Any]] = []  # every request, as the loop made it
        self._raise: list[ProviderError] = []

    def fail_next(self, *errors: ProviderError) -> FakeProvider:
        """The next calls raise these, in order (then answers resume)."""
        self._raise.extend(errors)
        return self

    def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        seed: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        body = {"model": self.model, "messages": copy.deepcopy(messages), "tools": tools}
        body |= {"seed": seed, "temperature": temperature}
        self.calls.append(body)
        if self._raise:
            raise self._raise.pop(0)
        msg = assistant_message(self.policy(PolicyRequest(body, resolve_task(self.suite, messages), self.suite)))
        return Completion(
            message=msg,
            usage=Usage(prompt_tokens=10 * len(messages), completion_tokens=5),
            finish_reason="tool_calls" if msg.get("tool_calls") else "stop",
            latency_s=0.0,
        )
