"""Due contacts and claims: which contacts a tick calls, taken before any originate.

A claim is a conditional update that bumps the contact's ``attempts`` (still
pending, same attempts, below max_attempts, campaign still ACTIVE), then the
attempt row, whose unique (campaign, contact, number) makes a second claim of
the same call fail; both in one transaction, before the originate, so a crash
after it can only lose a call, never repeat one past max_attempts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN, SQL, Select, Value, fn

from app.callee_hours import due_rows
from app.db import database
from app.dialer.sql import Statement, batches, rows_doc, rows_source
from app.events import DNC
from app.models import (
    ACTIVE,
    CALLING,
    FINAL,
    ORIGINATING,
    PENDING,
    CallAttempt,
    Campaign,
    CampaignContact,
    Contact,
    DoNotCall,
)

log = logging.getLogger(__name__)

DNC_ROUNDS = 5  # due batches per tick that may be entirely do-not-call


@dataclass
class Due:
    cc_id: int
    contact_id: int
    attempts: int
    phone: str
    dnc: bool


@dataclass
class Claim:
    contact_id: int
    number: int
    phone: str
    channel_id: str
    pbx_id: int | None = None  # the pool's PBX it goes to (app.dialer.spread.assign)


def due_contacts(campaign_id: int, now: datetime, limit: int) -> list[Due]:
    """Pending contacts whose next attempt is due, oldest due first (index-driven)."""
    query = (
        CampaignContact.select(
            CampaignContact.id,
            CampaignContact.contact,
            CampaignContact.attempts,
            Contact.phone,
            DoNotCall.id.alias("dnc_id"),
        )
        .join(Contact, on=(CampaignContact.contact == Contact.id))
        .join(DoNotCall, JOIN.LEFT_OUTER, on=(DoNotCall.phone == Contact.phone))
        .where(
            (CampaignContact.campaign == campaign_id)
            & (CampaignContact.state == PENDING)
            & (CampaignContact.next_attempt_at <= now)
            # a personalised message is claimed once its audio is made (app.messages)
            & (CampaignContact.audio_ready == True)  # noqa: E712
        )
        .order_by(CampaignContact.next_attempt_at)
        .limit(limit)
    )
    return [
        Due(cc_id, contact_id, attempts, phone, dnc_id is not None)
        for cc_id, contact_id, attempts, phone, dnc_id in query.tuples()
    ]


def callee_due(campaign: Campaign, now: datetime, limit: int) -> list[Due]:
    """``due_contacts`` of a campaign with callee hours: only those inside their own hours."""
    return [Due(cc_id, contact_id, attempts, phone, dnc_id is not None)
            for cc_id, contact_id, attempts, phone, dnc_id in due_rows(campaign, now, limit)]


def next_due_at(campaign_id: int):
    """When the earliest pending contact falls due (None: nothing pending)."""
    row = (
        CampaignContact.select(CampaignContact.next_attempt_at)
        .where((CampaignContact.campaign == campaign_id) & (CampaignContact.state == PENDING))
        .order_by(CampaignContact.next_attempt_at)
        .first()
    )
    return row.next_attempt_at if row else None


def has_open_contacts(campaign_id: int) -> bool:
    """Any contact still pending or calling."""
    return (
        CampaignContact.select(CampaignContact.id)
        .where(
            (CampaignContact.campaign == campaign_id)
            & (CampaignContact.state.in_((PENDING, CALLING)))
        )
        .limit(1)
        .exists()
    )


def close_without_call(campaign_id: int, due: Due, outcome: str, now: datetime) -> bool:
    """Make a pending contact final without calling it (do-not-call, undialable)."""
    updated = (
        CampaignContact.update(state=FINAL, last_outcome=outcome, updated_at=now)
        .where(
            (CampaignContact.id == due.cc_id)
            & (CampaignContact.state == PENDING)
            & (CampaignContact.attempts == due.attempts)
        )
        .execute()
    )
    if updated == 1:
        log.info("not called campaign=%s contact=%s outcome=%s",
                 campaign_id, due.contact_id, outcome)
    return updated == 1


def claim_due(campaign: Campaign, slots: int, now: datetime, result, assign=None) -> list[Claim]:
    """Claim up to ``slots`` due contacts; do-not-call ones are closed (counted in result.dnc).

    ``assign(claims)``: sets each claim's PBX before its attempt row is written.
    """
    claims = []
    for _ in range(DNC_ROUNDS):
        wanted = slots - len(claims)
        if wanted <= 0:
            break
        dues = (callee_due(campaign, now, wanted) if campaign.callee_window
                else due_contacts(campaign.id, now, wanted))
        callable_ = []
        for due in dues:
            if due.dnc:
                if close_without_call(campaign.id, due, DNC, now):
                    result.dnc += 1
            else:
                callable_.append(due)
        claims.extend(claim(campaign, callable_, now, assign))
        if len(dues) < wanted or not any(d.dnc for d in dues):
            break
    return claims


def claim(campaign: Campaign, dues, now: datetime, assign=None) -> list[Claim]:
    """Claim due contacts for one attempt each, atomically, before any originate.

    Returns the claims won, in the order of ``dues`` (oldest due first).
    """
    if not dues:
        return []
    with database.atomic():
        won = set()
        for batch in batches(dues):
            won.update(_bump_attempts(campaign, batch, now))
        claims = []
        for due in dues:
            if due.cc_id in won:
                number = due.attempts + 1
                channel = CallAttempt.make_channel_id(campaign.id, due.contact_id, number)
                claims.append(Claim(due.contact_id, number, due.phone, channel))
        if assign is not None:
            assign(claims)
        for batch in batches(claims):
            _insert_attempts(campaign, batch, now)
    return claims


BUMP_FIELDS = (CampaignContact.id, CampaignContact.attempts)
INSERT_FIELDS = (CallAttempt.contact, CallAttempt.number, CallAttempt.channel_id,
                 CallAttempt.pbx_id)


def _bump_query(rows, now, campaign_id, max_attempts):
    source, v = rows_source(BUMP_FIELDS, rows)
    # the campaign must still be ACTIVE in the same statement: a pause that
    # commits while this tick runs stops its claims at once
    active = Campaign.select(SQL("1")).where(
        (Campaign.id == campaign_id) & (Campaign.state == ACTIVE)
    )
    return (
        CampaignContact.update(
            state=CALLING, attempts=CampaignContact.attempts + 1, updated_at=now
        )
        .with_cte(source)
        .from_(source)
        .where(
            (CampaignContact.id == v.id)
            & (CampaignContact.state == PENDING)
            & (CampaignContact.attempts == v.attempts)
            # attempts the route breaker gave back count toward no max_attempts
            & (CampaignContact.attempts - CampaignContact.given_back < max_attempts)
            & fn.EXISTS(active)
        )
        .returning(CampaignContact.id)
    )


def _insert_query(rows, campaign_id, originated_at):
    source, v = rows_source(INSERT_FIELDS, rows)
    selected = Select([source], [
        Value(campaign_id), v.contact, v.number, Value(ORIGINATING), v.channel_id,
        Value(originated_at), Value(""), Value(""), Value(""), v.pbx_id,
    ]).with_cte(source)
    fields = [
        CallAttempt.campaign, CallAttempt.contact, CallAttempt.number, CallAttempt.state,
        CallAttempt.channel_id, CallAttempt.originated_at, CallAttempt.outcome,
        CallAttempt.digit, CallAttempt.hangup_cause, CallAttempt.pbx_id,
    ]
    return CallAttempt.insert_from(selected, fields).as_rowcount()


BUMP = Statement(_bump_query)
INSERT = Statement(_insert_query)


def _bump_attempts(campaign: Campaign, dues, now) -> list[int]:
    """Bump the attempts of the dues still claimable; return their campaign_contact ids."""
    cursor = BUMP.run(
        rows=rows_doc(BUMP_FIELDS, [(d.cc_id, d.attempts) for d in dues]),
        now=CampaignContact.updated_at.db_value(now),
        campaign_id=campaign.id, max_attempts=campaign.max_attempts,
    )
    return [cc_id for (cc_id,) in cursor.fetchall()]


def _insert_attempts(campaign: Campaign, claims, now) -> None:
    """The attempt rows of ``claims`` (ORIGINATING), one statement."""
    INSERT.run(
        rows=rows_doc(INSERT_FIELDS, [(c.contact_id, c.number, c.channel_id, c.pbx_id)
                                      for c in claims]),
        campaign_id=campaign.id, originated_at=CallAttempt.originated_at.db_value(now),
    )


def unclaim(campaign_id: int, claim_: Claim, now: datetime) -> bool:
    """Give back a claim whose originate never reached the PBX (the call did not happen)."""
    with database.atomic():
        deleted = (
            CallAttempt.delete()
            .where(
                (CallAttempt.campaign == campaign_id)
                & (CallAttempt.contact == claim_.contact_id)
                & (CallAttempt.number == claim_.number)
                & (CallAttempt.state == ORIGINATING)
            )
            .execute()
        )
        if deleted != 1:
            return False
        (
            CampaignContact.update(
                state=PENDING, attempts=CampaignContact.attempts - 1, updated_at=now
            )
            .where(
                (CampaignContact.campaign == campaign_id)
                & (CampaignContact.contact == claim_.contact_id)
                & (CampaignContact.state == CALLING)
                & (CampaignContact.attempts == claim_.number)
            )
            .execute()
        )
    return True
