"""Users of the back office: roles, password hashes, creation and sign-in checks.

Plain functions over the models, shared by the web sign-in, the admin's user
views and ``flask user``; nothing here imports Flask.
"""

from __future__ import annotations

import functools
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import fn
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import ValidationError
from app.models import ROLES, LoginFailure, User

log = logging.getLogger(__name__)

ADMIN, OPERATOR, VIEWER = ROLES
# Failed sign-ins that cost nothing, per (name, address) and per address; each
# failure past them doubles the wait before the next try, from BASE_DELAY up to
# MAX_DELAY. Failures older than FAILURE_WINDOW no longer count (and are pruned).
FREE_FAILURES_PER_PAIR = 5
FREE_FAILURES_PER_ADDR = 20
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
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
    User.update(
        password_hash=hash_password(password), session_version=User.session_version + 1
    ).where(User.id == user_id).execute()


def end_sessions(user_id: int) -> None:
    """Sign the user out everywhere: every cookie issued before now stops working."""
    User.update(session_version=User.session_version + 1).where(User.id == user_id).execute()


# --- sign-in and its throttle -------------------------------------------------


@dataclass(frozen=True)
class Failures:
    """Failed sign-ins inside the window: how many, and the newest one's time."""

    count: int
    last: datetime | None


def _failures(where, since) -> Failures:
    count, last = (
        LoginFailure.select(fn.COUNT(LoginFailure.id), fn.MAX(LoginFailure.at))
        .where(where & (LoginFailure.at >= since))
        .tuples()
        .get()
    )
    # an aggregate skips the field's conversion: SQLite answers text, PostgreSQL naive
    return Failures(count or 0, LoginFailure.at.python_value(last) if last else None)


def delay_after(count: int, free: int) -> timedelta:
    """How long to wait after ``count`` failures of which ``free`` cost nothing."""
    excess = count - free
    if excess < 0:
        return timedelta(0)
    return min(MAX_DELAY, BASE_DELAY * (2 ** min(excess, 16)))


def throttled_until(username: str, remote_addr: str, now) -> datetime | None:
    """When this name may try again from this address (None: now).

    Failures count per (name, address) and per address, never per name alone:
    a stranger elsewhere cannot lock a user out, and waiting ends the delay.
    """
    since = now - FAILURE_WINDOW
    pair = _failures(
        (LoginFailure.username == username) & (LoginFailure.remote_addr == remote_addr), since
    )
    addr = _failures(LoginFailure.remote_addr == remote_addr, since)
    until = None
    for failures, free in ((pair, FREE_FAILURES_PER_PAIR), (addr, FREE_FAILURES_PER_ADDR)):
        if failures.count >= free:
            end = failures.last + delay_after(failures.count, free)
            until = end if until is None else max(until, end)
    return until if until is not None and until > now else None


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password, checked for unknown names so they answer as slowly."""
    return hash_password(secrets.token_hex(16))


def authenticate(username: str, password: str, remote_addr: str, now) -> User | None:
    """The active user with that name and password, or None (a failure is recorded).

    A throttled (name, address) fails without checking the password and without
    recording anything, so waiting out the delay always opens the door again.
    An unknown name costs the same password check as a known one.
    """
    username = (username or "")[:64]
    remote_addr = (remote_addr or "")[:64]
    if throttled_until(username, remote_addr, now) is not None:
        log.warning("sign-in refused, rate limited user=%s addr=%s", username, remote_addr)
        return None
    user = User.get_or_none((User.username == username) & (User.active == True))  # noqa: E712
    stored = user.password_hash if user is not None else _dummy_hash()
    if check_password_hash(stored, password or "") and user is not None:
        User.update(last_login_at=now).where(User.id == user.id).execute()
        log.info("sign-in user=%s addr=%s", username, remote_addr)
        return user
    LoginFailure.create(username=username, remote_addr=remote_addr, at=now)
    log.warning("sign-in failed user=%s addr=%s", username, remote_addr)
    return None


def prune_login_failures(now) -> int:
    """Delete failures too old to count (the hourly clean-up calls this)."""
    return LoginFailure.delete().where(LoginFailure.at < now - FAILURE_WINDOW).execute()
