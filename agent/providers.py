"""Model providers behind one small interface.

``Provider.complete(messages, tools, *, seed, temperature) -> Completion``; the
completion's ``message`` is the assistant message in OpenAI shape, exactly what the loop
appends to the conversation. Three kinds:

- ``openai``: any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp) by base_url.
- ``together``: the Together SDK.
- ``replay``: re-issues the assistant turns recorded in a trace (no network).

Transient errors (429, 5xx, timeouts, connection errors) are retried here with
exponential backoff, the SDKs' own retries being switched off so every retry is
counted in ``Completion.retries``. API keys are read from the environment and kept
inside the SDK client: nothing here returns them.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.trace import TRACES_DIR, LlmCall, Usage, is_batch_dir, read_trace

PROVIDERS = ("openai", "together", "replay")


class ProviderError(Exception):
    """A provider call failed for good (after retries, or not retryable)."""

    def __init__(self, message: str, *, retries: int = 0, status: int | None = None):
        super().__init__(message)
        self.retries = retries
        self.status = status


class ProviderConfigError(ProviderError):
    """The provider cannot be built (missing key, bad replay path): a user error."""


class MissingApiKey(ProviderConfigError):
    pass


class ProviderCancelled(ProviderError):
    """The batch was cancelled while a call waited to be retried: the rollout ends 'cancelled'."""


class ReplayDiverged(ProviderError):
    """The conversation left the recording: the rollout ends with stop_reason 'diverged'."""


@dataclass
class Completion:
    message: dict[str, Any]  # OpenAI assistant shape, appended verbatim
    usage: Usage
    finish_reason: str | None
    latency_s: float  # of the successful attempt
    retries: int = 0
    # The model's reasoning where the API returns it apart from the message; kept out of
    # ``message`` (it is not sent back to the model) and recorded in its own trace field.
    reasoning: str | None = None


class Provider(Protocol):
    name: str
    model: str

    def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        seed: int | None = None,
        temperature: float | None = None,
    ) -> Completion: ...


# (task_id, seed) -> Provider; a batch asks for one provider per rollout.
ProviderFactory = Callable[[str, int], Provider]


@dataclass
class RetryPolicy:
    max_retries: int = 4
    base_delay_s: float = 1.0  # doubled on each retry; tests pass a tiny value
    max_delay_s: float = 30.0
    # Set when the batch is cancelled: a backoff wait ends at once instead of sleeping on.
    cancel: threading.Event = field(default_factory=threading.Event)

    def delay(self, attempt: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * (2**attempt))

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when cancelled meanwhile."""
        return self.cancel.wait(seconds)


# --------------------------------------------------------------------------- SDK-backed


def assistant_message(raw: dict[str, Any]) -> dict[str, Any]:
    """Normalise an SDK message dump to the OpenAI assistant shape the traces hold."""
    msg: dict[str, Any] = {"role": "assistant", "content": raw.get("content")}
    calls = raw.get("tool_calls") or []
    if calls:
        msg["tool_calls"] = [
            {
                "id": c.get("id") or f"call_{i}",
                "type": "function",
                "function": {
                    "name": (c.get("function") or {}).get("name") or "",
                    "arguments": (c.get("function") or {}).get("arguments") or "",
                },
            }
            for i, c in enumerate(calls)
        ]
    return msg


def reasoning_of(raw: dict[str, Any]) -> str | None:
    """The reasoning an OpenAI-compatible response returned beside the message (DeepSeek,
    vLLM and Together: ``reasoning_content``; OpenRouter and others: ``reasoning``)."""
    for key in ("reasoning_content", "reasoning"):
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


