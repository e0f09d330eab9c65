"""/api/v1/campaigns: create, list, read, update, actions, through the real app and database."""

from __future__ import annotations

import pytest

from app.models import ACTIVE, CLOSED, DRAFT, FINISHED, PAUSED, Campaign, ContactList
from tests.api.conftest import error_code
from tests.waiting import wait_until

BODY = {
    "name": "Spring drive",
    "timezone": "Europe/Paris",
    "max_channels": 5,
    "retry_on": ["busy", "noanswer"],
    "options": [{"digit": "1", "label": "yes"}, {"digit": "2", "label": "call me",
                                                   "action": "transfer", "target": "+12025550100"}],
    "windows": [{"weekday": 0, "starts": "09:00", "ends": "18:00"}],
}


def test_it_creates_reads_lists_and_updates_a_campaign(db, api, users):
    made = api.post("/api/v1/campaigns/", json=BODY)
    assert made.status_code == 201, made.get_json()
    data = made.get_json()
    assert data["state"] == DRAFT and data["name"] == "Spring drive"
    assert data["retry_on"] == ["busy", "noanswer"]
    assert [o["digit"] for o in data["options"]] == ["1", "2"]
    assert data["windows"] == [{"weekday": 0, "starts": "09:00", "ends": "18:00"}]
    assert Campaign.get_by_id(data["id"]).created_by_id == users["operator"].id

    read = api.get(f"/api/v1/campaigns/{data['id']}")
    assert read.status_code == 200 and read.get_json() == data

    changed = api.patch(f"/api/v1/campaigns/{data['id']}", json={"max_channels": 7})
    assert changed.status_code == 200 and changed.get_json()["max_channels"] == 7
    assert changed.get_json()["options"] == data["options"]  # untouched unless given

    listed = api.get("/api/v1/campaigns/?per_page=1")
    assert listed.status_code == 200
    assert [c["id"] for c in listed.get_json()["items"]] == [data["id"]]
    assert listed.get_json()["has_more"] is False


def test_it_pages_and_filters_campaigns_by_state(db, api):
    for i, state in enumerate([DRAFT, ACTIVE, DRAFT]):
        Campaign.create(name=f"c{i}", state=state)
    first = api.get("/api/v1/campaigns/?per_page=2").get_json()
    assert [c["name"] for c in first["items"]] == ["c2", "c1"] and first["has_more"]
    second = api.get("/api/v1/campaigns/?per_page=2&page=2").get_json()
    assert [c["name"] for c in second["items"]] == ["c0"] and not second["has_more"]
    active = api.get("/api/v1/campaigns/?state=ACTIVE").get_json()
    assert [c["name"] for c in active["items"]] == ["c1"]


