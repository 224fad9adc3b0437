"""Verdict records sealed with the run's secret (docs/sandbox-and-verdicts.md, "The verdict pipe").

The parent hands each pytest run a fresh secret on a descriptor the verdict plugin reads and
closes before any conftest or test module is imported. The plugin keeps it only inside an
HMAC object and seals every record: an HMAC-SHA256 over the previous record's seal and the
record's own bytes, appended as the last field, ``,"m":"<64 hex>"}``. The chain makes a
dropped, reordered, rewritten or added record visible here. A pipe swapped by code under
test (round 6, R6-1: the descriptor replaced by a pipe of its own, a thread forwarding the
plugin's records with "failed" rewritten to "passed") can forward records, not rewrite them.
The ``finish`` record names a token derived from the secret, never the secret itself: code
that reads the stream learns nothing that lets it seal records.

What remains possible: code in the tests' process that finds the plugin's HMAC object (in
its closures) can seal records of its own. The verdict never rests on these records alone
(the held-out differential, the hidden tests and the reference rerun stand behind a pass).
The plugin (agent/_pytest_plugins/repo_agent_verdict.py) cannot import this module (it runs
in the sandbox with only its own directory): it seals with the same three lines of hmac.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_SEALED = re.compile(rb'(.*),"m":"([0-9a-f]{64})"\}\s*', re.S)


def finish_token(secret: str) -> str:
    """What the plugin's ``finish`` record carries: derived from the secret, never it."""
    return hmac.new(secret.encode(), b"finish", hashlib.sha256).hexdigest()


def seal(secret: str, previous: bytes, body: bytes) -> bytes:
    """The seal of ``body`` after the record sealed ``previous`` (b"" for the first)."""
    mac = hmac.new(secret.encode(), previous, hashlib.sha256)
    mac.update(body)
    return mac.hexdigest().encode()


def sealed_line(secret: str, previous: bytes, body: bytes) -> tuple[bytes, bytes]:
    """``body`` (a JSON object) as the plugin writes it, and its seal (for tests and tools)."""
    mark = seal(secret, previous, body)
    return body[:-1] + b',"m":"' + mark + b'"}', mark


class Unsealer:
    """Opens the sealed records of one run, in order."""

    def __init__(self, secret: str):
        self._secret = secret
        self._previous = b""

    def open(self, line: bytes) -> bytes | None:
        """The record's JSON without its seal, or None when the plugin did not send it as it
        stands (unsealed, rewritten, out of order): the chain goes on from the last good one."""
        m = _SEALED.fullmatch(line)
        if m is None:
            return None
        body = m.group(1) + b"}"
        if not hmac.compare_digest(seal(self._secret, self._previous, body), m.group(2)):
            return None
        self._previous = m.group(2)
        return body
