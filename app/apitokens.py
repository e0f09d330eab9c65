"""API tokens: created (shown once), stored as a SHA-256 hash, scoped, verified, revoked.

A token is ``cc_`` and 43 URL-safe characters (32 random bytes): with that much
entropy a plain SHA-256 is enough (a slow password hash protects guessable
secrets, not random ones), and the hash is the lookup key. Scopes: ``read``
(GET) and ``write`` (everything); a token never gives more than its user's role
does at the time of the request (a viewer only reads). Plain functions over the
models, shared by the API edge, the console and ``flask token``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from app.db import row_id
from app.errors import NotFoundError, ValidationError
from app.models import ApiToken, User
from app.users import ADMIN, OPERATOR

log = logging.getLogger(__name__)

READ, WRITE = "read", "write"
SCOPES = (READ, WRITE)
PREFIX = "cc_"
TOKEN_BYTES = 32
# what a token looks like: anything else is refused before any query
TOKEN_CHARS = len(PREFIX) + 43
SHOWN_PREFIX = 10  # characters kept in clear, to tell tokens apart in lists
NAME_CHARS = ApiToken.name.max_length
# last_used_at is written at most this often per token: one UPDATE per request
# would make every API read a database write
LAST_USED_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Caller:
    """Who a verified token speaks for, and what it may do now."""

    token_id: int
    user_id: int
    username: str
    role: str
    scope: str

    @property
    def can_write(self) -> bool:
        """A write token of a user whose role writes (operators and admins)."""
        return self.scope == WRITE and self.role in (ADMIN, OPERATOR)


def hash_token(token: str) -> str:
    """The SHA-256 (hex) stored for ``token``."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(user_id: int, name: str, scope: str, now) -> tuple[ApiToken, str]:
    """Create a token for an active user; return its row and the token (shown this once).

    Raises:
        ValidationError: a bad name or scope, or a write token for a viewer.
        NotFoundError: no such active user.
    """
    name = (name or "").strip()
    if not name or len(name) > NAME_CHARS or not name.isprintable():
        raise ValidationError(f"name: 1 to {NAME_CHARS} printable characters")
    if scope not in SCOPES:
        raise ValidationError(f"scope must be one of {', '.join(SCOPES)}, not {str(scope)[:20]!r}")
    user = User.get_or_none((User.id == row_id(user_id)) & (User.active == True))  # noqa: E712
    if user is None:
        raise NotFoundError(f"user {str(user_id)[:20]} does not exist or is inactive")
    if scope == WRITE and user.role not in (ADMIN, OPERATOR):
        raise ValidationError(f"scope: {user.username} is a {user.role}: a read token only")
    token = PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = ApiToken.create(user=user.id, name=name, prefix=token[:SHOWN_PREFIX],
                          token_hash=hash_token(token), scope=scope, created_at=now)
    log.info("api token created token=%s user=%s scope=%s", row.id, user.id, scope)
    return row, token


def list_tokens(user_id: int | None = None, include_revoked: bool = False) -> list[ApiToken]:
    """Tokens, newest first: one user's, or everyone's (``user_id`` None)."""
    query = ApiToken.select(ApiToken, User).join(User).order_by(ApiToken.id.desc())
    if user_id is not None:
        query = query.where(ApiToken.user == user_id)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_null())
    return list(query)


def revoke_token(token_id, now, user_id: int | None = None) -> ApiToken:
    """Revoke a token (only the user's own when ``user_id`` is given); revoking twice is fine.

    Raises:
        NotFoundError: no such token (of that user).
    """
    found = row_id(token_id)
    query = ApiToken.select().where(ApiToken.id == found) if found else None
    if query is not None and user_id is not None:
        query = query.where(ApiToken.user == user_id)
    row = query.first() if query is not None else None
    if row is None:
        raise NotFoundError(f"token {str(token_id)[:20]} does not exist")
    ApiToken.update(revoked_at=now).where(
        (ApiToken.id == row.id) & ApiToken.revoked_at.is_null()
    ).execute()
    log.info("api token revoked token=%s user=%s", row.id, row.user_id)
    return ApiToken.get_by_id(row.id)


def verify_token(token: str, now) -> Caller | None:
    """The caller a presented token speaks for, or None (unknown, revoked, user inactive).

    The lookup is by hash, and the stored hash is compared in constant time.
    """
    if not isinstance(token, str) or len(token) != TOKEN_CHARS or not token.startswith(PREFIX):
        return None
    digest = hash_token(token)
    row = (ApiToken.select(ApiToken, User).join(User)
           .where(ApiToken.token_hash == digest).first())
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.revoked_at is not None or not row.user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        ApiToken.update(last_used_at=now).where(ApiToken.id == row.id).execute()
    return Caller(row.id, row.user.id, row.user.username, row.user.role, row.scope)
