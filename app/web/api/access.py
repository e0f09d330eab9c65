"""Who calls the API: ``Authorization: Bearer <token>``, its scope, its rate.

Only the token counts: a back-office session cookie sent along is ignored (the
API never reads ``current_user``), so a page on another site cannot drive the
API with an operator's cookie, and CSRF does not apply.
"""

from __future__ import annotations

from flask import current_app, g, request

from app.apitokens import verify_token
from app.clock import utcnow
from app.web.api.errors import ApiError
from app.web.api.ratelimit import TokenBuckets

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# requests per token: a burst of this many, then this many a second
DEFAULT_BURST, DEFAULT_PER_SECOND = 120, 20.0
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="callcast"'}


def buckets() -> TokenBuckets:
    """This app's rate-limit buckets (API_RATE_BURST, API_RATE_PER_SECOND in the app config)."""
    found = current_app.extensions.get("callcast_api_buckets")
    if found is None:
        found = TokenBuckets(current_app.config.get("API_RATE_BURST", DEFAULT_BURST),
                             current_app.config.get("API_RATE_PER_SECOND", DEFAULT_PER_SECOND))
        current_app.extensions["callcast_api_buckets"] = found
    return found


def authenticate():
    """Before every API request: a valid token, the scope the method needs, within its rate.

    Raises:
        ApiError: 401 (no or bad token), 403 (read-only token or role), 429 (too fast).
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>",
                       headers=CHALLENGE)
    caller = verify_token(token.strip(), utcnow())
    if caller is None:
        raise ApiError(401, "invalid_token", "the token is unknown, revoked, or its user is "
                       "inactive", headers=CHALLENGE)
    wait = buckets().take(caller.token_id)
    if wait:
        raise ApiError(429, "rate_limited", f"too many requests: retry in {wait} s",
                       headers={"Retry-After": str(wait)})
    if request.method not in READ_METHODS and not caller.can_write:
        why = ("a read token" if caller.scope != "write"
               else f"{caller.username} is a {caller.role}")
        raise ApiError(403, "insufficient_scope", f"this request changes data: {why} "
                       "only reads")
    g.api_caller = caller


def caller():
    """The verified caller of this request."""
    return g.api_caller
