"""The peewee database: one proxy, bound at start from DATABASE_URL."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlparse

from peewee import DatabaseProxy, PostgresqlDatabase, SqliteDatabase

from app.config import get_settings

log = logging.getLogger(__name__)

database = DatabaseProxy()


def connect_database(url: str, sqlite_synchronous: str | None = None):
    """Build (not open) a peewee Database for ``url``.

    SQLite gets WAL, foreign keys and a busy timeout; its folder is created.
    """
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    if scheme == "sqlite":
        path = parsed.path
        if path != "/:memory:":
            # sqlite:////abs/file -> /abs/file, sqlite:///rel/file -> rel/file
            path = path[1:]
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            path = ":memory:"
        synchronous = sqlite_synchronous or get_settings().sqlite_synchronous
        return SqliteDatabase(
            path,
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "busy_timeout": 5000,
                "synchronous": synchronous,
                "cache_size": -16000,
            },
            check_same_thread=False,
        )
    return PostgresqlDatabase(
        parsed.path.lstrip("/"),
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        connect_timeout=5,
    )


def init_database(url: str | None = None):
    """Bind the shared proxy to ``url`` (default: DATABASE_URL) and return the Database."""
    db = connect_database(url or get_settings().database_url)
    database.initialize(db)
    return db


def is_postgres(db=None) -> bool:
    db = db or database.obj
    return isinstance(db, PostgresqlDatabase)
