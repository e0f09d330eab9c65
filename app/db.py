"""The peewee database: one proxy, bound at start from DATABASE_URL."""

from __future__ import annotations

import contextlib
import functools
import logging
from pathlib import Path
from urllib.parse import urlparse

from peewee import DatabaseProxy, PostgresqlDatabase
from playhouse import db_url

from app.config import get_settings
from app.private_files import make_dirs, private_sqlite

log = logging.getLogger(__name__)

database = DatabaseProxy()

# what every connection of ours gets unless the URL's query says otherwise
SQLITE_PRAGMAS = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000,
                  "cache_size": -16000}
POSTGRES_DEFAULTS = {"connect_timeout": 5}
# the largest integer a column of either engine holds (SQLite INTEGER, PostgreSQL BIGINT):
# a larger one in a query raises (OverflowError on SQLite) instead of matching nothing
MAX_INTEGER = 2**63 - 1


class OwnerOnlySqlite:
    """A SQLite database whose file is created 0600 (or made so) before its first connection.

    The file holds phone numbers and answers; SQLite gives its -wal and -shm the
    database file's mode. Done at connection time: building a Database creates
    no file.
    """

    _made_private = False

    def _connect(self):
        if not self._made_private and self.database != ":memory:":
            private_sqlite(self.database)
            self._made_private = True
        return super()._connect()


@functools.cache
def owner_only(engine: type) -> type:
    """``engine`` (a peewee SQLite class) with ``OwnerOnlySqlite`` first."""
    return type(engine.__name__, (OwnerOnlySqlite, engine), {})


def connect_database(url: str, sqlite_synchronous: str | None = None):
    """Build (not open) a peewee Database for ``url`` (``playhouse.db_url`` forms).

    Query options reach the driver (``?sslmode=require``); user and password are
    URL-decoded. A ``+driver`` suffix (``postgresql+psycopg2``) names the engine
    only. SQLite gets WAL, foreign keys and a busy timeout; its folder is created
    (0700), and its file made owner-only when it first connects (``OwnerOnlySqlite``).
    """
    parsed = urlparse(url)
    scheme = parsed.scheme if parsed.scheme in db_url.schemes else parsed.scheme.split("+")[0]
    url = scheme + url[len(parsed.scheme):]
    if scheme.startswith("sqlite"):
        options = db_url.parse(url)
        if not options.get("database"):
            raise ValueError(f"{url!r} names no database file: write sqlite:///path/to/file.db")
        if options["database"] != ":memory:":
            make_dirs(Path(options["database"]).parent)
        synchronous = sqlite_synchronous or get_settings().sqlite_synchronous
        pragmas = {**SQLITE_PRAGMAS, "synchronous": synchronous}
        engine = owner_only(db_url.schemes[scheme])
        return engine(**options, pragmas=pragmas, check_same_thread=False)
    options = {**POSTGRES_DEFAULTS, **db_url.parse(url, unquote_password=True, unquote_user=True)}
    options.setdefault("host", "127.0.0.1")
    return db_url.schemes[scheme](**options)


def init_database(url: str | None = None):
    """Bind the shared proxy to ``url`` (default: DATABASE_URL) and return the Database."""
    db = connect_database(url or get_settings().database_url)
    database.initialize(db)
    return db


def connection():
    """This thread's connection for a unit of work (an actor message, a CLI command).

    The caller's own when it has one open (a web request calling a domain
    function), else one opened here and closed at the end; the proxy is bound
    on first use.
    """
    if database.obj is None:
        init_database()
    if not database.is_closed():
        return contextlib.nullcontext()
    return database.connection_context()


def write_transaction():
    """A transaction that takes the write lock when it begins: for work that reads, then writes.

    On SQLite a deferred transaction that has read cannot wait for the write lock
    (SQLite answers "database is locked" at once rather than risk a deadlock), so
    BEGIN IMMEDIATE queues for it under the busy timeout before the first read.
    PostgreSQL waits on row locks by itself: a normal transaction. Inside another
    transaction it is a savepoint of that one.
    """
    if is_postgres():
        return database.atomic()
    return database.atomic(lock_type="IMMEDIATE")


def row_id(value) -> int | None:
    """``value`` (an int or its decimal text) as a row id, or None when no row can have it."""
    if isinstance(value, str):
        value = value.strip()
        # 19 digits hold MAX_INTEGER; a longer text is out of range (and int() of
        # thousands of digits refuses by itself)
        if not value.isascii() or not value.isdigit() or len(value.lstrip("0")) > 19:
            return None
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_INTEGER else None


def is_postgres(db=None) -> bool:
    db = db or database.obj
    return isinstance(db, PostgresqlDatabase)
