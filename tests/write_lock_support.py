"""Another connection that holds the database's write lock for a moment, as a busy
worker does: what a request that writes must wait for instead of failing at once."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading

import psycopg2

# "a moment": long enough that the request meets the lock, well inside the 5 s busy timeout
HOLD_SECONDS = 0.3


@contextlib.contextmanager
def write_lock_held(db, db_engine):
    """Another connection holds the write lock (SQLite) or a lock on the campaign table
    that every write waits for (PostgreSQL), until a timer releases it: the block gets
    the event that says it was released."""
    if db_engine == "sqlite":
        other = sqlite3.connect(db.database, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        commit = functools.partial(other.execute, "COMMIT")
    else:
        other = psycopg2.connect(dbname=db.database, **db.connect_params)
        # readers go on; an INSERT, UPDATE or DELETE on campaign waits
        other.cursor().execute("LOCK TABLE campaign IN SHARE ROW EXCLUSIVE MODE")
        commit = other.commit
    released = threading.Event()

    def release():
        commit()
        released.set()

    timer = threading.Timer(HOLD_SECONDS, release)
    timer.start()
    try:
        yield released
    finally:
        timer.join()
        other.close()
