"""/api/v1: a campaign's message template (the template rule, errors naming the field) and the
list of contacts skipped at activation, through the real app and database."""

from __future__ import annotations

from app.campaigns.activation import activate
from app.clock import utcnow
from app.models import Contact, ContactList
from tests.api.conftest import error_code

TEMPLATE = {"language": "en", "segments": [
    {"kind": "tts", "text": "Hello {name}"}, {"kind": "say", "field": "amount", "as": "number"}]}


def a_list():
    made = ContactList.create(name="l", status="ready", columns=["name", "amount"])
    for i, (name, amount) in enumerate([("Maria", "12"), ("Ana", "twelve")]):
        Contact.create(contact_list=made.id, phone=f"+1202555000{i}", position=i + 2,
                       fields={"name": name, "amount": amount})
    return made


def test_a_template_is_stored_and_an_unknown_field_is_refused_naming_it(db, api):
    listed = a_list()
    body = {"name": "Bills", "contact_list": listed.id, "message_template": TEMPLATE,
            "windows": [{"weekday": d, "starts": "00:00", "ends": "00:00"} for d in range(7)]}
    made = api.post("/api/v1/campaigns/", json=body)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["message_template"] == TEMPLATE
    bad = {"segments": [{"kind": "say", "field": "amuont", "as": "number"}]}
    refused = api.patch(f"/api/v1/campaigns/{made.get_json()['id']}",
                        json={"message_template": bad, "contact_list": listed.id})
    assert refused.status_code == 422 and error_code(refused)
    assert "segment 1: unknown field 'amuont'" in refused.get_json()["error"]["message"]
    wrong_kind = api.patch(f"/api/v1/campaigns/{made.get_json()['id']}",
                           json={"message_template": {"segments": [{"kind": "video"}]}})
    assert wrong_kind.status_code == 422


def test_the_skipped_contacts_download_as_csv(db, api):
    listed = a_list()
    body = {"name": "Bills", "contact_list": listed.id, "message_template": TEMPLATE,
            "windows": [{"weekday": d, "starts": "00:00", "ends": "00:00"} for d in range(7)]}
    campaign_id = api.post("/api/v1/campaigns/", json=body).get_json()["id"]
    activate(campaign_id, utcnow())
    got = api.get(f"/api/v1/campaigns/{campaign_id}/skipped.csv")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    lines = got.get_data(as_text=True).splitlines()
    assert lines[0] == "contact_id,line,phone,reason"
    assert lines[1].endswith(",3,+12025550001,field 'amount': 'twelve' is not a whole number")
    assert len(lines) == 2
