"""Pacing: how many calls a tick may start, and the fair share of the global caps.

free = max_channels - live, capped by the campaign's share (by ``weight``,
among the ACTIVE campaigns that want capacity) of ``GLOBAL_MAX_CHANNELS`` and
of ``ORIGINATES_PER_SECOND`` x tick. A campaign wants capacity when its last
tick dialed or hit a cap (``Campaign.wants_capacity``, written with its status).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from datetime import datetime

from app.dialer.live import PbxSnapshot, holding_ids, live_calls
from app.dialer.sql import serialized
from app.models import ACTIVE, Campaign


@dataclass
class Budget:
    slots: int
    reason: str  # why slots is what it is, for the status line
    live: int


@contextlib.contextmanager
def global_lock(settings):
    """Serialize budget + claim across campaigns while a global cap is set.

    Without it two campaigns ticking at once could each see the same free
    trunk capacity and both take it.
    """
    if not settings.global_max_channels:
        yield
        return
    with serialized():
        yield


def fair_share(total: int, campaign: Campaign, wanting) -> int:
    """``campaign``'s share of ``total`` by weight among the campaigns ``wanting`` capacity (>= 1).

    Rounded down, so the shares of campaigns that all want capacity never add
    up to more than ``total``.
    """
    weights = {c.id: max(1, c.weight) for c in wanting}
    weights[campaign.id] = max(1, campaign.weight)
    return max(1, math.floor(total * weights[campaign.id] / sum(weights.values())))


def campaigns_wanting_capacity() -> list[Campaign]:
    """ACTIVE campaigns whose last tick dialed or hit a cap."""
    return list(
        Campaign.select(Campaign.id, Campaign.weight).where(
            (Campaign.state == ACTIVE) & (Campaign.wants_capacity == True)  # noqa: E712
        )
    )


def global_live(snapshot: PbxSnapshot | None) -> int:
    """Calls up across every campaign: in flight in the database or up on the PBXs (``live``)."""
    if snapshot is None:
        return len(holding_ids())
    return len(set(holding_ids(snapshot.asked_at)) | snapshot.campaign_ids())


def budget(campaign: Campaign, snapshot: PbxSnapshot | None, now: datetime, settings) -> Budget:
    """How many calls this tick may originate, and what limits it."""
    live = live_calls(campaign, snapshot)
    slots = campaign.max_channels - live
    reason = "channel cap"
    if slots <= 0:
        return Budget(0, "channel cap", live)
    wanting = None
    if settings.global_max_channels:
        wanting = campaigns_wanting_capacity()
        free_global = settings.global_max_channels - global_live(snapshot)
        share_free = fair_share(settings.global_max_channels, campaign, wanting) - live
        cap = min(free_global, share_free)
        if cap < slots:
            slots, reason = cap, "global channel cap"
    if settings.originates_per_second:
        if wanting is None:
            wanting = campaigns_wanting_capacity()
        tick_s = settings.dial_tick_ms / 1000.0
        per_tick = fair_share(
            max(1, math.floor(settings.originates_per_second * tick_s)), campaign, wanting
        )
        if per_tick < slots:
            slots, reason = per_tick, "rate limit"
    return Budget(max(0, slots), reason, live)
