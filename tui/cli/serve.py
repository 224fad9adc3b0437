"""`repo-agent studio DIR --serve`: the studio in a browser, one studio per session, behind a token."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path

from tui.cli.errors import UserError


def add_serve_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "serving to a browser",
        "Each browser session is its own studio on the same store. Every URL needs ?token=; with a shared "
        "--token each person adds &labeler=NAME, with --labelers FILE (lines 'NAME TOKEN') the token says who "
        "labels. Launching, resuming and replaying batches is off unless --allow-launch.",
    )
    g.add_argument("--serve", action="store_true", help="serve the studio to browsers instead of this terminal")
    g.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    g.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000; 0 picks a free one)")
    who = g.add_mutually_exclusive_group()
    who.add_argument(
        "--token",
        default=None,
        help="the shared token every URL carries, at least 16 characters (default: $REPO_AGENT_SERVE_TOKEN, "
        "else a new random one, printed)",
    )
    who.add_argument("--labelers", type=Path, metavar="FILE", help="one 'NAME TOKEN' line per labeler")
    g.add_argument(
        "--allow-launch",
        action="store_true",
        help="let served sessions launch, resume and replay batches (runs model code and spends on this machine)",
    )
    g.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another name this machine is reached by (the Host header; repeatable)",
    )
    g.add_argument("--max-sessions", type=int, default=20, help="browser sessions open at once (default: 20)")


def run_serve(args: argparse.Namespace, traces: Path, db: Path | str) -> int:
    from rich.console import Console

    from labeling.store_url import redact
    from tui.serve.access import Access, AccessError, allowed_hosts, check_token, new_token, read_labelers
    from tui.serve.server import SERVE_TOKEN_ENV, ServeConfig, StudioServer, run_server

    if args.labeler:
        raise UserError("--labeler: a served studio's labeler comes from each session's token (or its URL)")
    if args.keymap:
        raise UserError("--keymap is a terminal studio's; a served studio uses the default keys")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be 0-65535, not {args.port}")
    if args.max_sessions < 1:
        raise UserError("--max-sessions must be at least 1")
    try:
        if args.labelers:
            access = Access(labelers=read_labelers(args.labelers))
        else:
            token = args.token or os.environ.get(SERVE_TOKEN_ENV) or new_token()
            access = Access(shared_token=check_token(token))
    except AccessError as exc:
        raise UserError(str(exc)) from None
    try:
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
        sock.listen(64)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    port = sock.getsockname()[1]
    config = ServeConfig(
        traces_dir=traces.resolve(),
        db=str(db.resolve()) if isinstance(db, Path) else db,
        allowed_hosts=allowed_hosts(args.host, port, args.allow_host),
        allow_launch=args.allow_launch,
        screen=args.screen,
        overlap=args.overlap,
        max_sessions=args.max_sessions,
    )
    out = Console(highlight=False, soft_wrap=True)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    if shown in ("0.0.0.0", "[::]"):
        shown = socket.gethostname()
    base = f"http://{shown}:{port}/"
    if access.labelers:
        out.print(f"studio served at {base}?token=THEIR_TOKEN ({len(access.labelers)} labelers)", markup=False)
    else:
        out.print(f"studio served at {base}?token={access.shared_token}&labeler=YOUR_NAME", markup=False)
    out.print(
        f"store: {redact(config.db)}; launching batches: {'ALLOWED' if args.allow_launch else 'off'}; ctrl+c stops",
        markup=False,
    )
    if not _is_loopback(args.host):
        out.print(
            "warning: plain HTTP beyond this machine; the token crosses the network readable. "
            "Prefer --host 127.0.0.1 with an SSH tunnel, or a TLS proxy in front.",
            markup=False,
        )
    sys.stdout.flush()
    run_server(StudioServer(config, access), sock)
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
