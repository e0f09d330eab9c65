"""Recycle by outcome: from the results a CLOSED campaign keeps after the purge (or a
FINISHED one's dial states), a new list with the contacts' extra columns and a DRAFT built
like the campaign; preview first; the domain, the CLI, the API and the console."""

from datetime import timedelta

import pytest

from app.campaigns.recycling import make_filter, preview, recycle
from app.errors import ValidationError
from app.finalization import finalize
from app.models import (
    CLOSED,
    DRAFT,
    CallAttempt,
    FINALIZING,
    FINISHED,
    Campaign,
    CampaignContact,
    Contact,
    ContactList,
)
from tests.admin.conftest import client_as
from tests.campaign_end_support import T0, call, contact_ids, make_campaign, working_rows

NOW = T0 + timedelta(hours=5)


def closed_campaign():
    """Six contacts: answered (1), busy, noanswer, never called, answered (2), busy x2."""
    campaign = make_campaign(6, state=FINALIZING, max_attempts=2)
    c = contact_ids(campaign)
    call(campaign, c[0], 1, [("answered", 0), ("dtmf-1", 5), ("hangup", 9)], outcome="answered")
    call(campaign, c[1], 1, [("failed-busy", 5)], outcome="busy")
    call(campaign, c[2], 1, [("failed-noanswer", 30)], outcome="noanswer")
    call(campaign, c[4], 1, [("answered", 0), ("dtmf-2", 5), ("hangup", 9)], outcome="answered")
    call(campaign, c[5], 1, [("failed-busy", 5)], final=False, outcome="busy")
    call(campaign, c[5], 2, [("failed-busy", 5)], at=T0 + timedelta(hours=1), outcome="busy")
    return campaign, c


def phones_of(list_id):
    return [(c.phone, c.fields) for c in
            Contact.select().where(Contact.contact_list == list_id).order_by(Contact.position)]


def test_a_closed_campaign_is_recycled_from_its_results_after_the_purge(db):
    campaign, c = closed_campaign()
    assert finalize(campaign.id, NOW) == "closed"
    assert working_rows(campaign.id) == {"events": 0, "attempts": 0, "contacts": 0}
    flt = make_filter(["busy", "noanswer"])
    assert preview(campaign.id, flt) == 3
    copy, new_list, count = recycle(campaign.id, flt, NOW)
    assert count == 3 and copy.state == DRAFT and copy.contact_list_id == new_list.id
    source = {x.id: x for x in Contact.select().where(Contact.id.in_(c))}
    assert phones_of(new_list.id) == [(source[i].phone, source[i].fields)
                                      for i in (c[1], c[2], c[5])]
    assert phones_of(new_list.id)[0][1] == {"name": "Nom 1 é", "city": "Paris"}
    assert (new_list.columns, new_list.phone_column, new_list.status) == (
        ["name", "city"], "Phone", "ready")
    assert copy.name == "copy of end test (busy or noanswer)"
    assert copy.max_attempts == 2 and copy.timezone == "Europe/Paris"
    assert preview(campaign.id, make_filter(digits=["2"])) == 1
    assert preview(campaign.id, make_filter(["busy"], min_attempts=2)) == 1
    assert preview(campaign.id, make_filter(["not_called"])) == 1
    assert preview(campaign.id, make_filter()) == 6


def test_a_finished_campaign_is_recycled_from_its_dial_states(db):
    campaign, c = closed_campaign()
    Campaign.update(state=FINISHED).where(Campaign.id == campaign.id).execute()
    for contact, digit in ((c[0], "1"), (c[4], "2")):  # as the fold stores a digit pressed
        CallAttempt.update(digit=digit).where(CallAttempt.contact == contact).execute()
    assert preview(campaign.id, make_filter(["busy", "noanswer"])) == 3
    assert preview(campaign.id, make_filter(digits=["1"])) == 1
    assert preview(campaign.id, make_filter(["not_called"])) == 1
    _copy, new_list, count = recycle(campaign.id, make_filter(["answered"]), NOW, name="again")
    assert count == 2 and new_list.name == "again"
    assert CampaignContact.select().where(CampaignContact.campaign == _copy.id).count() == 0


