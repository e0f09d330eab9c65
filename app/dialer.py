"""The dialer: one tick of one campaign, as plain functions over the database and AMI.

A tick (``run_tick``) does, in order:

1. snapshot the PBX's live calls (one ``CoreShowChannels``, asked before the
   fold and read after it); AMI down or refusing: fold only, claim nothing,
   status ``PBX unreachable``;
2. ``fold_events``: turn the new CallEvent rows of in-flight attempts (from the
   AGI daemons, or the AMI UserEvent recorder ``python -m agi.amievents``) into
   attempt and contact state (answered -> final; a retryable failure -> pending
   again after that outcome's delay while attempts remain; else final);
3. ``reconcile``: an attempt with no terminal event after ring timeout +
   maximum call length whose channel the PBX no longer has is closed ``lost``
   (``answered`` if it shows a sign of an answer);
4. pace: live = max(PBX calls with the campaign's account code, attempts in
   flight in the DB); free = max_channels - live, capped by the campaign's fair
   share of GLOBAL_MAX_CHANNELS and of ORIGINATES_PER_SECOND;
5. pick due contacts (index campaign, state, next_attempt_at) inside the call
   window; do-not-call numbers are closed ``dnc`` instead;
6. ``claim``: a conditional update that bumps ``attempts`` and inserts the
   attempt row (unique campaign, contact, number) in one transaction, BEFORE the
   originate, so a crash after it can only lose a call, never repeat one past
   max_attempts;
7. originate (pipelined, ``Async: true``); a claim whose originate was never
   sent or was refused is given back;
8. write the campaign's dialer status.

The tick chain (one per campaign) is guarded by ``acquire_tick``: a conditional
update on the campaign's ``tick_token`` / ``tick_lease_until``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from peewee import JOIN, fn

from app.campaigns import get_campaign, transition
from app.config import get_settings
from app.db import database, is_postgres
from app.errors import IllegalTransitionError, StaleStateError
from app.events import (
    ANSWERED,
    ANSWERED_OUTCOME,
    DNC,
    HANGUP,
    INVALID,
    LOST,
    TIMEOUT,
    digit_of,
    failure_reason,
)
from app.models import (
    ACTIVE,
    CALLING,
    DIALPLAN_STATES,
    DONE,
    FINAL,
    FINISHED,
    ORIGINATING,
    PAUSED,
    PENDING,
    UP,
    CallAttempt,
    CallEvent,
    Campaign,
    CampaignContact,
    Contact,
    DoNotCall,
)
from app.pbx.errors import AmiActionError, DialplanError, PbxError
from app.windows import campaign_opening

log = logging.getLogger(__name__)

UTC = timezone.utc
IN_FLIGHT = (ORIGINATING, UP)
# statuses of campaigns that want capacity (for the fair share of the global caps)
HUNGRY_PREFIXES = ("dialing", "channel cap", "global", "rate")
# a tick never waits longer than this, so pause/resume/new events are seen
MAX_IDLE_S = 30.0
DNC_ROUNDS = 5  # due batches per tick that may be entirely do-not-call
STATUS_MAX = 255


# --- outcomes -------------------------------------------------------------------


def retry_delay_s(campaign: Campaign, outcome: str) -> int:
    """Seconds to wait before calling again after ``outcome``."""
    if outcome == "busy":
        return campaign.retry_busy_s
    if outcome == "noanswer":
        return campaign.retry_noanswer_s
    return campaign.retry_failed_s


def is_retryable(campaign: Campaign, outcome: str) -> bool:
    # a lost attempt may never have reached the person: try again while allowed
    return outcome in campaign.retry_outcomes or outcome == LOST


def next_state(campaign: Campaign, number: int, outcome: str, ended_at: datetime):
    """(state, next_attempt_at) of a contact whose attempt ``number`` ended with ``outcome``."""
    if outcome != ANSWERED_OUTCOME and is_retryable(campaign, outcome) and (
        number < campaign.max_attempts
    ):
        return PENDING, ended_at + timedelta(seconds=retry_delay_s(campaign, outcome))
    return FINAL, ended_at


# The per-call statements of a tick are plain SQL run through the cursor: peewee
# builds each query expression in ~1 ms of Python, which at hundreds of calls
# per tick cost more than the database work itself.
def _sql(db, text):
    return text.replace("?", db.param)


def _dt(value):
    """An aware datetime as the UTC fields store it."""
    return CallAttempt.originated_at.db_value(value) if value is not None else None


# PostgreSQL: one statement per batch (psycopg2's executemany is one round trip
# per row). Each is the same conditional update as its SQLite twin, joined to
# a VALUES list.
PG_CLOSE_SQL = (
    "UPDATE call_attempt AS a SET state = %s, outcome = v.outcome, digit = v.digit, "
    "answered_at = v.answered_at, finished_at = v.finished_at, hangup_cause = v.cause "
    "FROM (VALUES %s) AS v(id, outcome, digit, answered_at, finished_at, cause) "
    "WHERE a.id = v.id AND a.state <> %s"
)
PG_CLOSE_TEMPLATE = "(%s, %s, %s, %s::timestamp, %s::timestamp, %s)"
PG_SETTLE_SQL = (
    "UPDATE campaign_contact AS c SET state = v.state, next_attempt_at = v.due, "
    "last_outcome = v.outcome, updated_at = v.now FROM (VALUES %s) "
    "AS v(state, due, outcome, now, campaign_id, contact_id, number) "
    "WHERE c.campaign_id = v.campaign_id AND c.contact_id = v.contact_id "
    "AND c.state = %s AND c.attempts = v.number"
)
PG_SETTLE_TEMPLATE = "(%s, %s::timestamp, %s, %s::timestamp, %s, %s, %s)"
PG_UP_SQL = (
    "UPDATE call_attempt AS a SET state = %s, answered_at = v.answered_at "
    "FROM (VALUES %s) AS v(id, answered_at) WHERE a.id = v.id AND a.state = %s"
)
PG_CLAIM_SQL = (
    "UPDATE campaign_contact AS c SET state = %s, attempts = c.attempts + 1, updated_at = %s "
    "FROM (VALUES %s) AS v(id, attempts) WHERE c.id = v.id AND c.state = %s "
    "AND c.attempts = v.attempts AND c.attempts < %s "
    "AND EXISTS (SELECT 1 FROM campaign WHERE id = %s AND state = %s) RETURNING c.id"
)


def _values(cursor, sql, rows, template=None, before=(), after=(), fetch=False):
    """psycopg2 execute_values with fixed parameters before and after the VALUES list."""
    from psycopg2.extras import execute_values

    # execute_values fills only the VALUES %s; render the fixed ones first
    fixed = sql.replace("%s", "\x00")
    fixed = fixed.replace("VALUES \x00", "VALUES %s", 1)
    parts = fixed.split("\x00")
    params = list(before) + list(after)
    rendered = parts[0]
    for part, value in zip(parts[1:], params):
        rendered += cursor.mogrify("%s", (value,)).decode() + part
    rendered = rendered.replace("%", "%%").replace("VALUES %%s", "VALUES %s")
    return execute_values(cursor, rendered, rows, template=template, page_size=len(rows) or 1,
                          fetch=fetch)


CLOSE_SQL = (
    "UPDATE call_attempt SET state = ?, outcome = ?, digit = ?, answered_at = ?, "
    "finished_at = ?, hangup_cause = ? WHERE id = ? AND state <> ?"
)
SETTLE_SQL = (
    "UPDATE campaign_contact SET state = ?, next_attempt_at = ?, last_outcome = ?, "
    "updated_at = ? WHERE campaign_id = ? AND contact_id = ? AND state = ? AND attempts = ?"
)


def settle_contact(campaign: Campaign, contact_id: int, number: int, outcome: str,
                   ended_at: datetime, now: datetime) -> str:
    """Move a calling contact on after attempt ``number`` ended with ``outcome``.

    Returns the contact's new state ("" when it was not calling on that attempt:
    another worker settled it first).
    """
    state, due = next_state(campaign, number, outcome, ended_at)
    db = database.obj
    cursor = db.execute_sql(
        _sql(db, SETTLE_SQL),
        (state, _dt(due), outcome, _dt(now), campaign.id, contact_id, CALLING, number),
    )
    return state if cursor.rowcount == 1 else ""


@dataclass
class AttemptFacts:
    """What the events of one attempt say."""

    answered_at: datetime | None = None
    digit: str = ""
    outcome: str = ""  # "" while no terminal event
    ended_at: datetime | None = None
    hangup_cause: str = ""


def facts_of(events) -> AttemptFacts:
    """Fold one attempt's events (any order) into facts."""
    facts = AttemptFacts()
    failure = None
    hangup = None
    for ev in sorted(events, key=lambda e: (e.received_at, e.id)):
        name = ev.name
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
    if facts.answered_at is not None and hangup is not None:
        facts.outcome, facts.ended_at = ANSWERED_OUTCOME, hangup.received_at
    elif failure is not None:
        facts.outcome, facts.ended_at = failure[0], failure[1].received_at
    elif hangup is not None:
        # a hangup without any sign of an answer: the call never connected
        facts.outcome, facts.ended_at = "failed", hangup.received_at
    if hangup is not None:
        cause = (hangup.data or {}).get("hangupcause") or ""
        facts.hangup_cause = str(cause)[:8]
    return facts


