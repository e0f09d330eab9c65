"""One tick of one campaign: settle the calls that ended, then start new ones.

The order, and why (the package docstring lists the steps): the PBX is asked
for its channels before the fold and read after it, so a call whose terminal
event the fold sees is still counted by the PBX if its channel was up; nothing
is claimed while the PBX cannot be asked; the claim is committed before the
originate; the status line says what the tick did.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from app.campaigns.states import get_campaign, transition
from app.config import get_settings
from app.dialer.breaker import check, trip_breaker
from app.dialer.claims import claim_due, has_open_contacts, next_due_at
from app.dialer.folding import fold_events
from app.dialer.live import PbxSnapshot, in_flight_count, live_calls
from app.dialer.pacing import budget
from app.dialer.readout import set_status
from app.dialer.reconcile import reconcile
from app.dialer.spread import TickPool, pool_lock
from app.errors import IllegalTransitionError, StaleStateError
from app.messages.audio import waiting_for_audio
from app.models import ACTIVE, FINISHED, PAUSED, Campaign
from app.holidays import campaign_opening  # the windows less the holidays

log = logging.getLogger(__name__)

UTC = timezone.utc
# a tick never waits longer than this, so pause/resume/new events are seen
MAX_IDLE_S = 30.0


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
    wants_capacity: bool = False  # it dialed or hit a cap: it takes part in the fair share
    status_of: str = ACTIVE  # the state the status describes: written only while in it
    timings: dict = field(default_factory=dict)  # phase -> seconds, for the bench and logs


class Laps:
    """Seconds spent per phase of a tick (a phase may be timed more than once)."""

    def __init__(self):
        self.timings = {}
        self._mark = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self._mark
        self._mark = now


def run_tick(campaign_id: int, now: datetime, ami, settings=None) -> TickResult:
    """One dialer tick of one campaign; its status is written before it returns.

    ``ami``: the pool (``app.pbx.poolami.PoolAmi``) or one ``AmiClient``.
    """
    settings = settings or get_settings()
    campaign = get_campaign(campaign_id)
    if campaign.state != ACTIVE:
        # moved since the chain claimed its turn: whoever moved it wrote why
        status = "paused" if campaign.state == PAUSED else f"not dialing: {campaign.state}"
        return TickResult(campaign_id, status, None)
    result = _tick(campaign, now, ami, settings)
    set_status(campaign_id, result.status, now, wants_capacity=result.wants_capacity,
               only_in=result.status_of)
    return result


def _tick(campaign: Campaign, now: datetime, ami, settings) -> TickResult:
    tick_s = settings.dial_tick_ms / 1000.0
    laps = Laps()
    result = TickResult(campaign.id, "", tick_s, timings=laps.timings)
    pool = TickPool.of(ami, settings)
    snapshot = _settle_calls(campaign, now, pool, result, laps)
    if result.folded and _route_breaker(campaign, now, settings, result):
        return result
    if not has_open_contacts(campaign.id):
        _finish_done(campaign.id, now)
        result.status, result.delay_s = "finished: every contact is done", None
        result.status_of = FINISHED
    elif result.pbx_error:
        result.status = f"PBX unreachable: {result.pbx_error}"
        result.live = in_flight_count([campaign.id])
    else:
        opening = campaign_opening(campaign, now)
        if opening.open:
            _dial(campaign, snapshot, now, pool, settings, result, laps)
        else:
            result.live = live_calls(campaign, snapshot)
            if opening.next_start is None:
                result.status = f"not dialing: {opening.reason}"
            elif opening.reason.startswith("holiday"):
                result.status = f"not dialing: {opening.reason}; next window {_fmt(opening.next_start)}"
            else:
                result.status = f"outside window until {_fmt(opening.next_start)}"
            result.delay_s = _idle_delay(now, opening.next_start, result.live, tick_s)
    if pool.error and not result.pbx_error:  # some PBXs are down, the others dial
        result.status += f"; {pool.error}"
    return result


def _settle_calls(campaign: Campaign, now: datetime, pool: TickPool, result: TickResult,
                  laps: Laps) -> PbxSnapshot | None:
    """Ask the PBXs, fold the new events, reconcile; the pool's snapshot (None: none answered)."""
    # ask first and fold while the PBXs answer (see the module docstring)
    asked = pool.ask(now)
    result.folded = fold_events(campaign.id, now, campaign)
    laps.lap("fold")
    snapshot = pool.collect(asked, now)
    if snapshot is None:
        result.pbx_error = pool.error or "no PBX is enabled in the pool"
    laps.lap("snapshot")
    if snapshot is not None:
        result.lost = reconcile(campaign.id, now, snapshot.call_ids)
    laps.lap("reconcile")
    return snapshot


