"""API helpers: users of each role, a token for each, and a client that sends it."""

from __future__ import annotations

import pytest

from app.apitokens import create_token
from app.clock import utcnow


class ApiClient:
    """The Flask test client with ``Authorization: Bearer <token>`` on every request."""

    def __init__(self, client, token):
        self.client, self.token = client, token

    def _headers(self, headers):
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, path, headers=None, **kw):
        return self.client.get(path, headers=self._headers(headers), **kw)

    def post(self, path, headers=None, **kw):
        return self.client.post(path, headers=self._headers(headers), **kw)

    def patch(self, path, headers=None, **kw):
        return self.client.patch(path, headers=self._headers(headers), **kw)

    def delete(self, path, headers=None, **kw):
        return self.client.delete(path, headers=self._headers(headers), **kw)


@pytest.fixture
def tokens(users):
    """{name: token}: operator's write and read tokens, the viewer's read token."""
    now = utcnow()
    return {
        "write": create_token(users["operator"].id, "crm", "write", now)[1],
        "read": create_token(users["operator"].id, "reports", "read", now)[1],
        "viewer": create_token(users["viewer"].id, "look", "read", now)[1],
        "admin": create_token(users["admin"].id, "ops", "write", now)[1],
    }


@pytest.fixture
def api(app, tokens):
    """A client with the operator's write token."""
    return ApiClient(app.test_client(), tokens["write"])


@pytest.fixture
def reader(app, tokens):
    return ApiClient(app.test_client(), tokens["read"])


def error_code(response) -> str:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"], body
    return body["error"]["code"]
