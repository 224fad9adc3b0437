"""`repo-agent upload`: the real Together SDK against a local server speaking its files API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from exports import DpoOptions, SftOptions, export_dpo, export_sft, upload_command
from tests.exports.conftest import Spec
from tui.cli import main

FAKE_KEY = "tg-fake-key-for-tests-0123456789"
FILE_ID = "file-3f2a9c11"


class FakeTogether:
    """POST /v1/files -> 302 to a presigned PUT; PUT the bytes; POST .../preprocess -> the file."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a) -> None:
                pass

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _reply(self, status: int, payload: dict | None = None, headers: dict | None = None) -> None:
                data = json.dumps(payload or {}).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self._body()
                outer.requests.append(("POST", self.path, dict(self.headers), body))
                if self.path == "/v1/files":
                    self._reply(302, {}, {"Location": f"{outer.url}/put/{FILE_ID}", "X-Together-File-Id": FILE_ID})
                elif self.path == f"/v1/files/{FILE_ID}/preprocess":
                    put = next(r for r in outer.requests if r[0] == "PUT")
                    self._reply(
                        200,
                        {
                            "id": FILE_ID,
                            "bytes": len(put[3]),
                            "created_at": 1795335227,
                            "filename": outer.filename,
                            "FileType": "jsonl",
                            "object": "file",
                            "purpose": "fine-tune",
                            "processing_status": "COMPLETED",
                        },
                    )
                else:
                    self._reply(404, {"error": "no such route"})

            def do_PUT(self) -> None:
                outer.requests.append(("PUT", self.path, dict(self.headers), self._body()))
                self._reply(200, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.filename = ""
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def together():
    srv = FakeTogether()
    yield srv
    srv.close()


@pytest.fixture
def files(env, tmp_path: Path):
    env.batch("b1", [Spec("fix_gcd", 0, passed=True), Spec("fix_gcd", 1, passed=False)])
    dpo = export_dpo(env.store, tmp_path / "dpo.jsonl", DpoOptions(auto=True))
    sft = export_sft(env.store, tmp_path / "sft.jsonl", SftOptions())
    trl = export_dpo(env.store, tmp_path / "trl.jsonl", DpoOptions(auto=True, format="trl"))
    return dpo, sft, trl


def test_upload_sends_the_checked_file_and_prints_the_next_command(files, together, monkeypatch, capsys) -> None:
    dpo, sft, _ = files
    monkeypatch.setenv("TOGETHER_API_KEY", FAKE_KEY)
    together.filename = "dpo.jsonl"
    assert main(["upload", dpo.path, "--base-url", together.url]) == 0
    out = capsys.readouterr().out
    assert f"uploaded: file id {FILE_ID}" in out
    assert f"next: together fine-tuning create --training-file {FILE_ID} --model MODEL --training-method dpo" in out
    methods = [(m, p) for m, p, _, _ in together.requests]
    assert methods == [("POST", "/v1/files"), ("PUT", f"/put/{FILE_ID}"), ("POST", f"/v1/files/{FILE_ID}/preprocess")]
    first = together.requests[0]
    assert first[2].get("Authorization") == f"Bearer {FAKE_KEY}"
    assert b"dpo.jsonl" in first[3] and b"fine-tune" in first[3]
    assert together.requests[1][3] == Path(dpo.path).read_bytes()  # the exact bytes of the checked file

    together.requests.clear()
    together.filename = "sft.jsonl"
    assert main(["upload", sft.path, "--base-url", together.url, "--model", "Qwen/Qwen2.5-7B-Instruct"]) == 0
    out = capsys.readouterr().out
    assert f"together fine-tuning create --training-file {FILE_ID} --model Qwen/Qwen2.5-7B-Instruct\n" in out
    assert "--training-method" not in out  # SFT is the CLI's default method


def test_upload_refuses_before_sending(files, together, monkeypatch, capsys, tmp_path: Path) -> None:
    dpo, _, trl = files
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    assert main(["upload", dpo.path, "--base-url", together.url]) == 2
    err = capsys.readouterr().err
    assert "TOGETHER_API_KEY is not set" in err and "Traceback" not in err
    monkeypatch.setenv("TOGETHER_API_KEY", FAKE_KEY)
    assert main(["upload", trl.path, "--base-url", together.url]) == 2
    assert "Together takes together-sft or together-dpo" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    assert main(["upload", str(bad), "--base-url", together.url]) == 2
    captured = capsys.readouterr()
    assert f"{bad}:1: no-assistant" in captured.out and "nothing uploaded" in captured.err
    assert main(["upload", dpo.path, "--check-only"]) == 0
    assert together.requests == []  # nothing was ever sent


def test_upload_command_for_report_and_path(files) -> None:
    dpo, _, _ = files
    assert upload_command(dpo) == f"repo-agent upload {dpo.path}"
    assert upload_command(Path(dpo.path)) == f"repo-agent upload {dpo.path}"
