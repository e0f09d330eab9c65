"""End to end: real RabbitMQ (test vhost), dramatiq dialer processes, the AGI daemon and pbxsim.

pbxsim's ``lastdigit`` callee decides each call by the number's last digit, so
every contact's final outcome is known in advance.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from app.campaigns import activation
from app.clock import utcnow
from app.models import FINAL, CallAttempt, CallEvent, Campaign, CampaignContact, Contact
from dialing_support import make_campaign
from stack import Stack, serving

from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

RETRY_S = 1

# last digit -> (outcome, digit, attempts)
EXPECTED = {
    0: ("answered", "1", 1),
    1: ("answered", "2", 1),
    2: ("answered", "3", 1),
    3: ("answered", "4", 1),
    4: ("answered", "", 1),
    5: ("busy", "", 3),
    6: ("noanswer", "", 3),
    7: ("congestion", "", 3),
    8: ("answered", "", 1),
    9: ("answered", "", 1),
}



def closed_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["agi"])
def stack(request, sqlite_db, broker, tmp_path, monkeypatch):
    """pbxsim + AGI daemon running; the test process's settings point at them.

    Parametrized "no-agi": no daemon listens on AGI_PORT, so every report takes
    the dialplan's UserEvent path on AMI, recorded by ``python -m agi.amievents``.
    """
    s = Stack(tmp_path, {"DIAL_TICK_MS": "100", "AMI_TIMEOUT": "2"})

    def start(stack):
        if request.param == "agi":
            stack.start_agi()
        else:
            stack.env["AGI_PORT"] = str(closed_port())
        stack.start_pbxsim(speed=20.0)
        if request.param != "agi":
            stack.start_ami_events()

    with serving(s, monkeypatch, ("AGI_PORT", "AMI_PORT", "DIAL_TICK_MS", "AMI_TIMEOUT"), start):
        yield s


def new_campaign(stack, n, **fields):
    values = dict(
        max_channels=20, max_attempts=3, retry_busy_s=RETRY_S, retry_noanswer_s=RETRY_S,
        retry_failed_s=RETRY_S, ring_timeout_s=10, max_call_s=30, digit_timeout_s=2,
        message_repeats=1,
    )
    values.update(fields)
    campaign = make_campaign([f"+1202555{i:04d}" for i in range(n)], options="1234", **values)
    activation.activate(campaign.id, utcnow(), ami=stack.ami())
    return campaign


def start(campaign_id):
    from tasks.dialing import start_dialing

    start_dialing(campaign_id)


def finished(campaign_id):
    return Campaign.get_by_id(campaign_id).state == "FINISHED"


def attempts_by_contact(campaign_id):
    rows = defaultdict(list)
    for a in CallAttempt.select().where(CallAttempt.campaign == campaign_id).order_by(
        CallAttempt.contact, CallAttempt.number
    ):
        rows[a.contact_id].append(a)
    return rows


def assert_never_over_dialed(stack, campaign, max_attempts=3):
    per_contact = attempts_by_contact(campaign.id)
    assert max(len(v) for v in per_contact.values()) <= max_attempts
    for contact_id, attempts in per_contact.items():
        assert [a.number for a in attempts] == list(range(1, len(attempts) + 1)), contact_id
    stats = stack.pbx_stats()
    assert stats["peak_calls"].get(campaign.account_code, 0) <= campaign.max_channels
    # every originate pbxsim saw is one claimed attempt, never two originates of one
    sent = defaultdict(int)
    for call in stats["calls"]:
        if call["account"] == campaign.account_code:
            sent[call["channel_id"]] += 1
    assert all(n == 1 for n in sent.values()), [k for k, n in sent.items() if n > 1]
    channels = {a.channel_id for v in per_contact.values() for a in v}
    assert set(sent) <= channels
    return per_contact, stats


def check_predicted_outcomes(campaign, per_contact):
    phones = {c.id: c.phone for c in Contact.select()}
    wrong = []
    for row in CampaignContact.select().where(CampaignContact.campaign == campaign.id):
        attempts = per_contact[row.contact_id]
        outcome, digit, count = EXPECTED[int(phones[row.contact_id][-1])]
        got = (row.state, row.last_outcome, attempts[-1].digit, row.attempts, len(attempts))
        if got != (FINAL, outcome, digit, count, count):
            wrong.append((phones[row.contact_id], got))
    assert not wrong, wrong[:10]
    assert CallAttempt.select().where(CallAttempt.outcome == "lost").count() == 0
    return phones


def test_it_dials_500_contacts_to_their_predicted_outcomes(stack):
    campaign = new_campaign(stack, 500)
    stack.start_dialer()
    began = utcnow()
    start(campaign.id)
    wait_until(lambda: finished(campaign.id), 110, "the campaign to finish", interval=0.2)
    took = (utcnow() - began).total_seconds()

    per_contact, stats = assert_never_over_dialed(stack, campaign)
    phones = check_predicted_outcomes(campaign, per_contact)
    # a wrong digit (9) was reported as invalid, and nothing was lost
    nines = [cid for cid, p in phones.items() if p.endswith("9")]
    assert CallEvent.select().where(
        (CallEvent.name == "invalid") & (CallEvent.contact_id.in_(nines))
    ).count() == len(nines)
    # retries never come before their delay
    for attempts in per_contact.values():
        for before, after in zip(attempts, attempts[1:]):
            assert after.originated_at >= before.finished_at + timedelta(seconds=RETRY_S), (
                before.channel_id, before.finished_at, after.originated_at)
    print(f"e2e: 500 contacts, {sum(map(len, per_contact.values()))} attempts in {took:.1f}s, "
          f"pbxsim peak {stats['peak_calls'].get(campaign.account_code)}")


def test_it_never_double_claims_with_two_dialer_processes(stack):
    campaign = new_campaign(stack, 150, max_channels=10)
    stack.start_dialer("dialer-a", threads=4)
    stack.start_dialer("dialer-b", threads=4)
    # two starts (as from a double click): still one chain
    start(campaign.id)
    start(campaign.id)
    wait_until(lambda: finished(campaign.id), 100, "the campaign to finish", interval=0.2)
    per_contact, _ = assert_never_over_dialed(stack, campaign)
    assert len(per_contact) == 150


def test_it_completes_after_a_dialer_is_killed_mid_campaign(stack):
    campaign = new_campaign(stack, 200, max_channels=10, ring_timeout_s=5, max_call_s=5)
    first = stack.start_dialer("dialer-1")
    start(campaign.id)
    wait_until(lambda: CallAttempt.select().count() >= 60, 60, "60 attempts", interval=0.05)
    first.kill9()
    assert not first.alive()
    stack.start_dialer("dialer-2")
    wait_until(lambda: finished(campaign.id), 100, "the campaign to finish", interval=0.2)
    per_contact, _ = assert_never_over_dialed(stack, campaign)
    assert len(per_contact) == 200


def test_it_resumes_after_the_pbx_was_down_for_a_while(stack):
    campaign = new_campaign(stack, 120, max_channels=10, ring_timeout_s=5, max_call_s=5)
    stack.start_dialer()
    start(campaign.id)
    wait_until(lambda: CallAttempt.select().count() >= 30, 60, "30 attempts", interval=0.05)
    port = stack.pbx_port
    stack.pbxsim.stop()
    status = wait_until(
        # the tick writes its status, then the chain adds its backoff: wait for both
        lambda: (lambda c: c.dialer_status if c.dialer_status.startswith("PBX unreachable")
                 and "retry in" in c.dialer_status else None)(Campaign.get_by_id(campaign.id)),
        30, "the dialer status to say the PBX is unreachable",
    )
    assert "retry in" in status
    before = CallAttempt.select().count()
    assert Campaign.get_by_id(campaign.id).state == "ACTIVE"
    # nothing is claimed while it is down
    pending = CampaignContact.select().where(CampaignContact.state == "pending").count()
    assert pending > 0
    stack.start_pbxsim(speed=20.0, port=port)
    wait_until(lambda: finished(campaign.id), 100, "the campaign to finish", interval=0.2)
    assert CallAttempt.select().count() > before
    per_contact, _ = assert_never_over_dialed(stack, campaign)
    assert len(per_contact) == 120


@pytest.mark.parametrize("stack", ["no-agi"], indirect=True)
def test_it_gets_every_outcome_from_ami_user_events_while_the_agi_daemon_is_down(stack):
    campaign = new_campaign(stack, 60, max_channels=10)
    stack.start_dialer()
    start(campaign.id)
    wait_until(lambda: finished(campaign.id), 60, "the campaign to finish", interval=0.2)
    per_contact, _ = assert_never_over_dialed(stack, campaign)
    check_predicted_outcomes(campaign, per_contact)
    sources = {e.source for e in CallEvent.select(CallEvent.source).distinct()}
    assert sources == {"ami"}
