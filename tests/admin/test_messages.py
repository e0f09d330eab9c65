"""The personalised message in the console: the template on the campaign form (its errors at the
field), the Messages page (the list's columns, each contact's message text or problem), the
preview WAV for contact N joined from the stock sounds, and the skipped list."""

from __future__ import annotations

import dataclasses
import io
import json
import wave

import pytest

from app.models import Campaign, Contact, ContactList
from tests.messages.sounds_support import make_sounds

from .conftest import flashes
from .test_campaigns import campaign_form

TEMPLATE = {"segments": [{"kind": "tts", "text": "Hello {name}"},
                         {"kind": "say", "field": "amount", "as": "number"}]}


@pytest.fixture
def sounds(app, tmp_path, monkeypatch):
    folder = make_sounds(tmp_path / "sounds")
    settings = dataclasses.replace(app.config["SETTINGS"], asterisk_sounds_dir=folder)
    monkeypatch.setitem(app.config, "SETTINGS", settings)
    return folder


def a_list():
    made = ContactList.create(name="people", status="ready", columns=["name", "amount"])
    for i, (name, amount) in enumerate([("Maria", "124"), ("Ana", "lots")]):
        Contact.create(contact_list=made.id, phone=f"+1202555000{i}", position=i + 2,
                       fields={"name": name, "amount": amount})
    return made


def test_the_form_stores_a_template_and_names_an_unknown_field(no_csrf, operator_client):
    listed = a_list()
    bad = {"segments": [{"kind": "say", "field": "amuont", "as": "number"}]}
    refused = operator_client.post("/admin/campaign/new/", data=campaign_form(
        contact_list=str(listed.id), message_template=json.dumps(bad)))
    assert "segment 1: unknown field &#39;amuont&#39;" in refused.get_data(as_text=True) or \
        any("segment 1: unknown field 'amuont'" in f for f in flashes(refused))
    assert Campaign.select().count() == 0
    made = operator_client.post("/admin/campaign/new/", data=campaign_form(
        contact_list=str(listed.id), message_sound="", message_template=json.dumps(TEMPLATE)))
    assert made.status_code == 302, flashes(made)
    assert Campaign.get().message_template == TEMPLATE


def test_the_messages_page_lists_columns_texts_and_problems(no_csrf, operator_client):
    listed = a_list()
    campaign = Campaign.create(name="c", contact_list=listed.id, message_template=TEMPLATE)
    page = operator_client.get(f"/admin/messages/?campaign={campaign.id}").get_data(as_text=True)
    assert "<code>{name}</code> <code>{amount}</code>" in page
    assert "Hello Maria &lt;number 124&gt;" in page
    assert "field &#39;amount&#39;: &#39;lots&#39; is not a whole number" in page


def test_the_preview_is_a_wav_of_the_tts_part_and_the_stock_prompts(no_csrf, operator_client,
                                                                     sounds):
    listed = a_list()
    campaign = Campaign.create(name="c", contact_list=listed.id, message_template=TEMPLATE)
    got = operator_client.get(f"/admin/messages/preview/{campaign.id}/2.wav")
    assert got.status_code == 200 and got.mimetype == "audio/wav"
    with wave.open(io.BytesIO(got.data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        seconds = w.getnframes() / 8000
    # "Hello Maria" (over 0.5 s) then digits/1, digits/hundred, digits/20, digits/4 (0.1 s each)
    assert seconds > 0.5 + 4 * 0.1 and "X-Callcast-Missing-Prompts" not in got.headers
    refused = operator_client.get(f"/admin/messages/preview/{campaign.id}/3.wav")
    assert refused.status_code == 422 and b"'lots' is not a whole number" in refused.data
    assert operator_client.get(f"/admin/messages/preview/{campaign.id}/99.wav").status_code == 404