def fold_events(campaign_id: int, now: datetime, campaign: Campaign | None = None) -> int:
    """Fold the events of the campaign's in-flight attempts; return how many attempts ended."""
    campaign = campaign or get_campaign(campaign_id)
    attempts = list(
        CallAttempt.select(
            CallAttempt.id, CallAttempt.contact.alias("contact_id"), CallAttempt.number,
            CallAttempt.state,
        )
        .where((CallAttempt.campaign == campaign_id) & (CallAttempt.state.in_(IN_FLIGHT)))
        .namedtuples()
    )
    if not attempts:
        return 0
    by_key = {(a.contact_id, a.number): a for a in attempts}
    events = defaultdict(list)
    contact_ids = sorted({a.contact_id for a in attempts})
    for chunk in _chunks(contact_ids, 500):
        for ev in (
            CallEvent.select(
                CallEvent.id, CallEvent.contact_id, CallEvent.attempt, CallEvent.name,
                CallEvent.received_at, CallEvent.data,
            )
            .where((CallEvent.campaign_id == campaign_id) & (CallEvent.contact_id.in_(chunk)))
            .namedtuples()
        ):
            key = (ev.contact_id, ev.attempt)
            if key in by_key:
                events[key].append(ev)
    closes, settles, ups = [], [], []
    for key, evs in events.items():
        attempt = by_key[key]
        facts = facts_of(evs)
        if facts.outcome:
            ended_at = facts.ended_at or now
            closes.append((DONE, facts.outcome, facts.digit, _dt(facts.answered_at),
                           _dt(ended_at), facts.hangup_cause, attempt.id, DONE))
            state, due = next_state(campaign, attempt.number, facts.outcome, ended_at)
            settles.append((state, _dt(due), facts.outcome, _dt(now), campaign.id,
                            attempt.contact_id, CALLING, attempt.number))
        elif facts.answered_at is not None and attempt.state == ORIGINATING:
            ups.append((UP, _dt(facts.answered_at), attempt.id, ORIGINATING))
    if not closes and not ups:
        return 0
    db = database.obj
    # One transaction (one commit, one fsync) and one statement per kind for
    # the whole fold. Every update is conditional, so a second fold of the same
    # events (the lifecycle's, a redelivered tick's) changes nothing: the
    # attempt is no longer open and the contact no longer calling on it.
    with database.atomic():
        cursor = db.cursor()
        if closes and is_postgres(db):
            _values(cursor, PG_CLOSE_SQL, [(c[6], c[1], c[2], c[3], c[4], c[5]) for c in closes],
                    PG_CLOSE_TEMPLATE,
                    before=(DONE,), after=(DONE,))
            _values(cursor, PG_SETTLE_SQL, [(st[0], st[1], st[2], st[3], st[4], st[5], st[7])
                                            for st in settles],
                    PG_SETTLE_TEMPLATE, after=(CALLING,))
        elif closes:
            cursor.executemany(_sql(db, CLOSE_SQL), closes)
            cursor.executemany(_sql(db, SETTLE_SQL), settles)
        if ups and is_postgres(db):
            _values(cursor, PG_UP_SQL, [(u[2], u[1]) for u in ups], "(%s, %s::timestamp)",
                    before=(UP,), after=(ORIGINATING,))
        elif ups:
            cursor.executemany(
                _sql(db, "UPDATE call_attempt SET state = ?, answered_at = ? "
                         "WHERE id = ? AND state = ?"),
                ups,
            )
    ended = len(closes)
    if ended:
        log.info("folded campaign=%s ended=%d in_flight=%d", campaign_id, ended, len(attempts))
    return ended


