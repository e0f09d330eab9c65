"""The route breaker: a campaign whose calls all fail the route's way is paused, its calls given back.

Ticks run against pbxsim over real TCP on the real database (SQLite and
PostgreSQL), with a fixed ``now``; the calls' terminal events are stored the
way the AGI daemon stores them.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from app.campaigns import activation
from app.config import get_settings, load_settings
from app.dialer.tick import run_tick
from app.errors import ConfigError
from app.models import ACTIVE, CALLING, FINAL, PAUSED, PENDING, CallAttempt, Campaign, CampaignContact
from dialing_support import SimPbx, event, make_campaign

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.fixture
def pbx(db):
    # every Local/+E.164 call finds no route and ends at once: the tests store the
    # outcomes themselves, and no call stays up on the PBX
    sim = SimPbx(outbound="pstn=_X.")
    yield sim
    sim.close()


def activated_on(pbx, phones, **fields):
    campaign = make_campaign(phones, **fields)
    activation.activate(campaign.id, NOW, ami=pbx.ami)
    return campaign.id


def tick(campaign_id, now, pbx, **settings):
    return run_tick(campaign_id, now, pbx.ami, dataclasses.replace(get_settings(), **settings))


def in_flight(campaign_id):
    return list(CallAttempt.select().where((CallAttempt.campaign == campaign_id)
                                           & (CallAttempt.finished_at.is_null())))


def fail(campaign_id, attempts, reason, at):
    for a in attempts:
        event(campaign_id, a.contact_id, a.number, f"failed-{reason}", at, reason="0")


def answer(campaign_id, attempts, at):
    for a in attempts:
        event(campaign_id, a.contact_id, a.number, "answered", at)
        event(campaign_id, a.contact_id, a.number, "hangup", at, hangupcause="16")


def contacts(campaign_id):
    rows = CampaignContact.select().where(CampaignContact.campaign == campaign_id)
    return sorted((r.state, r.attempts, r.given_back, r.last_outcome) for r in rows)


def test_it_pauses_when_the_first_calls_all_fail_unavailable_and_gives_them_back(pbx):
    cid = activated_on(pbx, [f"+1202555000{i}" for i in range(8)], max_channels=5,
                       max_attempts=1)
    assert tick(cid, NOW, pbx).originated == 5
    fail(cid, in_flight(cid), "unavailable", NOW + S)

    result = tick(cid, NOW + 2 * S, pbx)

    campaign = Campaign.get_by_id(cid)
    assert (campaign.state, result.delay_s, result.originated) == (PAUSED, None, 0)
    assert campaign.dialer_status == (
        "paused: the first 5 calls all failed 'unavailable' (no route: check DIAL_TEMPLATE "
        "Local/{number}@pstn and the outbound context); 5 contacts due again, those calls "
        "not counted")
    assert campaign.breaker_tripped_at == NOW + 2 * S
    # not closed 'unavailable' after one call: due again, that call not counted
    assert contacts(cid) == [(PENDING, 0, 0, "")] * 3 + [(PENDING, 1, 1, "unavailable")] * 5
    assert pbx.stats()["originates"] == 5

    # the operator fixes the route and resumes: every contact gets its one call
    activation.resume(cid, NOW + 3 * S)
    assert tick(cid, NOW + 4 * S, pbx).originated == 5
    answer(cid, in_flight(cid), NOW + 5 * S)
    assert tick(cid, NOW + 6 * S, pbx).originated == 3
    answer(cid, in_flight(cid), NOW + 7 * S)
    assert tick(cid, NOW + 8 * S, pbx).status == "finished: every contact is done"
    assert contacts(cid) == [(FINAL, 1, 0, "answered")] * 3 + [(FINAL, 2, 1, "answered")] * 5


def test_it_pauses_on_a_run_of_congestion_after_calls_went_through(pbx):
    cid = activated_on(pbx, [f"+1202555001{i}" for i in range(10)], max_channels=3,
                       max_attempts=2)
    tick(cid, NOW, pbx)
    answer(cid, in_flight(cid), NOW + S)  # the trunk works...
    tick(cid, NOW + 2 * S, pbx)
    fail(cid, in_flight(cid), "congestion", NOW + 3 * S)  # ...then it is down
    tick(cid, NOW + 4 * S, pbx)
    assert Campaign.get_by_id(cid).state == ACTIVE  # 3 congested of 6: no run yet
    fail(cid, in_flight(cid), "congestion", NOW + 5 * S)

    tick(cid, NOW + 6 * S, pbx, breaker_run_calls=6)

    campaign = Campaign.get_by_id(cid)
    assert campaign.state == PAUSED
    assert campaign.dialer_status.startswith(
        "paused: the last 6 calls all failed 'congestion' (the trunk refused them")
    # congestion is retried (after 900 s): given back, they are due at once
    back = CampaignContact.select().where((CampaignContact.campaign == cid)
                                          & (CampaignContact.given_back == 1))
    assert sorted((c.state, c.next_attempt_at) for c in back) == [(PENDING, NOW + 6 * S)] * 6


@pytest.mark.parametrize("reasons", [
    ["busy"] * 5,  # the callees' doing, not the route's
    ["noanswer"] * 5,
    ["unavailable"] * 4 + ["congestion"],  # not one reason
    ["unavailable"] * 4,  # fewer than DIAL_BREAKER_FIRST
])
def test_it_keeps_dialing_when_the_failures_do_not_point_at_the_route(pbx, reasons):
    cid = activated_on(pbx, [f"+1202555002{i}" for i in range(len(reasons) + 2)],
                       max_channels=len(reasons), max_attempts=1)
    tick(cid, NOW, pbx)
    for attempt, reason in zip(in_flight(cid), reasons):
        fail(cid, [attempt], reason, NOW + S)

    result = tick(cid, NOW + 2 * S, pbx)

    assert Campaign.get_by_id(cid).state == ACTIVE
    assert result.originated == 2
    assert not CampaignContact.select().where(CampaignContact.given_back > 0).exists()


def test_it_gives_back_a_call_still_up_at_the_trip_that_fails_the_same_way_later(pbx):
    cid = activated_on(pbx, [f"+1202555003{i}" for i in range(6)], max_channels=6,
                       max_attempts=1)
    tick(cid, NOW, pbx)
    up, *failed = in_flight(cid)
    fail(cid, failed, "unavailable", NOW + S)
    tick(cid, NOW + 2 * S, pbx)
    assert Campaign.get_by_id(cid).state == PAUSED
    activation.resume(cid, NOW + 3 * S)
    fail(cid, [up], "unavailable", NOW + 4 * S)  # its report comes after the trip

    result = tick(cid, NOW + 5 * S, pbx)

    row = CampaignContact.get((CampaignContact.campaign == cid)
                              & (CampaignContact.contact == up.contact_id))
    # given back, not closed 'unavailable': called again at once
    assert (row.state, row.attempts, row.given_back) == (CALLING, 2, 1)
    assert result.originated == 6  # the old run's late failure trips nothing
    assert Campaign.get_by_id(cid).state == ACTIVE


@pytest.mark.parametrize("name, field", [("DIAL_BREAKER_FIRST", "breaker_first_calls"),
                                         ("DIAL_BREAKER_RUN", "breaker_run_calls")])
def test_it_takes_breaker_sizes_of_zero_or_at_least_five(name, field):
    assert getattr(load_settings({name: "0"}), field) == 0  # off
    assert getattr(load_settings({name: "7"}), field) == 7
    with pytest.raises(ConfigError, match=name):
        load_settings({name: "3"})
