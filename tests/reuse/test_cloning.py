"""Clone and templates: the domain, the CLI, the API and the console build the same DRAFT copy."""

from datetime import datetime, time, timezone

import pytest

from app.campaigns import activate, create, get_campaign
from app.campaigns.cloning import KEEP, clone, mark_template, new_from_template, templates
from app.errors import NotFoundError, ValidationError
from app.models import (
    ACTIVE,
    CLOSED,
    DRAFT,
    CallWindow,
    Campaign,
    CampaignContact,
    CampaignOption,
    ContactList,
)
from app.windows import Span
from tests.admin.conftest import client_as
from tests.api.conftest import error_code
from tests.dialing_support import make_campaign

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
COPIED = ("timezone", "starts_at", "ends_at", "max_channels", "max_attempts", "weight",
          "retry_busy_s", "retry_noanswer_s", "retry_failed_s", "retry_on", "ring_timeout_s",
          "max_call_s", "caller_id", "message_file", "message_sound", "digit_timeout_s",
          "message_repeats")


def source_campaign():
    contact_list = ContactList.create(name="l", status="ready")
    return create(
        dict(name="autumn", contact_list=contact_list.id, timezone="America/Chicago",
             starts_at=datetime(2026, 12, 1, 9), ends_at=datetime(2026, 12, 20, 18),
             max_channels=7, max_attempts=4, weight=3, retry_busy_s=61, retry_noanswer_s=62,
             retry_failed_s=63, retry_on=["busy", "noanswer"], ring_timeout_s=25,
             max_call_s=99, caller_id='"Shop" <5551234>', message_sound="hello-world",
             digit_timeout_s=7, message_repeats=3),
        NOW,
        options=[{"digit": "1", "label": "yes", "action": "record", "target": ""},
                 {"digit": "0", "label": "agent", "action": "transfer", "target": "+15550001"}],
        windows=[Span(0, time(9), time(12)), Span(2, time(14), time(18))],
    )


def shape(campaign_id):
    campaign = get_campaign(campaign_id)
    options = [(o.digit, o.label, o.action, o.target) for o in
               CampaignOption.select().where(CampaignOption.campaign == campaign_id)
               .order_by(CampaignOption.digit)]
    windows = [(w.weekday, w.starts, w.ends) for w in
               CallWindow.select().where(CallWindow.campaign == campaign_id)
               .order_by(CallWindow.weekday)]
    return {name: getattr(campaign, name) for name in COPIED}, options, windows


def test_a_clone_of_a_closed_campaign_is_a_draft_with_its_settings_options_and_windows(db):
    source = source_campaign()
    Campaign.update(state=CLOSED, dialer_status="x", is_template=True).where(
        Campaign.id == source.id).execute()
    copy = clone(source.id, NOW, name="winter")
    assert (copy.state, copy.name, copy.is_template) == (DRAFT, "winter", False)
    assert copy.contact_list_id == source.contact_list_id  # shared by default
    assert shape(copy.id) == shape(source.id)
    assert shape(copy.id)[0]["retry_on"] == "busy,noanswer"
    assert len(shape(copy.id)[1]) == 2 and len(shape(copy.id)[2]) == 2
    assert get_campaign(copy.id).dialer_status == ""


def test_a_clone_takes_another_list_or_none_and_a_default_name(db):
    source = source_campaign()
    other = ContactList.create(name="other", status="ready")
    assert clone(source.id, NOW, contact_list=other.id).contact_list_id == other.id
    bare = clone(source.id, NOW, contact_list=None)
    assert bare.contact_list_id is None and bare.name == "copy of autumn"
    assert clone(source.id, NOW, contact_list=KEEP).contact_list_id == source.contact_list_id


def test_a_running_campaign_clones_and_the_clone_activates_on_its_own_rows(db):
    source = make_campaign(["+15550100", "+15550101"])
    activate(source.id, NOW)
    copy = clone(source.id, NOW)
    assert get_campaign(source.id).state == ACTIVE and copy.state == DRAFT
    activate(copy.id, NOW)
    assert CampaignContact.select().where(CampaignContact.campaign == copy.id).count() == 2


@pytest.mark.parametrize("kwargs,message", [
    ({"name": ""}, "name is required"),
    ({"name": "x" * 201}, "name is longer than 200"),
    ({"name": "a\nb"}, "name must be one line"),
    ({"contact_list": 10**12}, "contact list 1000000000000 does not exist"),
    ({"contact_list": "7; drop"}, "contact_list must be a list's id"),
])
def test_a_clone_is_refused_naming_the_field(db, kwargs, message):
    source = source_campaign()
    with pytest.raises(ValidationError, match=message):
        clone(source.id, NOW, **kwargs)
    assert Campaign.select().count() == 1


