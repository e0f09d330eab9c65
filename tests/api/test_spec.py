"""The served OpenAPI document: 3.1, generated from the handlers' schemas, and its docs page."""

from __future__ import annotations

import re

from app.campaigns import LIMITS


def test_it_serves_an_openapi_31_document_generated_from_the_schemas(db, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    # the bound the handler validates with is the bound the document states
    props = spec["components"]["schemas"]["CampaignInput"]["properties"]
    assert props["max_channels"]["maximum"] == LIMITS["max_channels"].high
    assert set(spec["components"]["schemas"]["Error"]["properties"]) == {"error"}
    paths = spec["paths"]
    assert {"/api/v1/campaigns/{campaign_id}/activate", "/api/v1/contact-lists/",
            "/api/v1/dnc/bulk", "/api/v1/campaigns/{campaign_id}/report.csv"} <= set(paths)
    upload = paths["/api/v1/contact-lists/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


def test_it_renders_the_document_without_any_outside_script(db, client):
    page = client.get("/api/v1/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "/api/v1/campaigns/{campaign_id}/status" in html
    assert "<script" not in html and "http" not in html.replace("openapi.json", "")


def test_it_documents_every_api_route_the_app_serves(db, app, client):
    # the fuzz generates requests from the document: a route missing here is never fuzzed
    documented = {(method.upper(), path)
                  for path, ops in client.get("/api/v1/openapi.json").get_json()["paths"].items()
                  for method in ops if method != "parameters"}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule in (
                "/api/v1/openapi.json", "/api/v1/docs"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        served |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert len(served) == 30 and served == documented, served ^ documented


def test_it_lists_the_refusals_each_operation_answers_and_they_happen(db, app, client, tokens):
    """Each operation's document lists 401, 403 (writes), 404 (a named record) by status, with
    the Error shape; a request of each kind gets exactly that status."""
    from tests.api.conftest import ApiClient

    spec = client.get("/api/v1/openapi.json").get_json()
    reader = ApiClient(app.test_client(), tokens["read"])
    seen = {401: 0, 403: 0, 404: 0}
    for path, ops in spec["paths"].items():
        url = re.sub(r"\{\w+\}", "999999", path)
        for method, op in ops.items():
            if method == "parameters":
                continue
            listed = op["responses"]
            for status in ("401", "429"):
                assert listed[status] == {"$ref": f"#/components/responses/{_name(status)}"}
            answered = client.open(url, method=method.upper()).status_code
            assert answered == 401 and "401" in listed, (method, path)
            seen[401] += 1
            if method != "get":
                assert "403" in listed, (method, path)
                assert reader.client.open(url, method=method.upper(), headers=reader._headers(
                    None)).status_code == 403, (method, path)
                seen[403] += 1
            elif "{" in path:
                assert "404" in listed, (method, path)
                assert reader.get(url).status_code == 404, (method, path)
                seen[404] += 1
            else:
                assert "404" not in listed, (method, path)
    assert spec["components"]["responses"]["NOT_FOUND"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/Error"}
    assert seen[401] == 30 and seen[403] > 10 and seen[404] > 5, seen


def _name(status):
    from http import HTTPStatus

    return HTTPStatus(int(status)).name
