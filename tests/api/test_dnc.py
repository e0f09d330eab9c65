"""/api/v1/dnc: add, check, remove, bulk, with the same number rule as the console."""

from __future__ import annotations

from app.models import DoNotCall
from tests.api.conftest import error_code


def test_it_adds_checks_and_removes_a_number(db, api):
    added = api.post("/api/v1/dnc/", json={"phone": "(202) 555-0101", "note": "asked"})
    assert added.status_code == 200
    assert added.get_json() == {"phone": "+12025550101", "blocked": True, "created": True}
    assert DoNotCall.get().source == "api" and "operator" in DoNotCall.get().note
    again = api.post("/api/v1/dnc/", json={"phone": "+12025550101"})
    assert again.get_json()["created"] is False
    check = api.get("/api/v1/dnc/check?phone=%2B12025550101")
    assert check.get_json() == {"phone": "+12025550101", "blocked": True}
    removed = api.post("/api/v1/dnc/remove", json={"phone": "+12025550101"})
    assert removed.status_code == 200 and removed.get_json()["blocked"] is False
    assert api.get("/api/v1/dnc/check?phone=2025550101").get_json()["blocked"] is False


def test_it_refuses_a_number_that_does_not_normalise(db, api):
    response = api.post("/api/v1/dnc/", json={"phone": "hello"})
    assert response.status_code == 422 and error_code(response) == "validation_failed"
    assert api.get("/api/v1/dnc/check?phone=hello").status_code == 422
    assert api.get("/api/v1/dnc/check").status_code == 422


def test_it_adds_and_removes_in_bulk_reporting_refusals(db, api):
    body = {"phones": ["+12025550101", "+12025550102", "junk", "+12025550101"]}
    added = api.post("/api/v1/dnc/bulk", json=body).get_json()
    assert added == {"changed": 2, "unchanged": 1, "rejected": [
        {"index": 2, "reason": added["rejected"][0]["reason"]}]}
    removed = api.post("/api/v1/dnc/bulk", json={**body, "remove": True}).get_json()
    assert (removed["changed"], removed["unchanged"]) == (2, 1)
    assert DoNotCall.select().count() == 0
