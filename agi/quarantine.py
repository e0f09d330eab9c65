"""Reports that fail the call-token check: kept apart, never stored as events.

A well-formed report whose token is missing or is not the named attempt's
(``app.calltokens``) is refused: no ``STORED`` for the dialplan, nothing in
``call_event``, so nothing to fold. What it claimed goes to
``quarantined_report`` for the operator (the Operations page), through the
writer thread, at most ``RATE`` rows a second (bursts of ``BURST``) per
process; the rest are only counted, so a flood of forgeries cannot fill the
database. Every one is counted in ``agi_rejects_total{reason}``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from app.models import QuarantinedReport

log = logging.getLogger(__name__)

NO_TOKEN = "no_token"
BAD_TOKEN = "bad_token"
RATE = 2.0
BURST = 100
SUMMARY_MAX = 300
PEER_MAX = 64
_SUMMARY_KEYS = ("agi_request", "agi_uniqueid", "agi_channel", "agi_accountcode", "agi_callerid")

COLUMNS = ("received_at", "source", "peer", "reason", "campaign_id", "contact_id", "attempt",
           "event", "summary")


@dataclass(frozen=True, slots=True)
class Quarantined:
    """One row of ``quarantined_report``."""

    received_at: datetime
    source: str
    peer: str
    reason: str
    campaign_id: int
    contact_id: int
    attempt: int
    event: str
    summary: str


def token_verdict(tokens, event, token):
    """None when ``token`` is the token of ``event``'s attempt, else the refusal reason."""
    if not token:
        return NO_TOKEN
    if not tokens.matches(event.campaign_id, event.contact_id, event.attempt, token):
        return BAD_TOKEN
    return None


def _printable(text, limit):
    return "".join(c if c.isprintable() else "?" for c in str(text)[:limit])


def summarize(env, token):
    """A short, printable account of what a refused request said (never the whole token)."""
    parts = [f"{key[4:]}={env[key][:80]}" for key in _SUMMARY_KEYS if env.get(key)]
    if token:
        parts.append(f"token={token[:8]}...({len(token)})")
    return _printable(" ".join(parts), SUMMARY_MAX)


def quarantined(event, reason, peer, env, token):
    """The quarantine row of a refused ``event``."""
    return Quarantined(
        received_at=event.received_at, source=event.source, peer=_printable(peer, PEER_MAX),
        reason=reason, campaign_id=event.campaign_id, contact_id=event.contact_id,
        attempt=event.attempt, event=event.name, summary=summarize(env, token),
    )


class RateGate:
    """A token bucket: ``take`` is True at most ``rate`` times a second, bursts of ``burst``."""

    def __init__(self, rate=RATE, burst=BURST):
        self.rate = rate
        self.burst = burst
        self._level = float(burst)
        self._at = None

    def take(self, now) -> bool:
        if self._at is not None:
            self._level = min(self.burst, self._level + (now - self._at) * self.rate)
        self._at = now
        if self._level >= 1.0:
            self._level -= 1.0
            return True
        return False


def insert_sql(db):
    """The INSERT of one quarantine row, in ``db``'s parameter style."""
    cols = ", ".join(f'"{c}"' for c in COLUMNS)
    marks = ", ".join(db.param for _ in COLUMNS)
    return f'INSERT INTO "{QuarantinedReport._meta.table_name}" ({cols}) VALUES ({marks})'


def row_of(record):
    """The parameters of one row (received_at as the model stores it: naive UTC)."""
    when = QuarantinedReport._meta.fields["received_at"].db_value(record.received_at)
    return (when, record.source, record.peer, record.reason, record.campaign_id,
            record.contact_id, record.attempt, record.event, record.summary)