@pytest.mark.parametrize("kwargs,message", [
    ({"outcomes": ["bussy"]}, "outcomes: unknown bussy"),
    ({"digits": ["12"]}, "digits: each is one of"),
    ({"min_attempts": -1}, "min_attempts must be a whole number between 0 and 100"),
    ({"max_attempts": 10**9}, "max_attempts must be"),
    ({"min_attempts": 3, "max_attempts": 2}, "min_attempts: more than max_attempts"),
])
def test_a_filter_is_refused_naming_the_field(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        make_filter(**kwargs)


def test_only_finished_or_closed_campaigns_with_matches_are_recycled(db):
    campaign, _ = closed_campaign()
    with pytest.raises(ValidationError, match="is FINALIZING: it can be recycled once"):
        preview(campaign.id, make_filter())
    finalize(campaign.id, NOW)
    lists = ContactList.select().count()
    with pytest.raises(ValidationError, match="no contact matches"):
        recycle(campaign.id, make_filter(["congestion"]), NOW)
    assert ContactList.select().count() == lists and Campaign.select().count() == 1


def test_the_cli_api_and_console_recycle(app, db, users, api):
    campaign, _ = closed_campaign()
    finalize(campaign.id, NOW)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["campaign", "recycle", str(campaign.id), "--outcome", "busy",
                                 "--outcome", "noanswer", "--preview"])
    assert result.exit_code == 0 and "3 contacts match (busy or noanswer)" in result.output
    result = runner.invoke(args=["campaign", "recycle", str(campaign.id), "--digit", "1"])
    assert result.exit_code == 0 and "1 contacts (pressed 1)" in result.output
    result = runner.invoke(args=["campaign", "recycle", str(campaign.id), "--outcome", "x"])
    assert result.exit_code != 0 and "outcomes: unknown x" in result.output
    url = f"/api/v1/campaigns/{campaign.id}/recycle"
    assert api.post(url, json={"outcomes": ["busy"], "preview": True}).get_json()["count"] == 2
    body = api.post(url, json={"outcomes": ["busy"], "name": "api recycle"}).get_json()
    assert body["count"] == 2 and body["campaign"]["name"] == "api recycle"
    assert body["campaign"]["contact_list"] == body["contact_list"]
    assert api.post(url, json={"outcomes": ["nope"]}).status_code == 422
    app.config["WTF_CSRF_ENABLED"] = False
    operator = client_as(app, "operator")
    page = operator.get(f"/admin/campaign/details/?id={campaign.id}").get_data(as_text=True)
    assert 'id="recycle"' in page
    page = operator.post(f"/admin/campaign/recycle/{campaign.id}",
                         data={"outcome": ["noanswer"], "preview": "1"}, follow_redirects=True)
    assert "1 contacts match" in page.get_data(as_text=True)
    response = operator.post(f"/admin/campaign/recycle/{campaign.id}",
                             data={"outcome": ["noanswer"], "max_attempts": "1"})
    assert response.status_code == 302 and "/admin/campaign/edit/" in response.headers["Location"]
    assert Campaign.select().where(Campaign.state == CLOSED).count() == 1
    assert client_as(app, "viewer").post(f"/admin/campaign/recycle/{campaign.id}").status_code \
        == 403


def test_a_closed_campaign_with_answering_machines_is_recycled_on_its_machine_outcomes(db):
    from tests.test_amd_outcomes import scenario

    campaign, c = scenario()  # a person, a message left, a not-sure machine, machine then person
    assert finalize(campaign.id, NOW) == "closed"
    assert preview(campaign.id, make_filter(["machine"])) == 1
    assert preview(campaign.id, make_filter(["machine", "machine-message"])) == 2
    copy, new_list, count = recycle(campaign.id, make_filter(["machine-message"]), NOW)
    assert count == 1 and [p for p, _ in phones_of(new_list.id)] == [
        Contact.get_by_id(c[1]).phone]
    source_amd = Campaign.get_by_id(campaign.id).amd
    assert copy.amd["enabled"]  # the copy detects machines too, with the same policy
    assert {k: copy.amd[k] for k in source_amd} == source_amd
