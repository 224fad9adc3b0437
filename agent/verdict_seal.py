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

_HEX64 = re.compile(rb"[0-9a-f]{64}")
_SPACE = b" \t\n\r\f\v"  # what ``\s`` is in a bytes pattern


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
    """Opens the sealed records of one run, in order. Its key is set up once (an HMAC object
    copied per record): an honest run of 80,000 tests sends 240,000 records (round 10 r10-7)."""

    def __init__(self, secret: str):
        self._key = hmac.new(secret.encode(), digestmod=hashlib.sha256)
        self._previous = b""

    def open(self, line: bytes) -> bytes | None:
        """The record's JSON without its seal, or None when the plugin did not send it as it
        stands (unsealed, rewritten, out of order): the chain goes on from the last good one."""
        end = line.rstrip(_SPACE)  # a sealed line: <body without its "}">,"m":"<64 hex>"} and spaces
        if len(end) < 72 or end[-72:-66] != b',"m":"' or end[-2:] != b'"}' or not _HEX64.fullmatch(end[-66:-2]):
            return None
        body, mark = end[:-72] + b"}", end[-66:-2]
        mac = self._key.copy()
        mac.update(self._previous)
        mac.update(body)
        if not hmac.compare_digest(mac.hexdigest().encode(), mark):
            return None
        self._previous = mark
        return body
