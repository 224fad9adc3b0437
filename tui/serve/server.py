"""The served studio's web server: textual-serve's session plumbing behind our own gate.

Every route is gated. ``/`` and ``/static/...`` need ``?token=`` (and, with a shared token, a
valid ``labeler=``); the page they serve carries the token on to its static files, and
connects its WebSocket at ``/ws/<ticket>``: a one-use ticket minted by that page load, which
binds the session to the labeler the token allowed (textual.js appends its own ``?width=``,
so the URL cannot carry a query of ours). Every request's Host must be one this server
answers to (DNS rebinding), and an Origin, required on the WebSocket, must be the same
origin. Each WebSocket starts one studio process (`tui.serve.session`) with a fixed command
line; the labeler and the rest travel in its environment, never through the shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import os
import re
import secrets
import shlex
import socket
import sys
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import WSMsgType, web
from aiohttp.typedefs import Handler
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from tui.serve.access import Access, host_ok, origin_ok
from tui.serve.session import SESSION_ENV, SessionConfig

log = logging.getLogger("repo-agent.serve")

TICKET_TTL_S = 60.0
# Environment variables a session without --allow-launch never sees: it runs no model, so it
# needs no provider key, and a served screen must not be a way to read one.
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
SERVE_TOKEN_ENV = "REPO_AGENT_SERVE_TOKEN"
LIBPQ_PREFIX = "PG"  # PGPASSWORD and the like: the session opens the team's PostgreSQL store with them


def _static_root() -> Path:
    spec = find_spec("textual_serve")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "static"


@dataclass(frozen=True)
class ServeConfig:
    traces_dir: Path
    db: str
    allowed_hosts: frozenset[str]
    allow_launch: bool = False
    screen: str = "pairs"
    overlap: int | None = None
    max_sessions: int = 20
    title: str = "repo-agent studio"


def session_environment(base: dict[str, str], session: SessionConfig, *, width: int, height: int) -> dict[str, str]:
    """The child's environment: the server's, less secrets unless launching is allowed, plus
    the session as JSON and what textual-serve's web driver needs."""
    env = {
        k: v
        for k, v in base.items()
        if k not in (SERVE_TOKEN_ENV, SESSION_ENV)
        and (session.allow_launch or k.startswith(LIBPQ_PREFIX) or not SECRET_NAME.search(k))
    }
    env.update(
        {
            SESSION_ENV: session.model_dump_json(),
            "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver",
            "TEXTUAL_FPS": "60",
            "TEXTUAL_COLOR_SYSTEM": "truecolor",
            "TERM_PROGRAM": "textual",
            "COLUMNS": str(width),
            "ROWS": str(height),
        }
    )
    env.pop("TEXTUAL", None)  # no devtools from a served session
    return env


class SessionService(AppService):
    """textual-serve's process manager, with our environment instead of its copy of ours."""

    def __init__(self, session: SessionConfig, ws: web.WebSocketResponse, downloads: DownloadManager) -> None:
        async def close() -> None:
            await ws.close()

        super().__init__(
            shlex.join([sys.executable, "-m", "tui.serve.session"]),  # fixed: nothing from the URL
            write_bytes=ws.send_bytes,
            write_str=ws.send_str,
            close=close,
            download_manager=downloads,
        )
        self.session = session

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        return session_environment(dict(os.environ), self.session, width=width, height=height)