def close_attempt(campaign: Campaign, attempt, facts: AttemptFacts, now) -> bool:
    """Close one attempt with its outcome and settle its contact, in one transaction.

    ``attempt``: anything with id, contact_id and number.
    """
    with database.atomic():
        return _close(campaign, attempt, facts, now)


def _close(campaign, attempt, facts, now) -> bool:
    # inside the caller's transaction
    db = database.obj
    cursor = db.execute_sql(
        _sql(db, CLOSE_SQL),
        (DONE, facts.outcome, facts.digit, _dt(facts.answered_at),
         _dt(facts.ended_at or now), facts.hangup_cause, attempt.id, DONE),
    )
    if cursor.rowcount != 1:
        return False  # another worker closed it first
    settle_contact(
        campaign, attempt.contact_id, attempt.number, facts.outcome, facts.ended_at or now, now
    )
    return True


def _chunks(items, size):
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- reconciliation ------------------------------------------------------------


def overdue_attempts(campaign: Campaign, now: datetime) -> list[CallAttempt]:
    """In-flight attempts older than ring timeout + maximum call length."""
    cutoff = now - timedelta(seconds=campaign.ring_timeout_s + campaign.max_call_s)
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
            facts.outcome, facts.ended_at = ANSWERED_OUTCOME, now
            if close_attempt(campaign, attempt, facts, now):
                log.warning(
                    "attempt answered without a hangup report campaign=%s contact=%s "
                    "attempt=%s channel=%s: closed answered",
                    campaign_id, attempt.contact_id, attempt.number, attempt.channel_id,
                )
            continue
        facts.outcome = LOST
        facts.ended_at = now
        ok = close_attempt(campaign, attempt, facts, now)
        if ok:
            lost += 1
            log.warning(
                "attempt lost campaign=%s contact=%s attempt=%s channel=%s",
                campaign_id, attempt.contact_id, attempt.number, attempt.channel_id,
            )
    return lost


