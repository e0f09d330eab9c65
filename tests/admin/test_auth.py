"""Sign-in: every URL needs a user, passwords are hashed, failures are rate-limited, CSRF holds."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest

import app.users as user_rules
from app.clock import utcnow
from app.models import Campaign, LoginFailure, User
from app.users import (
    BASE_DELAY,
    FAILURE_WINDOW,
    FREE_FAILURES_PER_ADDR,
    FREE_FAILURES_PER_PAIR,
    MAX_DELAY,
    authenticate,
    delay_after,
    prune_login_failures,
)

from .conftest import PASSWORD, csrf_token, sign_in

PUBLIC = {"/login", "/health", "/metrics"}


def concrete_urls(app):
    """Every GET URL of the app with sample values for its arguments."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.endswith("static"):
            continue
        values = {}
        for name, converter in rule._converters.items():
            values[name] = "1" if "Integer" in type(converter).__name__ else "x"
        path = rule.build(values, append_unknown=False)[1]
        urls.append(path)
    return sorted(set(urls))


def test_it_shows_the_sign_in_page_to_anonymous_visitors_on_every_url(app, client):
    urls = concrete_urls(app)
    # the downloads and JSON endpoints are among them
    assert "/admin/campaign/report/1.csv" in urls
    assert "/admin/contactlist/rejects/1.csv" in urls
    assert "/admin/campaign/live/1.json" in urls
    checked = 0
    for url in urls:
        if url in PUBLIC:
            continue
        if url.startswith("/api/"):
            # the API takes Bearer tokens, never the session: tests/api/test_access.py
            # checks that each of its URLs refuses an anonymous caller (401)
            continue
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url
        page = client.get(response.headers["Location"])
        assert page.status_code == 200
        assert "Callcast sign-in" in page.get_data(as_text=True)
        checked += 1
    assert checked > 20


def test_it_serves_the_sign_in_page_its_stylesheet_without_a_session(client):
    page = client.get("/login").get_data(as_text=True)
    href = re.search(r'<link href="([^"]+\.css)"', page).group(1)
    response = client.get(href)
    assert response.status_code == 200
    assert response.mimetype == "text/css" and len(response.get_data()) > 1000


def test_it_sends_anonymous_posts_to_the_sign_in_page_and_changes_nothing(app, client):
    campaign = Campaign.create(name="c")
    response = client.post(f"/admin/campaign/act/{campaign.id}/activate")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert Campaign.get_by_id(campaign.id).state == "DRAFT"


def test_it_stores_a_hash_and_signs_in_with_the_password(app, client, users):
    stored = User.get(User.username == "operator").password_hash
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    response = sign_in(client, "operator")
    assert response.status_code == 302
    assert client.get("/admin/campaign/").status_code == 200
    assert User.get(User.username == "operator").last_login_at is not None