class _SdkProvider:
    """Shared by the openai and together providers: both SDKs are Stainless clients."""

    name = "?"
    _sdk: Any = None  # the SDK module, for its exception classes

    def __init__(self, model: str, client: Any, retry: RetryPolicy | None = None):
        self.model = model
        self._client = client
        self.retry = retry or RetryPolicy()

    def _create(self, **kwargs: Any) -> Any:
        return self._client.chat.completions.create(**kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled for another process (a Ray worker, agent/ray_executor.py): rebuilt there from
        # its settings, the API key read from that process's environment, never carried along.
        r, c = self.retry, self._client
        timeout = c.timeout if isinstance(c.timeout, (int, float)) else 120.0
        return (
            _rebuilt,
            (type(self), self.model, str(c.base_url), timeout, r.max_retries, r.base_delay_s, r.max_delay_s),
        )

    def _transient(self, exc: Exception) -> bool:
        sdk = self._sdk
        if isinstance(exc, (sdk.APITimeoutError, sdk.APIConnectionError, sdk.RateLimitError)):
            return True
        return isinstance(exc, sdk.APIStatusError) and exc.status_code >= 500

    def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        seed: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            kwargs["tools"] = tools
        if seed is not None:
            kwargs["seed"] = seed
        if temperature is not None:
            kwargs["temperature"] = temperature
        attempt = 0
        while True:
            t0 = time.monotonic()
            try:
                resp = self._create(**kwargs)
                latency = time.monotonic() - t0
                break
            except self._sdk.APIError as exc:
                status = getattr(exc, "status_code", None)
                if not self._transient(exc):
                    raise ProviderError(_describe(exc), retries=attempt, status=status) from None
                if attempt >= self.retry.max_retries:
                    raise ProviderError(
                        f"gave up after {attempt} retries: {_describe(exc)}", retries=attempt, status=status
                    ) from None
                if self.retry.wait(max(self.retry.delay(attempt), min(_retry_after(exc), self.retry.max_delay_s))):
                    raise ProviderCancelled(
                        f"cancelled while waiting to retry: {_describe(exc)}", retries=attempt, status=status
                    ) from None
                attempt += 1
        data = resp.model_dump() if hasattr(resp, "model_dump") else dict(resp)
        choices = data.get("choices") or []
        if not choices or not choices[0].get("message"):
            raise ProviderError("response has no choices[0].message", retries=attempt)
        usage = data.get("usage") or {}
        return Completion(
            message=assistant_message(choices[0]["message"]),
            usage=Usage(
                prompt_tokens=usage.get("prompt_tokens") or 0,
                completion_tokens=usage.get("completion_tokens") or 0,
            ),
            finish_reason=choices[0].get("finish_reason"),
            latency_s=latency,
            retries=attempt,
            reasoning=reasoning_of(choices[0]["message"]),
        )


def _rebuilt(cls: Any, model: str, base_url: str, timeout_s: float, *retry: Any) -> Any:
    return cls(model, base_url=base_url, timeout_s=timeout_s, retry=RetryPolicy(*retry))


def _retry_after(exc: Exception) -> float:
    """Seconds a 429/503 asks us to wait (Retry-After header), else 0."""
    response = getattr(exc, "response", None)
    try:
        return float(response.headers.get("retry-after", 0)) if response is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


_KEYISH = re.compile(r"\b(sk|tgp?|key)[-_][A-Za-z0-9_\-*.]{8,}")


def redact(text: str) -> str:
    """Error text goes into traces: cut out API keys (servers echo them, half-masked, on 401)."""
    for env in ("OPENAI_API_KEY", "TOGETHER_API_KEY"):
        if (key := os.environ.get(env)) and len(key) >= 8:
            text = text.replace(key, "<redacted>")
    return _KEYISH.sub("<redacted>", text)


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return redact(f"{type(exc).__name__}" + (f" ({status})" if status else "") + f": {text[:300]}")


def _is_local(base_url: str | None) -> bool:
    return bool(base_url) and bool(re.match(r"https?://(localhost|127\.|\[::1\]|0\.0\.0\.0)", base_url or ""))


def _key(env: str, base_url: str | None) -> str:
    key = os.environ.get(env)
    if key:
        return key
    if _is_local(base_url):
        return "local-no-key"  # local servers (vLLM, llama.cpp, Ollama) ignore it
    raise MissingApiKey(f"{env} is not set (export it, or use a local --base-url)")


class OpenAIProvider(_SdkProvider):
    name = "openai"

    def __init__(
        self, model: str, *, base_url: str | None = None, timeout_s: float = 120.0, retry: RetryPolicy | None = None
    ):
        import openai

        self._sdk = openai
        client = openai.OpenAI(
            api_key=_key("OPENAI_API_KEY", base_url), base_url=base_url, max_retries=0, timeout=timeout_s
        )
        super().__init__(model, client, retry)


class TogetherProvider(_SdkProvider):
    name = "together"

    def __init__(
        self, model: str, *, base_url: str | None = None, timeout_s: float = 120.0, retry: RetryPolicy | None = None
    ):
        import together

        self._sdk = together
        # The Together SDK appends "/v1/chat/completions" to its base URL itself, so an
        # OpenAI-style ".../v1" base URL is cut back to the host.
        if base_url:
            base_url = re.sub(r"/v1/?$", "", base_url.rstrip("/"))
        client = together.Together(
            api_key=_key("TOGETHER_API_KEY", base_url), base_url=base_url, max_retries=0, timeout=timeout_s
        )
        super().__init__(model, client, retry)


# --------------------------------------------------------------------------- replay

# What differs between two runs of one tool call, each found in time linear in the text (a
# tool output is the sandbox's to write, a recorded one the trace's): a search begins only
# where a failed one could not have matched further on. The plain ``\d+(\.\d+)?s\b`` and
# ``(/[\w.\-]+)*/(tmp|var)/`` began again inside each run of digits and each path, to its end:
# quadratic, 8,000 characters of "1" or "/a" cost seconds a message compared (round 22 sweep).
_DURATION = re.compile(r"(?<!\d)\d++(?:\.\d++)?s\b")  # "1 passed in 0.03s"
# A path through /tmp/ or /var/ to the next blank, quote or colon (the temp workspace); a
# path without one is passed over whole: no "/" inside it starts a temp path either.
_TEMP_PATH = re.compile(r"(?:/(?!(?:tmp|var)/)[\w.\-]++)*+/(?:tmp|var)/[^\s'\":]*+|(?P<other>(?:/[\w.\-]++)++)")
_ADDRESS = re.compile(r"0x[0-9a-f]+")


def _temp_path(m: re.Match[str]) -> str:
    return m.group() if m.group("other") is not None else "<path>"


def _norm(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    text = _DURATION.sub("<t>", text)
    text = _TEMP_PATH.sub(_temp_path, text)
    return _ADDRESS.sub("<addr>", text)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.get("role") != b.get("role"):
        return False
    if a.get("role") == "assistant":
        return a.get("content") == b.get("content") and (a.get("tool_calls") or []) == (b.get("tool_calls") or [])
    return a.get("tool_call_id") == b.get("tool_call_id") and _norm(a.get("content")) == _norm(b.get("content"))


class ReplayProvider:
    """Re-issues one recorded rollout's assistant turns, checking the conversation matches."""

    name = "replay"

    def __init__(self, trace_file: Path):
        read = read_trace(trace_file)
        self.source = str(trace_file)
        start = read.start
        self.model = start.model if start else "replay"
        self._conversation = read.conversation()
        self._calls = {e.step: e for e in read.events if isinstance(e, LlmCall)}

    def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        seed: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        rec = self._conversation
        k = sum(1 for m in messages if m.get("role") == "assistant")  # turns already taken
        turns = [i for i, m in enumerate(rec) if m.get("role") == "assistant"]
        if k >= len(turns):
            raise ReplayDiverged(
                f"the recording has only {len(turns)} assistant turns; the rollout asked for turn {k + 1}"
            )
        pos = turns[k]
        if len(messages) != pos:
            raise ReplayDiverged(f"at turn {k + 1}: conversation has {len(messages)} messages, the recording had {pos}")
        for i, (got, want) in enumerate(zip(messages, rec[:pos])):
            if not _same(got, want):
                snippet = str(_norm(got.get("content")))[:120]
                raise ReplayDiverged(
                    f"at turn {k + 1}: message {i} ({got.get('role')}) differs from the recording: {snippet!r}"
                )
        call = self._calls.get(k + 1)
        return Completion(
            message=rec[pos],
            usage=call.usage if call else Usage(),
            finish_reason=call.finish_reason if call else None,
            latency_s=0.0,
            retries=0,
        )


def replay_factory(path: str | Path) -> ProviderFactory:
    """A trace file (every rollout replays it) or a batch dir (same task and seed, else
    round-robin over the task's recordings, else over all)."""
    path = Path(path)
    if path.is_file():
        return lambda task_id, seed: ReplayProvider(path)
    if not path.is_dir() or not is_batch_dir(path):
        raise ProviderConfigError(f"--replay-from: {path} is neither a trace file nor a batch directory")
    files = sorted((path / TRACES_DIR).glob("*.jsonl"))
    if not files:
        raise ProviderConfigError(f"--replay-from: no traces in {path / TRACES_DIR}")
    by_task: dict[str, list[Path]] = {}
    exact: dict[tuple[str, int | None], Path] = {}
    for f in files:
        try:
            start = read_trace(f).start
        except OSError:  # a FIFO or symlink named *.jsonl (agent.trace_io): not a recording
            continue
        if start is None:
            continue
        by_task.setdefault(start.task_id, []).append(f)
        exact[(start.task_id, start.seed)] = f
    lock = threading.Lock()
    counters: dict[str, int] = {}

    def make(task_id: str, seed: int) -> Provider:
        if (task_id, seed) in exact:
            return ReplayProvider(exact[(task_id, seed)])
        pool = by_task.get(task_id) or files
        with lock:
            i = counters.get(task_id, 0)
            counters[task_id] = i + 1
        return ReplayProvider(pool[i % len(pool)])

    return make


# --------------------------------------------------------------------------- factory


def provider_factory(
    kind: str,
    model: str | None = None,
    *,
    base_url: str | None = None,
    replay_from: str | Path | None = None,
    retry: RetryPolicy | None = None,
    timeout_s: float = 120.0,
) -> ProviderFactory:
    """Build once (so a missing key fails before any rollout), share across rollouts."""
    if kind == "replay":
        if replay_from is None:
            raise ProviderConfigError("the replay provider needs --replay-from TRACE_OR_BATCH_DIR")
        return replay_factory(replay_from)
    if not model:
        raise ProviderConfigError(f"the {kind} provider needs --model")
    if kind == "openai":
        p: Provider = OpenAIProvider(model, base_url=base_url, retry=retry, timeout_s=timeout_s)
    elif kind == "together":
        p = TogetherProvider(model, base_url=base_url, retry=retry, timeout_s=timeout_s)
    else:
        raise ProviderConfigError(f"unknown provider {kind!r} (choose from {', '.join(PROVIDERS)})")
    return lambda task_id, seed: p
