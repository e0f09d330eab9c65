"""Back-office users for the tests: one password, hashed once."""

from __future__ import annotations

import functools

PASSWORD = "correct horse 1"


@functools.lru_cache(maxsize=1)
def password_hash() -> str:
    """The hash of PASSWORD (hashing is slow on purpose; one hash serves every test user)."""
    from app.users import hash_password

    return hash_password(PASSWORD)
