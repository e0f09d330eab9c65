"""Activation of a templated campaign, speech synthesis and the claims that wait for it,
on both databases: skipped contacts with their reasons, files only the owner and Asterisk's group read, written once,
the status when synthesis is the limit, the hashes archived and the audio purged."""

from __future__ import annotations

import stat
import wave
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from app.campaigns import editing
from app.campaigns.activation import activate
from app.config import get_settings
from app.dialer.claims import due_contacts
from app.errors import ValidationError
from app.events import BAD_MESSAGE
from app.messages.audio import synthesize_some, waiting_for_audio
from app.messages.prompts import audio_dir, prompt_of, prompts_under
from app.messages.prepare import message_of, message_variables, purge_messages, skipped_rows
from app.messages.tables import ContactMessage, MessageAudio
from app.messages.tts import CommandEngine, EspeakEngine, telephony_wav
from app.models import FINAL, PENDING, Campaign, CampaignContact, Contact, ContactList
from dialing_support import make_campaign

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
TEMPLATE = {"segments": [
    {"kind": "tts", "text": "{name}"},
    {"kind": "say", "field": "amount", "as": "number"},
]}


@pytest.fixture(autouse=True)
def media(tmp_path, monkeypatch):
    """A MEDIA_DIR per test: the SQLite and PostgreSQL runs both have a campaign 1."""
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "media"))
    get_settings.cache_clear()
    yield tmp_path / "media"
    get_settings.cache_clear()


ROWS = [("Maria", "12"), ("Ana", "7"), ("Maria", "3"), ("", "5"), ("Joe", "12x")]


def templated(template=TEMPLATE, rows=ROWS):
    campaign = make_campaign([f"+1202555{i:04d}" for i in range(len(rows))])
    ContactList.update(columns=["name", "amount"]).where(
        ContactList.id == campaign.contact_list_id).execute()
    for contact, (name, amount) in zip(
            Contact.select().where(Contact.contact_list == campaign.contact_list_id)
            .order_by(Contact.position), rows):
        Contact.update(fields={"name": name, "amount": amount}).where(
            Contact.id == contact.id).execute()
    Campaign.update(message_template=template).where(Campaign.id == campaign.id).execute()
    return Campaign.get_by_id(campaign.id)


def test_saving_a_template_naming_an_unknown_column_is_refused(db):
    campaign = templated()
    bad = {"segments": [{"kind": "say", "field": "amuont", "as": "number"}]}
    with pytest.raises(ValidationError, match="segment 1: unknown field 'amuont'"):
        editing.update(campaign.id, {"message_template": bad,
                                     "contact_list": campaign.contact_list_id}, NOW)


def test_activation_refuses_a_template_whose_field_left_the_list(db):
    campaign = templated({"segments": [{"kind": "tts", "text": "Dear {surname}"}]})
    with pytest.raises(ValidationError, match="segment 1: unknown field 'surname'"):
        activate(campaign.id, NOW)


def test_activation_skips_contacts_whose_values_do_not_fit_with_their_reason(db):
    campaign = templated()
    activate(campaign.id, NOW)
    assert "2 contacts skipped" in Campaign.get_by_id(campaign.id).dialer_status
    skipped = list(skipped_rows(campaign.id))
    assert [(pos, reason) for _, pos, _, reason in skipped] == [
        (5, "segment 1: text is empty after substitution (fields 'name')"),
        (6, "field 'amount': '12x' is not a whole number"),
    ]
    states = {cc.contact_id: (cc.state, cc.last_outcome, cc.audio_ready)
              for cc in CampaignContact.select().where(CampaignContact.campaign == campaign.id)}
    ids = [c.id for c in Contact.select().order_by(Contact.position)][-5:]
    assert states[ids[3]] == (FINAL, BAD_MESSAGE, True)
    assert states[ids[0]] == (PENDING, "", False)  # waits for its audio
    # two contacts say "Hello Maria": one text to make for both
    assert MessageAudio.select().where(MessageAudio.campaign_id == campaign.id).count() == 2
    assert message_of(campaign.id, ids[1]).text == "Ana <number 7>"


