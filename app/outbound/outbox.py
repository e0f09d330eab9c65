"""The records the core writes: one outbox row, in the transaction of the change it reports.

Nothing here talks to the network or the broker; the ``webhooks`` queue's
dispatcher reads the rows (``app.outbound.dispatch``).
"""

from __future__ import annotations

from app.outbound.tables import CLOSED, CONTACT_FINISHED, STATE_CHANGED, OutboxEvent


def record(kind: str, campaign_id: int, payload: dict, now) -> None:
    """Write one outbox row (call inside the transaction of the change it reports)."""
    OutboxEvent.insert(kind=kind, campaign_id=campaign_id, payload=payload, created_at=now,
                       dispatched_at=None).execute()


def record_state_change(campaign, previous: str, target: str, now) -> None:
    """``campaign.state_changed``: the campaign moved from ``previous`` to ``target``."""
    record(STATE_CHANGED, campaign.id, {
        "campaign": {"id": campaign.id, "name": campaign.name},
        "from": previous, "to": target, "at": now.isoformat(),
    }, now)


def record_closed(campaign, report: dict, has_csv: bool, now) -> None:
    """``campaign.closed``: the campaign is CLOSED; ``report`` is its figures."""
    record(CLOSED, campaign.id, {
        "campaign": {"id": campaign.id, "name": campaign.name},
        "closed_at": now.isoformat(), "report": report, "csv": has_csv,
    }, now)


def record_contacts_finished(campaign_id: int, contacts: list[dict], now) -> None:
    """``contact.finished`` for the contacts one fold made final (one row for the whole fold)."""
    if contacts:
        record(CONTACT_FINISHED, campaign_id, {"contacts": contacts}, now)