# --- live calls and pacing -------------------------------------------------------


@dataclass
class PbxSnapshot:
    calls_by_account: dict = field(default_factory=dict)  # account code -> live calls
    call_ids: set = field(default_factory=set)  # ChannelIds of live calls


def pbx_snapshot(ami, timeout=None) -> PbxSnapshot:
    """One CoreShowChannels: live calls per account code and the set of call ids.

    Raises:
        PbxError: AMI unreachable, refusing or timing out.
    """
    return snapshot_of(ami.core_show_channels(timeout))


def snapshot_of(channel_events) -> PbxSnapshot:
    """A PbxSnapshot from CoreShowChannel events."""
    snap = PbxSnapshot()
    per_account = defaultdict(set)
    for ev in channel_events:
        # both halves of a Local channel are one call: Uniqueid "<ChannelId>;2"
        call_id = (ev.get("Uniqueid", "") or "").split(";")[0]
        per_account[ev.get("AccountCode", "") or ""].add(call_id)
        snap.call_ids.add(call_id)
    snap.calls_by_account = {code: len(ids) for code, ids in per_account.items()}
    return snap


def in_flight_count(campaign_ids) -> int:
    """Attempts without a terminal outcome, over the given campaigns."""
    ids = list(campaign_ids)
    if not ids:
        return 0
    return (
        CallAttempt.select()
        .where((CallAttempt.campaign.in_(ids)) & (CallAttempt.state.in_(IN_FLIGHT)))
        .count()
    )


def live_calls(campaign: Campaign, snapshot: PbxSnapshot | None) -> int:
    """max(PBX calls with the campaign's account code, attempts in flight in the DB)."""
    db_count = in_flight_count([campaign.id])
    pbx_count = snapshot.calls_by_account.get(campaign.account_code, 0) if snapshot else 0
    return max(db_count, pbx_count)


@dataclass
class Budget:
    slots: int
    reason: str  # why slots is what it is, for the status line
    live: int
    global_live: int | None = None


def fair_share(total: int, campaign: Campaign, hungry) -> int:
    """``campaign``'s share of ``total`` by weight among the hungry campaigns (>= 1).

    Rounded down, so the shares of campaigns that all want capacity never add
    up to more than ``total``.
    """
    weights = {c.id: max(1, c.weight) for c in hungry}
    weights[campaign.id] = max(1, campaign.weight)
    return max(1, math.floor(total * weights[campaign.id] / sum(weights.values())))


def hungry_campaigns(now: datetime) -> list[Campaign]:
    """ACTIVE campaigns whose last status says they want capacity."""
    rows = Campaign.select(Campaign.id, Campaign.weight, Campaign.dialer_status).where(
        Campaign.state == ACTIVE
    )
    return [c for c in rows if c.dialer_status.startswith(HUNGRY_PREFIXES)]


def budget(campaign: Campaign, snapshot: PbxSnapshot | None, now: datetime, settings) -> Budget:
    """How many calls this tick may originate, and what limits it."""
    live = live_calls(campaign, snapshot)
    slots = campaign.max_channels - live
    reason = "channel cap"
    if slots <= 0:
        return Budget(0, "channel cap", live)
    hungry = None
    global_live = None
    if settings.global_max_channels:
        hungry = hungry_campaigns(now)
        busy_ids = [
            c.id for c in Campaign.select(Campaign.id).where(Campaign.state.in_(DIALPLAN_STATES))
        ]
        db_global = in_flight_count(busy_ids)
        pbx_global = 0
        if snapshot is not None:
            pbx_global = sum(
                n for code, n in snapshot.calls_by_account.items() if code.startswith("campaign-")
            )
        global_live = max(db_global, pbx_global)
        free_global = settings.global_max_channels - global_live
        share_free = fair_share(settings.global_max_channels, campaign, hungry) - live
        cap = min(free_global, share_free)
        if cap < slots:
            slots, reason = cap, "global channel cap"
    if settings.originates_per_second:
        if hungry is None:
            hungry = hungry_campaigns(now)
        tick_s = settings.dial_tick_ms / 1000.0
        per_tick = fair_share(
            max(1, math.floor(settings.originates_per_second * tick_s)), campaign, hungry
        )
        if per_tick < slots:
            slots, reason = per_tick, "rate limit"
    return Budget(max(0, slots), reason, live, global_live)


