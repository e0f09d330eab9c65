"""Live status, results, report and CSV: the console's figures through the API."""

from __future__ import annotations

import csv
import io

from app.finalization import finalize
from app.models import ACTIVE, CLOSED, FINALIZING, Campaign
from app.web.admin.stats import live_view
from tests.api.conftest import error_code
from tests.campaign_end_support import T0, call, contact_ids, make_campaign


def test_it_shows_the_live_figures_and_the_dialer_status_line(db, reader):
    campaign = make_campaign(3, state=ACTIVE)
    ids = contact_ids(campaign)
    call(campaign, ids[0], 1, [("answered", 1), ("dtmf-1", 4), ("hangup", 8)], outcome="answered")
    Campaign.update(dialer_status="channel cap reached", dialer_status_at=T0).execute()
    response = reader.get(f"/api/v1/campaigns/{campaign.id}/status")
    assert response.status_code == 200
    assert response.get_json() == live_view(campaign.id)
    assert response.get_json()["dialer_status"] == "channel cap reached"
    assert response.get_json()["contacts_final"] == 1


def test_it_serves_results_report_and_csv_once_closed(db, reader):
    campaign = make_campaign(3, state=FINALIZING)
    ids = contact_ids(campaign)
    call(campaign, ids[0], 1, [("answered", 1), ("dtmf-2", 4), ("hangup", 8)], outcome="answered")
    call(campaign, ids[1], 1, [("failed-noanswer", 30)], outcome="noanswer")
    finalize(campaign.id, T0)
    assert Campaign.get_by_id(campaign.id).state == CLOSED

    page = reader.get(f"/api/v1/campaigns/{campaign.id}/results?per_page=2").get_json()
    assert [r["contact_id"] for r in page["items"]] == ids[:2] and page["has_more"]
    assert page["items"][0]["outcome"] == "answered" and page["items"][0]["digit"] == "2"
    rest = reader.get(f"/api/v1/campaigns/{campaign.id}/results?per_page=2&page=2").get_json()
    assert [r["contact_id"] for r in rest["items"]] == ids[2:] and not rest["has_more"]

    report = reader.get(f"/api/v1/campaigns/{campaign.id}/report").get_json()
    assert report["campaign_id"] == campaign.id and report["report"]["contacts"] == 3
    download = reader.get(f"/api/v1/campaigns/{campaign.id}/report.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 1 + 3


def test_it_has_no_report_before_the_campaign_closes(db, reader):
    campaign = make_campaign(1, state=ACTIVE)
    for path in ("report", "report.csv"):
        response = reader.get(f"/api/v1/campaigns/{campaign.id}/{path}")
        assert response.status_code == 404 and error_code(response) == "not_found"
    assert reader.get(f"/api/v1/campaigns/{campaign.id}/results").get_json()["items"] == []


def test_it_answers_404_for_the_figures_of_no_campaign(db, reader):
    for path in ("status", "results", "report", "report.csv"):
        assert reader.get(f"/api/v1/campaigns/4242/{path}").status_code == 404
