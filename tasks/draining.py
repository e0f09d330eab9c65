"""Actors on the ``drain`` queue: wait until a finished campaign has no calls left.

``poll_drain`` is one poll of one campaign's drain chain (``app.draining.poll``).
Calls still up, or the PBX unreachable: ``dramatiq.Retry``, so the Retries
middleware puts the same message back with exponential backoff (visible in
RabbitMQ's ``drain.DQ`` delay queue) and never gives up on those two (the
campaign's status says it waits for the PBX). When nothing is up any more, or
the maximum drain time has passed, the campaign is FINALIZING and a
``finalize`` message is sent. A fold that fails on the campaign's data does not
stop the drain (``app.draining``); any other error is put in the campaign's
status and retried ``OTHER_ERRORS_MAX`` times.
"""

from __future__ import annotations

import logging

import dramatiq

from tasks.broker import DRAIN, broker  # noqa: F401  (sets the broker first)
from app.clock import utcnow
from app.config import get_settings
from app.pbx.poolami import get_pool_ami
from tasks.finalizing import finalize_campaign
from tasks.lifecycle import keep_draining, lifecycle_beat, record_failure

from app.db import connection
from app.draining import FINALIZE, WAIT, poll
from app.pbx.errors import PbxError

log = logging.getLogger(__name__)

# Backoff of the drain polls: 1 s, 2 s, 4 s ... capped at 30 s (well inside the
# chain's lease, app.chains.LEASE_SECONDS).
DRAIN_MIN_BACKOFF_MS = 1_000
DRAIN_MAX_BACKOFF_MS = 30_000


@dramatiq.actor(
    queue_name=DRAIN,
    retry_when=keep_draining,
    min_backoff=DRAIN_MIN_BACKOFF_MS,
    max_backoff=DRAIN_MAX_BACKOFF_MS,
    time_limit=120_000,
)
def poll_drain(campaign_id: int, token: str):
    """Poll one DRAINING campaign: retry while calls are up, else enqueue finalization."""
    with connection():
        now = utcnow()
        lifecycle_beat(now, {"draining": campaign_id})
        try:
            result = poll(campaign_id, token, now, get_pool_ami(get_settings()))
        except PbxError as exc:
            # never finalize blind: without the PBX's word we wait
            log.warning("campaign=%s drain: PBX unreachable (%s); retrying", campaign_id, exc)
            raise dramatiq.Retry(f"PBX unreachable: {exc}") from None
        except Exception as exc:
            record_failure(campaign_id, "drain", exc, now)
            raise
    if result.action == WAIT:
        log.info(
            "campaign=%s drain: %d calls up after %.0fs; retrying",
            campaign_id, result.live, result.waited_s,
        )
        raise dramatiq.Retry(f"{result.live} calls still up")
    if result.action == FINALIZE:
        finalize_campaign.send(campaign_id, result.token)