def test_it_goes_back_to_the_page_asked_for_but_never_off_site(app, users):
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/login?next=/admin/dnc/",
        data={"username": "viewer", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/admin/dnc/"
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": "viewer", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/admin/"


def test_it_refuses_a_wrong_password_and_logs_it(app, client, users, caplog):
    with caplog.at_level(logging.WARNING, logger="app.web.auth"):
        response = sign_in(client, "operator", "wrong password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True)
    assert "sign-in failed user=operator" in caplog.text
    assert LoginFailure.select().where(LoginFailure.username == "operator").count() == 1
    assert client.get("/admin/campaign/").status_code == 302


def test_it_locks_a_name_after_repeated_failures_even_with_the_right_password(app, client, users, caplog):
    for _ in range(FREE_FAILURES_PER_PAIR):
        assert sign_in(client, "operator", "guess").status_code == 401
    with caplog.at_level(logging.WARNING, logger="app.web.auth"):
        response = sign_in(client, "operator", PASSWORD)
    assert response.status_code == 401
    assert "rate limited user=operator" in caplog.text
    # other names are not locked by it
    assert sign_in(app.test_client(), "viewer").status_code == 302


def test_it_opens_again_once_the_failures_are_older_than_the_window(app, client, users):
    old = utcnow() - FAILURE_WINDOW - timedelta(seconds=1)
    for _ in range(FREE_FAILURES_PER_PAIR):
        LoginFailure.create(username="operator", remote_addr="127.0.0.1", at=old)
    assert sign_in(client, "operator").status_code == 302


def test_it_refuses_an_inactive_user(app, client, users):
    User.update(active=False).where(User.username == "viewer").execute()
    assert sign_in(client, "viewer").status_code == 401


def test_it_rejects_a_sign_in_post_without_csrf_token(app, client, users):
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/campaign/").status_code == 302


def test_it_rejects_an_action_without_csrf_token_and_changes_nothing(app, admin_client):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    campaign = Campaign.create(name="c", state="ACTIVE")
    response = admin_client.post(f"/admin/campaign/act/{campaign.id}/pause")
    assert response.status_code == 400
    assert "could not be accepted" in response.get_data(as_text=True)
    assert Campaign.get_by_id(campaign.id).state == "ACTIVE"
    # a bulk action and a create form are refused the same way
    response = admin_client.post(
        "/admin/campaign/action/", data={"action": "pause", "rowid": [str(campaign.id)]}
    )
    assert response.status_code == 400
    response = admin_client.post("/admin/dnc/new/", data={"phone": "+12125550100", "country": "US"})
    assert response.status_code == 400
    assert Campaign.get_by_id(campaign.id).state == "ACTIVE"


def test_it_accepts_the_action_with_the_page_token(app, admin_client):
    campaign = Campaign.create(name="c", state="ACTIVE")
    page = admin_client.get(f"/admin/campaign/details/?id={campaign.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = admin_client.post(
        f"/admin/campaign/act/{campaign.id}/pause", data={"csrf_token": token}
    )
    assert response.status_code == 302
    assert Campaign.get_by_id(campaign.id).state == "PAUSED"


def test_it_signs_out(app, admin_client):
    token = csrf_token(admin_client, "/admin/campaign/")
    assert admin_client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert admin_client.get("/admin/campaign/").status_code == 302


def test_it_ends_the_old_cookie_on_sign_out(app, users):
    client = app.test_client()
    sign_in(client, "operator")
    stolen = client.get_cookie("session").value  # e.g. copied before the user signed out
    token = csrf_token(client, "/admin/campaign/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/admin/campaign/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_it_signs_out_every_session_when_the_password_changes(app, admin_client):
    from app.users import set_password

    set_password(User.get(User.username == "admin").id, "a brand new one")
    assert admin_client.get("/admin/campaign/").status_code == 302


def test_it_marks_the_session_cookie_http_only_and_same_site(app, users):
    client = app.test_client()
    sign_in(client, "admin")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is False  # SESSION_COOKIE_SECURE=0 in tests


# --- throttling by (name, address) and by address, with exponential delays ----


def sign_in_from(client, address, username, password=PASSWORD, headers=None):
    page = client.get("/login", environ_base={"REMOTE_ADDR": address})
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        environ_base={"REMOTE_ADDR": address},
        headers=headers or {},
    )


def test_it_lets_no_stranger_lock_out_a_user_from_another_address(app, users):
    stranger = app.test_client()
    for n in range(FREE_FAILURES_PER_ADDR + 5):
        assert sign_in_from(stranger, "198.51.100.7", f"random{n}", "guess").status_code == 401
    for _ in range(FREE_FAILURES_PER_PAIR + 2):
        assert sign_in_from(stranger, "198.51.100.7", "operator", "guess").status_code == 401
    # the stranger's own address is slowed down, even with the right password ...
    assert sign_in_from(stranger, "198.51.100.7", "operator").status_code == 401
    # ... while the user, from their own address, signs in at once
    assert sign_in_from(app.test_client(), "203.0.113.20", "operator").status_code == 302


def test_it_doubles_the_delay_per_failure_up_to_a_cap():
    free = FREE_FAILURES_PER_PAIR
    assert delay_after(free - 1, free) == timedelta(0)
    assert delay_after(free, free) == BASE_DELAY
    assert delay_after(free + 1, free) == 2 * BASE_DELAY
    assert delay_after(free + 2, free) == 4 * BASE_DELAY
    assert delay_after(free + 1000, free) == MAX_DELAY


def test_it_opens_again_after_the_delay_and_refused_tries_do_not_extend_it(app, users):
    start = utcnow()
    for n in range(FREE_FAILURES_PER_PAIR):
        assert authenticate("operator", "guess", "192.0.2.1", start + timedelta(seconds=n)) is None
    last = start + timedelta(seconds=FREE_FAILURES_PER_PAIR - 1)
    # refused (right password) during the delay, again and again: nothing is recorded
    for n in range(10):
        assert authenticate("operator", PASSWORD, "192.0.2.1", last + timedelta(seconds=n)) is None
    assert LoginFailure.select().count() == FREE_FAILURES_PER_PAIR
    opened = authenticate("operator", PASSWORD, "192.0.2.1", last + BASE_DELAY)
    assert opened is not None and opened.username == "operator"


def test_it_checks_a_password_hash_for_unknown_names_too(app, users, monkeypatch):
    checked = []
    real = user_rules.check_password_hash

    def counting(stored, password):
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(user_rules, "check_password_hash", counting)
    now = utcnow()
    assert authenticate("nobody-by-that-name", "guess", "192.0.2.9", now) is None
    assert authenticate("operator", "guess", "192.0.2.9", now) is None
    assert len(checked) == 2
    # the same kind of hash, so the same work: the answer's time names no user
    assert checked[0].split("$")[0] == checked[1].split("$")[0]


def test_it_prunes_failures_too_old_to_count(app):
    now = utcnow()
    old = now - FAILURE_WINDOW - timedelta(seconds=1)
    LoginFailure.create(username="a", remote_addr="192.0.2.1", at=old)
    LoginFailure.create(username="b", remote_addr="192.0.2.1", at=now - timedelta(seconds=1))
    assert prune_login_failures(now) == 1
    assert [f.username for f in LoginFailure.select()] == ["b"]


@pytest.fixture
def proxied_client(app, monkeypatch):
    """A client of the app as deployed behind a local reverse proxy (TRUSTED_PROXIES)."""
    from app import create_app
    from app.config import get_settings
    from app.db import database

    bound = database.obj
    monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.1, ::1")
    get_settings.cache_clear()
    proxied = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"]})
    database.initialize(bound)  # keep the test's database bound, as the app fixture does
    yield proxied.test_client()
    monkeypatch.delenv("TRUSTED_PROXIES")
    get_settings.cache_clear()


def test_it_takes_the_client_address_from_a_trusted_proxy_only(proxied_client, users):
    client = proxied_client
    for _ in range(FREE_FAILURES_PER_PAIR):
        sign_in_from(client, "127.0.0.1", "operator", "guess", {"X-Forwarded-For": "192.0.2.50"})
    # the proxy's other clients are not slowed down by that one
    ok = sign_in_from(client, "127.0.0.1", "operator", PASSWORD, {"X-Forwarded-For": "192.0.2.51"})
    assert ok.status_code == 302
    assert {f.remote_addr for f in LoginFailure.select()} == {"192.0.2.50"}
    # a peer that is not a trusted proxy cannot choose its address
    forged = {"X-Forwarded-For": "192.0.2.99"}
    sign_in_from(client, "198.51.100.3", "viewer", "guess", forged)
    failure = LoginFailure.select().where(LoginFailure.username == "viewer").get()
    assert failure.remote_addr == "198.51.100.3"


def test_it_never_shows_a_password_hash(app, admin_client):
    user = User.get(User.username == "operator")
    pages = (f"/admin/user/details/?id={user.id}", "/admin/user/", f"/admin/user/edit/?id={user.id}")
    for url in pages:
        page = admin_client.get(url).get_data(as_text=True)
        assert user.password_hash not in page, url
        assert "scrypt:" not in page and "pbkdf2:" not in page, url
