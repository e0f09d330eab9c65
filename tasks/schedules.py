"""Periodic actors: the scheduler (``python -m tasks.scheduler``) sends them, the lifecycle
worker runs them.

They sit on the ``drain`` queue so the lifecycle process (``-Q drain finalize default``)
runs them; periodiq itself only sends messages.
"""

from __future__ import annotations

import logging

import dramatiq
from periodiq import cron

from tasks.broker import DRAIN, broker  # noqa: F401  (sets the broker first)
from app.clock import utcnow
from tasks.draining import poll_drain
from tasks.finalizing import finalize_campaign
from tasks.lifecycle import lifecycle_beat

from app.config import get_settings
from app.db import connection
from app.finalization import archive_late_events, campaigns_with_late_events
from app.lifecycle import clean_up, expiry_scan

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name=DRAIN, periodic=cron("* * * * *"), max_retries=0)
def expire_campaigns():
    """Every minute: finish what is over, start draining, rescue silent chains."""
    with connection():
        now = utcnow()
        lifecycle_beat(now, {"scan": now.isoformat()})
        result = expiry_scan(now)
    # sent after the scan committed; a send lost here is rescued by a later scan
    for campaign_id, token in result.drain:
        poll_drain.send(campaign_id, token)
    for campaign_id, token in result.finalize:
        finalize_campaign.send(campaign_id, token)
    if result.finished or result.drain or result.finalize:
        log.info(
            "expiry scan: finished=%s drain=%s finalize=%s",
            [c for c, _ in result.finished], [c for c, _ in result.drain],
            [c for c, _ in result.finalize],
        )


@dramatiq.actor(queue_name=DRAIN, periodic=cron("7 * * * *"), max_retries=0)
def hourly_clean_up():
    """Every hour: archive events that came after a close, drop old exports and heartbeats."""
    with connection():
        now = utcnow()
        late = {cid: archive_late_events(cid, now) for cid in campaigns_with_late_events()}
        done = clean_up(now, get_settings())
    log.info("clean-up: %s late events %s", done, late)
