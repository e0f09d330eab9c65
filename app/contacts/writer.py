"""Inserting normalised contacts: one batched INSERT per dialect, duplicates skipped.

The two forms of the statement sit side by side: SQLite binds one row of ``?``
per execution (``executemany``), psycopg2's ``execute_values`` expands one
``VALUES %s`` into a page of rows.
"""

from __future__ import annotations

from app.callee_hours import zone_sets_for
from app.db import is_postgres
from app.models import Contact

_COLUMNS = '"contact_list_id", "phone", "fields", "position", "zone_set"'
_INSERT_SQLITE = 'INSERT INTO "{table}" ({columns}) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'
_INSERT_POSTGRES = 'INSERT INTO "{table}" ({columns}) VALUES %s ON CONFLICT DO NOTHING'


class ContactWriter:
    """Inserts (phone, fields, position) batches for one list (with each number's zone
    set); duplicates are skipped.

    Raw cursor calls on purpose: peewee's insert_many builds each row in Python
    (30-50 us/row measured), which alone would take 30+ s for a million rows;
    sqlite3's executemany and psycopg2's execute_values take ~5 us/row.
    """

    def __init__(self, db, list_id):
        self.db, self.list_id = db, list_id
        self.postgres = is_postgres(db)
        insert = _INSERT_POSTGRES if self.postgres else _INSERT_SQLITE
        self.sql = insert.format(table=Contact._meta.table_name, columns=_COLUMNS)

    def write(self, rows) -> int:
        """Insert ``rows``; return how many were new (the rest were duplicates)."""
        if not rows:
            return 0
        list_id = self.list_id
        # each number's time zones, worked out here once (app.callee_hours)
        zones = zone_sets_for(self.db, list_id, [phone for phone, _, _ in rows])
        params = [(list_id, phone, fields, line, zone)
                  for (phone, fields, line), zone in zip(rows, zones)]
        cursor = self.db.cursor()
        if self.postgres:
            from psycopg2.extras import execute_values

            execute_values(cursor, self.sql, params, page_size=len(params))
        else:
            cursor.executemany(self.sql, params)
        return cursor.rowcount
