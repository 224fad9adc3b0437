"""Who may open a served studio, and as whom: tokens, the labelers file, names, Host and Origin.

Pure checks, no I/O but reading the labelers file, so the server and its tests share them.
A token is compared in constant time. With a shared token the labeler is the URL's
``labeler=``; with a labelers file the token alone decides who labels, so nobody can sign
verdicts as someone else.
"""

from __future__ import annotations

import hmac
import re
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# A labeler's name: what the store records on every verdict. Letters, digits, . _ - and @
# only, so it is harmless in a log, a shell, a file name or an HTML page.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_TOKEN_CHARS = 16  # a guessable token is no gate


class AccessError(ValueError):
    """A labelers file, token or name the server cannot start with (one line for the user)."""


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise AccessError(f"not a labeler name: {name!r} (letters, digits, . _ - @; up to 64)")
    return name


TOKEN_RE = re.compile(r"^[A-Za-z0-9._~-]+$")  # URL-safe as it is: it travels in every URL


def check_token(token: str, what: str = "--token") -> str:
    if len(token) < MIN_TOKEN_CHARS or not TOKEN_RE.match(token):
        raise AccessError(
            f"{what}: a token needs at least {MIN_TOKEN_CHARS} characters, only letters, digits and . _ ~ -"
        )
    return token


def new_token() -> str:
    return secrets.token_urlsafe(24)


def read_labelers(path: Path) -> dict[str, str]:
    """``name token`` per line (``#`` comments and blank lines skipped) -> {token: name}."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AccessError(f"--labelers: cannot read {path}: {exc}") from None
    by_token: dict[str, str] = {}
    names: set[str] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise AccessError(f"--labelers {path}:{n}: expected 'NAME TOKEN', got {len(parts)} fields")
        name, token = parts
        try:
            check_name(name)
            check_token(token, "token")
        except AccessError as exc:
            raise AccessError(f"--labelers {path}:{n}: {exc}") from None
        if name in names:
            raise AccessError(f"--labelers {path}:{n}: {name} is listed twice")
        if token in by_token:
            raise AccessError(f"--labelers {path}:{n}: {name} shares a token with {by_token[token]}")
        names.add(name)
        by_token[token] = name
    if not by_token:
        raise AccessError(f"--labelers {path}: no 'NAME TOKEN' lines")
    return by_token


@dataclass(frozen=True)
class Access:
    """Either one shared token (labeler from the URL) or a token per labeler."""

    shared_token: str | None = None
    labelers: dict[str, str] = field(default_factory=dict)  # token -> name

    def labeler_for(self, token: str | None, labeler: str | None) -> str | None:
        """The labeler this request acts as, or None when it may not in (the reason is not told)."""
        if not token:
            return None
        if self.labelers:
            found = None
            for known, name in self.labelers.items():  # every entry compared: no timing tell
                if hmac.compare_digest(known.encode(), token.encode()):
                    found = name
            return found
        if self.shared_token is None or not hmac.compare_digest(self.shared_token.encode(), token.encode()):
            return None
        if labeler is None or not NAME_RE.match(labeler):
            return None
        return labeler


WILDCARDS = {"0.0.0.0", "::", ""}


def allowed_hosts(host: str, port: int, extra: list[str] | tuple[str, ...] = ()) -> frozenset[str]:
    """The Host header values the server answers (DNS rebinding: any other name is refused)."""
    names = {host} if host not in WILDCARDS else {socket.gethostname(), socket.getfqdn()}
    if host in WILDCARDS or host in {"127.0.0.1", "localhost", "::1"}:
        names |= {"127.0.0.1", "localhost", "[::1]"}
    names |= set(extra)
    names = {f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names}
    return frozenset({f"{n}:{port}".lower() for n in names} | ({n.lower() for n in names} if port == 80 else set()))


def host_ok(host_header: str | None, allowed: frozenset[str]) -> bool:
    return host_header is not None and host_header.lower() in allowed


def origin_ok(origin: str | None, host_header: str | None, *, required: bool) -> bool:
    """Same origin only: the page this server served, at the host it was reached by."""
    if origin is None:
        return not required
    parts = urlsplit(origin)
    return (
        parts.scheme in ("http", "https") and bool(host_header) and parts.netloc.lower() == (host_header or "").lower()
    )
