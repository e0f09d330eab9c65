"""What the Operations page shows of outbound work: failures and what is still waiting."""

from __future__ import annotations

from datetime import timedelta

from peewee import fn

from app.outbound.tables import FAILED, PENDING, SENDING, MailMessage, WebhookDelivery

WINDOW = timedelta(hours=24)
SHOWN = 10


def outbound_summary(now) -> dict:
    """Counts per status (deliveries, mails) and the latest failures of the last 24 hours."""
    since = now - WINDOW
    summary = {}
    for name, model in (("deliveries", WebhookDelivery), ("mails", MailMessage)):
        counts = dict(model.select(model.status, fn.COUNT(model.id))
                      .where(model.created_at >= since).group_by(model.status).tuples())
        failed = (model.select().where((model.status == FAILED) & (model.created_at >= since))
                  .order_by(model.id.desc()).limit(SHOWN))
        waiting = (model.select(fn.COUNT(model.id))
                   .where(model.status.in_((PENDING, SENDING))).scalar())
        summary[name] = {"counts": counts, "failed": list(failed), "waiting": waiting or 0}
    return summary
