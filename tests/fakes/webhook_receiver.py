"""A webhook receiver that follows the Standard Webhooks spec (platforms.md §11.1).

It checks the ``v1`` signature over ``{id}.{timestamp}.{raw body}`` with the
decoded secret bytes, in constant time; refuses timestamps more than
``tolerance`` seconds away (401); and de-duplicates on ``webhook-id``: a repeat
of an id it already accepted is answered 200 and not recorded again, which is
what makes a resend after a lost answer safe.

The signing is written here independently of ``worker.platforms.webhook`` so
that the two check each other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.server import FakeServer, Recorded, Reply


@dataclass(frozen=True)
class Event:
    """One accepted (first-seen) webhook message."""

    msg_id: str
    timestamp: int
    payload: Any


class WebhookReceiver(FakeServer):
    name = "fake-webhook-receiver"

    def __init__(self, secret: str, *, tolerance: int = 300, path: str = "/hook") -> None:
        super().__init__()
        self.secret = secret
        self.tolerance = tolerance
        self.path = path
        # What an accepted message is answered with (some receivers send 204).
        self.accept_status = 200
        self.events: list[Event] = []
        self.duplicates = 0
        self.rejected: list[tuple[Recorded, str]] = []

    @property
    def hook_url(self) -> str:
        return self.url + self.path

    def expected_signature(self, msg_id: str, timestamp: str, body: bytes) -> str:
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
        return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()

    def route(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != self.path:
            return Reply(404, "not found")
        msg_id = request.headers.get("webhook-id", "")
        timestamp = request.headers.get("webhook-timestamp", "")
        signatures = request.headers.get("webhook-signature", "")
        if not (msg_id and timestamp and signatures):
            return self._reject(request, 400, "missing webhook headers")
        try:
            sent_at = int(timestamp)
        except ValueError:
            return self._reject(request, 400, "bad webhook-timestamp")
        if abs(time.time() - sent_at) > self.tolerance:
            return self._reject(request, 401, "timestamp outside tolerance")

        expected = self.expected_signature(msg_id, timestamp, request.body)
        # The header may carry several "version,signature" pairs (key rotation).
        valid = any(
            version == "v1" and hmac.compare_digest(sig.encode(), expected.encode())
            for version, _, sig in (entry.partition(",") for entry in signatures.split(" "))
        )
        if not valid:
            return self._reject(request, 401, "no matching signature")

        with self._lock:
            if any(event.msg_id == msg_id for event in self.events):
                self.duplicates += 1
                return Reply(200, {"status": "duplicate"})
            self.events.append(Event(msg_id, sent_at, request.json()))
        return Reply(self.accept_status, {"status": "accepted"})

    def _reject(self, request: Recorded, status: int, reason: str) -> Reply:
        with self._lock:
            self.rejected.append((request, reason))
        return Reply(status, {"error": reason})
