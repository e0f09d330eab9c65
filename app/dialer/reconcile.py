"""Reconciliation: in-flight attempts that will never report an end.

An attempt with no terminal event after ring timeout + maximum call length
whose channel the PBX no longer has is closed ``lost`` (retried while attempts
remain: a lost attempt may never have rung), or ``answered`` if it shows a
sign of an answer: the person was reached.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from app.campaigns.states import get_campaign
from app.dialer.folding import close_attempt
from app.dialer.outcomes import IN_FLIGHT, clamp_delay, facts_of
from app.events import ANSWERED_OUTCOME, LOST
from app.models import CallAttempt, CallEvent, Campaign

log = logging.getLogger(__name__)


def overdue_attempts(campaign: Campaign, now: datetime) -> list[CallAttempt]:
    """In-flight attempts older than ring timeout + maximum call length."""
    # clamped: values stored out of range must not overflow the date
    cutoff = now - timedelta(seconds=clamp_delay(campaign.ring_timeout_s + campaign.max_call_s))
    return list(
        CallAttempt.select().where(
            (CallAttempt.campaign == campaign.id)
            & (CallAttempt.state.in_(IN_FLIGHT))
            & (CallAttempt.originated_at < cutoff)
        )
    )


def reconcile(campaign_id: int, now: datetime, live_channel_ids) -> int:
    """Close as ``lost`` the overdue attempts whose channel the PBX no longer has.

    An overdue attempt that shows a sign of an answer but never reported its
    hangup is closed ``answered`` instead: the person was reached.

    ``live_channel_ids``: the call ids the PBX has now (``live_calls``), taken
    BEFORE the fold that preceded this call, so an attempt whose terminal event
    landed in between is folded, not lost. Returns how many were closed lost.
    """
    campaign = get_campaign(campaign_id)
    lost = 0
    for attempt in overdue_attempts(campaign, now):
        if attempt.channel_id in live_channel_ids:
            continue  # still up (a long call): leave it to the PBX
        facts = facts_of(
            CallEvent.select().where(
                (CallEvent.campaign_id == campaign_id)
                & (CallEvent.contact_id == attempt.contact_id)
                & (CallEvent.attempt == attempt.number)
            )
        )
        if facts.outcome:
            close_attempt(campaign, attempt, facts, now)  # its event came late
            continue
        if facts.answered_at is not None:
            # answered (a digit, perhaps), but its hangup report never came and
            # the PBX no longer has the call: the person was reached, so the
            # contact is answered and not called again (the results say so too)
            facts.outcome, facts.ended_at = facts.machine or ANSWERED_OUTCOME, now
            if close_attempt(campaign, attempt, facts, now):
                log.warning(
                    "attempt answered without a hangup report campaign=%s contact=%s "
                    "attempt=%s channel=%s: closed answered",
                    campaign_id, attempt.contact_id, attempt.number, attempt.channel_id,
                )
            continue
        facts.outcome = LOST
        facts.ended_at = now
        if close_attempt(campaign, attempt, facts, now):
            lost += 1
            log.warning(
                "attempt lost campaign=%s contact=%s attempt=%s channel=%s",
                campaign_id, attempt.contact_id, attempt.number, attempt.channel_id,
            )
    return lost
