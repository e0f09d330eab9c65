"""Campaign states: the lifecycle state machine and the one function that moves a campaign.

DRAFT -> ACTIVE <-> PAUSED; ACTIVE|PAUSED -> FINISHED -> DRAINING -> FINALIZING -> CLOSED.
"""

from __future__ import annotations

import logging

from app.db import database, row_id
from app.errors import IllegalTransitionError, NotFoundError, StaleStateError
from app.models import (
    ACTIVE,
    CLOSED,
    DRAFT,
    DRAINING,
    FINALIZING,
    FINISHED,
    PAUSED,
    Campaign,
)
from app.outbound.outbox import record_state_change

log = logging.getLogger(__name__)

TRANSITIONS = {
    DRAFT: frozenset({ACTIVE}),
    ACTIVE: frozenset({PAUSED, FINISHED}),
    PAUSED: frozenset({ACTIVE, FINISHED}),
    FINISHED: frozenset({DRAINING}),
    DRAINING: frozenset({FINALIZING}),
    FINALIZING: frozenset({CLOSED}),
    CLOSED: frozenset(),
}

# the timestamp each state stamps the first time it is entered
STAMPS = {
    ACTIVE: "activated_at",
    FINISHED: "finished_at",
    DRAINING: "drain_started_at",
    CLOSED: "closed_at",
}


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, ())


def get_campaign(campaign_id: int) -> Campaign:
    """Raises: NotFoundError when no campaign has that id (or no row could have it)."""
    found = row_id(campaign_id)
    # an id past 64 bits would raise OverflowError in the driver, not find nothing
    campaign = Campaign.get_or_none(Campaign.id == found) if found is not None else None
    if campaign is None:
        raise NotFoundError(f"campaign {str(campaign_id)[:40]} does not exist")
    return campaign


def transition(campaign_id: int, target: str, now, user_id: int | None = None) -> Campaign:
    """Move a campaign to ``target`` and return it as stored.

    The update is conditional on the state it was read in, so two processes
    racing on one campaign cannot both win.

    Raises:
        NotFoundError: no such campaign.
        IllegalTransitionError: the lifecycle does not allow current -> target.
        StaleStateError: another process changed the state in between.
    """
    campaign = get_campaign(campaign_id)
    current = campaign.state
    if not can_transition(current, target):
        raise IllegalTransitionError(campaign_id, current, target)
    values = {Campaign.state: target, Campaign.updated_at: now}
    if user_id is not None:
        values[Campaign.updated_by] = user_id
    stamp = STAMPS.get(target)
    if stamp and getattr(campaign, stamp) is None:
        values[getattr(Campaign, stamp)] = now
    with database.atomic():  # the webhook's outbox row commits with the change, or neither
        updated = (
            Campaign.update(values)
            .where((Campaign.id == campaign_id) & (Campaign.state == current))
            .execute()
        )
        if updated != 1:
            # another worker or operator got there first
            raise StaleStateError(
                f"campaign {campaign_id} left {current} before it could become {target}"
            )
        record_state_change(campaign, current, target, now)
    log.info("campaign=%s state %s -> %s", campaign_id, current, target)
    return get_campaign(campaign_id)
