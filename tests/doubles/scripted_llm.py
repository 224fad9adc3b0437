"""A scripted, local OpenAI-compatible chat-completions server, for tests, demos and benches.

A real HTTP server (stdlib ``ThreadingHTTPServer`` on 127.0.0.1, port 0) answering
``POST /v1/chat/completions`` (non-streaming) the way OpenAI does, so the real ``openai``
client and the Together SDK talk to it unchanged. What it answers is decided by a
*policy* (``tests/doubles/scripted_policies.py``): a callable that sees the request and returns
the next assistant message::

    from tests.doubles.scripted_llm import ScriptedLLM, MixedPolicy
    with ScriptedLLM(MixedPolicy(suite, pass_prob=0.5)) as llm:
        provider = OpenAIProvider("scripted", base_url=llm.base_url)
        ...
        llm.requests        # every JSON body received, in order

Faults are injected with ``fail_next(n, status)`` (e.g. 429 twice, then answers),
``fail_when(predicate, status)`` (e.g. 500 for one rollout's seed) and ``hang_next(n)``
(no answer until the server closes: the client's timeout fires).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.suites.models import Suite
from tests.doubles.scripted_policies import (  # noqa: F401  (re-exported: the policy API)
    FAILING,
    PASSING,
    SCRIPTS,
    MixedPolicy,
    Policy,
    PolicyRequest,
    ScriptedPolicy,
    TaskFacts,
    assistant,
    resolve_task,
    task_facts,
    tool_call,
)

# --------------------------------------------------------------------------- server


@dataclass
class _Fault:
    predicate: Callable[[dict[str, Any]], bool]
    status: int | None  # None = hang
    times: int | None  # None = every matching request
    message: str | None = None


@dataclass
class _State:
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)


def _approx_tokens(obj: Any) -> int:
    return max(1, len(json.dumps(obj)) // 4)


class ScriptedLLM:
    """The server. Use as a context manager; ``base_url`` ends in ``/v1``."""

    def __init__(
        self,
        policy: Policy,
        *,
        suite: Suite | None = None,
        model: str = "scripted-model",
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.policy = policy
        self.address = (host, port)
        self.suite = suite if suite is not None else getattr(policy, "suite", None)
        self.model = model
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- faults ---------------------------------------------------------------
    def fail_next(self, n: int, status: int = 429) -> None:
        """The next ``n`` requests get HTTP ``status`` (they are still recorded)."""
        self._add(_Fault(lambda b: True, status, n))

    def fail_when(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        status: int = 500,
        times: int | None = None,
        message: str | None = None,
    ) -> None:
        """Requests whose JSON body matches ``predicate`` get HTTP ``status``."""
        self._add(_Fault(predicate, status, times, message))

    def hang_next(self, n: int = 1) -> None:
        """The next ``n`` requests never get an answer (until the server closes)."""
        self._add(_Fault(lambda b: True, None, n))

    def _add(self, fault: _Fault) -> None:
        with self._state.lock:
            self._state.faults.append(fault)

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._state.lock:
            return list(self._state.requests)

    # -- lifecycle ------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> ScriptedLLM:
        self._server = ThreadingHTTPServer(self.address, self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-llm", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._state.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- answering ------------------------------------------------------------
    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """(status, JSON) for one request body; (0, None) means hang."""
        st = self._state
        with st.lock:
            st.requests.append(body)
            for fault in st.faults:
                if fault.times != 0 and fault.predicate(body):
                    if fault.times is not None:
                        fault.times -= 1
                    if fault.status is None:
                        return 0, None
                    return fault.status, {
                        "error": {
                            "message": fault.message or f"scripted fault {fault.status}",
                            "type": "scripted",
                            "code": fault.status,
                        }
                    }
        messages = body.get("messages") or []
        req = PolicyRequest(body, resolve_task(self.suite, messages), self.suite)
        msg = self.policy(req)
        n = len(st.requests)
        return 200, {
            "id": f"chatcmpl-scripted-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": msg,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if msg.get("tool_calls") else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": _approx_tokens(messages),
                "completion_tokens": _approx_tokens(msg),
                "total_tokens": _approx_tokens(messages) + _approx_tokens(msg),
            },
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        llm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    return self._send(400, {"error": {"message": "body is not JSON"}})
                status, payload = llm.answer(body)
                if payload is None:
                    llm._state.release.wait(120)
                    self.close_connection = True
                    return
                self._send(status, payload)

        return Handler