def _route_breaker(campaign: Campaign, now: datetime, settings, result: TickResult) -> bool:
    """Pause the campaign when its latest calls trip the route breaker (``breaker``)."""
    trip = check(campaign, settings)
    status = trip_breaker(campaign, trip, now, settings) if trip else None
    if status is None:
        return False
    result.status, result.delay_s, result.status_of = status, None, PAUSED
    result.live = in_flight_count([campaign.id])
    return True


def _dial(campaign: Campaign, snapshot: PbxSnapshot | None, now: datetime, pool: TickPool,
          settings, result: TickResult, laps: Laps) -> None:
    """Budget, claim and originate: the tick of a campaign inside its call window."""
    with pool_lock(pool, settings):
        plan = pool.limit(budget(campaign, snapshot, now, settings), settings)
        laps.lap("budget")
        claims = (claim_due(campaign, plan.slots, now, result, pool.assign)
                  if plan.slots > 0 else [])
    result.live = plan.live
    if plan.slots <= 0:
        result.status = f"{plan.reason} reached ({plan.live}/{campaign.max_channels} live)"
        result.wants_capacity = True
        return
    laps.lap("claim")
    if not claims:
        nxt = next_due_at(campaign.id)
        waiting = waiting_for_audio(campaign.id) if campaign.message_template else 0
        if waiting:  # the due ones wait for the tts actor (app.messages)
            result.status = (f"waiting for speech synthesis: {waiting} contacts' audio not "
                             f"made yet ({plan.live} calls up)")
        elif nxt is None:
            result.status = f"no due contacts ({plan.live} calls up)"
        elif nxt <= now and campaign.callee_window:  # due, but outside their own hours
            result.status = f"no due contacts inside the callees' hours {campaign.callee_window}"
            nxt = None
        else:
            result.status = f"no due contacts until {_fmt(nxt)}"
        result.delay_s = _idle_delay(now, nxt, plan.live, settings.dial_tick_ms / 1000.0)
        return
    originated, error = pool.originate(campaign, claims, now, settings)
    laps.lap("originate")
    result.originated = originated
    result.live = plan.live + originated
    live = f"({result.live}/{campaign.max_channels} live)"
    if error:
        result.pbx_error = error
        if originated == 0:
            result.status = f"PBX unreachable: {error}"
        else:
            result.status = f"dialing {originated} {live}; PBX error: {error}"
    else:
        result.status = f"dialing {originated} {live}"
        if plan.reason != "channel cap" and originated >= plan.slots:
            result.status += f"; {plan.reason}"
        elif len(claims) < plan.slots and campaign.message_template:
            waiting = waiting_for_audio(campaign.id)
            if waiting:
                result.status += f"; speech synthesis is the limit ({waiting} contacts waiting)"
    # a tick whose every originate failed wants the PBX back, not a share of the trunk
    result.wants_capacity = originated > 0 or not error
    log.info(
        "tick campaign=%s originated=%d folded=%d lost=%d dnc=%d live=%d",
        campaign.id, originated, result.folded, result.lost, result.dnc, result.live,
    )


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


def _fmt(when: datetime | None) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if when else "?"
