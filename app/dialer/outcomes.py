"""What an attempt's events say (its facts) and where its contact goes next.

Pure rules, no database: the fold, the reconciliation and the final results
(``app.finalization``) read the same facts from the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.amd import OUTCOMES as MACHINE_OUTCOMES
from app.amd import machine_next, machine_outcome
from app.amd import settings_of as amd_settings_of
from app.events import (
    ANSWERED,
    ANSWERED_OUTCOME,
    HANGUP,
    INVALID,
    LOST,
    TIMEOUT,
    digit_of,
    failure_reason,
)
from app.models import FINAL, ORIGINATING, PENDING, UP, Campaign

# attempt states without a terminal outcome yet: the call is being set up or is up
IN_FLIGHT = (ORIGINATING, UP)
# outcomes that say the route or the trunk failed, not the person (app.dialer.breaker):
# Reason 0 (no route, no such number, channel unavailable) and 8 (congestion)
BREAKER_REASONS = ("unavailable", "congestion")
# the longest wait the dialer computes with: a delay an older version stored out of
# any range (or a clock far ahead) must not overflow a datetime
MAX_DELAY_S = 366 * 86400


def clamp_delay(seconds) -> int:
    """``seconds`` within 0 .. MAX_DELAY_S (a huge or negative stored delay cannot overflow)."""
    return int(min(max(0, seconds or 0), MAX_DELAY_S))


def retry_delay_s(campaign: Campaign, outcome: str) -> int:
    """Seconds to wait before calling again after ``outcome`` (clamped)."""
    if outcome == "busy":
        return clamp_delay(campaign.retry_busy_s)
    if outcome == "noanswer":
        return clamp_delay(campaign.retry_noanswer_s)
    return clamp_delay(campaign.retry_failed_s)


def is_retryable(campaign: Campaign, outcome: str) -> bool:
    # a lost attempt may never have reached the person: try again while allowed
    return outcome in campaign.retry_outcomes or outcome == LOST


def next_state(campaign: Campaign, number: int, outcome: str, ended_at: datetime):
    """(state, next_attempt_at) of a contact whose attempt ``number`` ended with ``outcome``.

    ``number`` counts the attempts charged to the contact (not those the route
    breaker gave back).
    """
    if outcome in MACHINE_OUTCOMES:  # AMD: the campaign's own retries for machines
        retry, due = machine_next(amd_settings_of(campaign), number, campaign.max_attempts,
                                  outcome, ended_at)
        return (PENDING, due) if retry else (FINAL, ended_at)
    if outcome != ANSWERED_OUTCOME and is_retryable(campaign, outcome) and (
        number < campaign.max_attempts
    ):
        return PENDING, ended_at + timedelta(seconds=retry_delay_s(campaign, outcome))
    return FINAL, ended_at


@dataclass
class AttemptFacts:
    """What the events of one attempt say."""

    answered_at: datetime | None = None
    digit: str = ""
    outcome: str = ""  # "" while no terminal event
    ended_at: datetime | None = None
    hangup_cause: str = ""
    machine: str | None = None  # AMD: machine or machine-message, else None (app.amd)


def facts_of(events) -> AttemptFacts:
    """Fold one attempt's events (any order) into facts."""
    facts = AttemptFacts()
    failure = None
    hangup = None
    names = set()
    for ev in sorted(events, key=lambda e: (e.received_at, e.id)):
        name = ev.name
        names.add(name)
        if name in (ANSWERED, TIMEOUT, INVALID) or digit_of(name) is not None:
            if facts.answered_at is None:
                facts.answered_at = ev.received_at
            digit = digit_of(name)
            if digit is not None:
                facts.digit = digit
        elif name == HANGUP:
            hangup = ev
        else:
            reason = failure_reason(name)
            if reason is not None:
                failure = (reason, ev)
    facts.machine = machine_outcome(names)
    if facts.answered_at is not None and hangup is not None:
        facts.outcome, facts.ended_at = facts.machine or ANSWERED_OUTCOME, hangup.received_at
    elif failure is not None:
        facts.outcome, facts.ended_at = failure[0], failure[1].received_at
    elif hangup is not None:
        # a hangup without any sign of an answer: the call never connected
        facts.outcome, facts.ended_at = "failed", hangup.received_at
    if hangup is not None:
        cause = (hangup.data or {}).get("hangupcause") or ""
        facts.hangup_cause = str(cause)[:8]
    return facts
