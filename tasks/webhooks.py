"""Actors on the ``webhooks`` and ``mail`` queues: the outbox dispatcher, deliveries, mails.

The core writes outbox rows (``app.outbound.outbox``); these actors do the
rest, so a slow or failing receiver only ever holds a thread of these queues.
The scheduler kicks ``dispatch_outbox`` every minute; while contact batches are
held back it runs again every WEBHOOK_BATCH_SECONDS until the minute is over.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import dramatiq
from peewee import InterfaceError, OperationalError
from periodiq import cron

from tasks.broker import MAIL, WEBHOOKS, broker  # noqa: F401  (sets the broker first)
from app.clock import utcnow

from app.config import get_settings
from app.db import connection
from app.outbound.attempts import RETRY
from app.outbound.delivery import deliver
from app.outbound.dispatch import dispatch, prune, stalled
from app.outbound.mail import send_mail

log = logging.getLogger(__name__)

CHAIN_SECONDS = 55  # a kicked chain ends before the next minute's kick starts another
OTHER_ERRORS_MAX = 10  # bugs and bad data stop after this many tries


def keep_trying(retries: int, exc: BaseException) -> bool:
    """Retry when told to (backoff) or while the database is away; a bug gives up."""
    transient = (dramatiq.Retry, OperationalError, InterfaceError)
    return isinstance(exc, transient) or retries < OTHER_ERRORS_MAX


@dramatiq.actor(queue_name=WEBHOOKS, periodic=cron("* * * * *"), max_retries=0)
def kick_outbox():
    """Every minute: start a dispatch chain, resend lost deliveries and mails, prune."""
    with connection():
        now = utcnow()
        deliveries, mails = stalled(now)
        pruned = prune(now)
    _send(deliveries, mails)
    if deliveries or mails or pruned:
        log.info("outbox: resent deliveries=%s mails=%s, pruned %s rows", deliveries, mails,
                 pruned)
    dispatch_outbox.send()


@dramatiq.actor(queue_name=WEBHOOKS, max_retries=3)
def dispatch_outbox(until: str | None = None):
    """Turn pending outbox rows into deliveries and mails, and send them."""
    with connection():
        now = utcnow()
        result = dispatch(now)
    _send(result.deliveries, result.mails)
    end = datetime.fromisoformat(until) if until else now + timedelta(seconds=CHAIN_SECONDS)
    delay = get_settings().webhook_batch_seconds
    if result.waiting and now + timedelta(seconds=delay) < end:
        dispatch_outbox.send_with_options(args=(end.isoformat(),), delay=delay * 1000)


@dramatiq.actor(queue_name=WEBHOOKS, retry_when=keep_trying, time_limit=120_000)
def deliver_webhook(delivery_id: int):
    """One attempt of one webhook delivery; a failure comes back after its backoff."""
    with connection():
        done = deliver(delivery_id, utcnow())
    if done.action == RETRY:
        raise dramatiq.Retry(delay=done.retry_in_ms)


@dramatiq.actor(queue_name=MAIL, retry_when=keep_trying, time_limit=300_000)
def send_campaign_mail(mail_id: int):
    """One attempt to send a campaign-closed mail; a failure comes back after its backoff."""
    with connection():
        done = send_mail(mail_id, utcnow())
    if done.action == RETRY:
        raise dramatiq.Retry(delay=done.retry_in_ms)


def _send(deliveries, mails) -> None:
    # sent after the dispatch committed; one lost here is resent by kick_outbox
    for delivery_id in deliveries:
        deliver_webhook.send(delivery_id)
    for mail_id in mails:
        send_campaign_mail.send(mail_id)
