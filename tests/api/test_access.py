"""Who may call the API: Bearer tokens only, scopes, roles, revocation, the rate limit."""

from __future__ import annotations

from app.apitokens import list_tokens, revoke_token
from app.clock import utcnow
from app.models import ApiToken, Campaign, User
from tests.admin.conftest import sign_in
from tests.api.conftest import ApiClient, error_code


def test_it_refuses_a_request_without_a_valid_token(db, client, tokens):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "},
                    {"Authorization": "Bearer cc_" + "x" * 43},
                    {"Authorization": "Bearer " + tokens["write"][:-1]}):
        response = client.get("/api/v1/campaigns/", headers=headers)
        assert response.status_code == 401, headers
        assert error_code(response) in ("unauthorized", "invalid_token")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_an_anonymous_caller_on_every_api_url(db, app, client):
    from tests.admin.test_auth import concrete_urls

    urls = [u for u in concrete_urls(app) if u.startswith("/api/")]
    assert len(urls) >= 10
    for url in urls:
        response = client.get(url)
        if url in ("/api/v1/openapi.json", "/api/v1/docs"):
            assert response.status_code == 200, url  # the documentation is public
            continue
        assert response.status_code == 401, url
        assert error_code(response) == "unauthorized"


def test_it_never_takes_a_session_cookie_for_a_token(db, app, users):
    client = app.test_client()
    assert sign_in(client, "operator").status_code == 302
    assert client.get("/api/v1/campaigns/").status_code == 401
    assert client.post("/api/v1/campaigns/", json={"name": "x"}).status_code == 401
    assert Campaign.select().count() == 0


def test_it_needs_no_csrf_token_with_a_bearer_token(db, api):
    # CSRF is on in the app fixture; the console's forms would answer 400 without a token
    assert api.post("/api/v1/campaigns/", json={"name": "x"}).status_code == 201


def test_it_lets_read_tokens_and_viewers_only_read(db, app, tokens, users):
    for name in ("read", "viewer"):
        client = ApiClient(app.test_client(), tokens[name])
        assert client.get("/api/v1/campaigns/").status_code == 200
        response = client.post("/api/v1/campaigns/", json={"name": "x"})
        assert response.status_code == 403 and error_code(response) == "insufficient_scope"
    # a write token of a user who became a viewer only reads from then on
    User.update(role="viewer").where(User.id == users["operator"].id).execute()
    response = ApiClient(app.test_client(), tokens["write"]).post("/api/v1/campaigns/",
                                                                  json={"name": "x"})
    assert response.status_code == 403
    assert Campaign.select().count() == 0


def test_it_refuses_a_revoked_token_and_an_inactive_user(db, app, tokens, users):
    api = ApiClient(app.test_client(), tokens["write"])
    assert api.get("/api/v1/campaigns/").status_code == 200
    token_id = ApiToken.get(ApiToken.name == "crm").id
    revoke_token(token_id, utcnow())
    assert api.get("/api/v1/campaigns/").status_code == 401
    reader = ApiClient(app.test_client(), tokens["read"])
    User.update(active=False).where(User.id == users["operator"].id).execute()
    assert reader.get("/api/v1/campaigns/").status_code == 401


def test_it_records_when_a_token_was_last_used(db, api):
    assert ApiToken.get(ApiToken.name == "crm").last_used_at is None
    api.get("/api/v1/campaigns/")
    used = ApiToken.get(ApiToken.name == "crm").last_used_at
    assert used is not None and (utcnow() - used).total_seconds() < 60
    assert {t.name for t in list_tokens()} == {"crm", "reports", "look", "ops"}


def test_it_limits_each_token_with_429_and_retry_after(db, app, tokens):
    app.config.update(API_RATE_BURST=3, API_RATE_PER_SECOND=0.01)
    api = ApiClient(app.test_client(), tokens["write"])
    answers = [api.get("/api/v1/campaigns/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = api.get("/api/v1/campaigns/")
    assert error_code(limited) == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    # another token has its own bucket
    assert ApiClient(app.test_client(), tokens["read"]).get(
        "/api/v1/campaigns/").status_code == 200
