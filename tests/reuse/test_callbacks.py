"""The call-back option: its rule, its dialplan, the fold's extra attempt (inside the windows
and the cap), the report's count; and one run through pbxsim and the AGI daemon."""

from datetime import datetime, time, timedelta, timezone

import pytest

from app.campaigns import activation, validate
from app.callbacks import delay_of
from app.dialer.claims import claim, due_contacts
from app.dialer.folding import fold_events
from app.errors import ValidationError
from app.finalization.results import fold_results
from app.models import FINAL, PENDING, CampaignContact, CampaignOption
from app.pbx.dialplan import render_campaign
from app.reports import build_report, format_report
from app.windows import Span
from tests.dialing_support import contact_ids, event, make_campaign

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday


def with_callback(campaign, digit="2", target="30m"):
    CampaignOption.update(action="callback", target=target, label="call me back").where(
        (CampaignOption.campaign == campaign.id) & (CampaignOption.digit == digit)).execute()
    return campaign


def answered_with(campaign, contact_id, number, digit, at):
    event(campaign.id, contact_id, number, "answered", at - timedelta(seconds=20))
    event(campaign.id, contact_id, number, f"dtmf-{digit}", at - timedelta(seconds=5))
    event(campaign.id, contact_id, number, "hangup", at, hangupcause="16")


def dial_state(campaign, contact_id):
    return CampaignContact.get((CampaignContact.campaign == campaign.id)
                               & (CampaignContact.contact == contact_id))


@pytest.mark.parametrize("target,minutes", [("30m", 30), ("2h", 120), (" 1 M", 1),
                                            ("168h", 10080)])
def test_a_callback_delay_is_minutes_or_hours_up_to_a_week(target, minutes):
    assert delay_of(target) == timedelta(minutes=minutes)


@pytest.mark.parametrize("target", ["", "0m", "169h", "10081m", "30", "1d", "-5m",
                                    "9" * 30 + "m", "30m;Dial(x)"])
def test_the_rules_refuse_a_callback_delay_naming_the_option(target):
    option = {"digit": "3", "label": "later", "action": "callback", "target": target}
    with pytest.raises(ValidationError, match="option 3: call-back delay"):
        validate({"name": "c"}, [option], [])


def test_the_dialplan_reports_the_digit_and_hangs_up_as_for_record(db):
    campaign = with_callback(make_campaign(["+12025550001"]))
    text = render_campaign(campaign, list(campaign.options))
    assert ";   2 = 'call me back' (callback in 30m)" in text
    start = text.index("exten => 2,1,")
    assert text[start:text.index("\n\n", start)].splitlines() == [
        "exten => 2,1,Gosub(callcast-report,s,1(dtmf-2))", " same => n,Hangup()"]


def test_an_answered_call_asking_for_a_callback_is_called_again_after_the_delay(db):
    campaign = with_callback(make_campaign(["+12025550001", "+12025550002"], max_attempts=2))
    activation.activate(campaign.id, NOW, ami=None)
    first, second = contact_ids(campaign)
    assert len(claim(campaign, due_contacts(campaign.id, NOW, 10), NOW)) == 2
    ended = NOW + timedelta(minutes=1)
    answered_with(campaign, first, 1, "2", ended)  # call me back
    answered_with(campaign, second, 1, "1", ended)  # an answer
    assert fold_events(campaign.id, ended) == 2
    state = dial_state(campaign, first)
    assert (state.state, state.next_attempt_at, state.last_outcome) == (
        PENDING, ended + timedelta(minutes=30), "answered")
    assert dial_state(campaign, second).state == FINAL
    assert due_contacts(campaign.id, ended + timedelta(minutes=29), 10) == []
    due = due_contacts(campaign.id, ended + timedelta(minutes=30), 10)
    assert [d.contact_id for d in due] == [first]
    assert [c.number for c in claim(campaign, due, ended + timedelta(minutes=30))] == [2]
    # the second call asks again: no attempt is left, the contact is final (answered)
    again = ended + timedelta(minutes=32)
    answered_with(campaign, first, 2, "2", again)
    fold_events(campaign.id, again)
    assert (dial_state(campaign, first).state, dial_state(campaign, first).attempts) == (FINAL, 2)
    fold_results(campaign.id, campaign.contact_list_id)
    report = build_report(campaign.id)
    assert report["callbacks"] == {"requested": 2, "digits": {"2": 2}}
    assert "call-backs asked for     2" in format_report(report)


def test_a_callback_falling_outside_the_windows_waits_for_the_next_opening(db):
    spans = [Span(d, time(9), time(17)) for d in range(5)]
    campaign = with_callback(make_campaign(["+12025550001"], windows=spans,
                                           timezone="America/New_York"), target="1h")
    activation.activate(campaign.id, NOW, ami=None)
    (contact,) = contact_ids(campaign)
    late = datetime(2026, 3, 6, 21, 30, tzinfo=UTC)  # Friday 16:30 EST: +1 h is past 17:00
    claim(campaign, due_contacts(campaign.id, late, 10), late)
    answered_with(campaign, contact, 1, "2", late)
    fold_events(campaign.id, late)
    # Monday 09:00 in New York, after the weekend's change to summer time: 13:00 UTC
    assert dial_state(campaign, contact).next_attempt_at == datetime(2026, 3, 9, 13, 0,
                                                                     tzinfo=UTC)
