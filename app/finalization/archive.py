"""The archive step: the campaign's events and attempts in a gzipped SQLite file, then the purge.

On SQLite the rows are copied by SQL into an attached file; on PostgreSQL they
stream out through ``COPY ... TO STDOUT`` into a new SQLite file. Both paths
sit side by side here (``_copy_on_sqlite``, ``_copy_from_postgres``).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path

from app.config import get_settings
from app.db import database, is_postgres
from app.finalization.steps import ARCHIVE, PURGE, claim
from app.messages.prepare import purge_messages
from app.pbx import media
from app.private_files import create_private, make_dirs
from app.reports import PAGE, export_folder, sql, write_atomically

log = logging.getLogger(__name__)

ARCHIVE_LEVEL = 1  # zlib level: level 6 costs ~3x the time for ~15% less size

# What the archive keeps: the campaign's events and attempts (campaign_contact is
# only the dialer's working copy of what the results now hold), each in the order
# of its unique index, which is also how the pages are read.
ARCHIVED = (
    (
        "call_event",
        ("id", "campaign_id", "contact_id", "attempt", "name", "received_at",
         "uniqueid", "channel", "source", "data"),
        ("contact_id", "attempt", "name"),
    ),
    (
        "call_attempt",
        ("id", "campaign_id", "contact_id", "number", "state", "channel_id", "originated_at",
         "answered_at", "finished_at", "outcome", "digit", "hangup_cause"),
        ("contact_id", "number"),
    ),
    # the hashes of the personalised messages' generated audio (app.messages), which the
    # purge deletes: which files there were, not what they said
    ("message_audio", ("campaign_id", "digest", "state", "duration_ms"), ("digest",)),
)


INTEGER_COLUMNS = {"id", "campaign_id", "contact_id", "attempt", "number"}
DATETIME_COLUMNS = {"received_at", "originated_at", "answered_at", "finished_at"}
_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ESCAPE_RE = re.compile(r"\\(.)")


def _copy_value(text: str):
    """One field of COPY's text format: \\N is NULL, backslash escapes undone."""
    if text == "\\N":
        return None
    return _COPY_ESCAPE_RE.sub(lambda m: _COPY_ESCAPES.get(m.group(1), m.group(1)), text)


class _CopyIntoSqlite:
    """A file for ``copy_expert``: COPY ... TO STDOUT rows (text format) go into SQLite.

    psycopg2 writes each CopyData message as it arrives (one row, usually), so
    rows stream from PostgreSQL into the archive in bounded memory, and no
    Python object is made per value except the strings themselves.
    """

    def __init__(self, out, insert: str):
        self.out, self.insert = out, insert
        self.tail = b""
        self.rows = []
        self.count = 0

    def write(self, data) -> int:
        """Take the next bytes of COPY's output; rows are inserted a page at a time."""
        if isinstance(data, str):
            data = data.encode()
        lines = (self.tail + data).split(b"\n")
        self.tail = lines.pop()  # b"" after a whole row
        for line in lines:
            text = line.decode()
            if "\\" in text:  # an escape or a NULL: the slow path
                self.rows.append([_copy_value(v) for v in text.split("\t")])
            else:
                self.rows.append(text.split("\t"))
        if len(self.rows) >= PAGE:
            self.flush()
        return len(data)

    def flush(self):
        """Insert the rows not inserted yet."""
        if self.rows:
            self.out.executemany(self.insert, self.rows)
            self.count += len(self.rows)
            self.rows = []


def _copy_select(column: str) -> str:
    """``column`` as COPY should print it: timestamps as Python's isoformat(" ") prints them."""
    if column not in DATETIME_COLUMNS:
        return column
    return (
        f"CASE WHEN date_part('microseconds', {column})::integer % 1000000 = 0 "
        f"THEN to_char({column}, 'YYYY-MM-DD HH24:MI:SS') "
        f"ELSE to_char({column}, 'YYYY-MM-DD HH24:MI:SS.US') END"
    )


def _archive_ddl(table: str, columns) -> str:
    """The archive's CREATE TABLE for ``columns`` (integers or text)."""
    types = ", ".join(f"{c} {'INTEGER' if c in INTEGER_COLUMNS else 'TEXT'}" for c in columns)
    return f"CREATE TABLE {table} ({types})"


