"""The dialer's breakers: a campaign it cannot go on dialing is paused, with a status that says why.

**The route breaker.** A dial string the PBX cannot route (``DIAL_TEMPLATE``
against an outbound context whose patterns miss the number), a trunk that is
down or refuses everything: every call fails at once, the same way, and
without a breaker each contact would be closed after one call. After a fold,
the tick looks at the campaign's latest ended calls since the breaker last
tripped (``Campaign.breaker_tripped_at``; since activation before that). It
trips when

- ``first``: every one of those calls ended with the same breaker reason, and
  there are at least ``DIAL_BREAKER_FIRST`` (5) of them; or
- ``last``: the latest ``DIAL_BREAKER_RUN`` (20) calls all ended with the same
  breaker reason (a list of dead numbers does not fail 20 in a row; a trunk
  that went down does).

Breaker reasons (``outcomes.BREAKER_REASONS``): ``unavailable`` (Reason 0: no
route, no such number, channel unavailable) and ``congestion`` (Reason 8: the
trunk refused). Busy and no answer are the callee's doing, never the route's.

When it trips, in one transaction: the campaign moves to PAUSED (only if still
ACTIVE), ``breaker_tripped_at`` is set, and the calls of the run are given
back: their contacts are pending again, due at once, ``given_back`` + 1 so the
attempt counts toward no ``max_attempts`` (attempt numbers go on: an attempt
and its events stay as they were). A call still up at that moment that later
fails the breaker's way is given back when it is folded (``folding.settle``).
So once the operator fixes the route and resumes, every contact is called as
if the breaker's calls never happened.

**The tick breaker.** ``pause_dialer`` pauses a campaign whose ticks keep
failing (``tasks.dialing``), with the error in its status.
"""

from __future__ import annotations

import logging
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime

from app.campaigns.states import transition
from app.db import write_transaction
from app.dialer.outcomes import BREAKER_REASONS
from app.dialer.readout import set_status
from app.dialer.sql import Statement, batches, rows_table
from app.errors import IllegalTransitionError, StaleStateError
from app.models import CALLING, PAUSED, PENDING, CallAttempt, Campaign, CampaignContact

log = logging.getLogger(__name__)

HINTS = {
    "unavailable": "no route: check DIAL_TEMPLATE {template} and the outbound context",
    "congestion": "the trunk refused them: check the trunk behind DIAL_TEMPLATE {template}",
}
RUN_PAGE = 500  # the calls of a run are read this many at a time


@dataclass
class Trip:
    reason: str  # the breaker reason every call of the run ended with
    rule: str  # "first" or "last"
    calls: int  # how many calls the rule saw fail


Ended = namedtuple("Ended", "contact_id number outcome")


def _latest_query(campaign_id, limit, offset, since=None):
    where = (CallAttempt.campaign == campaign_id) & CallAttempt.finished_at.is_null(False)
    if since is not None:
        # a call up at the trip ends after it but belongs to the old run
        where &= (CallAttempt.finished_at >= since) & (CallAttempt.originated_at >= since)
    return (
        CallAttempt.select(CallAttempt.contact, CallAttempt.number, CallAttempt.outcome)
        .where(where)
        .order_by(CallAttempt.finished_at.desc())
        .limit(limit)
        .offset(offset)
    )


# every tick that ended calls asks: built and rendered once (one shape each)
LATEST = Statement(_latest_query)
LATEST_SINCE_TRIP = Statement(_latest_query)


def _latest(campaign: Campaign, limit: int, offset: int = 0) -> list:
    """The campaign's ended calls since the breaker last tripped, latest first.

    Read through the (campaign, finished_at) index: a tick pays for ``limit``
    rows, not for the campaign's history.
    """
    since = campaign.breaker_tripped_at
    if since is None:
        cursor = LATEST.run(campaign_id=campaign.id, limit=limit, offset=offset)
    else:
        cursor = LATEST_SINCE_TRIP.run(campaign_id=campaign.id, limit=limit, offset=offset,
                                       since=CallAttempt.finished_at.db_value(since))
    return [Ended(*row) for row in cursor.fetchall()]


