"""Contacts added to a list while its campaign runs are dialled; stopped and newly
do-not-call ones are not. Stopping one contact: domain, CLI, API, console, report."""

from datetime import datetime, timezone

import pytest

from app.campaigns import activation
from app.contacts import append_contacts
from app.contacts.stopping import stop_contact
from app.dialer.folding import fold_events
from app.errors import NotFoundError, ValidationError
from app.finalization.results import fold_results
from app.models import (
    CALLING,
    DRAFT,
    FINAL,
    PENDING,
    CampaignContact,
    Contact,
    ContactResult,
    DoNotCall,
)
from tests.admin.conftest import client_as
from tests.dialing_support import SimPbx, contact_ids, event, make_campaign

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def pbx(db):
    sim = SimPbx()
    yield sim
    sim.close()


def tick(campaign, pbx, now=NOW):
    from app.dialer.tick import run_tick

    return run_tick(campaign.id, now, pbx.ami)


def dialled(pbx) -> list[str]:
    return sorted(c["number"] for c in pbx.stats()["calls"])


def state_of(campaign, phone):
    contact = Contact.get((Contact.contact_list == campaign.contact_list_id)
                          & (Contact.phone == phone))
    return CampaignContact.get((CampaignContact.campaign == campaign.id)
                               & (CampaignContact.contact == contact.id))


def test_a_contact_appended_while_the_campaign_runs_is_dialled(pbx):
    campaign = make_campaign(["+12025550101", "+12025550102"], max_channels=10)
    activation.activate(campaign.id, NOW, ami=pbx.ami)
    assert tick(campaign, pbx).originated == 2
    counts = append_contacts(campaign.contact_list_id, [{"phone": "+12025550103"},
                                                        {"phone": "+12025550104"}], NOW)
    assert counts["imported"] == 2
    DoNotCall.create(phone="+12025550104")  # newly do-not-call: never dialled
    result = tick(campaign, pbx)
    assert (result.originated, result.dnc) == (1, 1)
    assert [n[-4:] for n in dialled(pbx)] == ["0101", "0102", "0103"]
    assert state_of(campaign, "+12025550104").last_outcome == "dnc"


def test_appending_seeds_only_campaigns_that_dial_the_list(db):
    running = make_campaign(["+12025550101"])
    activation.activate(running.id, NOW, ami=None)
    activation.pause(running.id, NOW)
    draft = make_campaign(["+12025550201"])
    from app.models import Campaign

    Campaign.update(contact_list=running.contact_list_id).where(Campaign.id == draft.id).execute()
    append_contacts(running.contact_list_id, [{"phone": "+12025550105"}], NOW)
    assert state_of(running, "+12025550105").state == PENDING  # PAUSED: seeded for its resume
    assert not CampaignContact.select().where(CampaignContact.campaign == draft.id).exists()
    assert Campaign.get_by_id(draft.id).state == DRAFT
    # the draft seeds every contact, the appended one included, when it is activated
    activation.activate(draft.id, NOW, ami=None)
    assert CampaignContact.select().where(CampaignContact.campaign == draft.id).count() == 2


def test_a_stopped_contact_is_final_never_dialled_and_reported_as_stopped(pbx):
    campaign = make_campaign(["+12025550101", "+12025550102", "+12025550103"], max_channels=1)
    activation.activate(campaign.id, NOW, ami=pbx.ami)
    first, second, third = contact_ids(campaign)
    assert tick(campaign, pbx).originated == 1  # the first is calling
    done = stop_contact(campaign.id, "+12025550102", NOW, dnc=True, note="called in")
    assert (done["contact_id"], done["was"], done["dnc_added"]) == (second, PENDING, True)
    assert DoNotCall.get(DoNotCall.phone == "+12025550102").note == "called in"
    assert stop_contact(campaign.id, first, NOW)["was"] == CALLING
    # the call that was up ends: its events no longer move the stopped contact
    event(campaign.id, first, 1, "failed-busy", NOW, reason="5")
    fold_events(campaign.id, NOW)
    assert (state_of(campaign, "+12025550101").state,
            state_of(campaign, "+12025550101").last_outcome) == (FINAL, "stopped")
    pbx.thread.wait_idle()
    assert tick(campaign, pbx).originated == 1
    assert [n[-4:] for n in dialled(pbx)] == ["0101", "0103"]
    assert stop_contact(campaign.id, second, NOW)["was"] == FINAL  # again: no change
    fold_results(campaign.id, campaign.contact_list_id)
    outcomes = dict(ContactResult.select(ContactResult.contact_id, ContactResult.outcome)
                    .where(ContactResult.campaign == campaign.id).tuples())
    assert outcomes[first] == outcomes[second] == "stopped" and outcomes[third] != "stopped"


def test_stopping_is_refused_outside_a_running_campaign_or_list(db):
    campaign = make_campaign(["+12025550101"])
    with pytest.raises(ValidationError, match="is DRAFT: a contact can be stopped while"):
        stop_contact(campaign.id, "+12025550101", NOW)
    activation.activate(campaign.id, NOW, ami=None)
    for contact in ("+19999999999", 10**30, "\x00", ""):
        with pytest.raises(NotFoundError, match="is not in campaign"):
            stop_contact(campaign.id, contact, NOW)
    with pytest.raises(NotFoundError):
        stop_contact(10**30, "+12025550101", NOW)


def test_the_cli_api_and_console_stop_a_contact(app, db, users, api):
    campaign = make_campaign(["+12025550101", "+12025550102", "+12025550103"])
    activation.activate(campaign.id, NOW, ami=None)
    result = app.test_cli_runner().invoke(args=["campaign", "stop-contact", str(campaign.id),
                                                "+12025550101", "--dnc"])
    assert result.exit_code == 0, result.output
    assert "stopped, was pending; on the do-not-call list" in result.output
    response = api.post(f"/api/v1/campaigns/{campaign.id}/stop-contact",
                        json={"contact": "+12025550102"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["was"] == PENDING
    response = api.post(f"/api/v1/campaigns/{campaign.id}/stop-contact", json={"contact": "x"})
    assert response.status_code == 404
    app.config["WTF_CSRF_ENABLED"] = False
    operator = client_as(app, "operator")
    assert "stop-contact" in operator.get(f"/admin/campaign/details/?id={campaign.id}").get_data(
        as_text=True)
    page = operator.post(f"/admin/campaign/stop-contact/{campaign.id}",
                         data={"contact": "+12025550103"}, follow_redirects=True)
    assert "Contact +12025550103 stopped (it was pending)" in page.get_data(as_text=True)
    assert [state_of(campaign, f"+1202555010{i}").last_outcome for i in (1, 2, 3)] == [
        "stopped"] * 3
    assert DoNotCall.select().count() == 1
    viewer = client_as(app, "viewer")
    assert viewer.post(f"/admin/campaign/stop-contact/{campaign.id}",
                       data={"contact": "+12025550103"}).status_code == 403
