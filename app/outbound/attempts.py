"""What webhook deliveries and mails share: the claim of one attempt, the backoff, the cap.

A row (``WebhookDelivery`` or ``MailMessage``) is PENDING until an attempt
claims it: a conditional update to SENDING with a lease. A redelivered message
finds it SENDING (another attempt is in flight), DELIVERED or FAILED and does
nothing; a worker that died mid-attempt leaves a lease that runs out, and the
next message takes it over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.outbound.tables import DELIVERED, FAILED, PENDING, SENDING

SENT, RETRY, DONE, BUSY = "sent", "retry", "done", "busy"


@dataclass(frozen=True)
class Claim:
    """An attempt's hold on a row: what to do, and when to come back (RETRY)."""

    action: str  # SENT (the row is ours: attempt it), RETRY, DONE, BUSY
    row: object = None
    lease_until: object = None
    retry_in_ms: int = 0


def claim(model, row_id: int, now, lease_seconds: float) -> Claim:
    """Take row ``row_id`` of ``model`` for one attempt, or say why not."""
    row = model.get_or_none(model.id == row_id)
    if row is None or row.status in (DELIVERED, FAILED):
        return Claim(DONE, row)
    if row.next_attempt_at > now:
        # a message early for its turn (a rescue, a redelivery): come back then
        return Claim(RETRY, row, retry_in_ms=_ms(row.next_attempt_at - now))
    lease = now + timedelta(seconds=lease_seconds)
    free = (model.status == PENDING) | ((model.status == SENDING) & (model.lease_until < now))
    updated = (model.update(status=SENDING, lease_until=lease)
               .where((model.id == row_id) & free).execute())
    if updated != 1:
        return Claim(BUSY, row)  # another attempt holds it
    return Claim(SENT, model.get(model.id == row_id), lease)


def settle(model, claimed: Claim, ok: bool, error: str, now, max_attempts: int,
           backoff: tuple[int, int], **sent_values) -> Claim:
    """Record an attempt's end on its row (conditional on the lease); what comes next."""
    row = claimed.row
    attempts = row.attempts + 1
    if ok:
        values = {model.status: DELIVERED, **{getattr(model, k): v for k, v in sent_values.items()}}
        action, delay = DONE, 0
    elif attempts >= max_attempts:
        values, action, delay = {model.status: FAILED}, DONE, 0
    else:
        delay = backoff_ms(attempts, *backoff)
        values = {model.status: PENDING,
                  model.next_attempt_at: now + timedelta(milliseconds=delay)}
        action = RETRY
    values.update({model.attempts: attempts, model.lease_until: None,
                   model.last_error: error[:300]})
    updated = (model.update(values)
               .where((model.id == row.id) & (model.status == SENDING)
                      & (model.lease_until == claimed.lease_until)).execute())
    if updated != 1:
        return Claim(BUSY, row)  # our lease ran out and another attempt took over
    return Claim(action, row, retry_in_ms=delay)


def backoff_ms(attempts: int, base_ms: int, max_ms: int) -> int:
    """The wait after the ``attempts``-th failure: base, 2 x base, 4 x base ... up to max."""
    return min(max_ms, base_ms * 2 ** min(attempts - 1, 30))


def _ms(delta) -> int:
    return max(1, int(delta.total_seconds() * 1000))
