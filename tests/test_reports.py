"""Reports: local times in the CSV, charts, the text form, and ``flask campaign report``."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from app.finalization import finalize
from app.models import FINALIZING, CampaignReport
from app.report_charts import chart_images
from app.reports import LocalTimes, format_report
from tests.campaign_end_support import T0, call, contact_ids, make_campaign

UTC = timezone.utc


def test_it_writes_times_in_the_campaigns_zone_across_a_dst_change():
    paris = LocalTimes(ZoneInfo("Europe/Paris"))
    # 2026-03-29 01:00 UTC Paris moves from +01:00 to +02:00
    assert paris("2026-03-29 00:59:59.999") == "2026-03-29 01:59:59+01:00"
    assert paris("2026-03-29 01:00:00") == "2026-03-29 03:00:00+02:00"
    assert paris(datetime(2026, 11, 23, 9, 0, 5, 123)) == "2026-11-23 10:00:05+01:00"
    assert paris(None) == "" and paris("") == ""
    kolkata = LocalTimes(ZoneInfo("Asia/Kolkata"))
    assert kolkata("2026-11-23 09:45:10") == "2026-11-23 15:15:10+05:30"


def sample():
    return {
        "campaign": {"id": 7, "name": "Relance"},
        "contacts": 10, "attempted": 8, "answered": 4, "answer_rate": 0.5, "attempts_total": 12,
        "outcomes": {"answered": 4, "busy": 2, "noanswer": 2, "not_called": 2, "lost": 0},
        "digits": [{"digit": "1", "label": "Oui", "count": 3}, {"digit": "2", "label": "Non", "count": 0}],
        "answered_without_digit": 1,
        "attempts_histogram": {"0": 2, "1": 5, "2": 3},
        "answered_per_attempt": {"1": 3, "2": 1},
        "calls_per_hour": [{"hour": "2026-11-23T10:00+01:00", "calls": 12, "answered": 4}],
        "still_up": [{"call_id": "cc-7-3-1", "channel": "Local/555@pstn-1;1", "contact_id": 3, "attempt": 1}],
    }


def test_it_draws_five_png_charts_the_same_way_twice():
    first, second = chart_images(sample()), chart_images(sample())
    assert sorted(first) == ["answered_per_attempt", "attempts_histogram", "calls_per_hour",
                             "digits", "outcomes"]
    for name, png in first.items():
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert png == second[name]


def test_it_formats_the_report_for_a_terminal():
    text = format_report(sample())
    assert "Campaign 7: Relance" in text
    assert "answer rate 50.0%" in text
    assert "1  Oui" in text
    assert "still up" in text and "cc-7-3-1" not in text and "Local/555@pstn-1;1" in text


# --- the CLI ---------------------------------------------------------------------------


def closed_campaign():
    campaign = make_campaign(3, state=FINALIZING)
    c = contact_ids(campaign)
    call(campaign, c[0], 1, [("answered", 0), ("dtmf-2", 4), ("hangup", 9)], outcome="answered")
    call(campaign, c[1], 1, [("failed-busy", 2)], outcome="busy")
    assert finalize(campaign.id, T0 + timedelta(hours=1)) == "closed"
    return campaign


def test_it_prints_the_report(app):
    campaign = closed_campaign()
    result = app.test_cli_runner().invoke(args=["campaign", "report", str(campaign.id)])
    assert result.exit_code == 0, result.output
    assert "answered   1" in result.output
    assert "2  Cancel" in result.output
    assert "state CLOSED" in result.output
    assert "archive:" in result.output


def test_it_prints_the_report_as_json(app):
    campaign = closed_campaign()
    result = app.test_cli_runner().invoke(args=["campaign", "report", str(campaign.id), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["contacts"], data["attempted"], data["answered"]) == (3, 2, 1)
    assert data["outcomes"]["busy"] == 1 and data["outcomes"]["not_called"] == 1
    assert data["state"] == "CLOSED" and data["step"] == "closed"
    assert Path(data["files"]["csv"]).exists()


def test_it_writes_the_same_csv_as_the_export(app, tmp_path):
    campaign = closed_campaign()
    out = tmp_path / "out.csv"
    result = app.test_cli_runner().invoke(
        args=["campaign", "report", str(campaign.id), "--csv", str(out)])
    assert result.exit_code == 0, result.output
    export = CampaignReport.get(CampaignReport.campaign == campaign.id).csv_path
    assert out.read_bytes() == Path(export).read_bytes()
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 4 and rows[1][3:7] == ["answered", "1", "2", "Cancel"]


def test_it_says_clearly_when_there_is_no_report_yet(app):
    campaign = make_campaign(1, state="DRAINING")
    result = app.test_cli_runner().invoke(args=["campaign", "report", str(campaign.id)])
    assert result.exit_code == 1
    assert f"campaign {campaign.id} has no report yet (state DRAINING)" in result.output
    result = app.test_cli_runner().invoke(args=["campaign", "report", "999999"])
    assert result.exit_code == 1 and "does not exist" in result.output
