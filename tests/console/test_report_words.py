"""The campaign page and its PDF in words: times, windows, retries, menu, the report's figures."""

from __future__ import annotations

import io
import re
from datetime import datetime, time, timezone

from pypdf import PdfReader

from app.finalization import finalize
from app.models import CLOSED, FINALIZING, CallWindow, Campaign, CampaignReport
from app.reports_pdf import report_pdf
from tests.campaign_end_support import T0, call, contact_ids, make_campaign


def closed_campaign():
    campaign = make_campaign(4, state=FINALIZING, tz="America/New_York")
    Campaign.update(created_at=datetime(2026, 11, 30, 10, 55, 48, 219844, tzinfo=timezone.utc),
                    retry_on="busy,noanswer", retry_busy_s=300, max_attempts=3).where(
        Campaign.id == campaign.id).execute()
    CallWindow.create(campaign=campaign.id, weekday=0, starts=time(0, 0), ends=time(0, 0))
    CallWindow.create(campaign=campaign.id, weekday=1, starts=time(9, 0), ends=time(12, 30))
    ids = contact_ids(campaign)
    call(campaign, ids[0], 1, [("answered", 1), ("dtmf-1", 5), ("hangup", 73)], outcome="answered")
    call(campaign, ids[1], 1, [("answered", 1), ("hangup", 73)], outcome="answered")
    call(campaign, ids[2], 1, [("failed-busy", 2)], outcome="busy")
    call(campaign, ids[3], 1, [("failed-noanswer", 30)], outcome="noanswer")
    finalize(campaign.id, T0)
    assert Campaign.get_by_id(campaign.id).state == CLOSED
    return campaign


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_closed_campaign_page_reads_in_words(db, no_csrf, viewer_client):
    campaign = closed_campaign()
    data = CampaignReport.get(CampaignReport.campaign == campaign.id).data
    page = viewer_client.get(f"/admin/campaign/details/?id={campaign.id}").get_data(as_text=True)
    words = text_of(page)
    assert "Answer rate 50 %" in words
    assert f"Average talk {data['talk_seconds_average'] and '1 min 12 s'}" in words
    assert "Answered without a choice 1" in words
    assert "1 Confirm 1" in words  # the digit, its label, its count
    assert "Monday all day" in words and "Tuesday 09:00–12:30" in words and "Sunday closed" in words
    assert "busy: retry after 5 min, up to 3 attempts; no answer: retry after 10 min, up to 3 attempts" in words
    assert "Press 1: Confirm" in words
    assert "Nov 30, 2026, 5:55:48 AM America/New_York" in words  # created, in the zone, no microseconds
    assert ".219844" not in page and "answer_rate" not in page
    assert "Calls and answers per hour, time zone America/New_York" in words
    assert "Contacts by the number of calls they received" in words
    listing = viewer_client.get("/admin/campaign/").get_data(as_text=True)
    assert "5:55:48 AM America/New_York" in text_of(listing) and ".219844" not in listing
    assert 'placeholder="Search: Name"' in listing


def test_the_page_and_the_pdf_speak_spanish(db, no_csrf, viewer_client):
    campaign = closed_campaign()
    page = viewer_client.get(f"/admin/campaign/details/?id={campaign.id}",
                             headers={"Accept-Language": "es-ES,es;q=0.9"}).get_data(as_text=True)
    words = text_of(page)
    assert 'lang="es"' in page
    assert "Tasa de respuesta 50 %" in words and "Lunes todo el día" in words and "Domingo cerrado" in words
    pdf = viewer_client.get(f"/admin/campaign/report/{campaign.id}.pdf", headers={"Accept-Language": "es"})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Tasa de respuesta" in text and "50 %" in text


def test_the_pdf_holds_the_report_figures_and_charts(db):
    campaign = closed_campaign()
    reader = PdfReader(io.BytesIO(report_pdf(campaign.id)))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    for expected in ("Answer rate 50 %", "Average talk 1 min 12 s", "Answered without a choice 1",
                     "Contacts 4", "Busy 1", "No answer 1", "1 Confirm 1",
                     "busy: retry after 5 min, up to 3 attempts", "Monday all day",
                     "Calls and answers per hour, time zone America/New_York"):
        assert expected in text, expected
    images = sum(len(page.images) for page in reader.pages)
    assert images == len(CampaignReport.get(CampaignReport.campaign == campaign.id).charts) == 5
