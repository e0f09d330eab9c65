"""The ``Callcast-Signature`` header: HMAC-SHA256 over the timestamp and the body.

``Callcast-Signature: t=<unix seconds>,v1=<hex of HMAC-SHA256(secret, "<t>.<body>")>``,
as Stripe signs its webhooks: the timestamp is inside the MAC, so a receiver
that refuses old timestamps also refuses replays.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Callcast-Signature"
EVENT_ID_HEADER = "Callcast-Event-Id"
EVENT_TYPE_HEADER = "Callcast-Event"
# a receiver's default tolerance for the age of a timestamp
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A fresh endpoint secret (``whsec_`` and 43 URL-safe characters)."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    signed = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def header_value(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Callcast-Signature`` value for ``body`` sent at ``timestamp``."""
    return f"t={int(timestamp)},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when ``header`` signs ``body`` under ``secret`` and its timestamp is recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, timestamp, body))
