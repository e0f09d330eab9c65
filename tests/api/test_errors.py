"""Bad input is the client's fault: JSON errors with a code, never a 500."""

from __future__ import annotations

import pytest

from tests.api.conftest import error_code


@pytest.mark.parametrize("data, content_type, status, code", [
    ("{not json", "application/json", 400, "bad_request"),
    ("[1, 2]", "application/json", 422, "validation_failed"),
    ('"text"', "application/json", 422, "validation_failed"),
    ("null", "application/json", 422, "validation_failed"),
    ('{"name": "x", "max_channels": 1e400}', "application/json", 422, "validation_failed"),
    ('{"name": "x", "max_channels": 99999999999999999999999999999}', "application/json", 422,
     "validation_failed"),
    ('{"name": ["x"]}', "application/json", 422, "validation_failed"),
    ('{"name": "x", "starts_at": "9999-99-99"}', "application/json", 422, "validation_failed"),
    ('{"name": "x", "starts_at": "0001-01-01T00:00:00"}', "application/json", 422,
     "validation_failed"),
    ('{"name": "x\\u0000y"}', "application/json", 422, "validation_failed"),
])
def test_it_answers_bad_bodies_with_a_4xx_json_error(db, api, data, content_type, status, code):
    response = api.post("/api/v1/campaigns/", data=data, content_type=content_type)
    assert response.status_code == status, response.get_json()
    assert error_code(response) == code


def test_it_answers_unknown_paths_and_methods_in_json(db, api):
    assert error_code(api.get("/api/v1/nothing")) == "not_found"
    response = api.delete("/api/v1/campaigns/")
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"


@pytest.mark.parametrize("query", ["page=0", "page=abc", "per_page=100000",
                                   "page=99999999999999999999999", "state=NOPE"])
def test_it_refuses_bad_paging_arguments(db, api, query):
    response = api.get(f"/api/v1/campaigns/?{query}")
    assert response.status_code == 422 and error_code(response) == "validation_failed"


@pytest.mark.parametrize("good, extra", [
    ("/api/v1/campaigns/?state=ACTIVE", "stat=ACTIVE"),
    ("/api/v1/contact-lists/?page=1", "pag=2"),
    ("/api/v1/dnc/check?phone=%2B12025550100", "full=1"),
    ("/api/v1/holidays/", "campaign=1"),
])
def test_it_refuses_an_unknown_query_argument_naming_it(db, api, good, extra):
    # a misspelt filter would otherwise answer every record as if it were not there
    assert api.get(good).status_code == 200
    response = api.get(f"{good}{'&' if '?' in good else '?'}{extra}")
    assert response.status_code == 422 and error_code(response) == "validation_failed"
    assert list(response.get_json()["error"]["fields"]) == [extra.split("=")[0]]


def test_it_keeps_the_console_pages_as_they_were(db, client):
    # the API's JSON errors are for /api/ only: the console still sends its sign-in page
    response = client.get("/admin/campaign/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/nothing-here").status_code == 302


def test_it_refuses_nul_characters_which_postgresql_cannot_store(db, api):
    import io

    assert api.post("/api/v1/dnc/", json={"phone": "+12025550101", "note": "a\x00b"}
                    ).status_code == 422
    assert api.post("/api/v1/campaigns/", json={"name": "x", "message_sound": "\x00"}
                    ).status_code == 422
    refused = api.post("/api/v1/contact-lists/", content_type="multipart/form-data", data={
        "name": "a\x00b", "file": (io.BytesIO(b"phone\n+12025550101\n"), "x.csv")})
    assert refused.status_code == 422 and "name" in refused.get_json()["error"]["fields"]
    # a file name is the client's label: kept printable, never a refusal
    made = api.post("/api/v1/contact-lists/", content_type="multipart/form-data", data={
        "name": "ok", "file": (io.BytesIO(b"phone\n+12025550101\n"), "x\x00.csv")})
    assert made.status_code == 201 and made.get_json()["source_filename"] == "x.csv"