# --- due contacts and claims -------------------------------------------------------


@dataclass
class Due:
    cc_id: int
    contact_id: int
    attempts: int
    phone: str
    dnc: bool


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
        )
        .order_by(CampaignContact.next_attempt_at)
        .limit(limit)
    )
    return [
        Due(cc_id, contact_id, attempts, phone, dnc_id is not None)
        for cc_id, contact_id, attempts, phone, dnc_id in query.tuples()
    ]


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
        log.info("not called campaign=%s contact=%s outcome=%s", campaign_id, due.contact_id, outcome)
    return updated == 1


@dataclass
class Claim:
    contact_id: int
    number: int
    phone: str
    channel_id: str


def claim(campaign: Campaign, dues, now: datetime) -> list[Claim]:
    """Claim due contacts for one attempt each, atomically, before any originate.

    Per contact: a conditional update (still pending, same attempts, attempts
    below max) that bumps attempts, then the attempt row, whose unique
    (campaign, contact, number) makes a second claim of the same call fail.
    """
    db = database.obj
    # the campaign must still be ACTIVE in the same statement: a pause that
    # commits while this tick runs stops its claims at once
    bump = _sql(db, "UPDATE campaign_contact SET state = ?, attempts = attempts + 1, "
                    "updated_at = ? WHERE id = ? AND state = ? AND attempts = ? AND attempts < ? "
                    "AND EXISTS (SELECT 1 FROM campaign WHERE id = ? AND state = ?)")
    insert = _sql(db, "INSERT INTO call_attempt (campaign_id, contact_id, number, state, "
                      "channel_id, originated_at, outcome, digit, hangup_cause) "
                      "VALUES (?, ?, ?, ?, ?, ?, '', '', '')")
    stamp = _dt(now)
    claims = []
    if is_postgres(db) and dues:
        return _claim_pg(campaign, dues, stamp, db)
    with database.atomic():
        cursor = db.cursor()
        for due in dues:
            cursor.execute(
                bump,
                (CALLING, stamp, due.cc_id, PENDING, due.attempts, campaign.max_attempts,
                 campaign.id, ACTIVE),
            )
            if cursor.rowcount != 1:
                continue  # another worker got there first
            number = due.attempts + 1
            channel = CallAttempt.make_channel_id(campaign.id, due.contact_id, number)
            claims.append(Claim(due.contact_id, number, due.phone, channel))
        if claims:
            cursor.executemany(
                insert,
                [(campaign.id, c.contact_id, c.number, ORIGINATING, c.channel_id, stamp)
                 for c in claims],
            )
    return claims


def _claim_pg(campaign, dues, stamp, db) -> list[Claim]:
    from psycopg2.extras import execute_values

    by_id = {d.cc_id: d for d in dues}
    with database.atomic():
        cursor = db.cursor()
        won = _values(
            cursor, PG_CLAIM_SQL, [(d.cc_id, d.attempts) for d in dues],
            before=(CALLING, stamp), after=(PENDING, campaign.max_attempts, campaign.id, ACTIVE),
            fetch=True,
        )
        claims = []
        for (cc_id,) in sorted(won):
            due = by_id[cc_id]
            number = due.attempts + 1
            channel = CallAttempt.make_channel_id(campaign.id, due.contact_id, number)
            claims.append(Claim(due.contact_id, number, due.phone, channel))
        if claims:
            execute_values(
                cursor,
                "INSERT INTO call_attempt (campaign_id, contact_id, number, state, channel_id, "
                "originated_at, outcome, digit, hangup_cause) VALUES %s",
                [(campaign.id, c.contact_id, c.number, ORIGINATING, c.channel_id, stamp, "", "", "")
                 for c in claims],
                page_size=len(claims),
            )
    # keep the due order (oldest due first)
    order = {d.contact_id: i for i, d in enumerate(dues)}
    return sorted(claims, key=lambda c: order[c.contact_id])


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


