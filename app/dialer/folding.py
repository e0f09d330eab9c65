"""The fold: the events of in-flight attempts become attempt and contact state.

Events come from the AGI daemons, or the AMI UserEvent recorder
(``python -m agi.amievents``). Answered + hangup: the contact is final; a
retryable failure: pending again after that outcome's delay while attempts
remain; anything else: final with the last outcome. A call that was up when the
route breaker tripped and fails the breaker's way is given back
(``app.dialer.breaker``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from app.callbacks import callback_menu, callback_state
from app.campaigns.states import get_campaign
from app.db import database
from app.dialer.outcomes import BREAKER_REASONS, IN_FLIGHT, AttemptFacts, facts_of, next_state
from app.dialer.sql import Statement, batches, rows_doc, rows_source
from app.events import ANSWERED_OUTCOME
from app.models import (
    CALLING,
    DONE,
    FINAL,
    ORIGINATING,
    PENDING,
    UP,
    CallAttempt,
    CallEvent,
    Campaign,
    CampaignContact,
)
from app.outbound.outbox import record_contacts_finished

log = logging.getLogger(__name__)


def fold_events(campaign_id: int, now: datetime, campaign: Campaign | None = None) -> int:
    """Fold the events of the campaign's in-flight attempts; return how many attempts ended."""
    campaign = campaign or get_campaign(campaign_id)
    attempts = in_flight_attempts(campaign_id)
    if not attempts:
        return 0
    closes, ups = [], []
    for key, evs in events_of(campaign_id, attempts).items():
        attempt = attempts[key]
        facts = facts_of(evs)
        if facts.outcome:
            closes.append((attempt, facts))
        elif facts.answered_at is not None and attempt.state == ORIGINATING:
            ups.append((attempt.id, facts.answered_at))
    if not closes and not ups:
        return 0
    # One transaction (one commit, one fsync) and one statement per kind for
    # the whole fold. Every update is conditional, so a second fold of the same
    # events (the lifecycle's, a redelivered tick's) changes nothing: the
    # attempt is no longer open and the contact no longer calling on it.
    with database.atomic():
        finished = []
        for batch in batches(closes):
            close(batch, now)
            finished += settle(campaign, batch, now)
        for batch in batches(ups):
            mark_up(batch)
        record_contacts_finished(campaign_id, finished, now)  # one outbox row, for webhooks
    if closes:
        log.info("folded campaign=%s ended=%d in_flight=%d", campaign_id, len(closes),
                 len(attempts))
    return len(closes)


def in_flight_attempts(campaign_id: int) -> dict:
    """(contact id, attempt number) -> the campaign's in-flight attempt (id, state)."""
    rows = (
        CallAttempt.select(
            CallAttempt.id, CallAttempt.contact.alias("contact_id"), CallAttempt.number,
            CallAttempt.state, CallAttempt.originated_at,
        )
        .where((CallAttempt.campaign == campaign_id) & (CallAttempt.state.in_(IN_FLIGHT)))
        .namedtuples()
    )
    return {(a.contact_id, a.number): a for a in rows}


def events_of(campaign_id: int, attempts: dict) -> dict:
    """(contact id, attempt number) -> the events of that attempt, for the given attempts."""
    events = defaultdict(list)
    contact_ids = sorted({contact_id for contact_id, _ in attempts})
    for chunk in batches(contact_ids, 500):
        for ev in (
            CallEvent.select(
                CallEvent.id, CallEvent.contact_id, CallEvent.attempt, CallEvent.name,
                CallEvent.received_at, CallEvent.data,
            )
            .where((CallEvent.campaign_id == campaign_id) & (CallEvent.contact_id.in_(chunk)))
            .namedtuples()
        ):
            key = (ev.contact_id, ev.attempt)
            if key in attempts:
                events[key].append(ev)
    return events


CLOSE_FIELDS = (CallAttempt.id, CallAttempt.outcome, CallAttempt.digit, CallAttempt.answered_at,
                CallAttempt.finished_at, CallAttempt.hangup_cause)
SETTLE_FIELDS = (CampaignContact.contact, CampaignContact.attempts, CampaignContact.state,
                 CampaignContact.next_attempt_at, CampaignContact.last_outcome,
                 CampaignContact.given_back)
UP_FIELDS = (CallAttempt.id, CallAttempt.answered_at)


def _close_query(rows):
    source, v = rows_source(CLOSE_FIELDS, rows)
    return (
        CallAttempt.update(
            state=DONE, outcome=v.outcome, digit=v.digit, answered_at=v.answered_at,
            finished_at=v.finished_at, hangup_cause=v.hangup_cause,
        )
        .with_cte(source)
        .from_(source)
        .where((CallAttempt.id == v.id) & (CallAttempt.state != DONE))
        .returning(CallAttempt.id)
    )


