"""Event-driven refill: calls in the slots a call's end just freed, without waiting for a tick.

When the AGI daemons or the UserEvent recorder store a call's end (``hangup``,
``failed-*``), they nudge the dialer (``tasks.refill``), which runs this: the
same fold, budget, claim and originate as a tick, over the same pool, inside the
same budget lock (``spread.pool_lock``), so the campaign's cap, the global cap
and each PBX's capacity stay exact (the PBXs are asked after the fold: a call
just folded whose channel is still up counts), and the route breaker looks at
what it folded; no reconciliation or finish (the tick chain does those), and
the campaign's status is left to the tick (or to the breaker, when it trips).
Every write is conditional, as the tick's, so a refill beside a tick of the
same campaign can only find less to do. A PAUSED campaign's tick chain has
stopped: its nudges only fold, so the calls it had end in its figures as they end.
"""

from __future__ import annotations

import logging
from datetime import datetime

from app.campaigns.states import get_campaign
from app.dialer.pacing import budget
from app.dialer.breaker import check, trip_breaker
from app.dialer.claims import claim_due
from app.dialer.folding import fold_events
from app.dialer.spread import TickPool, pool_lock
from app.errors import NotFoundError
from app.models import ACTIVE, PAUSED
from app.holidays import campaign_opening  # the windows less the holidays

log = logging.getLogger(__name__)


class _Counts:
    dnc = 0  # claim_due counts the do-not-call contacts it closed here


def refill(campaign_id: int, now: datetime, ami, settings) -> int:
    """Fold the campaign's new events and fill its free slots at once; the calls started."""
    try:
        campaign = get_campaign(campaign_id)
    except NotFoundError:
        return 0  # gone (a nudge about a campaign deleted meanwhile)
    if campaign.state == PAUSED:
        # no new call, but the calls it had still end: record them now, not at the resume
        # (its live figures, its contacts' results and their webhooks would wait till then)
        fold_events(campaign.id, now, campaign)
        return 0
    if campaign.state != ACTIVE or not campaign_opening(campaign, now).open:
        return 0
    pool = TickPool.of(ami, settings)
    if fold_events(campaign.id, now, campaign) and _breaker_tripped(campaign, now, settings):
        return 0
    # asked after the fold (the tick asks before it, for its reconciliation): a call
    # folded just now whose channel is still up is then on the list and counted
    snapshot = pool.collect(pool.ask(now), now)
    if snapshot is None:
        return 0
    with pool_lock(pool, settings):
        plan = pool.limit(budget(campaign, snapshot, now, settings), settings)
        claims = (claim_due(campaign, plan.slots, now, _Counts(), pool.assign)
                  if plan.slots > 0 else [])
    if not claims:
        return 0
    originated, error = pool.originate(campaign, claims, now, settings)
    log.debug("refill campaign=%s originated=%d error=%s", campaign_id, originated, error)
    return originated


def _breaker_tripped(campaign, now, settings) -> bool:
    """The route breaker on the calls this refill folded (the tick only sees what it folds)."""
    trip = check(campaign, settings)
    return bool(trip and trip_breaker(campaign, trip, now, settings))
