"""Tokens: the domain rules, the console page and ``flask token``."""

from __future__ import annotations

import hashlib
import re

import pytest

from app.apitokens import create_token, list_tokens, revoke_token, verify_token
from app.clock import utcnow
from app.errors import NotFoundError, ValidationError
from app.models import ApiToken
from tests.admin.conftest import client_as, csrf_token
from tests.api.conftest import ApiClient


def test_it_stores_only_a_hash_and_verifies_the_token(db, users):
    row, token = create_token(users["operator"].id, "crm", "write", utcnow())
    assert token.startswith("cc_") and len(token) == 46
    stored = ApiToken.get_by_id(row.id)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(stored.__data__.values()) and stored.prefix == token[:10]
    caller = verify_token(token, utcnow())
    assert (caller.username, caller.scope, caller.can_write) == ("operator", "write", True)
    assert verify_token(token[:-1] + ("A" if token[-1] != "A" else "B"), utcnow()) is None
    assert verify_token("", utcnow()) is None and verify_token("x" * 10_000, utcnow()) is None


@pytest.mark.parametrize("name, scope, role, message", [
    ("", "read", "operator", "name"), ("x" * 101, "read", "operator", "name"),
    ("crm", "admin", "operator", "scope"), ("crm", "write", "viewer", "read token only"),
])
def test_it_refuses_bad_tokens(db, users, name, scope, role, message):
    with pytest.raises(ValidationError, match=message):
        create_token(users[role].id, name, scope, utcnow())
    assert ApiToken.select().count() == 0


def test_it_revokes_only_the_owners_token_unless_asked_by_an_admin(db, users):
    row, token = create_token(users["operator"].id, "crm", "read", utcnow())
    with pytest.raises(NotFoundError):
        revoke_token(row.id, utcnow(), user_id=users["viewer"].id)
    with pytest.raises(NotFoundError):
        revoke_token(10**30, utcnow())
    revoke_token(row.id, utcnow(), user_id=users["operator"].id)
    assert verify_token(token, utcnow()) is None
    assert list_tokens() == [] and len(list_tokens(include_revoked=True)) == 1


def test_the_console_creates_shows_once_lists_and_revokes_tokens(db, app, users):
    client = client_as(app, "operator")
    page = client.get("/admin/api-tokens/")
    assert page.status_code == 200 and "No tokens yet" in page.get_data(as_text=True)
    made = client.post("/admin/api-tokens/create/", data={
        "name": "crm", "scope": "write", "csrf_token": csrf_token(client, "/admin/api-tokens/")})
    html = made.get_data(as_text=True)
    token = re.search(r'id="new-token-value">([^<]+)<', html).group(1)
    assert ApiClient(app.test_client(), token).post("/api/v1/campaigns/",
                                                    json={"name": "x"}).status_code == 201
    listing = client.get("/admin/api-tokens/").get_data(as_text=True)
    assert token not in listing and token[:10] in listing  # shown once
    row = ApiToken.get()
    revoked = client.post(f"/admin/api-tokens/revoke/{row.id}",
                          data={"csrf_token": csrf_token(client, "/admin/api-tokens/")})
    assert revoked.status_code == 302
    assert ApiClient(app.test_client(), token).get("/api/v1/campaigns/").status_code == 401


def test_the_console_keeps_viewers_to_read_tokens_and_to_their_own(db, app, users):
    other, _ = create_token(users["operator"].id, "theirs", "read", utcnow())
    viewer = client_as(app, "viewer")
    page = viewer.get("/admin/api-tokens/").get_data(as_text=True)
    assert "theirs" not in page and 'value="write"' not in page
    refused = viewer.post("/admin/api-tokens/create/", data={
        "name": "mine", "scope": "write", "csrf_token": csrf_token(viewer, "/admin/api-tokens/")})
    assert refused.status_code == 400 and ApiToken.select().count() == 1
    token = csrf_token(viewer, "/admin/api-tokens/")
    assert viewer.post(f"/admin/api-tokens/revoke/{other.id}",
                       data={"csrf_token": token}).status_code == 404
    assert viewer.post("/admin/api-tokens/revoke/99999999999999999999999",
                       data={"csrf_token": token}).status_code == 404
    admin_page = client_as(app, "admin").get("/admin/api-tokens/").get_data(as_text=True)
    assert "theirs" in admin_page


def test_the_console_page_needs_a_signed_in_user_and_csrf(db, app, users):
    anonymous = app.test_client()
    assert anonymous.get("/admin/api-tokens/").status_code == 302
    client = client_as(app, "operator")
    assert client.post("/admin/api-tokens/create/", data={"name": "x",
                                                          "scope": "read"}).status_code == 400
    assert ApiToken.select().count() == 0


def test_flask_token_creates_lists_and_revokes(db, app, users):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["token", "create", "operator", "--name", "crm", "--scope", "write"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert verify_token(token, utcnow()).scope == "write"
    listed = runner.invoke(args=["token", "list"])
    assert "operator\tcrm\twrite" in listed.output and token not in listed.output
    row = ApiToken.get()
    assert runner.invoke(args=["token", "revoke", str(row.id)]).exit_code == 0
    assert verify_token(token, utcnow()) is None
    assert "crm" not in runner.invoke(args=["token", "list"]).output
    assert "crm" in runner.invoke(args=["token", "list", "--all"]).output
    for args in (["token", "create", "viewer", "--name", "x", "--scope", "write"],
                 ["token", "create", "nobody", "--name", "x"],
                 ["token", "revoke", "99999999999999999999999"]):
        refused = runner.invoke(args=args)
        assert refused.exit_code == 1 and "Error" in refused.output, args
