"""Back-office helpers: a client signed in as a user of a role (``users``: tests/conftest.py)."""

from __future__ import annotations

import re

import pytest

from tests.users_support import PASSWORD, password_hash  # noqa: F401  (tests import them here)


def csrf_token(client, path="/login") -> str:
    """The CSRF token a page carries (the session cookie goes with it)."""
    if not client.application.config.get("WTF_CSRF_ENABLED", True):
        return ""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


def sign_in(client, username, password=PASSWORD):
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def flashes(response) -> list[str]:
    """The alert texts of a rendered page."""
    html = response.get_data(as_text=True)
    found = re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S)
    return [re.sub(r"<[^>]+>|&times;", "", f).strip() for f in found]


@pytest.fixture
def no_csrf(app):
    """Forms post without tokens (CSRF itself is tested with it on)."""
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def client_as(app, role):
    client = app.test_client()
    response = sign_in(client, role)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


@pytest.fixture
def admin_client(app, users):
    return client_as(app, "admin")


@pytest.fixture
def operator_client(app, users):
    return client_as(app, "operator")


@pytest.fixture
def viewer_client(app, users):
    return client_as(app, "viewer")
