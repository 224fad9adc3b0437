"""The served studio for real: `repo-agent studio DIR --serve --labelers FILE` in a subprocess,
its gate probed over HTTP and WebSocket upgrades, and two labelers in Debian's Chromium
(driven by Playwright) labeling different pairs into the one store."""

from __future__ import annotations

import http.client
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from labeling.store import LabelStore
from tests.tui.serve_fixtures import ANN, BOB, Served, get, serve, write_labelers
from tests.tui.trace_fixtures import make_batch


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("served") / "traces"
    make_batch(root)
    LabelStore(LabelStore.default_path(root), labeler="setup").ingest([root])  # sessions open on a ready store
    return root


@pytest.fixture(scope="module")
def served(traces: Path, tmp_path_factory) -> Served:
    labelers = write_labelers(tmp_path_factory.mktemp("team") / "labelers")
    with serve(traces, "--labelers", str(labelers)) as s:
        yield s


def _ticket(served: Served, token: str = ANN) -> str:
    status, page, _ = get(f"{served.base}/?token={token}")
    assert status == 200
    found = re.search(r'data-session-websocket-url="ws://127\.0\.0\.1:\d+/ws/([^"]+)"', page)
    assert found, page
    return found.group(1)


def _upgrade(served: Served, path: str, origin: str | None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
    headers = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    if origin:
        headers["Origin"] = origin
    try:
        conn.request("GET", path, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_every_route_needs_the_token(served: Served):
    for path in ("/", "/static/js/textual.js", "/static/css/xterm.css"):
        assert get(served.base + path)[0] == 403, path
        assert get(f"{served.base}{path}?token=not-a-token-0123456789")[0] == 403, path
        assert get(f"{served.base}{path}?token={ANN}")[0] == 200, path
    assert get(f"{served.base}/static/../server.py?token={ANN}")[0] == 404
    status, page, headers = get(f"{served.base}/?token={BOB}&labeler=ann")
    assert status == 200 and "repo-agent studio · bob" in page  # the token says who labels, not the URL
    assert "default-src 'none'" in headers["Content-Security-Policy"] and headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_foreign_host_and_origin_are_refused(served: Served):
    here = f"http://127.0.0.1:{served.port}"
    # DNS rebinding: a page at evil.example resolved to 127.0.0.1 sends its own Host.
    assert get(f"{served.base}/?token={ANN}", {"Host": f"evil.example:{served.port}"})[0] == 421
    assert get(f"{served.base}/?token={ANN}", {"Origin": "http://evil.example"})[0] == 403
    ticket = _ticket(served)
    assert _upgrade(served, "/ws/" + ticket, "http://evil.example") == 403
    assert _upgrade(served, "/ws/" + ticket, None) == 403  # a browser always sends Origin on a WebSocket
    assert _upgrade(served, "/ws/not-a-ticket", here) == 403
    assert _upgrade(served, "/ws/" + ticket, here) == 101
    assert _upgrade(served, "/ws/" + ticket, here) == 403  # one use


# ---------------------------------------------------------------------------- in a real browser
def _store_votes(traces: Path) -> dict[str, list[str]]:
    with LabelStore(LabelStore.default_path(traces), labeler="reader") as store:
        votes: dict[str, list[str]] = {}
        for e in store.events():
            if e.kind == "verdict":
                votes.setdefault(e.labeler, []).append(e.target)
        return votes


def _wait(cond, timeout: float = 30.0):
    end = time.monotonic() + timeout
    while not (found := cond()):
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.1)
    return found


class _Frames:
    """Counts a page's WebSocket frames from its session: a session that stopped sending
    has drawn its screen (its pairs loaded), a cheaper sign than comparing screenshots."""

    def __init__(self, page) -> None:
        self.count = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._one))

    def _one(self, _payload) -> None:
        self.count += 1

    def settle(self, page, quiet_ms: int = 400) -> None:
        page.wait_for_selector("body.-first-byte", timeout=30000)
        page.click("#terminal")  # xterm reads keys from its focused textarea
        for _ in range(200):
            seen = self.count
            page.wait_for_timeout(quiet_ms)
            if self.count == seen:
                return
        raise AssertionError("the session never stopped drawing")


def test_two_labelers_in_two_browsers_label_different_pairs(served: Served, traces: Path, browser):
    here = f"http://127.0.0.1:{served.port}"
    pages = {}
    requests: list[str] = []
    frames = {}
    for who, token, size in (("ann", ANN, (960, 600)), ("bob", BOB, (800, 500))):
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.on("request", lambda r: requests.append(r.url))
        frames[who] = _Frames(page)
        page.goto(f"{here}/?token={token}")
        pages[who] = page
    for who, page in pages.items():
        frames[who].settle(page)
    pages["ann"].keyboard.press("c")
    ann = _wait(lambda: _store_votes(traces).get("ann"))
    pages["bob"].keyboard.press("s")  # skip: bob's next pair is never the one ann is on
    pages["bob"].keyboard.press("c")
    bob = _wait(lambda: _store_votes(traces).get("bob"))
    assert len(ann) == 1 and len(bob) == 1 and ann != bob
    with LabelStore(LabelStore.default_path(traces), labeler="reader") as store:
        assert (store.pair(ann[0]).verdict, store.pair(ann[0]).labeler) == ("confirm", "ann")
        assert (store.pair(bob[0]).verdict, store.pair(bob[0]).labeler) == ("confirm", "bob")
    # Launching is off: Runs' `l` opens no form, so enter launches nothing; then a verdict
    # proves the keys after it were read.
    batches = {p.name for p in traces.iterdir() if p.is_dir()}
    for key in ("F1", "l", "Enter", "F3", "c"):
        pages["ann"].keyboard.press(key)
    _wait(lambda: len(_store_votes(traces).get("ann", [])) == 2)
    assert {p.name for p in traces.iterdir() if p.is_dir()} == batches
    assert all(u.startswith(here) for u in requests)  # no font, script or ping from anywhere else
    for page in pages.values():
        page.close()


class _EvilPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>another site on this machine</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_a_foreign_page_cannot_open_a_session(served: Served, browser):
    """A page of another origin on this machine (so the browser itself allows the connection)
    holding a valid ticket still gets no WebSocket: the server checks Origin."""
    evil = ThreadingHTTPServer(("127.0.0.1", 0), _EvilPage)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        opened = """url => new Promise(done => {
            const ws = new WebSocket(url);
            ws.onopen = () => { ws.close(); done("open"); };
            ws.onerror = () => done("refused");
        })"""
        url = f"ws://127.0.0.1:{served.port}/ws/"
        assert page.evaluate(opened, url + _ticket(served)) == "refused"
        assert page.goto(f"http://127.0.0.1:{served.port}/").status == 403  # no token, no page
    finally:
        page.close()
        evil.shutdown()