def build_archive_db(campaign_id: int, target: Path) -> dict:
    """Copy the campaign's events and attempts into a new SQLite file; rows per table.

    On SQLite the copy is one ``CREATE TABLE ... AS SELECT`` per table into an
    attached file: no row passes through Python. On PostgreSQL each table is one
    ``COPY (SELECT ... ORDER BY key) TO STDOUT`` streamed into the file.
    """
    target.unlink(missing_ok=True)
    create_private(target)  # SQLite fills an empty file; it keeps this mode
    if is_postgres():
        return _copy_from_postgres(campaign_id, target)
    return _copy_on_sqlite(campaign_id, target)


def _copy_on_sqlite(campaign_id: int, target: Path) -> dict:
    """SQLite: ``CREATE TABLE archive.t AS SELECT`` per table into ``target``, attached."""
    counts = {}
    database.execute_sql("ATTACH DATABASE ? AS archive", (str(target),))
    try:
        database.execute_sql("PRAGMA archive.journal_mode = OFF")
        database.execute_sql("PRAGMA archive.synchronous = OFF")
        with database.atomic():
            for table, columns, key in ARCHIVED:
                database.execute_sql(
                    f"CREATE TABLE archive.{table} AS SELECT {', '.join(columns)} "
                    f"FROM main.{table} WHERE campaign_id = ? ORDER BY {', '.join(key)}",
                    (campaign_id,),
                )
                (counts[table],) = database.execute_sql(
                    f"SELECT COUNT(*) FROM archive.{table}"
                ).fetchone()
    finally:
        database.execute_sql("DETACH DATABASE archive")
    return counts


def _copy_from_postgres(campaign_id: int, target: Path) -> dict:
    """PostgreSQL: ``COPY (SELECT ...) TO STDOUT`` per table, streamed into a new ``target``."""
    counts = {}
    out = sqlite3.connect(target, isolation_level=None)
    try:
        out.execute("PRAGMA journal_mode = OFF")
        out.execute("PRAGMA synchronous = OFF")
        out.execute("BEGIN")
        with database.atomic():  # one snapshot for both tables
            for table, columns, key in ARCHIVED:
                out.execute(_archive_ddl(table, columns))
                sink = _CopyIntoSqlite(
                    out, f"INSERT INTO {table} VALUES ({', '.join('?' for _ in columns)})"
                )
                database.cursor().copy_expert(
                    f"COPY (SELECT {', '.join(_copy_select(c) for c in columns)} FROM {table} "
                    f"WHERE campaign_id = {int(campaign_id)} ORDER BY {', '.join(key)}) TO STDOUT",
                    sink,
                )
                sink.flush()
                counts[table] = sink.count
        out.execute("COMMIT")
    finally:
        out.close()
    return counts


def gzip_file(source: Path, handle) -> None:
    """``source`` gzip-compressed into binary ``handle``; no name or time in the header."""
    with open(source, "rb") as src, gzip.GzipFile(
        fileobj=handle, mode="wb", compresslevel=ARCHIVE_LEVEL, mtime=0, filename=""
    ) as gz:
        shutil.copyfileobj(src, gz, 1 << 20)


def read_archive(path, table: str) -> list[dict]:
    """Every row of ``table`` (call_event, call_attempt) of an archive, as dicts (small ones)."""
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "archive.sqlite3"
        with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        con = sqlite3.connect(plain)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY rowid")]
        finally:
            con.close()


def step_archive(campaign_id: int, now) -> None:
    """Write the campaign's archive (``archive.sqlite3.gz``) to its export folder."""
    folder = make_dirs(export_folder(get_settings().export_dir, campaign_id))
    path = folder / "archive.sqlite3.gz"
    plain = folder / f".tmp-archive-{os.getpid()}-{uuid.uuid4().hex[:8]}.sqlite3"
    try:
        counts = build_archive_db(campaign_id, plain)
        write_atomically(path, lambda handle: gzip_file(plain, handle))
    finally:
        plain.unlink(missing_ok=True)
    with database.atomic():
        claim(campaign_id, ARCHIVE, now, archive_path=str(path))
    log.info("campaign=%s archive: %s in %s", campaign_id, counts, path)


def step_purge(campaign_id: int, now) -> None:
    """Delete the campaign's working rows (events, attempts, dial state) now archived."""
    with database.atomic():
        claim(campaign_id, PURGE, now)
        deleted = {
            table: database.execute_sql(
                sql(f"DELETE FROM {table} WHERE campaign_id = ?"), (campaign_id,)
            ).rowcount
            for table in ("call_event", "call_attempt", "campaign_contact")
        }
        deleted["media_file"] = media.release(campaign_id)  # the PBX hosts' copies
    deleted["message_audio"] = len(purge_messages(campaign_id, get_settings()))
    log.info("campaign=%s purged working rows %s", campaign_id, deleted)