def test_synthesis_makes_each_text_once_for_owner_and_group_only_and_frees_the_claims(db):
    campaign = templated()
    activate(campaign.id, NOW)
    settings = get_settings()
    assert due_contacts(campaign.id, NOW, 10) == []  # nothing claimable before the audio
    assert waiting_for_audio(campaign.id) == 3
    assert synthesize_some(campaign.id, NOW, settings, limit=1) == 1
    assert len(due_contacts(campaign.id, NOW, 10)) == 2  # the two Marias (rank order)
    assert synthesize_some(campaign.id, NOW, settings) == 0
    assert waiting_for_audio(campaign.id) == 0 and len(due_contacts(campaign.id, NOW, 10)) == 3
    folder = audio_dir(settings, campaign.id)
    files = sorted(folder.iterdir())
    assert len(files) == 2
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o640 for f in files)
    with wave.open(str(files[0])) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() > 2400  # a name lasts more than 0.3 s
    variables = message_variables(campaign, [c.contact_id for c in due_contacts(
        campaign.id, NOW, 10)])
    prompts = {v["CC_V1"] for v in variables.values()}
    assert prompts == {str(f)[:-4] for f in files}
    assert {v["CC_V2"] for v in variables.values()} == {"12", "7", "3"}


def test_the_purge_deletes_rows_and_files_and_returns_the_hashes(db):
    campaign = templated()
    activate(campaign.id, NOW)
    settings = get_settings()
    synthesize_some(campaign.id, NOW, settings)
    digests = purge_messages(campaign.id, settings)
    assert len(digests) == 2 and all(len(d) == 64 for d in digests)
    assert not audio_dir(settings, campaign.id).exists()
    assert ContactMessage.select().where(ContactMessage.campaign_id == campaign.id).count() == 0


def test_tts_command_runs_another_engine_without_code_changes(tmp_path):
    engine = CommandEngine("espeak-ng -v {lang} -w {out}")
    wav, ms = telephony_wav(engine.synthesize("one two three", "en", ""))
    raw, raw_ms = telephony_wav(EspeakEngine().synthesize("one two three", "en", ""))
    assert abs(ms - raw_ms) < 50 and ms > 500
    assert wav[:4] == b"RIFF" and len(wav) == len(raw)


def test_a_media_dir_the_dialplan_cannot_carry_is_named_at_activation(db, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "my media, 2"))
    get_settings.cache_clear()
    campaign = templated()
    with pytest.raises(ValidationError, match="MEDIA_DIR: the speech files' folder .* has "
                                              "characters a dialplan argument cannot carry"):
        activate(campaign.id, NOW)


def test_resampling_to_8_khz_keeps_speech_and_filters_what_would_alias():
    import numpy as np

    from app.messages.tts import resample

    t = np.arange(22050) / 22050
    kept = resample(np.sin(2 * np.pi * 440 * t), 22050)
    assert len(kept) == 8000 and 0.95 < np.abs(kept).max() < 1.05
    # 6 kHz is above the new 4 kHz Nyquist: without the low-pass it would come back at 2 kHz
    gone = resample(np.sin(2 * np.pi * 6000 * t), 22050)
    assert np.abs(gone[100:-100]).max() < 0.01


def test_the_synthesized_files_are_named_under_the_carrying_pbx_s_media_dir(tmp_path):
    settings = get_settings()
    there = replace(settings, media_dir=tmp_path / "pbx-host")
    digest = "c" * 64
    variables = {"CC_V1": prompt_of(settings, 7, digest), "CC_V2": "12",
                 "CC_V3": prompt_of(settings, 8, digest), "CC_V4": 5}
    assert prompts_under(variables, 7, there) == {
        "CC_V1": str(tmp_path / "pbx-host" / "tts" / "campaign-7" / digest), "CC_V2": "12",
        "CC_V3": variables["CC_V3"], "CC_V4": 5}
    assert prompts_under(None, 7, there) == {}
