"""End to end with AMD: real RabbitMQ, a dialer process, the AGI daemon, the AMI UserEvent
recorder and pbxsim running the generated AMD dialplan over every callee kind.

pbxsim's ``lastdigit`` callee: the digit before the last picks what the callee says
(5 machine with a beep, 6 a greeting that never ends, 7 a silent line, else a person
saying "Hello?"); the last digit what it does (1 presses 2, 4 presses nothing, 8
hangs up during the analysis).
"""

from __future__ import annotations

import os
import signal
from collections import Counter, defaultdict

import pytest

from app.amd import normalised_amd
from app.campaigns import activation
from app.clock import utcnow
from app.finalization import finalize
from app.models import (
    FINAL,
    FINALIZING,
    CallAttempt,
    CallEvent,
    Campaign,
    CampaignContact,
    CampaignReport,
    Contact,
    ContactResult,
)
from dialing_support import make_campaign
from stack import Stack, serving

from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

PHONES = {
    "human": "+12025550001",  # HUMAN, presses 2
    "human-silent": "+12025550004",  # HUMAN, presses nothing
    "machine": "+12025550051",  # MACHINE (MAXWORDS-3-2), then a beep and silence
    "endless": "+12025550061",  # MACHINE, a greeting that never ends
    "silent": "+12025550071",  # MACHINE (INITIALSILENCE-2500-2500)
    "hangs-up": "+12025550008",  # HANGUP during the analysis
}
VOICEMAIL = {"message_sound": "custom/callcast-voicemail", "message_cap_s": 5,
             "machine_retry_s": 1}
# policy -> (settings, {kind: (outcome, attempts, verdict events of the attempts)})
POLICIES = {
    "hangup": ({"machine_retries": 1, **VOICEMAIL}, {
        "human": ("answered", 1, ["amd-human"]),
        "human-silent": ("answered", 1, ["amd-human"]),
        "machine": ("machine", 2, ["amd-machine"] * 2),
        "endless": ("machine", 2, ["amd-machine"] * 2),
        "silent": ("machine", 2, ["amd-machine"] * 2),
        "hangs-up": ("answered", 1, ["amd-hangup-human"]),
    }),
    "message": ({"machine": "message", "notsure": "machine", "hangup": "machine",
                 "machine_retries": 2, **VOICEMAIL}, {
        "human": ("answered", 1, ["amd-human"]),
        "human-silent": ("answered", 1, ["amd-human"]),
        "machine": ("machine-message", 1, ["amd-machine"]),
        "endless": ("machine", 3, ["amd-machine"] * 3),  # vm-timeout each time, retried
        "silent": ("machine-message", 1, ["amd-machine"]),
        "hangs-up": ("machine", 3, ["amd-hangup-machine"] * 3),
    }),
    "last-attempt": ({"machine_retries": 1, "message_on_last_attempt": True, **VOICEMAIL}, {
        "human": ("answered", 1, ["amd-human"]),
        "human-silent": ("answered", 1, ["amd-human"]),
        "machine": ("machine-message", 2, ["amd-machine"] * 2),
        "endless": ("machine", 2, ["amd-machine"] * 2),
        "silent": ("machine-message", 2, ["amd-machine"] * 2),
        "hangs-up": ("answered", 1, ["amd-hangup-human"]),
    }),
}


@pytest.fixture(params=[20.0])
def stack(request, sqlite_db, broker, tmp_path, monkeypatch):
    """pbxsim (at ``request.param`` speed), the AGI daemon and the UserEvent recorder."""
    s = Stack(tmp_path, {"DIAL_TICK_MS": "100", "AMI_TIMEOUT": "2",
                         "EXPORT_DIR": str(tmp_path / "exports")})
    keys = ("AGI_PORT", "AMI_PORT", "DIAL_TICK_MS", "AMI_TIMEOUT", "EXPORT_DIR")

    def start(stack):
        stack.start_agi()
        stack.start_pbxsim(speed=request.param)
        stack.start_ami_events()

    with serving(s, monkeypatch, keys, start):
        yield s


def amd_campaign(stack, phones, settings, **fields):
    values = dict(max_channels=10, max_attempts=3, retry_busy_s=1, retry_noanswer_s=1,
                  retry_failed_s=1, ring_timeout_s=10, max_call_s=60, digit_timeout_s=2,
                  message_repeats=1, amd=normalised_amd({"enabled": True, **settings}))
    values.update(fields)
    campaign = make_campaign(phones, options="12", **values)
    activation.activate(campaign.id, utcnow(), ami=stack.ami())
    from tasks.dialing import start_dialing

    start_dialing(campaign.id)
    return campaign


def finished(campaign_id):
    return Campaign.get_by_id(campaign_id).state == "FINISHED"


def verdicts_by_phone(campaign_id):
    phones = {c.id: c.phone for c in Contact.select()}
    found = defaultdict(list)
    for e in CallEvent.select().where(CallEvent.campaign_id == campaign_id).order_by(
            CallEvent.contact_id, CallEvent.attempt):
        if e.name.startswith("amd-"):
            found[phones[e.contact_id]].append(e.name)
    return found


