"""Do-not-call list in the console: add (normalised), remove, search by digits, upload with rejects."""

from __future__ import annotations

import io
import re

from app.models import DoNotCall

from .conftest import flashes


def test_it_adds_a_number_in_e164_and_says_when_it_was_there(no_csrf, operator_client):
    response = operator_client.post("/admin/dnc/new/", data={"phone": "(212) 555-0100", "country": "US", "note": "asked twice"})
    assert response.status_code == 302, flashes(response)
    entry = DoNotCall.get()
    assert (entry.phone, entry.source, entry.note) == ("+12125550100", "manual", "asked twice")
    response = operator_client.post("/admin/dnc/new/", data={"phone": "+1 212 555 0100", "country": "US"}, follow_redirects=True)
    assert "+12125550100 was already on the do-not-call list." in flashes(response)
    assert DoNotCall.select().count() == 1


def test_it_refuses_a_number_that_does_not_parse(no_csrf, operator_client):
    response = operator_client.post("/admin/dnc/new/", data={"phone": "12", "country": "US"})
    assert any("too short" in text for text in flashes(response)), flashes(response)
    assert DoNotCall.select().count() == 0


def test_it_finds_a_number_by_its_digits_in_any_format(no_csrf, viewer_client):
    DoNotCall.create(phone="+12125550100", note="angry")
    DoNotCall.create(phone="+33612345678")
    page = viewer_client.get("/admin/dnc/?search=(212) 555").get_data(as_text=True)
    assert "+12125550100" in page and "+33612345678" not in page
    page = viewer_client.get("/admin/dnc/?search=angry").get_data(as_text=True)
    assert "+12125550100" in page and "+33612345678" not in page


def test_it_uploads_a_file_and_lists_what_it_rejected(no_csrf, operator_client):
    DoNotCall.create(phone="+12125550100")
    data = b"phone;name\n2125550100;already\n2125550101;new\nnot a number;bad\n"
    response = operator_client.post(
        "/admin/dnc/upload/", data={"country": "US", "file": (io.BytesIO(data), "dnc.csv")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert re.search(r'id="dnc-added">1<', html) and re.search(r'id="dnc-rejected">1<', html)
    assert "<td>4</td><td>not a number</td>" in html
    assert sorted(p for (p,) in DoNotCall.select(DoNotCall.phone).tuples()) == ["+12125550100", "+12125550101"]


def test_it_removes_a_number(no_csrf, operator_client):
    entry = DoNotCall.create(phone="+12125550100")
    operator_client.post("/admin/dnc/delete/", data={"id": str(entry.id)})
    assert DoNotCall.select().count() == 0


def removal_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "app.dnc" and "removed" in r.msg]


def test_it_audits_each_number_of_a_bulk_removal_like_a_single_one(
    db, no_csrf, operator_client, caplog
):
    caplog.set_level("INFO", logger="app.dnc")
    first, second, third = (DoNotCall.create(phone=f"+1212555010{i}") for i in range(3))
    operator_client.post("/admin/dnc/delete/", data={"id": str(first.id)})
    response = operator_client.post(
        "/admin/dnc/action/", data={"action": "delete", "rowid": [str(second.id), str(third.id)]},
        follow_redirects=True,
    )
    assert "2 number(s) taken off the do-not-call list." in flashes(response)
    assert removal_lines(caplog) == [
        f"do-not-call removed phone=+12125550100 entry={first.id} by=operator",
        f"do-not-call removed phone=+12125550101 entry={second.id} by=operator",
        f"do-not-call removed phone=+12125550102 entry={third.id} by=operator",
    ]
    assert any(
        r.getMessage() == "do-not-call bulk removal count=2 of=2 by=operator"
        for r in caplog.records
    )
    assert DoNotCall.select().count() == 0


def test_it_lets_a_viewer_remove_no_number_in_bulk(db, no_csrf, viewer_client):
    entry = DoNotCall.create(phone="+12125550100")
    viewer_client.post("/admin/dnc/action/", data={"action": "delete", "rowid": [str(entry.id)]})
    assert DoNotCall.select().count() == 1
