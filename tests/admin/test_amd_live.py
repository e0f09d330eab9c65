"""The live campaign page counts AMD verdicts apart: people, machines, not sure, messages left."""

from __future__ import annotations

from app.finalization import finalize
from app.models import ACTIVE, CLOSED, FINALIZING, Campaign
from tests.campaign_end_support import T0, call, contact_ids, make_campaign

AMD = {"enabled": True, "machine": "message", "message_sound": "vm"}


def test_the_live_page_counts_verdicts_while_dialing_and_contacts_once_closed(
        db, no_csrf, viewer_client):
    campaign = make_campaign(4, state=ACTIVE, amd=AMD)
    ids = contact_ids(campaign)
    call(campaign, ids[0], 1, [("answered", 0), ("amd-human", 1), ("dtmf-1", 5), ("hangup", 9)],
         outcome="answered")
    call(campaign, ids[1], 1, [("answered", 0), ("amd-machine", 1), ("vm-left", 9),
                               ("hangup", 10)], outcome="machine-message")
    call(campaign, ids[2], 1, [("answered", 0), ("amd-notsure-human", 5), ("timeout", 20),
                               ("hangup", 21)], outcome="answered")
    call(campaign, ids[3], 1, [("failed-busy", 2)], outcome="busy")
    data = viewer_client.get(f"/admin/campaign/live/{campaign.id}.json").get_json()
    assert data["amd"] == {"humans": 1, "machines": 1, "not_sure": 1, "hung_up": 0,
                           "messages_left": 1}
    assert data["outcomes"] == {"answered": 2, "machine-message": 1, "busy": 1}
    page = viewer_client.get(f"/admin/campaign/details/?id={campaign.id}").get_data(as_text=True)
    assert 'id="live-amd"' in page and "<td>not sure</td><td class=\"text-right\">1</td>" in page

    Campaign.update(state=FINALIZING).where(Campaign.id == campaign.id).execute()
    assert finalize(campaign.id, T0) == "closed" and Campaign.get_by_id(campaign.id).state == CLOSED
    data = viewer_client.get(f"/admin/campaign/live/{campaign.id}.json").get_json()
    assert data["amd"] == {"humans": 1, "machines": 1, "not_sure": 1, "hung_up": 0,
                           "messages_left": 1}


def test_a_campaign_without_amd_shows_no_verdicts(db, no_csrf, viewer_client):
    campaign = make_campaign(1, state=ACTIVE)
    data = viewer_client.get(f"/admin/campaign/live/{campaign.id}.json").get_json()
    assert data["amd"] == {}


def test_the_campaign_form_sets_amd_through_the_domain_rule(db, no_csrf, operator_client):
    from tests.admin.test_campaigns import campaign_form

    from .conftest import flashes

    page = operator_client.get("/admin/campaign/new/").get_data(as_text=True)
    assert 'name="amd_enabled"' in page and "longest greeting; more: MACHINE" in page
    form = campaign_form(amd_enabled="y", amd_machine="message", amd_notsure="machine",
                         amd_hangup="human", amd_message_sound="hello-world",
                         amd_greeting_ms="2000", amd_machine_retries="1")
    response = operator_client.post("/admin/campaign/new/", data=form)
    assert response.status_code == 302, flashes(response)
    stored = Campaign.get(Campaign.name == "Spring reminders").amd
    assert (stored["enabled"], stored["machine"], stored["greeting_ms"], stored["max_words"]) == (
        True, "message", 2000, 2)
    edit = operator_client.get(f"/admin/campaign/edit/?id={Campaign.get().id}").get_data(
        as_text=True)
    assert 'name="amd_greeting_ms" type="number" value="2000"' in edit
    # the form offers the rule's range; an out-of-range value is refused at the field
    bad = operator_client.post("/admin/campaign/new/",
                               data=campaign_form(name="bad", amd_enabled="y",
                                                  amd_greeting_ms="0"))
    assert bad.status_code == 200 and Campaign.select().count() == 1
    # leaving the message needs one: the domain names the field
    none = operator_client.post("/admin/campaign/new/",
                                data=campaign_form(name="none", amd_enabled="y",
                                                   amd_machine="message"))
    assert "amd.message_sound" in " ".join(flashes(none)) + none.get_data(as_text=True)
    assert Campaign.select().count() == 1


def test_the_campaign_form_stores_an_uploaded_voicemail_message(app, db, no_csrf, operator_client):
    import io

    from app.pbx.dialplan import campaign_spec, render_campaign
    from tests.admin.test_campaigns import campaign_form
    from tests.admin.test_media import wav

    from .conftest import flashes

    form = campaign_form(amd_enabled="y", amd_machine="message")
    form["amd_message_upload"] = (io.BytesIO(wav(frames=1600)), "voicemail.wav")
    response = operator_client.post("/admin/campaign/new/", data=form,
                                    content_type="multipart/form-data")
    assert response.status_code == 302, flashes(response)
    campaign = Campaign.get()
    stored = campaign.amd["message_file"]
    assert stored.startswith(f"campaigns/{campaign.id}/message-") and stored.endswith(".wav")
    assert campaign.amd["message_sound"] == "" and campaign.message_sound == "hello-world"
    assert (app.config["SETTINGS"].media_dir / stored).read_bytes() == wav(frames=1600)
    from app.pbx import media
    assert media.needed([campaign]) == [(stored, media.sha256_of(wav(frames=1600)))]
    text = render_campaign(campaign_spec(campaign, []), None, app.config["SETTINGS"])
    assert f"Playback({app.config['SETTINGS'].media_dir / stored[:-4]})" in text
    # a file that would not play is refused, nothing stored
    form = campaign_form(name="bad", amd_enabled="y", amd_machine="message")
    form["amd_message_upload"] = (io.BytesIO(b"ID3"), "song.mp3")
    bad = operator_client.post("/admin/campaign/new/", data=form,
                               content_type="multipart/form-data")
    assert bad.status_code == 200 and Campaign.select().count() == 1