@pytest.mark.parametrize("body, field", [
    ({**BODY, "max_channels": 0}, "max_channels"),
    ({**BODY, "max_channels": 10**30}, "max_channels"),
    ({**BODY, "max_channels": "5"}, "max_channels"),
    ({**BODY, "timezone": "Mars/Olympus"}, "timezone"),
    ({**BODY, "caller_id": "a\nb"}, "caller_id"),
    ({**BODY, "contact_list": 10**25}, "contact_list"),
    ({**BODY, "starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
    ({**BODY, "colour": "red"}, "colour"),
    ({k: v for k, v in BODY.items() if k != "name"}, "name"),
    ({**BODY, "windows": [{"weekday": 9, "starts": "09:00", "ends": "10:00"}]}, "windows"),
])
def test_it_refuses_a_bad_campaign_naming_the_field(db, api, body, field):
    response = api.post("/api/v1/campaigns/", json=body)
    assert response.status_code == 422, response.get_json()
    assert error_code(response) == "validation_failed"
    error = response.get_json()["error"]
    assert field in error["message"] or field in (error.get("fields") or {}), error
    assert Campaign.select().count() == 0


def test_it_refuses_a_contact_list_that_does_not_exist(db, api):
    response = api.post("/api/v1/campaigns/", json={**BODY, "contact_list": 999})
    assert response.status_code == 422 and "contact list 999" in response.get_json()["error"][
        "message"]


def test_it_keeps_the_console_rules_on_update(db, api):
    running = Campaign.create(name="r", state=ACTIVE, timezone="UTC")
    locked = api.patch(f"/api/v1/campaigns/{running.id}", json={"timezone": "Europe/Paris"})
    assert locked.status_code == 422 and "only change in DRAFT" in locked.get_json()["error"][
        "message"]
    closed = Campaign.create(name="c", state=CLOSED)
    refused = api.patch(f"/api/v1/campaigns/{closed.id}", json={"max_channels": 3})
    assert refused.status_code == 422 and "can no longer change" in refused.get_json()["error"][
        "message"]
    missing = api.patch("/api/v1/campaigns/424242", json={"max_channels": 3})
    assert missing.status_code == 404 and error_code(missing) == "not_found"


@pytest.mark.parametrize("state, op", [
    (ACTIVE, "activate"), (DRAFT, "pause"), (DRAFT, "resume"), (CLOSED, "finish"),
    (PAUSED, "pause"), (ACTIVE, "resume"),
])
def test_it_answers_an_illegal_transition_with_409(db, api, state, op):
    campaign = Campaign.create(name="c", state=state)
    response = api.post(f"/api/v1/campaigns/{campaign.id}/{op}")
    assert response.status_code == 409
    assert error_code(response) == "illegal_transition"
    assert Campaign.get_by_id(campaign.id).state == state


def test_it_refuses_to_activate_an_incomplete_draft(db, api):
    campaign = Campaign.create(name="c", state=DRAFT)
    response = api.post(f"/api/v1/campaigns/{campaign.id}/activate")
    assert response.status_code == 422
    assert "no contact list" in response.get_json()["error"]["message"]


def test_it_pauses_resumes_and_finishes_and_starts_dialing_on_resume(db, api, broker):
    campaign = Campaign.create(name="c", state=ACTIVE)
    paused = api.post(f"/api/v1/campaigns/{campaign.id}/pause")
    assert paused.status_code == 200 and paused.get_json()["state"] == PAUSED
    resumed = api.post(f"/api/v1/campaigns/{campaign.id}/resume")
    assert resumed.status_code == 200 and resumed.get_json()["state"] == ACTIVE
    # the console's own run_op enqueued the first tick; publishes are not confirmed, so the
    # count is polled from RabbitMQ until the message shows up
    wait_until(lambda: broker.get_queue_message_counts("dialing")[0]
               + broker.get_queue_message_counts("dialing.DQ")[0] >= 1,
               what="the first tick in the dialing queue")
    finished = api.post(f"/api/v1/campaigns/{campaign.id}/finish")
    assert finished.status_code == 200 and finished.get_json()["state"] == FINISHED


def test_it_answers_404_for_a_campaign_that_cannot_exist(db, api):
    for path in ("/api/v1/campaigns/0", "/api/v1/campaigns/99999999999999999999999",
                 "/api/v1/campaigns/-1", "/api/v1/campaigns/abc",
                 "/api/v1/campaigns/99999999999999999999999/pause"):
        response = api.get(path) if "pause" not in path else api.post(path)
        assert response.status_code == 404, path
        assert error_code(response) == "not_found"


def test_it_reads_a_ready_list_id_back(db, api):
    ready = ContactList.create(name="l", status="ready")
    made = api.post("/api/v1/campaigns/", json={**BODY, "contact_list": ready.id})
    assert made.status_code == 201 and made.get_json()["contact_list"] == ready.id


def test_it_takes_amd_settings_through_the_domain_rule(db, api):
    body = {**BODY, "amd": {"enabled": True, "machine": "message", "message_sound": "vm",
                            "machine_retries": 2}}
    made = api.post("/api/v1/campaigns/", json=body)
    assert made.status_code == 201, made.get_json()
    amd = made.get_json()["amd"]
    assert amd["enabled"] is True and amd["machine"] == "message" and amd["greeting_ms"] == 1500
    for bad, field in [({"greeting_ms": 0}, "greeting_ms"), ({"machine": "x"}, "machine"),
                       ({"enabled": True, "machine": "message"}, "amd.message_sound"),
                       ({"bogus": 1}, "bogus")]:
        response = api.post("/api/v1/campaigns/", json={**BODY, "amd": bad})
        assert response.status_code == 422, (bad, response.get_json())
        error = response.get_json()["error"]
        assert field in str(error), error
