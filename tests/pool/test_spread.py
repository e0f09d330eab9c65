"""The dialer over a pool of pbxsim PBXs: spread by free room, exact caps, a PBX lost and back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from peewee import fn

from app.campaigns import activation
from app.config import get_settings
from app.dialer.claims import claim, due_contacts
from app.dialer.tick import run_tick
from app.models import CallAttempt, Campaign, CampaignContact
from app.pbx.poolami import PoolAmi
from app.pbx.registry import reset_registry
from app.pbx.tables import Pbx
from dialing_support import SimPbx, event, make_campaign
from tests.pool.support import SimProcess, add_sim, free_port
from tests.waiting import wait_until

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
# numbers ending 6 ring without an answer until the ring timeout: calls stay up
RINGING = [f"+1202555{i:03d}6" for i in range(40)]


@pytest.fixture
def sims(db):
    made = []

    def make(n, **kwargs):
        for _ in range(n):
            made.append(SimPbx(speed=1.0, **kwargs))
        return made

    yield make
    reset_registry()
    for sim in made:
        sim.close()


def per_pbx() -> dict:
    rows = (CallAttempt.select(CallAttempt.pbx_id, fn.COUNT(CallAttempt.id))
            .where(CallAttempt.state.in_(("originating", "up")))
            .group_by(CallAttempt.pbx_id).tuples())
    return {Pbx.get_by_id(pbx_id).name: n for pbx_id, n in rows}


def activated(pool, phones, **fields) -> Campaign:
    campaign = make_campaign(phones, **fields)
    activation.activate(campaign.id, NOW, ami=pool)
    return Campaign.get_by_id(campaign.id)


def test_it_spreads_a_campaign_by_free_room_with_the_campaign_cap_exact(sims):
    a, b, c = sims(3)
    for sim, name, capacity in ((a, "a", 3), (b, "b", 5), (c, "c", 2)):
        add_sim(name, sim.port, capacity)
    pool = PoolAmi(get_settings())
    campaign = activated(pool, RINGING, max_channels=8)
    first = run_tick(campaign.id, NOW, pool)
    assert (first.originated, first.status) == (8, "dialing 8 (8/8 live)")
    placed = per_pbx()
    assert sum(placed.values()) == 8
    assert all(placed[name] <= cap for name, cap in (("a", 3), ("b", 5), ("c", 2)))
    # each PBX has exactly the calls its attempts say, and the attempt names it
    assert {name: len(sim.stats()["calls"]) for sim, name in ((a, "a"), (b, "b"), (c, "c"))
            if sim.stats()["calls"]} == placed
    assert run_tick(campaign.id, NOW, pool).status.startswith("channel cap reached (8/8 live)")
    Campaign.update(max_channels=20).where(Campaign.id == campaign.id).execute()
    more = run_tick(campaign.id, NOW, pool)
    assert more.originated == 2 and more.status == "dialing 2 (10/20 live); PBX capacity"
    assert per_pbx() == {"a": 3, "b": 5, "c": 2}
    assert run_tick(campaign.id, NOW, pool).status == "PBX capacity reached (10/20 live)"
    assert [len(s.stats()["calls"]) for s in (a, b, c)] == [3, 5, 2]


def test_a_pbx_room_counts_calls_just_folded_and_calls_not_listed_yet_once_each(sims):
    """Capacity 9: 6 calls ring on the PBX, 3 of them already folded in the database (their
    channels still up), 2 more claimed for it but not on its list yet: 8 hold channels, 1
    free (the larger of the two counts, 6, would leave 3 and go over the PBX's capacity)."""
    [a] = sims(1)
    add_sim("a", a.port, 9)
    pool = PoolAmi(get_settings())
    campaign = activated(pool, RINGING, max_channels=6)
    assert run_tick(campaign.id, NOW, pool).originated == 6
    wait_until(lambda: len(a.stats()["calls"]) == 6, timeout=10, what="6 calls up")
    up = list(CallAttempt.select().order_by(CallAttempt.id))
    CallAttempt.update(state="done", outcome="noanswer").where(
        CallAttempt.id.in_([x.id for x in up[:3]])).execute()
    claim(campaign, due_contacts(campaign.id, NOW, 2), NOW)
    CallAttempt.update(pbx_id=Pbx.get(Pbx.name == "a").id).where(
        CallAttempt.pbx_id.is_null()).execute()
    Campaign.update(max_channels=30).where(Campaign.id == campaign.id).execute()
    result = run_tick(campaign.id, NOW, pool)
    assert (result.originated, result.live) == (1, 9)
    assert result.status == "dialing 1 (9/30 live); PBX capacity"
    assert len(a.stats()["calls"]) == 7  # 6 + 1: with the 2 to come, 9 = its capacity


def test_it_keeps_a_disabled_pbx_out_and_limits_each_pbx_to_its_originate_rate(sims):
    a, b = sims(2)
    add_sim("a", a.port, 50, originate_rate=2)
    add_sim("b", b.port, 50)
    from app.pbx.pool import set_enabled
    set_enabled("b", False)
    pool = PoolAmi(get_settings())
    campaign = activated(pool, RINGING, max_channels=30)
    result = run_tick(campaign.id, NOW, pool)  # DIAL_TICK_MS 1000: 2 per tick to a
    assert result.originated == 2 and per_pbx() == {"a": 2}
    assert b.stats()["originates"] == 0


def test_a_pbx_killed_mid_campaign_is_left_out_reconciled_and_rejoins(sims):
    [a] = sims(1)
    port = free_port()
    b = SimProcess(port, "--speed", "1").start()
    try:
        _lost_and_back(a, b)
    finally:
        b.stop()


def _lost_and_back(a, b):
    add_sim("a", a.port, 4)
    add_sim("b", b.port, 4)
    pool = PoolAmi(get_settings())
    campaign = activated(pool, RINGING[:8], max_channels=8, max_attempts=2, retry_failed_s=60)
    assert run_tick(campaign.id, NOW, pool).originated == 8
    assert per_pbx() == {"a": 4, "b": 4}
    b.kill9()
    # within one tick: b is down, named in the status and in the pool table
    after = run_tick(campaign.id, NOW, pool)
    assert after.originated == 0 and "b: " in after.status
    assert Pbx.get(Pbx.name == "b").down_since is not None
    b_attempts = list(CallAttempt.select().where(CallAttempt.pbx_id == Pbx.get(Pbx.name == "b").id))
    # one of b's calls had reported its answer before the PBX died
    answered = b_attempts[0]
    event(campaign.id, answered.contact_id, 1, "answered", NOW + timedelta(seconds=2))
    late = NOW + timedelta(seconds=campaign.ring_timeout_s + campaign.max_call_s + 1)
    settled = run_tick(campaign.id, late, pool)
    assert settled.lost == 3 and settled.originated == 0  # a is full, b is down
    outcomes = sorted(CallAttempt.get_by_id(x.id).outcome for x in b_attempts)
    assert outcomes == ["answered", "lost", "lost", "lost"]
    assert per_pbx() == {"a": 4}  # a's calls are still ringing: not reconciled
    b.start()
    later = late + timedelta(seconds=61)
    wait_until(lambda: run_tick(campaign.id, later, pool) and
               Pbx.get(Pbx.name == "b").down_since is None, timeout=40, what="b back up")
    wait_until(lambda: run_tick(campaign.id, later, pool) and per_pbx().get("b") == 3,
               timeout=10, what="b dialing again")
    assert max(c.attempts for c in CampaignContact.select()) <= 2
    retried = CallAttempt.select().where(CallAttempt.number == 2).count()
    assert retried == 3  # the three lost ones, once each; the answered one never again