@dataclass
class Tickets:
    """One-use WebSocket tickets, minted by a gated page load: ticket -> (labeler, expiry)."""

    ttl_s: float = TICKET_TTL_S
    _live: dict[str, tuple[str, float]] = field(default_factory=dict)

    def mint(self, labeler: str) -> str:
        now = time.monotonic()
        self._live = {t: v for t, v in self._live.items() if v[1] > now}
        ticket = secrets.token_urlsafe(24)
        self._live[ticket] = (labeler, now + self.ttl_s)
        return ticket

    def redeem(self, ticket: str) -> str | None:
        found = self._live.pop(ticket, None)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page's URL holds the token
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class StudioServer:
    def __init__(self, config: ServeConfig, access: Access) -> None:
        self.config = config
        self.access = access
        self.tickets = Tickets()
        self.sessions = 0
        self.static_root = _static_root().resolve()
        self.download_manager = DownloadManager()

    # ------------------------------------------------------------------ the gate
    @web.middleware
    async def gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        if not host_ok(host, self.config.allowed_hosts):
            return self._refuse(421, f"unknown host {host!r}: serve with --allow-host NAME to answer to it")
        websocket = request.path.startswith("/ws/")
        if not origin_ok(request.headers.get("Origin"), host, required=websocket):
            return self._refuse(403, "foreign origin")
        if not websocket:
            labeler = self.access.labeler_for(request.query.get("token"), request.query.get("labeler"))
            if labeler is None:
                return self._refuse(403, "a valid ?token= (and, with a shared token, &labeler=NAME) is required")
            request["labeler"] = labeler
        response = await handler(request)
        if not response.prepared:
            response.headers.update(SECURITY_HEADERS)
        return response

    @staticmethod
    def _refuse(status: int, why: str) -> web.Response:
        return web.Response(status=status, text=f"{why}\n", headers=SECURITY_HEADERS)

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.gate])
        app.router.add_get("/", self.index)
        app.router.add_get("/static/{path:.+}", self.static)
        app.router.add_get("/ws/{ticket}", self.websocket)
        return app

    # ------------------------------------------------------------------ routes
    async def index(self, request: web.Request) -> web.Response:
        labeler: str = request["labeler"]
        ticket = self.tickets.mint(labeler)
        host = request.headers["Host"]
        nonce = secrets.token_urlsafe(16)
        # Only what the gate read is carried on to the static files (not ?ping= or ?delay=).
        query = "?" + urlencode({k: request.query[k] for k in ("token", "labeler") if k in request.query})
        csp = (
            "default-src 'none'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; "  # textual.js injects its terminal styles
            "font-src 'self'; img-src 'self' data:; "
            f"connect-src ws://{host} wss://{host}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        page = render_index(
            title=self.config.title,
            labeler=labeler,
            static_query=query,
            websocket_url=f"ws://{host}/ws/{ticket}",
            nonce=nonce,
        )
        return web.Response(text=page, content_type="text/html", headers={"Content-Security-Policy": csp})

    async def static(self, request: web.Request) -> web.StreamResponse:
        path = (self.static_root / request.match_info["path"]).resolve()
        if not path.is_relative_to(self.static_root) or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        labeler = self.tickets.redeem(request.match_info["ticket"])
        if labeler is None:
            return self._refuse(403, "no such session ticket (reload the page)")
        if self.sessions >= self.config.max_sessions:
            return self._refuse(503, f"{self.config.max_sessions} sessions are open; try again later")
        session = SessionConfig(
            traces_dir=self.config.traces_dir,
            db=self.config.db,
            labeler=labeler,
            allow_launch=self.config.allow_launch,
            screen=self.config.screen,
            overlap=self.config.overlap,
        )
        width = _int(request.query.get("width"), 80)
        height = _int(request.query.get("height"), 24)
        ws = web.WebSocketResponse(heartbeat=15, max_msg_size=1 << 20)
        await ws.prepare(request)
        self.sessions += 1
        service = SessionService(session, ws, self.download_manager)
        log.info("session opened for %s (%d open)", labeler, self.sessions)
        try:
            await service.start(width, height)
            await _pump(ws, service)
        except asyncio.CancelledError:
            await ws.close()
        except Exception:
            log.exception("session for %s failed", labeler)
        finally:
            with contextlib.suppress(Exception):
                await service.stop()
            self.sessions -= 1
            log.info("session closed for %s (%d open)", labeler, self.sessions)
        return ws


def _int(value: str | None, default: int) -> int:
    try:
        return max(10, min(1000, int(value or "")))
    except ValueError:
        return default


async def _pump(ws: web.WebSocketResponse, service: AppService) -> None:
    """The browser's messages to the session: keys, resizes, pings, focus. Anything else is dropped."""
    async for message in ws:
        if message.type != WSMsgType.TEXT:
            continue
        try:
            envelope = json.loads(message.data)
            await _dispatch(ws, service, envelope[0], envelope[1:])
        except (ValueError, TypeError, IndexError, KeyError, AttributeError):
            continue  # a malformed message from the page: dropped, the session goes on


async def _dispatch(ws: web.WebSocketResponse, service: AppService, kind: str, args: list) -> None:
    if kind == "stdin" and isinstance(args[0], str):
        await service.send_bytes(args[0].encode("utf-8"))
    elif kind == "resize":
        await service.set_terminal_size(_int(str(args[0]["width"]), 80), _int(str(args[0]["height"]), 24))
    elif kind == "ping":
        await ws.send_json(["pong", str(args[0])[:32]])
    elif kind == "blur":
        await service.blur()
    elif kind == "focus":
        await service.focus()


def render_index(*, title: str, labeler: str, static_query: str, websocket_url: str, nonce: str) -> str:
    """The page: textual.js and its terminal, no third-party font or script (the CSP forbids them)."""
    e = html.escape
    static = lambda rel: e(f"/static/{rel}{static_query}")  # noqa: E731
    # Inside <style> entities are not decoded; the query is URL-encoded name and token (no quote).
    font = f"/static/fonts/RobotoMono-VariableFont_wght.ttf{static_query}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>{e(title)} · {e(labeler)}</title>
<link rel="stylesheet" href="{static("css/xterm.css")}">
<style>
@font-face {{ font-family: "Roboto Mono"; src: url("{font}"); }}
html, body {{ margin: 0; height: 100%; background: #0c181f; }}
#terminal {{ position: absolute; inset: 0; }}
.closed {{ display: none; position: absolute; inset: 0; z-index: 10; align-items: center; justify-content: center;
  color: #eee; font: 16px "Roboto Mono", monospace; background: #0c181fee; flex-direction: column; }}
body.-closed .closed {{ display: flex; }}
.closed button {{ margin: 16px; padding: 12px 28px; background: #5e0ba7; color: #fff; border: none; cursor: pointer; }}
</style>
<script src="{static("js/textual.js")}"></script>
</head>
<body>
<div class="closed"><div>Session ended.</div><button type="button" id="restart">Restart</button></div>
<div id="terminal" class="textual-terminal" data-session-websocket-url="{e(websocket_url)}" data-font-size="16"></div>
<script nonce="{e(nonce)}">
document.getElementById("restart").addEventListener("click", () => window.location.reload());
</script>
</body>
</html>
"""


def run_server(server: StudioServer, sock: socket.socket) -> None:
    """Serve on a bound socket until interrupted. No access log: request lines hold the token."""
    web.run_app(server.make_app(), sock=sock, access_log=None, print=None, handle_signals=True)