def _settle_query(rows, now, campaign_id):
    source, v = rows_source(SETTLE_FIELDS, rows)
    return (
        CampaignContact.update(
            state=v.state, next_attempt_at=v.next_attempt_at, last_outcome=v.last_outcome,
            given_back=v.given_back, updated_at=now,
        )
        .with_cte(source)
        .from_(source)
        .where(
            (CampaignContact.campaign == campaign_id)
            & (CampaignContact.contact == v.contact)
            & (CampaignContact.state == CALLING)
            & (CampaignContact.attempts == v.attempts)  # still on that attempt
        )
        .returning(CampaignContact.contact)
    )


def _up_query(rows):
    source, v = rows_source(UP_FIELDS, rows)
    return (
        CallAttempt.update(state=UP, answered_at=v.answered_at)
        .with_cte(source)
        .from_(source)
        .where((CallAttempt.id == v.id) & (CallAttempt.state == ORIGINATING))
    )


CLOSE = Statement(_close_query)
SETTLE = Statement(_settle_query)
MARK_UP = Statement(_up_query)


def close(closes, now) -> int:
    """Close attempts with their facts, one statement; return how many were still open.

    ``closes``: (attempt, facts) pairs; an attempt is anything with an id.
    (Counted by RETURNING: Python's sqlite3 has no row count for a statement
    that starts with WITH.)
    """
    rows = [
        (attempt.id, facts.outcome, facts.digit, facts.answered_at, facts.ended_at or now,
         facts.hangup_cause)
        for attempt, facts in closes
    ]
    return len(CLOSE.run(rows=rows_doc(CLOSE_FIELDS, rows)).fetchall())


def given_back_of(campaign_id: int, contact_ids) -> dict:
    """contact id -> attempts the route breaker gave back, for those of ``contact_ids`` with any."""
    query = CampaignContact.select(CampaignContact.contact, CampaignContact.given_back).where(
        (CampaignContact.campaign == campaign_id)
        & CampaignContact.contact.in_(sorted(set(contact_ids)))
        & (CampaignContact.given_back > 0)
    )
    return dict(query.tuples())


def settle(campaign: Campaign, closes, now) -> list[dict]:
    """Move the contacts of closed attempts on (final, or pending after a delay), one statement.

    Returns the contacts this call made final, as ``contact.finished`` reports them.

    ``closes``: (attempt, facts) pairs; an attempt has contact_id, number and
    originated_at. Only a contact still calling on that attempt moves: another
    worker may have settled it first (and reports it).
    """
    tripped = campaign.breaker_tripped_at
    # only a campaign whose breaker ever tripped has attempts given back
    given = given_back_of(campaign.id, [a.contact_id for a, _ in closes]) if tripped else {}
    callbacks = callback_menu(campaign.id)  # digit -> delay of its call-back options
    rows = []
    for attempt, facts in closes:
        back = given.get(attempt.contact_id, 0)
        ended = facts.ended_at or now
        if tripped and facts.outcome in BREAKER_REASONS and attempt.originated_at < tripped:
            # up when the breaker tripped, and failed its way: the route's fault, given back
            state, due, back = PENDING, ended, back + 1
        elif facts.outcome == ANSWERED_OUTCOME and facts.digit in callbacks:
            state, due = callback_state(campaign, attempt.number - back, callbacks[facts.digit],
                                        ended)
        else:
            state, due = next_state(campaign, attempt.number - back, facts.outcome, ended)
        rows.append((attempt.contact_id, attempt.number, state, due, facts.outcome, back))
    moved = {contact for (contact,) in SETTLE.run(
        rows=rows_doc(SETTLE_FIELDS, rows), now=CampaignContact.updated_at.db_value(now),
        campaign_id=campaign.id).fetchall()}
    return [{"contact_id": contact, "attempts": number, "outcome": outcome,
             "finished_at": now.isoformat()}
            for contact, number, state, _, outcome, _ in rows
            if state == FINAL and contact in moved]


def mark_up(ups) -> None:
    """Mark answered attempts up, one statement; ``ups``: (attempt id, answered at) pairs."""
    MARK_UP.run(rows=rows_doc(UP_FIELDS, ups))


def close_attempt(campaign: Campaign, attempt, facts: AttemptFacts, now) -> bool:
    """Close one attempt with its outcome and settle its contact, in one transaction.

    ``attempt``: anything with id, contact_id, number and originated_at. False
    when another worker closed it first.
    """
    with database.atomic():
        if close([(attempt, facts)], now) != 1:
            return False
        finished = settle(campaign, [(attempt, facts)], now)
        record_contacts_finished(campaign.id, finished, now)
    return True