def originate_claims(campaign: Campaign, claims, ami, now: datetime, settings) -> tuple[int, str]:
    """Originate every claim (pipelined); give back those that never reached the PBX.

    Returns (originated, error text or ""). A sent originate whose answer does
    not come (timeout, dropped connection) stays in flight: the PBX may have it,
    and reconciliation settles it.
    """
    from app.pbx.dialplan import originate_args

    pending = []
    error = ""
    unsent = []
    for index, c in enumerate(claims):
        try:
            args = originate_args(campaign, c.contact_id, c.number, c.phone, settings)
        except DialplanError as exc:
            log.warning("undialable campaign=%s contact=%s: %s", campaign.id, c.contact_id, exc)
            _close_undialable(campaign, c, now)
            continue
        try:
            pending.append((c, ami.originate(**args, wait=False)))
        except PbxError as exc:
            error = f"{type(exc).__name__}: {exc}"
            unsent = claims[index:]
            break
    originated = 0
    # one deadline for all answers: a hung PBX costs one timeout, not one per call
    deadline = time.monotonic() + settings.ami_timeout
    for c, p in pending:
        try:
            p.result(max(0.001, deadline - time.monotonic()))
            originated += 1
        except AmiActionError as exc:
            # the PBX refused it (e.g. the dialplan is not loaded): no call happened
            error = f"PBX refused originate: {exc.message}"
            unsent.append(c)
        except PbxError as exc:
            error = f"{type(exc).__name__}: {exc}"
            originated += 1  # may be up on the PBX: reconciliation decides
    for c in unsent:
        unclaim(campaign.id, c, now)
    if unsent:
        log.warning(
            "originate failed campaign=%s given_back=%d error=%s", campaign.id, len(unsent), error
        )
    return originated, error


def _close_undialable(campaign, c: Claim, now):
    facts = AttemptFacts(outcome="failed", ended_at=now)
    attempt = CallAttempt.get(
        (CallAttempt.campaign == campaign.id)
        & (CallAttempt.contact == c.contact_id)
        & (CallAttempt.number == c.number)
    )
    # no retry: the number itself is bad
    with database.atomic():
        CallAttempt.update(state=DONE, outcome="failed", finished_at=now).where(
            CallAttempt.id == attempt.id
        ).execute()
        CampaignContact.update(state=FINAL, last_outcome="failed", updated_at=now).where(
            (CampaignContact.campaign == campaign.id)
            & (CampaignContact.contact == c.contact_id)
            & (CampaignContact.state == CALLING)
        ).execute()
    return facts


# --- status ----------------------------------------------------------------------


def set_status(campaign_id: int, status: str, now: datetime) -> None:
    """Record why the campaign is (not) dialing, for the CLI and the back office."""
    Campaign.update(dialer_status=status[:STATUS_MAX], dialer_status_at=now).where(
        Campaign.id == campaign_id
    ).execute()


def _fmt(when: datetime | None) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if when else "?"


# --- the tick ------------------------------------------------------------------------


@dataclass
class TickResult:
    campaign_id: int
    status: str
    delay_s: float | None  # when to tick again; None: stop the chain
    originated: int = 0
    folded: int = 0
    lost: int = 0
    dnc: int = 0
    live: int = 0
    pbx_error: str = ""
    timings: dict = field(default_factory=dict)  # phase -> seconds, for the bench and logs


GLOBAL_LOCK_KEY = 0x43414C4C  # "CALL": the PostgreSQL advisory lock of the global budget


@contextlib.contextmanager
def global_lock(settings):
    """Serialize budget + claim across campaigns while a global cap is set.

    Without it two campaigns ticking at once could each see the same free
    trunk capacity and both take it. SQLite: a write transaction from the
    start (BEGIN IMMEDIATE); PostgreSQL: a transaction-scoped advisory lock.
    """
    if not settings.global_max_channels:
        yield
        return
    db = database.obj
    if is_postgres(db):
        with database.atomic():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (GLOBAL_LOCK_KEY,))
            yield
    else:
        with database.atomic(lock_type="IMMEDIATE"):
            yield


def claim_due(campaign: Campaign, slots: int, now: datetime, result) -> list[Claim]:
    """Claim up to ``slots`` due contacts; do-not-call ones are closed (counted in result.dnc)."""
    claims = []
    for _ in range(DNC_ROUNDS):
        wanted = slots - len(claims)
        if wanted <= 0:
            break
        dues = due_contacts(campaign.id, now, wanted)
        callable_ = []
        for due in dues:
            if due.dnc:
                if close_without_call(campaign.id, due, DNC, now):
                    result.dnc += 1
            else:
                callable_.append(due)
        claims.extend(claim(campaign, callable_, now))
        if len(dues) < wanted or not any(d.dnc for d in dues):
            break
    return claims