def test_templates_are_marked_listed_and_only_they_make_new_from_template(db):
    source = source_campaign()
    with pytest.raises(ValidationError, match="is not a template"):
        new_from_template(source.id, NOW)
    with pytest.raises(NotFoundError):
        clone(10**30, NOW)
    with pytest.raises(ValidationError, match="is_template must be true or false"):
        mark_template(source.id, "yes", NOW)
    mark_template(source.id, True, NOW)
    assert [t.id for t in templates()] == [source.id]
    copy = new_from_template(source.id, NOW, name="from template")
    assert shape(copy.id) == shape(source.id) and not copy.is_template
    mark_template(source.id, False, NOW)
    assert templates() == []


def test_the_cli_clones_and_marks_templates(app, db):
    source = source_campaign()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["campaign", "clone", str(source.id), "--name", "cli copy"])
    assert result.exit_code == 0, result.output
    copy = Campaign.get(Campaign.name == "cli copy")
    assert shape(copy.id) == shape(source.id) and copy.state == DRAFT
    result = runner.invoke(args=["campaign", "clone", str(source.id), "--from-template"])
    assert result.exit_code != 0 and "is not a template" in result.output
    assert runner.invoke(args=["campaign", "template", str(source.id)]).exit_code == 0
    assert f"{source.id}\tDRAFT\tautumn" in runner.invoke(args=["campaign", "templates"]).output
    result = runner.invoke(args=["campaign", "clone", str(source.id), "--from-template",
                                 "--no-list"])
    assert result.exit_code == 0, result.output
    assert Campaign.select().order_by(Campaign.id.desc()).get().contact_list_id is None
    result = runner.invoke(args=["campaign", "clone", "99999999999999999999"])
    assert result.exit_code != 0 and "does not exist" in result.output


def test_the_api_clones_and_marks_templates(app, db, api, reader):
    source = source_campaign()
    url = f"/api/v1/campaigns/{source.id}"
    response = api.post(f"{url}/clone", json={"name": "api copy"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["state"], body["name"], body["contact_list"]) == ("DRAFT", "api copy",
                                                                   source.contact_list_id)
    assert shape(body["id"]) == shape(source.id)
    assert api.post(f"{url}/clone", json={"contact_list": None}).get_json()["contact_list"] is None
    response = api.post(f"{url}/clone", json={"from_template": True})
    assert response.status_code == 422 and "not a template" in response.get_json()["error"]["message"]
    assert api.post(f"{url}/template", json={"is_template": True}).status_code == 200
    assert api.post(f"{url}/clone", json={"from_template": True}).status_code == 201
    assert error_code(api.post(f"{url}/clone", json={"name": ""})) == "validation_failed"
    assert api.post("/api/v1/campaigns/999999/clone", json={}).status_code == 404
    assert reader.post(f"{url}/clone", json={}).status_code == 403


def test_the_console_clones_marks_templates_and_offers_new_from_template(app, db, users):
    source = source_campaign()
    app.config["WTF_CSRF_ENABLED"] = False
    operator = client_as(app, "operator")
    response = operator.post(f"/admin/campaign/template/{source.id}", data={"on": "1"})
    assert response.status_code == 302 and get_campaign(source.id).is_template
    page = operator.get("/admin/campaign/new/").get_data(as_text=True)
    assert "New from template" in page and f"from-template-{source.id}" in page
    response = operator.post(f"/admin/campaign/clone/{source.id}",
                             data={"from_template": "1", "name": "console copy"})
    copy = Campaign.get(Campaign.name == "console copy")
    assert response.status_code == 302 and f"/admin/campaign/edit/?id={copy.id}" in \
        response.headers["Location"]
    assert shape(copy.id) == shape(source.id)
    response = operator.post("/admin/campaign/action/", data={"action": "clone",
                                                              "rowid": [str(source.id)]})
    assert response.status_code == 302
    assert Campaign.select().where(Campaign.name == "copy of autumn").count() == 1
    viewer = client_as(app, "viewer")
    assert viewer.post(f"/admin/campaign/clone/{source.id}").status_code == 403
    assert "New from template" not in viewer.get("/admin/campaign/").get_data(as_text=True)


def test_a_clone_copies_answering_machine_settings_and_the_personalised_message(db):
    contact_list = ContactList.create(name="l", status="ready", columns=["name"])
    template = {"segments": [{"kind": "sound", "sound": "hello-world"},
                             {"kind": "tts", "text": "Hello {name}"}]}
    source = create(dict(name="amd", contact_list=contact_list.id, message_sound="hello-world",
                         amd={"enabled": True, "machine": "message", "message_sound": "vm-intro",
                              "greeting_ms": 2000},
                         message_template=template), NOW)
    copy = clone(source.id, NOW, name="amd copy")
    assert copy.amd == get_campaign(source.id).amd
    assert copy.amd["enabled"] and copy.amd["machine"] == "message"
    assert copy.amd["greeting_ms"] == 2000
    assert copy.message_template == get_campaign(source.id).message_template
    assert "Hello {name}" in str(copy.message_template)
