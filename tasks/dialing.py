"""Actors on the ``dialing`` queue: the per-campaign tick chain and its watchdog.

Run: ``dramatiq tasks.dialing -Q dialing -p 1 -t 8``. The logic lives in
``app.dialer``; these actors only hold the chain together: acquire the turn
(a conditional update in the database, never process memory), run one tick,
send the next tick with a delay.
"""

from __future__ import annotations

import contextlib
import logging

import dramatiq
from periodiq import cron

from app.clock import utcnow
from tasks.broker import DIALING, broker  # noqa: F401  (sets the broker first)

from app.config import get_settings
from app.db import database, init_database
from app.dialer import (
    acquire_tick,
    chains_to_restart,
    end_chain,
    lease_seconds,
    new_chain_token,
    observe_chain,
    renew_lease,
    run_tick,
    set_status,
)

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


def _db():
    """This thread's connection for the duration: the caller's own when it has one open
    (a web request calling activate_campaign), else one opened and closed here."""
    if database.obj is None:
        init_database()
    if not database.is_closed():
        return contextlib.nullcontext()
    return database.connection_context()


def _ami():
    from app.pbx.ami import get_ami

    return get_ami()


@dramatiq.actor(queue_name=DIALING, time_limit=120_000, min_backoff=1_000, max_backoff=30_000)
def dial_tick(campaign_id: int, token: str, seq: int = 0, seen: str = "", failures: int = 0):
    """One tick of one campaign's chain, then the next one, delayed."""
    settings = get_settings()
    tick_s = settings.dial_tick_ms / 1000.0
    with _db():
        now = utcnow()
        verdict = acquire_tick(campaign_id, token, seq, seen, now, lease_seconds(tick_s, settings))
        if verdict == "drop":
            log.debug("tick dropped campaign=%s token=%s seq=%s", campaign_id, token, seq)
            return
        if verdict == "wait":
            # another chain holds the lease: look again once it has run out
            observed, until = observe_chain(campaign_id)
            wait_s = max(1.0, (until - now).total_seconds() + 1.0) if until else 1.0
            dial_tick.send_with_options(
                args=(campaign_id, token, seq, observed, 0), delay=int(wait_s * 1000)
            )
            return
        try:
            result = run_tick(campaign_id, now, _ami(), settings)
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
                renew_lease(campaign_id, token, seq + 1, utcnow(), lease_seconds(delay, settings))
            except Exception:
                log.exception("could not record the failed tick campaign=%s", campaign_id)
        else:
            if result.delay_s is None:
                end_chain(campaign_id, token, seq + 1)
                log.info("tick chain ended campaign=%s status=%r", campaign_id, result.status)
                return
            delay = result.delay_s
            if result.pbx_error and result.originated == 0:
                failures += 1
                delay = min(MAX_BACKOFF_S, tick_s * 2 ** min(failures, 10))
                set_status(campaign_id, f"{result.status} (retry in {delay:.0f}s)", now)
            else:
                failures = 0
            renew_lease(campaign_id, token, seq + 1, utcnow(), lease_seconds(delay, settings))
    dial_tick.send_with_options(
        args=(campaign_id, token, seq + 1, "", failures), delay=int(delay * 1000)
    )


@dramatiq.actor(queue_name=DIALING, periodic=cron("* * * * *"), max_retries=0)
def restart_stalled_chains():
    """Every minute: start a tick chain for each ACTIVE campaign whose chain died."""
    with _db():
        ids = chains_to_restart(utcnow())
    for campaign_id in ids:
        log.warning("restarting tick chain campaign=%s", campaign_id)
        start_dialing(campaign_id)


def start_dialing(campaign_id: int) -> None:
    """Start a tick chain (a no-op in effect when one is alive: the new one drops)."""
    dial_tick.send(campaign_id, new_chain_token(), 0)
