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
