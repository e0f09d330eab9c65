"""Figures the supervisor's console shows beside the campaign's own: calls per minute, warnings.

Calls per minute are the attempts that ended in each of the last minutes, read
from the ``call_attempt (campaign_id, finished_at)`` index (the route breaker's),
so the dashboard costs one small range scan per campaign however big the campaign.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from peewee import fn

from app.db import is_postgres
from app.models import CLOSED, CallAttempt, Campaign, QuarantinedReport

WINDOW_MINUTES = 30
# a quarantine or breaker event older than this is no longer a warning on the dashboard
WARNING_HOURS = 1


def calls_per_minute(campaign_ids, now: datetime, minutes: int = WINDOW_MINUTES) -> dict[int, list[int]]:
    """Calls ended per minute over the last ``minutes`` minutes (oldest first), per campaign."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    found = {cid: [0] * minutes for cid in campaign_ids}
    if not found:
        return found
    # counted per minute in SQL: at most ``minutes`` rows per campaign reach Python
    minute = _minute_sql()
    rows = (
        CallAttempt.select(CallAttempt.campaign, minute, fn.COUNT(CallAttempt.id))
        .where(CallAttempt.campaign.in_(list(found)) & (CallAttempt.finished_at >= start))
        .group_by(CallAttempt.campaign, minute)
        .tuples()
    )
    for campaign_id, bucket, count in rows:
        at = datetime.strptime(bucket, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
        slot = int((at - start).total_seconds() // 60)
        if 0 <= slot < minutes:
            found[campaign_id][slot] += count
    return found


def _minute_sql():
    """The minute of ``finished_at`` as 'YYYY-MM-DD HH:MM' (UTC, as stored) on either engine."""
    if is_postgres():
        return fn.to_char(CallAttempt.finished_at, "YYYY-MM-DD HH24:MI").coerce(False)
    return fn.substr(CallAttempt.finished_at, 1, 16).coerce(False)


def campaign_warnings(campaigns, now: datetime) -> dict[int, list[dict]]:
    """Per campaign: the route breaker's last trip and the quarantined reports, in the last hour."""
    since = now - timedelta(hours=WARNING_HOURS)
    found: dict[int, list[dict]] = {c.id: [] for c in campaigns}
    for c in campaigns:
        if c.breaker_tripped_at is not None and c.breaker_tripped_at >= since:
            found[c.id].append({"kind": "breaker", "at": c.breaker_tripped_at.isoformat()})
    if found:
        rows = (
            QuarantinedReport.select(QuarantinedReport.campaign_id, fn.COUNT(QuarantinedReport.id))
            .where(QuarantinedReport.campaign_id.in_(list(found)) & (QuarantinedReport.received_at >= since))
            .group_by(QuarantinedReport.campaign_id)
            .tuples()
        )
        for campaign_id, count in rows:
            found[campaign_id].append({"kind": "quarantine", "count": count})
    return found


def open_campaigns() -> list[Campaign]:
    """Every campaign that is not CLOSED, newest first."""
    return list(Campaign.select().where(Campaign.state != CLOSED).order_by(Campaign.id.desc()))
