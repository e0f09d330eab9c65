"""Actors on the ``dialing`` queue: the per-campaign tick chain and its watchdog.

The dialer process runs them (``dramatiq tasks -Q dialing --processes 1 --threads 8``,
see the Procfile). The logic lives in
``app.dialer`` and ``app.chains``; these actors only hold the chain together:
claim the turn (a conditional update in the database, never process memory),
run one tick, send the next tick with a delay.
"""

from __future__ import annotations

import logging

import dramatiq
from periodiq import cron

from tasks.broker import DIALING, broker  # noqa: F401  (sets the broker first)

from app.chains import (
    DROP,
    WAIT,
    claim_turn,
    holder,
    new_token,
    release_lease,
    renew_lease,
    stalled,
    tick_lease_seconds,
    turn,
)
from app.clock import utcnow
from app.config import get_settings
from app.db import connection
from app.dialer.readout import set_status
from app.dialer.tick import run_tick
from app.models import ACTIVE
from app.pbx.ami import get_ami

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


@dramatiq.actor(queue_name=DIALING, time_limit=120_000, min_backoff=1_000, max_backoff=30_000)
def dial_tick(campaign_id: int, token: str, seq: int = 0, seen: str = "", failures: int = 0):
    """One tick of one campaign's chain, then the next one, delayed."""
    settings = get_settings()
    tick_s = settings.dial_tick_ms / 1000.0
    with connection():
        now = utcnow()
        verdict = claim_turn(campaign_id, token, seq, seen, now,
                             tick_lease_seconds(tick_s, settings))
        if verdict == DROP:
            log.debug("tick dropped campaign=%s token=%s seq=%s", campaign_id, token, seq)
            return
        if verdict == WAIT:
            # another chain holds the lease: look again once it has run out
            observed, until = holder(campaign_id)
            wait_s = max(1.0, (until - now).total_seconds() + 1.0) if until else 1.0
            dial_tick.send_with_options(
                args=(campaign_id, token, seq, observed, 0), delay=int(wait_s * 1000)
            )
            return
        held = turn(token, seq + 1)
        try:
            result = run_tick(campaign_id, now, get_ami(), settings)
        except Exception as exc:
            # The chain holds the turn now: keep it alive with a backoff rather
            # than leave a Dramatiq retry that would find the turn taken and
            # stall dialing until the lease runs out.
            failures += 1
            delay = min(MAX_BACKOFF_S, tick_s * 2 ** min(failures, 10))
            log.exception("tick failed campaign=%s retry_in=%.1fs", campaign_id, delay)
            try:
                set_status(campaign_id, f"tick failed: {type(exc).__name__}: {exc} "
                                        f"(retry in {delay:.0f}s)", now)
                lease_s = tick_lease_seconds(delay, settings)
                renew_lease(campaign_id, ACTIVE, held, utcnow(), lease_s)
            except Exception:
                log.exception("could not record the failed tick campaign=%s", campaign_id)
        else:
            if result.delay_s is None:
                release_lease(campaign_id, held)
                log.info("tick chain ended campaign=%s status=%r", campaign_id, result.status)
                return
            delay = result.delay_s
            if result.pbx_error and result.originated == 0:
                failures += 1
                delay = min(MAX_BACKOFF_S, tick_s * 2 ** min(failures, 10))
                set_status(campaign_id, f"{result.status} (retry in {delay:.0f}s)", now,
                           wants_capacity=result.wants_capacity)
            else:
                failures = 0
            renew_lease(campaign_id, ACTIVE, held, utcnow(), tick_lease_seconds(delay, settings))
    dial_tick.send_with_options(
        args=(campaign_id, token, seq + 1, "", failures), delay=int(delay * 1000)
    )


@dramatiq.actor(queue_name=DIALING, periodic=cron("* * * * *"), max_retries=0)
def restart_stalled_chains():
    """Every minute: start a tick chain for each ACTIVE campaign whose chain died."""
    with connection():
        ids = [campaign_id for campaign_id, _ in stalled(utcnow(), (ACTIVE,))]
    for campaign_id in ids:
        log.warning("restarting tick chain campaign=%s", campaign_id)
        start_dialing(campaign_id)


def start_dialing(campaign_id: int) -> None:
    """Start a tick chain (a no-op in effect when one is alive: the new one drops)."""
    dial_tick.send(campaign_id, new_token(), 0)

