"""The one live chain of a campaign: a token and a lease on the campaign's row.

A campaign's work runs as a chain of messages: the dialer's tick chain while it
is ACTIVE, then its drain chain (DRAINING), then its finalize chain
(FINALIZING). ``Campaign.tick_token`` names the chain whose turn it is and
``tick_lease_until`` how long that chain may stay silent before a watchdog
starts a new one (``restart_stalled_chains`` for ticks, the expiry scan for the
lifecycle). Every message of a chain carries its token; every write here is
conditional on that token (or, to take a chain over, on its lease having run
out), so two scans, two schedulers, a redelivered message or a rescued chain
next to a late one still leave exactly one chain doing the work.

A drain or finalize chain holds ``token`` itself. A tick chain moves on with
every tick: it holds ``turn(token, seq)``, the turn of its next tick.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from app.config import get_settings
from app.models import ACTIVE, FINISHED, PAUSED, Campaign

# How long a drain or finalize chain may stay silent before the scan starts a
# new one. Drain polls back off to tasks.draining.DRAIN_MAX_BACKOFF_MS (30 s)
# and finalization renews at every step, so a live chain renews well within this.
LEASE_SECONDS = 300

# the states in which whatever chain holds a campaign is its tick chain (the
# lifecycle hands DRAINING and FINALIZING campaigns their own)
TICK_CHAIN_STATES = (ACTIVE, PAUSED, FINISHED)

RUN, WAIT, DROP = "run", "wait", "drop"


def new_token() -> str:
    return secrets.token_hex(8)


def turn(token: str, seq: int) -> str:
    """What ``tick_token`` holds while tick ``seq`` of tick chain ``token`` is due."""
    return f"{token}:{seq}"


def tick_lease_seconds(delay_s: float, settings=None) -> float:
    """How long a tick chain's lease runs: its next delay plus room for a slow tick."""
    settings = settings or get_settings()
    return delay_s + max(10.0, 5 * settings.dial_tick_ms / 1000.0) + settings.ami_timeout


def _lapsed(now):
    return Campaign.tick_lease_until.is_null() | (Campaign.tick_lease_until < now)


def _hand_to(campaign_id: int, state: str, token: str, until, condition, **values) -> bool:
    """Give ``token`` the chain until ``until``, if in ``state`` and ``condition`` holds."""
    where = (Campaign.id == campaign_id) & (Campaign.state == state)
    if condition is not None:
        where &= condition
    updated = (
        Campaign.update(tick_token=token, tick_lease_until=until, **values).where(where).execute()
    )
    return updated == 1


def claim_lease(campaign_id: int, state: str, now, *, force: bool = False) -> str | None:
    """Give a campaign in ``state`` a new chain token; None when it is not ours to take.

    Without ``force`` the current lease must have run out (or never existed);
    ``force`` is for the caller that just won the state transition itself.
    """
    token = new_token()
    until = now + timedelta(seconds=LEASE_SECONDS)
    condition = None if force else _lapsed(now)
    return token if _hand_to(campaign_id, state, token, until, condition, updated_at=now) else None


def claim_turn(campaign_id: int, token: str, seq: int, seen: str, now: datetime,
               lease_s: float) -> str:
    """Try to run tick ``seq`` of tick chain ``token``; return RUN, WAIT or DROP.

    A tick runs when the campaign's tick_token is exactly ``turn(token, seq)``
    (its chain's turn), or is empty, or (for a message that ``seen`` that same
    token earlier) the lease has run out: the chain died. Of two messages with
    the same claim only one wins. A message that lost while the lease is live
    waits for the lease once (WAIT), then drops when the chain has moved on.
    """
    mine = turn(token, seq)
    condition = (Campaign.tick_token == mine) | (Campaign.tick_token == "")
    if seen:
        condition |= (Campaign.tick_token == seen) & (Campaign.tick_lease_until < now)
    else:
        condition |= Campaign.tick_lease_until.is_null()
    until = now + timedelta(seconds=lease_s)
    if _hand_to(campaign_id, ACTIVE, turn(token, seq + 1), until, condition):
        return RUN
    row = Campaign.get_or_none(Campaign.id == campaign_id)
    if row is None:
        return DROP
    if row.state != ACTIVE:
        if row.tick_token == mine:
            release_lease(campaign_id, mine)  # hand the columns to the lifecycle at once
        return DROP
    if seen and row.tick_token != seen:
        return DROP  # the chain moved on: it is alive
    return WAIT


def renew_lease(campaign_id: int, state: str, token: str, now,
                seconds: float = LEASE_SECONDS) -> bool:
    """Extend the lease of the chain holding ``token``; False when the chain is no longer live."""
    updated = (
        Campaign.update(tick_lease_until=now + timedelta(seconds=seconds))
        .where(
            (Campaign.id == campaign_id)
            & (Campaign.state == state)
            & (Campaign.tick_token == token)
        )
        .execute()
    )
    return updated == 1


def release_lease(campaign_id: int, token: str) -> bool:
    """Clear the chain token once its work is done (only if it is still ``token``'s)."""
    updated = (
        Campaign.update(tick_token="", tick_lease_until=None)
        .where((Campaign.id == campaign_id) & (Campaign.tick_token == token))
        .execute()
    )
    return updated == 1


def release_tick_chain(campaign_id: int) -> bool:
    """Release the tick chain of a campaign an operator activated, paused, resumed or finished.

    The next start then runs at once; a tick still queued for the old chain
    finds the campaign not ACTIVE, or loses the race. Once the lifecycle has
    given the campaign a drain chain (DRAINING, in the same transaction as the
    new token), that token stays: the release is conditional on the token read
    while the campaign was still the dialer's.
    """
    row = (
        Campaign.select(Campaign.state, Campaign.tick_token)
        .where(Campaign.id == campaign_id)
        .first()
    )
    if row is None or row.state not in TICK_CHAIN_STATES or not row.tick_token:
        return False
    return release_lease(campaign_id, row.tick_token)


def holder(campaign_id: int):
    """(tick_token, tick_lease_until) as stored now."""
    row = Campaign.get_or_none(Campaign.id == campaign_id)
    if row is None:
        return "", None
    return row.tick_token, row.tick_lease_until


def stalled(now, states) -> list[tuple[int, str]]:
    """(campaign, state) of campaigns in ``states`` whose chain's lease ran out (or never began)."""
    query = Campaign.select(Campaign.id, Campaign.state).where(
        Campaign.state.in_(tuple(states)) & _lapsed(now)
    )
    return list(query.order_by(Campaign.id).tuples())

