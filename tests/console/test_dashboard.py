"""The home dashboard: open campaigns, their figures per minute, warnings, row actions."""

from __future__ import annotations

from datetime import timedelta

from app.clock import utcnow
from app.models import ACTIVE, CLOSED, PAUSED, CallAttempt, Campaign, QuarantinedReport
from tests.campaign_end_support import call, contact_ids, make_campaign

from tests.admin.conftest import csrf_token, flashes


def test_it_lists_every_open_campaign_with_its_figures(db, no_csrf, viewer_client):
    now = utcnow()
    running = make_campaign(4, state=ACTIVE, max_channels=7)
    ids = contact_ids(running)
    call(running, ids[0], 1, [("answered", 1), ("dtmf-1", 5), ("hangup", 9)], outcome="answered",
         at=now - timedelta(minutes=3))
    CallAttempt.update(digit="1").where(CallAttempt.contact == ids[0]).execute()
    call(running, ids[1], 1, [("failed-busy", 2)], outcome="busy", at=now - timedelta(minutes=3))
    CallAttempt.update(finished_at=now - timedelta(minutes=2)).where(CallAttempt.campaign == running.id).execute()
    Campaign.update(breaker_tripped_at=now - timedelta(minutes=5), dialer_status="route breaker").where(
        Campaign.id == running.id).execute()
    QuarantinedReport.create(source="agi", reason="no_token", campaign_id=running.id, contact_id=1,
                             attempt=1, event="answered", received_at=now)
    closed = make_campaign(2, state=CLOSED)

    data = viewer_client.get("/admin/dashboard.json").get_json()
    assert [c["id"] for c in data["campaigns"]] == [running.id]
    row = data["campaigns"][0]
    assert (row["state"], row["calls_up"], row["max_channels"]) == (ACTIVE, 0, 7)
    assert (row["contacts_final"], row["contacts_total"]) == (2, 4)
    assert row["answer_rate"] == "50 %"
    assert len(row["per_minute"]) == 30 and row["per_minute"][-3] == 2 and sum(row["per_minute"]) == 2
    assert {"digit": "1", "label": "Confirm", "count": 1} in row["digits"]
    assert row["dialer_status"] == "route breaker"
    assert any("Route breaker" in w for w in row["warnings"])
    assert any("1 call reports quarantined" in w for w in row["warnings"])
    assert row["ops"] == []  # a viewer gets no actions
    page = viewer_client.get("/admin/").get_data(as_text=True)
    assert "Campaigns in progress" in page and f"dash-row-{closed.id}" not in page
    assert "/static/vendor/chart.umd.min.js" in page


def test_a_row_pauses_and_resumes_through_the_campaign_rules(db, app, operator_client, viewer_client):
    campaign = make_campaign(2, state=ACTIVE)
    row = operator_client.get("/admin/dashboard.json").get_json()["campaigns"][0]
    assert [op["name"] for op in row["ops"]] == ["pause", "finish"]
    refused = operator_client.post(f"/admin/act/{campaign.id}/pause")  # no CSRF token
    assert refused.status_code == 400 and Campaign.get_by_id(campaign.id).state == ACTIVE
    token = csrf_token(operator_client, "/admin/")
    done = operator_client.post(f"/admin/act/{campaign.id}/pause", data={"csrf_token": token})
    assert done.status_code == 302 and Campaign.get_by_id(campaign.id).state == PAUSED
    again = operator_client.post(f"/admin/act/{campaign.id}/pause", data={"csrf_token": token},
                                 follow_redirects=True)
    assert any("cannot go from PAUSED to PAUSED" in f for f in flashes(again))
    assert viewer_client.post(f"/admin/act/{campaign.id}/finish", data={"csrf_token": token}).status_code in (400, 403)
    assert Campaign.get_by_id(campaign.id).state == PAUSED


def test_the_live_json_carries_the_minutes_and_words_the_page_draws(db, no_csrf, viewer_client):
    now = utcnow()
    campaign = make_campaign(2, state=ACTIVE, tz="America/New_York")
    ids = contact_ids(campaign)
    call(campaign, ids[0], 1, [("failed-busy", 2)], outcome="busy", at=now - timedelta(minutes=1))
    CallAttempt.update(finished_at=now).where(CallAttempt.campaign == campaign.id).execute()
    Campaign.update(dialer_status="dialing", dialer_status_at=now.replace(microsecond=123456)).where(
        Campaign.id == campaign.id).execute()
    data = viewer_client.get(f"/admin/campaign/live/{campaign.id}.json",
                             headers={"Accept-Language": "es"}).get_json()
    assert len(data["per_minute"]) == 30 and data["per_minute"][-1] == 1
    assert data["state_label"] == "ACTIVA"
    assert data["dialer_status_at_text"].endswith("America/New_York")
    assert ".123456" not in data["dialer_status_at_text"]
    attempts = viewer_client.get(f"/admin/attempt/?flt0_0={campaign.id}").get_data(as_text=True)
    events = viewer_client.get(f"/admin/event/?flt0_0={campaign.id}").get_data(as_text=True)
    for page in (attempts, events):  # on the campaign's clock, to the second
        assert "America/New_York" in page and f".{now.microsecond:06d}" not in page
