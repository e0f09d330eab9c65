"""Actors on the ``dialing`` queue: the per-campaign tick chain and its watchdog.

The dialer process runs them (``dramatiq tasks -Q dialing --processes 1 --threads 8``,
see the Procfile). The logic lives in
``app.dialer`` and ``app.chains``; these actors only hold the chain together:
claim the turn (a conditional update in the database, never process memory),
run one tick, send the next tick with a delay. A tick that raises is retried
with a backoff; one that keeps raising something other than a database error
pauses its campaign with the error in its status (``TICK_ERRORS_MAX``).
"""

from __future__ import annotations

import logging

import dramatiq
from peewee import InterfaceError, OperationalError
from periodiq import cron

from tasks.broker import DIALING, broker  # noqa: F401  (sets the broker first)
from tasks import refill  # noqa: F401  (its actor shares the dialing queue and workers)

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
from app.db import connection, write_transaction
from app.dialer.breaker import pause_dialer
from app.dialer.readout import set_status
from app.dialer.tick import run_tick
from app.models import ACTIVE
from app.pbx.poolami import get_pool_ami
from app.pbx.errors import PbxError

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
# ticks in a row that raise an error other than the database's before the campaign
# is paused with that error in its status (its data or a bug: retrying forever
# would change nothing)
TICK_ERRORS_MAX = 5
# the database away or locked: every campaign fails alike, and nothing could be recorded
TRANSIENT = (OperationalError, InterfaceError, PbxError)


@dramatiq.actor(queue_name=DIALING, time_limit=120_000, min_backoff=1_000, max_backoff=30_000)
def dial_tick(campaign_id: int, token: str, seq: int = 0, seen: str = "", failures: int = 0,
              errors: int = 0):
    """One tick of one campaign's chain, then the next one, delayed.

    ``failures``: ticks in a row that failed or found the PBX unreachable (the
    backoff); ``errors``: ticks in a row that raised an error other than the
    database's (after ``TICK_ERRORS_MAX`` the campaign is paused).
    """
    settings = get_settings()
    with connection():
        now = utcnow()
        verdict = claim_turn(campaign_id, token, seq, seen, now,
                             tick_lease_seconds(settings.dial_tick_ms / 1000.0, settings))
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
            result = run_tick(campaign_id, now, get_pool_ami(settings), settings)
        except Exception as exc:
            # The chain holds the turn now: keep it alive with a backoff rather
            # than leave a Dramatiq retry that would find the turn taken and
            # stall dialing until the lease runs out.
            failures += 1
            errors = 0 if isinstance(exc, TRANSIENT) else errors + 1
            delay = _tick_failed(campaign_id, held, exc, failures, errors, now, settings)
        else:
            errors = 0
            delay, failures = _tick_done(campaign_id, held, result, failures, now, settings)
        if delay is None:
            return
    dial_tick.send_with_options(
        args=(campaign_id, token, seq + 1, "", failures, errors), delay=int(delay * 1000)
    )


def _backoff(failures: int, settings) -> float:
    return min(MAX_BACKOFF_S, settings.dial_tick_ms / 1000.0 * 2 ** min(failures, 10))


def _tick_done(campaign_id: int, held: str, result, failures: int, now, settings):
    """(delay before the next tick or None to end the chain, failures) after a tick that ran."""
    if result.delay_s is None:
        release_lease(campaign_id, held)
        log.info("tick chain ended campaign=%s status=%r", campaign_id, result.status)
        return None, failures
    delay = result.delay_s
    if result.pbx_error and result.originated == 0:
        failures += 1
        delay = _backoff(failures, settings)
        set_status(campaign_id, f"{result.status} (retry in {delay:.0f}s)", now,
                   wants_capacity=result.wants_capacity, only_in=ACTIVE)
    else:
        failures = 0
    renew_lease(campaign_id, ACTIVE, held, utcnow(), tick_lease_seconds(delay, settings))
    return delay, failures


def _tick_failed(campaign_id: int, held: str, exc: Exception, failures: int, errors: int, now,
                 settings) -> float | None:
    """Record a tick that raised; the delay before the next one, None once the campaign is paused.

    An error that is not the database's (a bug, data the dialer cannot handle)
    pauses the campaign after ``TICK_ERRORS_MAX`` ticks in a row, its status
    naming the error, instead of failing forever.
    """
    delay = _backoff(failures, settings)
    error = f"{type(exc).__name__}: {exc}"
    log.error("tick failed campaign=%s errors=%d retry_in=%.1fs", campaign_id, errors, delay,
              exc_info=exc)
    try:
        if errors >= TICK_ERRORS_MAX:
            # one transaction: nobody sees it PAUSED with no reason yet or the chain still held
            with write_transaction():
                pause_dialer(campaign_id, f"tick failed: {error} — paused after {errors} tries",
                             now)
                release_lease(campaign_id, held)
            return None
        set_status(campaign_id, f"tick failed: {error} (retry in {delay:.0f}s)", now,
                   only_in=ACTIVE)
        renew_lease(campaign_id, ACTIVE, held, utcnow(), tick_lease_seconds(delay, settings))
    except Exception:
        log.exception("could not record the failed tick campaign=%s", campaign_id)
    return delay


@dramatiq.actor(queue_name=DIALING, periodic=cron("* * * * *"), max_retries=0)
def restart_stalled_chains():
    """Every minute: start a tick chain for each ACTIVE campaign whose chain died."""
    with connection():
        ids = [campaign_id for campaign_id, _ in stalled(utcnow(), (ACTIVE,))]
    for campaign_id in ids:
        log.warning("restarting tick chain campaign=%s", campaign_id)
        start_dialing(campaign_id)


def start_dialing(campaign_id: int) -> None:
    """Start a tick chain (a no-op in effect when one is alive: the new one drops), and the
    synthesis of its personalised messages' audio (``tasks.tts``; a no-op without one)."""
    from tasks.tts import start_synthesis

    start_synthesis(campaign_id)
    dial_tick.send(campaign_id, new_token(), 0)