def test_every_callee_kind_under_every_policy_gives_its_outcome_retries_and_report(stack):
    stack.start_dialer()
    campaigns = {policy: amd_campaign(stack, list(PHONES.values()), settings)
                 for policy, (settings, _) in POLICIES.items()}
    for campaign in campaigns.values():
        wait_until(lambda: finished(campaign.id), 110, "the campaign to finish", interval=0.2)
    wrong = []
    for policy, campaign in campaigns.items():
        expected = POLICIES[policy][1]
        rows = {r.contact_id: r for r in CampaignContact.select().where(
            CampaignContact.campaign == campaign.id)}
        phones = {c.id: c.phone for c in Contact.select()}
        verdicts = verdicts_by_phone(campaign.id)
        for contact_id, row in rows.items():
            kind = next(k for k, p in PHONES.items() if p == phones[contact_id])
            outcome, attempts, events = expected[kind]
            count = CallAttempt.select().where((CallAttempt.campaign == campaign.id) & (
                CallAttempt.contact == contact_id)).count()
            got = (row.state, row.last_outcome, row.attempts, count, verdicts[phones[contact_id]])
            if got != (FINAL, outcome, attempts, attempts, events):
                wrong.append((policy, kind, got))
    assert not wrong, wrong
    # retries of machines waited their own delay
    for a, b in _consecutive_attempts(campaigns["hangup"].id):
        assert (b.originated_at - a.finished_at).total_seconds() >= 1
    # a greeting that never ends never held a channel past the cap (5 s, here 0.25 s real)
    for call in stack.pbx_stats()["calls"]:
        if call["number"].endswith("61"):
            assert call["ended_at"] - call["originated_at"] < (1 + 1.76 + 5 + 2) / 20 + 1.0
    _check_report(campaigns["message"], POLICIES["message"][1])


def _consecutive_attempts(campaign_id):
    by_contact = defaultdict(list)
    for a in CallAttempt.select().where(CallAttempt.campaign == campaign_id).order_by(
            CallAttempt.contact, CallAttempt.number):
        by_contact[a.contact_id].append(a)
    for attempts in by_contact.values():
        yield from zip(attempts, attempts[1:])


def _check_report(campaign, expected):
    Campaign.update(state=FINALIZING).where(Campaign.id == campaign.id).execute()
    assert finalize(campaign.id, utcnow()) == "closed"
    data = CampaignReport.get(CampaignReport.campaign == campaign.id).data
    outcomes = Counter(outcome for outcome, _, _ in expected.values())
    assert data["answered"] == outcomes["answered"] == 2
    assert data["answer_rate"] == round(2 / len(PHONES), 4)  # people only, not machines
    assert {k: v for k, v in data["outcomes"].items() if v} == dict(outcomes)
    assert data["amd"] == {"humans": 2, "machines": 3, "not_sure": 0, "hung_up": 1,
                           "messages_left": 2}
    causes = {r.phone: (r.amd_verdict, r.amd_cause) for r in ContactResult.select().where(
        ContactResult.campaign == campaign.id)}
    assert causes == {
        PHONES["human"]: ("HUMAN", "HUMAN-800-800"),
        PHONES["human-silent"]: ("HUMAN", "HUMAN-800-800"),
        PHONES["machine"]: ("MACHINE", "MAXWORDS-3-2"),
        PHONES["endless"]: ("MACHINE", "MAXWORDS-3-2"),
        PHONES["silent"]: ("MACHINE", "INITIALSILENCE-2500-2500"),
        PHONES["hangs-up"]: ("HANGUP", ""),
    }


def running(stack, channel, app, data=""):
    return any(ch.get("Uniqueid") == channel and ch.get("Application") == app
               and data in ch.get("ApplicationData", "")
               for ch in stack.ami().core_show_channels())


@pytest.mark.parametrize("stack", [2.0], indirect=True)  # AMD() listens 0.75 s here
def test_a_kill_9_of_the_agi_daemon_during_the_verdict_still_records_it_once(stack):
    stack.start_dialer()
    campaign = amd_campaign(stack, [PHONES["machine"]], POLICIES["hangup"][0], max_attempts=1)
    channel = CallAttempt.make_channel_id(campaign.id, Contact.get().id, 1)
    # the answered report is confirmed once AMD() runs: freeze the daemon then
    wait_until(lambda: running(stack, channel, "AMD"), 30, "AMD() on the call", interval=0.01)
    os.killpg(stack.agi.popen.pid, signal.SIGSTOP)

    def reporting_verdict():
        return running(stack, channel, "AGI", "/amd-machine")

    # the verdict's AGI request is with the frozen daemon (accepted by the kernel): kill it
    wait_until(reporting_verdict, 30, "the verdict's AGI request", interval=0.01)
    stack.agi.kill9()
    wait_until(lambda: finished(campaign.id), 60, "the campaign to finish", interval=0.2)
    verdicts = list(CallEvent.select().where(CallEvent.name.startswith("amd-")))
    assert [(e.name, e.source, e.data) for e in verdicts] == [
        ("amd-machine", "ami", {"cause": "MAXWORDS-3-2"})]
    row = CampaignContact.get(CampaignContact.campaign == campaign.id)
    assert (row.state, row.last_outcome) == (FINAL, "machine")
