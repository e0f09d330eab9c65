"""A call-back asked for on the phone, through pbxsim's dialplan run and the AGI daemon.

pbxsim's ``lastdigit`` callee presses 2 on a number ending in 1 and 1 on one ending
in 0. The test drives the dialer's ticks itself with a clock it moves past the delay.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.campaigns import activation
from app.clock import utcnow
from app.dialer.tick import run_tick
from app.finalization.results import fold_results
from app.models import FINAL, PENDING, CallEvent, CampaignContact, CampaignOption
from app.reports import build_report
from tests.dialing_support import contact_ids, make_campaign
from tests.tasks.stack import Stack, serving
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(sqlite_db, tmp_path, monkeypatch):
    s = Stack(tmp_path, {"AMI_TIMEOUT": "2"})

    def start(stack):
        stack.start_agi()
        stack.start_pbxsim(speed=20.0)

    with serving(s, monkeypatch, ("AGI_PORT", "AMI_PORT", "AMI_TIMEOUT"), start):
        yield s


def hangups(campaign_id) -> int:
    return CallEvent.select().where((CallEvent.campaign_id == campaign_id)
                                    & (CallEvent.name == "hangup")).count()


def test_a_callee_who_presses_the_callback_digit_is_called_again_within_the_cap(stack):
    campaign = make_campaign(["+12025550000", "+12025550001"], max_attempts=2,
                             digit_timeout_s=2, message_repeats=1, ring_timeout_s=10)
    CampaignOption.update(action="callback", target="30m").where(
        (CampaignOption.campaign == campaign.id) & (CampaignOption.digit == "2")).execute()
    activation.activate(campaign.id, utcnow(), ami=stack.ami())
    answers, calls_back = contact_ids(campaign)
    assert run_tick(campaign.id, utcnow(), stack.ami()).originated == 2
    wait_until(lambda: hangups(campaign.id) == 2, 60, "both calls to end")
    run_tick(campaign.id, utcnow(), stack.ami())  # folds them
    state = CampaignContact.get(CampaignContact.contact == calls_back)
    hangup = CallEvent.get((CallEvent.contact_id == calls_back) & (CallEvent.name == "hangup"))
    assert (state.state, state.attempts) == (PENDING, 1)
    assert state.next_attempt_at == hangup.received_at + timedelta(minutes=30)
    assert CampaignContact.get(CampaignContact.contact == answers).state == FINAL
    early = run_tick(campaign.id, utcnow(), stack.ami())
    assert early.originated == 0 and early.status.startswith("no due contacts until")
    later = state.next_attempt_at + timedelta(seconds=1)
    assert run_tick(campaign.id, later, stack.ami()).originated == 1
    wait_until(lambda: hangups(campaign.id) == 3, 60, "the call-back to end")
    run_tick(campaign.id, later, stack.ami())
    # it asked again, but its two attempts are spent: final, answered
    state = CampaignContact.get(CampaignContact.contact == calls_back)
    assert (state.state, state.attempts, state.last_outcome) == (FINAL, 2, "answered")
    numbers = [c["number"][-4:] for c in stack.pbx_stats()["calls"]]
    assert sorted(numbers) == ["0000", "0001", "0001"]
    fold_results(campaign.id, campaign.contact_list_id)
    assert build_report(campaign.id)["callbacks_requested"] == 2
