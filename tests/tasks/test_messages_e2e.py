"""End to end: a campaign of 1,000 personalised messages through RabbitMQ, the ``tts`` worker
(espeak-ng), a dialer process, the AGI daemon and pbxsim with stock sounds.

Every segment kind is in the template; pbxsim reports what each channel played, so
every contact's call is checked against its own parts; the ``lastdigit`` callees press
their digit two seconds into the message (inside the Say parts), and the report of the
campaign has the form of a plain campaign's report.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

from app.campaigns import activation
from app.campaigns.states import transition
from app.clock import utcnow
from app.config import get_settings
from app.finalization import finalize
from app.finalization.archive import read_archive
from app.messages.prompts import audio_dir
from app.messages.prepare import message_variables
from app.messages.tables import MessageAudio
from app.models import (
    DRAINING, FINAL, FINALIZING, CallEvent, Campaign, CampaignContact, CampaignReport, Contact,
    ContactList,
)
from dialing_support import make_campaign
from pbxsim import say
from stack import VENV_BIN, Stack, serving

from tests.waiting import wait_until

sys.path.insert(0, str(Path(__file__).parent.parent / "messages"))
from sounds_support import make_sounds  # noqa: E402

pytestmark = pytest.mark.e2e

N = 1000
NAMES = [f"Name{chr(65 + i % 26)}{chr(65 + i // 26)}" for i in range(100)]  # 10 % distinct
TEMPLATE = {"language": "en", "segments": [
    {"kind": "sound", "sound": "hello"},
    {"kind": "tts", "text": "Hello {name}"},
    {"kind": "say", "field": "amount", "as": "number"},
    {"kind": "say", "field": "code", "as": "digits"},
    {"kind": "say", "field": "initials", "as": "alpha"},
    {"kind": "say", "field": "due", "as": "date"},
    {"kind": "say", "field": "due", "as": "time"},
    {"kind": "say", "field": "balance", "as": "money", "unit": "euros"},
]}
KEYS = ("AGI_PORT", "AMI_PORT", "DIAL_TICK_MS", "AMI_TIMEOUT", "MEDIA_DIR", "EXPORT_DIR")


@pytest.fixture
def stack(sqlite_db, broker, tmp_path, monkeypatch):
    env = {"DIAL_TICK_MS": "100", "AMI_TIMEOUT": "2", "MEDIA_DIR": str(tmp_path / "media"),
           "EXPORT_DIR": str(tmp_path / "exports")}
    s = Stack(tmp_path, env)
    sounds = make_sounds(tmp_path / "sounds")

    def start(stack):
        stack.start_agi()
        stack.start_pbxsim(speed=50.0, extra=("--sounds-dir", str(sounds)))

    with serving(s, monkeypatch, KEYS, start):
        yield s


def fields_of(i):
    return {"name": NAMES[i % len(NAMES)], "amount": str(i * 7), "code": f"{i:04d}",
            "initials": "AB" if i % 2 else "C D", "due": f"2026-12-{1 + i % 28:02d} {i % 24:02d}:"
            f"{i % 60:02d}", "balance": f"{i}.{i % 100:02d}"}


def new_campaign(stack, n, template=None):
    campaign = make_campaign([f"+1202555{i:04d}" for i in range(n)], options="1234",
                             max_channels=100, max_attempts=1, ring_timeout_s=10, max_call_s=60,
                             digit_timeout_s=2, message_repeats=1, timezone="Europe/Paris")
    ContactList.update(columns=list(fields_of(0))).where(
        ContactList.id == campaign.contact_list_id).execute()
    contacts = Contact.select().where(Contact.contact_list == campaign.contact_list_id)
    for i, contact in enumerate(contacts.order_by(Contact.position)):
        Contact.update(fields=fields_of(i)).where(Contact.id == contact.id).execute()
    if template:
        Campaign.update(message_template=template).where(Campaign.id == campaign.id).execute()
    activation.activate(campaign.id, utcnow(), ami=stack.ami())
    return Campaign.get_by_id(campaign.id)


def own_parts(variables, zone="Europe/Paris"):
    """What main/say.c plays for one contact's variables (pbxsim.say, checked by hand in
    tests/messages/test_message_dialplan.py)."""
    cents = variables["CC_C8"]
    return ["hello", variables["CC_V2"],
            *say.number_files(int(variables["CC_V3"])),
            *say.digit_files(variables["CC_V4"], lambda n: True),
            *say.character_files(variables["CC_V5"], lambda n: True),
            *say.date_files(int(variables["CC_V6"]), zone, "ABdY"),
            *say.date_files(int(variables["CC_V7"]), zone, "IMp"),
            *say.number_files(int(variables["CC_V8"])), "euros",
            *((say.number_files(int(cents)) + ["cents"]) if cents else [])]


def finalize_now(campaign_id):
    transition(campaign_id, DRAINING, utcnow())
    transition(campaign_id, FINALIZING, utcnow())
    assert finalize(campaign_id, utcnow()) == "closed"
    return CampaignReport.get(CampaignReport.campaign == campaign_id)


def shape(value):
    """A report's form: its keys, nested, without the figures."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in ("digits", "histogram")}
    return type(value).__name__