def run_tick(campaign_id: int, now: datetime, ami, settings=None) -> TickResult:
    """One dialer tick of one campaign (see the module docstring)."""
    settings = settings or get_settings()
    tick_s = settings.dial_tick_ms / 1000.0
    campaign = get_campaign(campaign_id)
    if campaign.state != ACTIVE:
        status = "paused" if campaign.state == PAUSED else f"not dialing: {campaign.state}"
        set_status(campaign_id, status, now)
        return TickResult(campaign_id, status, None)

    timings = {}
    mark = time.perf_counter()

    def lap(name):
        nonlocal mark
        t = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + t - mark
        mark = t

    snapshot = None
    pbx_error = ""
    # ask the PBX first and fold while it answers: the snapshot is taken before
    # the fold, so a call whose terminal event the fold sees is still counted
    # by the PBX if its channel was up
    try:
        asked = ami.send("CoreShowChannels")
    except PbxError as exc:
        asked = None
        pbx_error = f"{type(exc).__name__}: {exc}"
    folded = fold_events(campaign_id, now, campaign)
    lap("fold")
    if asked is not None:
        try:
            snapshot = snapshot_of(asked.result().events or [])
        except PbxError as exc:
            pbx_error = f"{type(exc).__name__}: {exc}"
    lap("snapshot")
    lost = reconcile(campaign_id, now, snapshot.call_ids) if snapshot is not None else 0
    lap("reconcile")
    result = TickResult(campaign_id, "", tick_s, folded=folded, lost=lost, pbx_error=pbx_error,
                        timings=timings)

    if not has_open_contacts(campaign_id):
        _finish_done(campaign_id, now)
        result.status = "finished: every contact is done"
        result.delay_s = None
        set_status(campaign_id, result.status, now)
        return result

    if pbx_error:
        result.status = f"PBX unreachable: {pbx_error}"
        result.live = in_flight_count([campaign_id])
        set_status(campaign_id, result.status, now)
        return result

    opening = campaign_opening(campaign, now)
    if not opening.open:
        live = live_calls(campaign, snapshot)
        result.live = live
        if opening.next_start is None:
            result.status = f"not dialing: {opening.reason}"
        else:
            result.status = f"outside window until {_fmt(opening.next_start)}"
        result.delay_s = _idle_delay(now, opening.next_start, live, tick_s)
        set_status(campaign_id, result.status, now)
        return result

    with global_lock(settings):
        plan = budget(campaign, snapshot, now, settings)
        lap("budget")
        claims = claim_due(campaign, plan.slots, now, result) if plan.slots > 0 else []
    result.live = plan.live
    if plan.slots <= 0:
        if plan.reason == "channel cap":
            result.status = f"channel cap reached ({plan.live}/{campaign.max_channels} live)"
        else:
            result.status = f"{plan.reason} reached ({plan.live}/{campaign.max_channels} live)"
        set_status(campaign_id, result.status, now)
        return result
    lap("claim")
    if not claims:
        nxt = next_due_at(campaign_id)
        if nxt is None:
            result.status = f"no due contacts ({plan.live} calls up)"
        else:
            result.status = f"no due contacts until {_fmt(nxt)}"
        result.delay_s = _idle_delay(now, nxt, plan.live, tick_s)
        set_status(campaign_id, result.status, now)
        return result

    originated, error = originate_claims(campaign, claims, ami, now, settings)
    lap("originate")
    result.originated = originated
    result.live = plan.live + originated
    if error:
        result.pbx_error = error
        result.status = f"PBX unreachable: {error}" if originated == 0 else (
            f"dialing {originated} ({result.live}/{campaign.max_channels} live); PBX error: {error}"
        )
    else:
        result.status = f"dialing {originated} ({result.live}/{campaign.max_channels} live)"
        if plan.reason != "channel cap" and originated >= plan.slots:
            result.status += f"; {plan.reason}"
    set_status(campaign_id, result.status, now)
    log.info(
        "tick campaign=%s originated=%d folded=%d lost=%d dnc=%d live=%d",
        campaign_id, originated, folded, lost, result.dnc, result.live,
    )
    return result


def _idle_delay(now, until, live, tick_s) -> float:
    """Tick again soon while calls are up (to fold them), else sleep until ``until``."""
    if live > 0 or until is None:
        return tick_s if live > 0 else MAX_IDLE_S
    wait = (until - now).total_seconds()
    return min(MAX_IDLE_S, max(tick_s, wait))


def _finish_done(campaign_id: int, now: datetime) -> None:
    try:
        transition(campaign_id, FINISHED, now)
        log.info("campaign=%s finished: every contact is done", campaign_id)
    except (IllegalTransitionError, StaleStateError):
        pass  # an operator or another worker moved it first


# --- the one tick chain per campaign -------------------------------------------------


def new_chain_token() -> str:
    return secrets.token_hex(8)


def lease_seconds(delay_s: float, settings=None) -> float:
    """How long a tick chain's lease runs: its next delay plus room for a slow tick."""
    settings = settings or get_settings()
    return delay_s + max(10.0, 5 * settings.dial_tick_ms / 1000.0) + settings.ami_timeout