def check(campaign: Campaign, settings) -> Trip | None:
    """Whether the campaign's latest calls trip the route breaker (see the module docstring)."""
    first, run = settings.breaker_first_calls, settings.breaker_run_calls
    limit = max(first, run)
    if limit == 0:
        return None
    rows = _latest(campaign, limit + 1)
    if not rows or rows[0].outcome not in BREAKER_REASONS:
        return None
    reason = rows[0].outcome
    streak = next((i for i, row in enumerate(rows) if row.outcome != reason), len(rows))
    if first and streak == len(rows) <= limit and streak >= first:
        return Trip(reason, "first", streak)  # every call since the start failed alike
    if run and streak >= run:
        return Trip(reason, "last", streak)
    return None


def run_of(campaign: Campaign, reason: str) -> list:
    """Every call of the run that tripped: the latest ones that all ended with ``reason``."""
    calls, offset = [], 0
    while True:
        page = _latest(campaign, RUN_PAGE, offset)
        for row in page:
            if row.outcome != reason:
                return calls
            calls.append(row)
        if len(page) < RUN_PAGE:
            return calls
        offset += RUN_PAGE


def give_back(campaign_id: int, calls, now: datetime) -> int:
    """Make the contacts of ``calls`` due again at ``now``, those calls not counted; how many.

    Only a contact still on its latest attempt of ``calls`` (not calling again
    since) moves; a contact called twice in the run gets both calls back.
    """
    latest = {}
    for c in calls:
        number, count = latest.get(c.contact_id, (0, 0))
        latest[c.contact_id] = (max(number, c.number), count + 1)
    rows = [(contact, number, count) for contact, (number, count) in sorted(latest.items())]
    given = 0
    for batch in batches(rows):
        source, v = rows_table(
            (CampaignContact.contact, CampaignContact.attempts, CampaignContact.given_back), batch)
        moved = (
            CampaignContact.update(
                state=PENDING, next_attempt_at=now, updated_at=now,
                given_back=CampaignContact.given_back + v.given_back,
            )
            .with_cte(source)
            .from_(source)
            .where(
                (CampaignContact.campaign == campaign_id)
                & (CampaignContact.contact == v.contact)
                & (CampaignContact.attempts == v.attempts)
                & (CampaignContact.state != CALLING)
            )
            .returning(CampaignContact.id)
            .tuples()
            .execute()
        )
        given += len(list(moved))
    return given


def describe(trip: Trip, settings) -> str:
    """The status line of a campaign the route breaker paused."""
    hint = HINTS[trip.reason].format(template=settings.dial_template)
    return f"paused: the {trip.rule} {trip.calls} calls all failed '{trip.reason}' ({hint})"


def trip_breaker(campaign: Campaign, trip: Trip, now: datetime, settings) -> str | None:
    """Pause the campaign, give the run's calls back, and return its status.

    None when the campaign was no longer ACTIVE (an operator or another worker
    moved it first): nothing is given back then.
    """
    # one transaction: nobody sees it PAUSED without its reason (or a tick's status)
    with write_transaction():
        try:
            transition(campaign.id, PAUSED, now)
        except (IllegalTransitionError, StaleStateError):
            return None
        calls = run_of(campaign, trip.reason)
        given = give_back(campaign.id, calls, now)
        Campaign.update(breaker_tripped_at=now).where(Campaign.id == campaign.id).execute()
        status = (describe(trip, settings)
                  + f"; {given} contacts due again, those calls not counted")
        set_status(campaign.id, status, now)
    log.warning("route breaker paused campaign=%s reason=%s rule=%s calls=%d given_back=%d",
                campaign.id, trip.reason, trip.rule, trip.calls, given)
    return status


def pause_dialer(campaign_id: int, status: str, now: datetime) -> bool:
    """Pause an ACTIVE campaign the dialer cannot go on with, ``status`` saying why.

    False when it was no longer ACTIVE (its status is left alone then).
    """
    try:
        transition(campaign_id, PAUSED, now)
    except (IllegalTransitionError, StaleStateError):
        return False
    set_status(campaign_id, status, now)
    log.warning("dialer paused campaign=%s: %s", campaign_id, status)
    return True
