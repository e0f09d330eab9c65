"""The call token: proof that a report names a call the dialer originated.

The dialer sets ``CC_TOKEN`` on every originated channel: an HMAC-SHA256,
under ``CALL_TOKEN_SECRET``, of the attempt's campaign, contact and attempt
number. The dialplan passes it back with every report (the FastAGI request's
second argument, the ``token`` key of the ``CallcastEvent`` UserEvent), and the
AGI daemons and the UserEvent recorder check it before they store anything:
without the secret nobody can name a call that was never dialled, and a token
seen on one call is worth nothing for another. The check reads no database.

It binds the attempt, not the event: Asterisk cannot compute an HMAC per
report, so whoever can read a live call's token can report other events for
that same call (and only that call).
"""

from __future__ import annotations

import hashlib
import hmac

TOKEN_VARIABLE = "CC_TOKEN"  # the channel variable the Originate sets
TOKEN_LENGTH = 64  # hex digits of a SHA-256 HMAC
_DOMAIN = b"callcast-call-token/1:"  # the secret signs nothing else under this prefix


def _message(campaign_id, contact_id, attempt) -> bytes:
    return b"%s%d:%d:%d" % (_DOMAIN, int(campaign_id), int(contact_id), int(attempt))


class CallTokens:
    """Signs and checks the call tokens of one secret."""

    __slots__ = ("_key",)

    def __init__(self, secret: str):
        self._key = secret.encode("utf-8")

    def token(self, campaign_id, contact_id, attempt) -> str:
        """The token of one attempt (64 lowercase hex digits)."""
        return hmac.digest(self._key, _message(campaign_id, contact_id, attempt),
                           hashlib.sha256).hex()

    def matches(self, campaign_id, contact_id, attempt, token) -> bool:
        """True when ``token`` is this attempt's token; compared in constant time."""
        if not token or len(token) != TOKEN_LENGTH:
            return False  # the length is public: no secret leaks through this shortcut
        expected = self.token(campaign_id, contact_id, attempt).encode("ascii")
        return hmac.compare_digest(expected, token.encode("utf-8", "replace"))


def call_token(secret: str, campaign_id, contact_id, attempt) -> str:
    """The token of one attempt under ``secret`` (what the Originate sets as ``CC_TOKEN``)."""
    return CallTokens(secret).token(campaign_id, contact_id, attempt)
