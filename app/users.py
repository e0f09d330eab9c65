"""Users of the back office: roles, password hashes, creation and sign-in checks.

Plain functions over the models, shared by the web sign-in, the admin's user
views and ``flask user``; nothing here imports Flask.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from peewee import fn
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import ValidationError
from app.models import ROLES, LoginFailure, User

log = logging.getLogger(__name__)

ADMIN, OPERATOR, VIEWER = ROLES
# failed sign-ins allowed per window before the door shuts for that window
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDR = 20
FAILURE_WINDOW = timedelta(minutes=15)


# --- passwords and users -------------------------------------------------------


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def validate_new_user(username: str, role: str, password: str) -> None:
    """Raises: ValidationError naming what is wrong."""
    if not username or len(username) > 64 or not username.isprintable() or " " in username:
        raise ValidationError("user name must be 1-64 printable characters without spaces")
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if len(password or "") < 8:
        raise ValidationError("password must have at least 8 characters")


def create_user(username: str, role: str, password: str) -> User:
    """Create a user with a hashed password.

    Raises:
        ValidationError: bad name, role or password, or the name is taken.
    """
    validate_new_user(username, role, password)
    if User.select().where(User.username == username).exists():
        raise ValidationError(f"user {username!r} already exists")
    user = User.create(username=username, role=role, password_hash=hash_password(password))
    log.info("user created user=%s role=%s", username, role)
    return user


def set_password(user_id: int, password: str) -> None:
    """Raises: ValidationError when the password is too short."""
    if len(password or "") < 8:
        raise ValidationError("password must have at least 8 characters")
    User.update(password_hash=hash_password(password)).where(User.id == user_id).execute()


# --- rate limiting ------------------------------------------------------------


def recent_failures(username: str, remote_addr: str, now) -> tuple[int, int]:
    """Failed sign-ins inside the window: (for this user name, from this address)."""
    since = now - FAILURE_WINDOW
    by_user = (
        LoginFailure.select(fn.COUNT(LoginFailure.id))
        .where((LoginFailure.username == username) & (LoginFailure.at >= since))
        .scalar()
    )
    by_addr = (
        LoginFailure.select(fn.COUNT(LoginFailure.id))
        .where((LoginFailure.remote_addr == remote_addr) & (LoginFailure.at >= since))
        .scalar()
    )
    return by_user or 0, by_addr or 0


def is_throttled(username: str, remote_addr: str, now) -> bool:
    by_user, by_addr = recent_failures(username, remote_addr, now)
    return by_user >= MAX_FAILURES_PER_USER or by_addr >= MAX_FAILURES_PER_ADDR


def authenticate(username: str, password: str, remote_addr: str, now) -> User | None:
    """The active user with that name and password, or None (and the failure is recorded).

    A throttled name or address fails without checking the password, so
    guessing gains nothing while the window lasts.
    """
    username = (username or "")[:64]
    remote_addr = (remote_addr or "")[:64]
    if is_throttled(username, remote_addr, now):
        log.warning("sign-in refused, rate limited user=%s addr=%s", username, remote_addr)
        LoginFailure.create(username=username, remote_addr=remote_addr, at=now)
        return None
    user = User.get_or_none((User.username == username) & (User.active == True))  # noqa: E712
    if user is not None and check_password_hash(user.password_hash, password or ""):
        User.update(last_login_at=now).where(User.id == user.id).execute()
        log.info("sign-in user=%s addr=%s", username, remote_addr)
        return user
    LoginFailure.create(username=username, remote_addr=remote_addr, at=now)
    log.warning("sign-in failed user=%s addr=%s", username, remote_addr)
    return None