def check_calls(stack, campaign):
    variables = message_variables(campaign, [c.id for c in Contact.select()])
    phones = {c.id: c.phone for c in Contact.select()}
    by_channel = {c["channel_id"]: c for c in stack.pbx_stats()["calls"]
                  if c["account"] == campaign.account_code}
    checked = pressed = 0
    for contact_id, own in variables.items():
        call = by_channel.get(f"cc-{campaign.id}-{contact_id}-1")
        last = int(phones[contact_id][-1])
        if last in (5, 6, 7, 8):  # busy, no answer, congestion; 8 hangs up at once
            continue
        parts = own_parts(own)
        assert call["missing"] == [], call["missing"]
        if last == 4:  # listens to the end: exactly its own parts
            assert call["played"] == parts, (contact_id, call["played"])
        else:  # pressed 2 s in: a prefix of its own parts, then the digit's option
            assert 2 < len(call["played"]) < len(parts) and parts[:len(call["played"])] == \
                call["played"], (contact_id, call["played"])
            pressed += 1
        checked += 1
    return checked, pressed


def test_it_plays_each_contact_its_own_message_and_digits_still_work(stack):
    campaign = new_campaign(stack, N, TEMPLATE)
    plain = new_campaign(stack, 20)
    assert MessageAudio.select().where(MessageAudio.campaign_id == campaign.id).count() == 100
    stack.start_dialer()
    from tasks.dialing import start_dialing

    start_dialing(campaign.id)
    start_dialing(plain.id)
    # no tts worker yet: the dialer claims nothing and says why
    wait_until(lambda: Campaign.get_by_id(campaign.id).dialer_status.startswith(
        "waiting for speech synthesis: 1000 contacts"), 20, "the synthesis status")
    stack._spawn("tts", [str(VENV_BIN / "dramatiq"), "tasks.tts", "-Q", "tts", "-p", "1",
                         "-t", "2"], stack.env)
    done = lambda c: Campaign.get_by_id(c.id).state == "FINISHED"  # noqa: E731
    wait_until(lambda: done(campaign) and done(plain), 100, "both campaigns to finish",
               interval=0.2)
    checked, pressed = check_calls(stack, campaign)
    assert checked == 600 and pressed == 500  # last digits 0-4 and 9; 0-3 and 9 press
    finals = CampaignContact.select().where((CampaignContact.campaign == campaign.id)
                                            & (CampaignContact.state == FINAL)).count()
    assert finals == N
    dtmf = CallEvent.select().where((CallEvent.campaign_id == campaign.id)
                                    & CallEvent.name.startswith("dtmf-")).count()
    assert dtmf == 400  # digits 1-4 pressed during the message reached their options
    wait_until(lambda: stack.pbx_stats()["live_calls"] == {}, 20, "the last calls to end")
    report, reference = finalize_now(campaign.id), finalize_now(plain.id)
    assert shape(report.data) == shape(reference.data)
    hashes = read_archive(report.archive_path, "message_audio")
    assert len(hashes) == 100 and not audio_dir(get_settings(), campaign.id).exists()
    assert report.data["outcomes"]["answered"] == 700  # last digits 0-4, 8 and 9 answer
    print(f"e2e messages: {N} contacts, {checked} checked, {pressed} pressed, "
          f"took {(utcnow() - campaign.activated_at) / timedelta(seconds=1):.1f}s")
