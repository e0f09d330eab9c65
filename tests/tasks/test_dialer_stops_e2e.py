"""End to end, the dialer stops a campaign it cannot go on with, and says why.

Real processes: pbxsim (routing like Asterisk), the AGI daemon, dramatiq dialer
workers on the test vhost, one SQLite database.
"""

from __future__ import annotations


import pytest

from app.campaigns import activation
from app.clock import utcnow
from app.models import FINAL, PAUSED, Campaign, CampaignContact
from dialing_support import make_campaign
from stack import Stack, serving

from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

# last digits pbxsim's lastdigit callee answers (0-4, 8, 9)
ANSWERING = "0123489"



@pytest.fixture
def stack(sqlite_db, broker, tmp_path, monkeypatch):
    """pbxsim whose outbound context has only the usual _X. pattern, and the AGI daemon."""
    s = Stack(tmp_path, {"DIAL_TICK_MS": "100", "AMI_TIMEOUT": "2",
                         "DIAL_TEMPLATE": "Local/{number}@pstn"})
    keys = ("AGI_PORT", "AMI_PORT", "DIAL_TICK_MS", "AMI_TIMEOUT", "DIAL_TEMPLATE")

    def start(stack):
        stack.start_agi()
        stack.start_pbxsim(speed=20.0, extra=("--outbound", "pstn=_X."))

    with serving(s, monkeypatch, keys, start):
        yield s


def new_campaign(stack, phones, **fields):
    values = dict(max_channels=4, max_attempts=1, ring_timeout_s=10, max_call_s=30,
                  digit_timeout_s=2, message_repeats=1)
    values.update(fields)
    campaign = make_campaign(phones, options="1234", **values)
    activation.activate(campaign.id, utcnow(), ami=stack.ami())
    return campaign.id


def start(campaign_id):
    from tasks.dialing import start_dialing

    start_dialing(campaign_id)


def state_of(campaign_id):
    return Campaign.get_by_id(campaign_id).state


def test_it_pauses_on_a_dial_string_with_no_route_and_calls_everyone_once_it_is_fixed(stack):
    phones = [f"+1202555{i:03d}{ANSWERING[i % len(ANSWERING)]}" for i in range(12)]
    cid = new_campaign(stack, phones)
    dialer = stack.start_dialer()
    start(cid)

    wait_until(lambda: state_of(cid) == PAUSED, 30, "the route breaker to pause the campaign")

    status = Campaign.get_by_id(cid).dialer_status
    assert status.startswith("paused: the first ")
    assert "failed 'unavailable' (no route: check DIAL_TEMPLATE Local/{number}@pstn" in status
    calls = stack.pbx_stats()["calls"]
    assert calls and all(c["reason"] == 0 and c["route"].startswith("No such extension/context +")
                         for c in calls)
    # nobody closed 'unavailable' after one call that could never have rung. Calls still
    # up when the breaker trips (a refill may trip it while the tick's calls ring) are
    # folded when the campaign resumes, not while it is paused: the end state below shows
    # that none of them closed a contact either
    assert not CampaignContact.select().where(CampaignContact.state == FINAL).exists()

    # the operator fixes DIAL_TEMPLATE (the digits match _X.), restarts the dialer, resumes
    dialer.stop()
    stack.env["DIAL_TEMPLATE"] = "Local/{digits}@pstn"
    stack.start_dialer()
    activation.resume(cid, utcnow())
    start(cid)
    wait_until(lambda: state_of(cid) == "FINISHED", 60, "every contact to be called")

    rows = list(CampaignContact.select().where(CampaignContact.campaign == cid))
    assert sorted({(r.state, r.last_outcome) for r in rows}) == [(FINAL, "answered")]
    assert all(r.attempts - r.given_back == 1 for r in rows)  # one call counted each


def test_it_pauses_a_campaign_whose_ticks_keep_failing_on_its_data(stack):
    cid = new_campaign(stack, ["+12025550001", "+12025550002"])
    # data the dialer cannot read (stored behind the checks' back)
    Campaign.update(timezone="Mars/Olympus_Mons").where(Campaign.id == cid).execute()
    stack.start_dialer()
    start(cid)

    wait_until(lambda: state_of(cid) == PAUSED, 60, "the failing ticks to pause the campaign")

    campaign = Campaign.get_by_id(cid)
    assert campaign.dialer_status.startswith("tick failed: ")
    assert "Mars/Olympus_Mons" in campaign.dialer_status
    assert campaign.dialer_status.endswith("— paused after 5 tries")
    assert campaign.tick_token == ""  # the chain ended: no tick retries it any more
    assert stack.pbx_stats()["originates"] == 0