def acquire_tick(campaign_id: int, token: str, seq: int, seen: str, now: datetime,
                 lease_s: float) -> str:
    """Try to run tick ``seq`` of chain ``token``; return "run", "wait" or "drop".

    A tick runs when the campaign's tick_token is exactly ``token:seq`` (its
    chain's turn), or is empty, or (for a message that ``seen`` that same token
    earlier) the lease has run out: the chain died. The update is conditional,
    so of two messages with the same claim only one wins. A message that lost
    while the lease is live waits for the lease once ("wait"), then drops when
    the chain has moved on.
    """
    mine = f"{token}:{seq}"
    nxt = f"{token}:{seq + 1}"
    until = now + timedelta(seconds=lease_s)
    base = (Campaign.id == campaign_id) & (Campaign.state == ACTIVE)
    cond = (Campaign.tick_token == mine) | (Campaign.tick_token == "")
    if seen:
        cond = cond | ((Campaign.tick_token == seen) & (Campaign.tick_lease_until < now))
    else:
        cond = cond | Campaign.tick_lease_until.is_null()
    updated = (
        Campaign.update(tick_token=nxt, tick_lease_until=until).where(base & cond).execute()
    )
    if updated == 1:
        return "run"
    row = Campaign.get_or_none(Campaign.id == campaign_id)
    if row is None:
        return "drop"
    if row.state != ACTIVE:
        if row.tick_token == mine:
            end_chain(campaign_id, token, seq)  # hand the columns to the lifecycle at once
        return "drop"
    if seen and row.tick_token != seen:
        return "drop"  # the chain moved on: it is alive
    return "wait"


def observe_chain(campaign_id: int):
    """(tick_token, tick_lease_until) as stored now."""
    row = Campaign.get_or_none(Campaign.id == campaign_id)
    if row is None:
        return "", None
    return row.tick_token, row.tick_lease_until


def renew_lease(campaign_id: int, token: str, seq: int, now: datetime, lease_s: float) -> bool:
    """Extend the lease of the chain whose turn is ``token:seq``."""
    return (
        Campaign.update(tick_lease_until=now + timedelta(seconds=lease_s))
        .where((Campaign.id == campaign_id) & (Campaign.tick_token == f"{token}:{seq}"))
        .execute()
        == 1
    )


def end_chain(campaign_id: int, token: str, seq: int) -> None:
    """Release the chain (campaign no longer ACTIVE) so the next start runs at once."""
    Campaign.update(tick_token="", tick_lease_until=None).where(
        (Campaign.id == campaign_id) & (Campaign.tick_token == f"{token}:{seq}")
    ).execute()


def chains_to_restart(now: datetime) -> list[int]:
    """ACTIVE campaigns whose tick chain's lease ran out (or never started)."""
    return [
        c.id
        for c in Campaign.select(Campaign.id).where(
            (Campaign.state == ACTIVE)
            & ((Campaign.tick_lease_until.is_null()) | (Campaign.tick_lease_until < now))
        )
    ]


# --- reading -------------------------------------------------------------------------


def counts_by_outcome(campaign_id: int) -> dict:
    """Contacts by state and final outcome, and attempts by outcome."""
    contacts = defaultdict(int)
    for state, outcome, n in (
        CampaignContact.select(
            CampaignContact.state, CampaignContact.last_outcome, fn.COUNT(CampaignContact.id)
        )
        .where(CampaignContact.campaign == campaign_id)
        .group_by(CampaignContact.state, CampaignContact.last_outcome)
        .tuples()
    ):
        key = outcome if state == FINAL else state
        contacts[key] += n
    attempts = defaultdict(int)
    for state, outcome, n in (
        CallAttempt.select(CallAttempt.state, CallAttempt.outcome, fn.COUNT(CallAttempt.id))
        .where(CallAttempt.campaign == campaign_id)
        .group_by(CallAttempt.state, CallAttempt.outcome)
        .tuples()
    ):
        attempts[outcome if state == DONE else state] += n
    return {"contacts": dict(contacts), "attempts": dict(attempts)}


def status(campaign_id: int, ami=None) -> dict:
    """The campaign as the CLI and back office show it."""
    campaign = get_campaign(campaign_id)
    live_db = in_flight_count([campaign_id])
    live_pbx = None
    if ami is not None:
        try:
            live_pbx = pbx_snapshot(ami).calls_by_account.get(campaign.account_code, 0)
        except PbxError:
            live_pbx = None
    counts = counts_by_outcome(campaign_id)
    return {
        "id": campaign.id,
        "name": campaign.name,
        "state": campaign.state,
        "dialer_status": campaign.dialer_status,
        "dialer_status_at": campaign.dialer_status_at.isoformat() if campaign.dialer_status_at else None,
        "max_channels": campaign.max_channels,
        "max_attempts": campaign.max_attempts,
        "live_calls_db": live_db,
        "live_calls_pbx": live_pbx,
        # attempts closed without an outcome from the PBX; zero while the AGI path is healthy
        "lost_attempts": counts["attempts"].get(LOST, 0),
        "contacts": counts["contacts"],
        "attempts": counts["attempts"],
    }

