"""A local HTTP server speaking Together's files and fine-tuning API as the real `together`
SDK (3.x) calls it, for tests of `repo-agent finetune` and `jobs` (no network).

Routes (the SDK's own paths; bodies and answers in the SDK's types' shapes):
  POST /v1/files -> 302 to a presigned PUT; PUT the bytes; POST /v1/files/{id}/preprocess
  GET  /v1/files/{id}
  GET  /v1/fine-tunes/models/limits?model_name=M        (404 for a model it does not know)
  POST /v1/fine-tunes/estimate-price                     (answer: ``estimate``)
  POST /v1/fine-tunes, GET /v1/fine-tunes, GET /v1/fine-tunes/{id},
  GET  /v1/fine-tunes/{id}/events, POST /v1/fine-tunes/{id}/cancel

A job walks ``script`` (a list of statuses), one step per retrieve. ``hold_at`` keeps it at
that step until ``release`` is set; ``held`` is set when it first gets there, so a test
waits on it instead of sleeping.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

KNOWN_MODEL = "Qwen/Qwen2.5-7B-Instruct"
CREATED = "2026-12-06T08:00:00Z"

EVENTS = {
    "queued": ("job_pending", "Fine-tune request queued"),
    "running": ("training_start", "Training started"),
    "completed": ("job_complete", "Fine-tuning job completed"),
    "error": ("job_error", "Training failed: CUDA out of memory at step 3"),
    "cancelled": ("job_stopped", "Job was cancelled by the user"),
}


def limits(model: str) -> dict[str, Any]:
    return {
        "model_name": model,
        "default_gradient_accumulation_steps": 1,
        "lora_training": {
            "default_rank": 16,
            "max_batch_size": 32,
            "max_batch_size_dpo": 16,
            "max_rank": 64,
            "min_batch_size": 8,
            "target_modules": ["q_proj", "v_proj"],
        },
        "full_training": None,
        "max_learning_rate": 1.0,
        "min_learning_rate": 1e-8,
        "max_num_checkpoints": 10,
        "max_num_epochs": 20,
        "max_num_evals": 10,
        "max_seq_length_dpo": 8192,
        "max_seq_length_sft": 16384,
        "merge_output_lora": True,
        "min_max_seq_length": 1024,
        "supports_full_training": False,
        "supports_reasoning": False,
        "supports_tools": True,
        "supports_vision": False,
    }


@dataclass
class FakeJob:
    id: str
    request: dict[str, Any]
    script: list[str]
    step: int = 0
    cancelled: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "cancelled" if self.cancelled else self.script[self.step]

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "user_id": "user-1",
            "created_at": CREATED,
            "updated_at": CREATED,
            "model": self.request.get("model"),
            "model_output_name": f"me/{self.request.get('model', '').split('/')[-1]}-{self.id}",
            "adapter_output_name": None,
            "training_file": self.request.get("training_file"),
            "n_epochs": self.request.get("n_epochs"),
            "total_price": 1,
        }

    def note(self, status: str) -> None:
        kind, message = EVENTS[status]
        self.events.append(
            {
                "created_at": CREATED,
                "message": message,
                "object": "fine-tune-event",
                "type": kind,
                "level": "error" if status == "error" else "info",
            }
        )


class FakeTogether:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.script = ["queued", "running", "running", "completed"]
        self.estimate: dict[str, Any] = {
            "estimation_available": True,
            "allowed_to_proceed": True,
            "estimated_total_price": 4.2,
            "estimated_train_token_count": 123456,
            "estimated_eval_token_count": 0,
            "user_limit": 300.0,
        }
        self.hold_at: int | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _reply(self, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload if payload is not None else {}).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                body = self._body()
                outer.requests.append((method, self.path, dict(self.headers), body))
                with outer._lock:
                    status, payload, headers = outer.route(method, self.path, body)
                self._reply(status, payload, headers)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method: str | None = None, prefix: str = "") -> list[tuple[str, str]]:
        """(method, path without query) of the requests seen, optionally filtered."""
        out = [(m, p.split("?")[0]) for m, p, _, _ in self.requests]
        return [(m, p) for m, p in out if (method is None or m == method) and p.startswith(prefix)]

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(b) for m, p, _, b in self.requests if m == "POST" and p == path and b]

    # ------------------------------------------------------------------ routes
    def route(self, method: str, raw_path: str, body: bytes) -> tuple[int, Any, dict[str, str] | None]:
        url = urlparse(raw_path)
        path = url.path
        if method == "POST" and path == "/v1/files":
            file_id = f"file-{len(self.files) + 1:04d}"
            name = _form_field(body, "file_name")
            self.files[file_id] = {"filename": name, "bytes": 0}
            return 302, {}, {"Location": f"{self.url}/put/{file_id}", "X-Together-File-Id": file_id}
        if method == "PUT" and path.startswith("/put/"):
            file_id = path.rsplit("/", 1)[1]
            self.files[file_id]["bytes"] = len(self.requests[-1][3])
            return 200, {}, None
        if path.startswith("/v1/files/"):
            file_id = path.split("/")[3]
            if file_id not in self.files:
                return 404, {"error": {"message": f"file {file_id} not found"}}, None
            return 200, self._file(file_id), None
        if method == "GET" and path == "/v1/fine-tunes/models/limits":
            model = parse_qs(url.query).get("model_name", [""])[0]
            if model != KNOWN_MODEL:
                return 404, {"error": {"message": f"model {model} is not available for fine-tuning"}}, None
            return 200, limits(model), None
        if method == "POST" and path == "/v1/fine-tunes/estimate-price":
            return 200, self.estimate, None
        if method == "POST" and path == "/v1/fine-tunes":
            job = FakeJob(f"ft-{len(self.jobs) + 1:04d}", json.loads(body), list(self.script))
            job.note(job.status)
            self.jobs[job.id] = job
            return 200, job.body(), None
        if method == "GET" and path == "/v1/fine-tunes":
            return 200, {"data": [j.body() for j in self.jobs.values()]}, None
        parts = path.split("/")  # ['', 'v1', 'fine-tunes', id, ...]
        job = self.jobs.get(parts[3]) if len(parts) > 3 and path.startswith("/v1/fine-tunes/") else None
        if job is None:
            return 404, {"error": {"message": f"no route or job: {method} {path}"}}, None
        if method == "GET" and len(parts) == 4:
            self._advance(job)
            return 200, job.body(), None
        if method == "GET" and parts[4:] == ["events"]:
            return 200, {"data": job.events}, None
        if method == "POST" and parts[4:] == ["cancel"]:
            job.cancelled = True
            job.note("cancelled")
            return 200, job.body(), None
        return 404, {"error": {"message": f"no route: {method} {path}"}}, None

    def _advance(self, job: FakeJob) -> None:
        if job.cancelled or job.step + 1 >= len(job.script):
            return
        if self.hold_at is not None and job.step == self.hold_at:
            self.held.set()
            if not self.release.is_set():
                return
        before = job.status
        job.step += 1
        if job.status != before:
            job.note(job.status)

    def _file(self, file_id: str) -> dict[str, Any]:
        f = self.files[file_id]
        return {
            "id": file_id,
            "bytes": f["bytes"],
            "created_at": 1795335227,
            "filename": f["filename"],
            "FileType": "jsonl",
            "object": "file",
            "purpose": "fine-tune",
            "processing_status": "COMPLETED",
        }


def _form_field(body: bytes, name: str) -> str:
    """A field of the multipart form the SDK posts to /v1/files."""
    marker = f'name="{name}"'.encode()
    i = body.find(marker)
    if i < 0:
        return ""
    start = body.find(b"\r\n\r\n", i) + 4
    return body[start : body.find(b"\r\n", start)].decode()
