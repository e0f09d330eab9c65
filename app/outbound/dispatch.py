"""Pending outbox rows into webhook deliveries and campaign mails, each row exactly once.

A row is claimed (``dispatched_at`` set, conditionally) in the transaction that
writes its deliveries, so two dispatchers never both fan it out and a crash
leaves it pending. ``contact.finished`` rows of one campaign are merged into one
event at most every WEBHOOK_BATCH_SECONDS.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from app.config import get_settings
from app.db import database
from app.outbound.endpoints import endpoints_for
from app.outbound.mail import queue_mail
from app.outbound.tables import (
    CLOSED,
    CONTACT_FINISHED,
    DELIVERED,
    FAILED,
    PENDING,
    SENDING,
    MailMessage,
    OutboxEvent,
    WebhookDelivery,
)

log = logging.getLogger(__name__)

BATCH_ROWS = 500  # outbox rows read per run
CONTACTS_PER_EVENT = 1000  # a larger batch goes out as several events
# a delivery or mail this late, and not in an attempt, lost its message: send it again
STALLED_AFTER = timedelta(seconds=60)


class AlreadyDispatchedError(Exception):
    """Another dispatcher claimed these rows first (internal: rolls back the fan-out)."""


@dataclass
class Dispatched:
    deliveries: list = field(default_factory=list)  # new delivery ids, to send
    mails: list = field(default_factory=list)  # new mail ids, to send
    waiting: bool = False  # contact rows held back by the batch window, or more rows left


def dispatch(now, settings=None) -> Dispatched:
    """Fan pending outbox rows out to deliveries (and the closed campaigns' mails)."""
    settings = settings or get_settings()
    rows = list(OutboxEvent.select().where(OutboxEvent.dispatched_at.is_null())
                .order_by(OutboxEvent.id).limit(BATCH_ROWS))
    result = Dispatched(waiting=len(rows) == BATCH_ROWS)
    contacts = defaultdict(list)
    for row in rows:
        if row.kind == CONTACT_FINISHED:
            contacts[row.campaign_id].append(row)
            continue
        _dispatch_one(row, settings, now, result)
    for campaign_id, batch in contacts.items():
        if not _batch_due(campaign_id, now, settings.webhook_batch_seconds):
            result.waiting = True
            continue
        _dispatch_contacts(campaign_id, batch, now, result)
    return result


def _claim(ids, now) -> None:
    """Mark outbox rows dispatched. Raises: AlreadyDispatchedError if any was taken."""
    updated = (OutboxEvent.update(dispatched_at=now)
               .where(OutboxEvent.id.in_(ids) & OutboxEvent.dispatched_at.is_null()).execute())
    if updated != len(ids):
        raise AlreadyDispatchedError(ids)


def _dispatch_one(row, settings, now, result: Dispatched) -> None:
    try:
        with database.atomic():
            _claim([row.id], now)
            result.deliveries += fan_out(row.kind, row.campaign_id, row.payload, now)
            mail_id = queue_mail(row.campaign_id, settings, now) if row.kind == CLOSED else None
    except AlreadyDispatchedError:
        return  # another dispatcher got there first
    if mail_id is not None:
        result.mails.append(mail_id)


def _dispatch_contacts(campaign_id: int, batch, now, result: Dispatched) -> None:
    finished = [c for row in batch for c in row.payload.get("contacts", ())]
    try:
        with database.atomic():
            _claim([row.id for row in batch], now)
            for start in range(0, len(finished), CONTACTS_PER_EVENT):
                data = {"campaign": {"id": campaign_id},
                        "contacts": finished[start:start + CONTACTS_PER_EVENT]}
                result.deliveries += fan_out(CONTACT_FINISHED, campaign_id, data, now)
    except AlreadyDispatchedError:
        pass  # another dispatcher got there first


def _batch_due(campaign_id: int, now, seconds: int) -> bool:
    """True when the campaign's last contact.finished event is ``seconds`` old (or none went)."""
    latest = (OutboxEvent.select(OutboxEvent.dispatched_at)
              .where((OutboxEvent.campaign_id == campaign_id)
                     & (OutboxEvent.kind == CONTACT_FINISHED)
                     & OutboxEvent.dispatched_at.is_null(False))
              .order_by(OutboxEvent.dispatched_at.desc()).first())
    last = latest.dispatched_at if latest is not None else None
    return last is None or (now - last).total_seconds() >= seconds


def fan_out(event_type: str, campaign_id: int, data: dict, now) -> list[int]:
    """One event, one delivery per endpoint that wants it; their ids (none: no endpoint)."""
    endpoints = endpoints_for(event_type, campaign_id)
    if not endpoints:
        return []
    event_id = str(uuid.uuid4())
    body = json.dumps({"id": event_id, "type": event_type, "created_at": now.isoformat(),
                       "data": data}, ensure_ascii=False, separators=(",", ":"))
    ids = []
    for endpoint in endpoints:
        ids.append(WebhookDelivery.insert(
            event_id=event_id, event_type=event_type, campaign_id=campaign_id,
            endpoint=endpoint.id, body=body, status=PENDING, attempts=0,
            next_attempt_at=now, created_at=now,
        ).execute())
    log.info("webhook event=%s type=%s campaign=%s endpoints=%s", event_id, event_type,
             campaign_id, [e.id for e in endpoints])
    return ids


def stalled(now) -> tuple[list[int], list[int]]:
    """Deliveries and mails due for a while that no attempt holds: their messages were lost."""
    late = now - STALLED_AFTER
    free = lambda model: (  # noqa: E731
        (model.status == PENDING)
        | ((model.status == SENDING) & (model.lease_until < now)))
    deliveries = [d.id for d in WebhookDelivery.select(WebhookDelivery.id).where(
        free(WebhookDelivery) & (WebhookDelivery.next_attempt_at < late)).limit(BATCH_ROWS)]
    mails = [m.id for m in MailMessage.select(MailMessage.id).where(
        free(MailMessage) & (MailMessage.next_attempt_at < late)).limit(BATCH_ROWS)]
    return deliveries, mails


def prune(now, days: int = 30) -> int:
    """Delete outbox rows dispatched, and deliveries ended, more than ``days`` ago; how many."""
    cutoff = now - timedelta(days=days)
    rows = OutboxEvent.delete().where(OutboxEvent.dispatched_at < cutoff).execute()
    # their attempts go with them (ON DELETE CASCADE)
    return rows + (WebhookDelivery.delete()
                   .where(WebhookDelivery.status.in_((DELIVERED, FAILED))
                          & (WebhookDelivery.created_at < cutoff)).execute())
