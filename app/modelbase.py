"""The base of every table and the column types they share (aware UTC datetimes, JSON)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from peewee import DateTimeField, Model, TextField

from app.db import database

UTC = timezone.utc


class UTCDateTimeField(DateTimeField):
    """A datetime stored as naive UTC, returned as aware UTC."""

    def db_value(self, value):
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise TypeError(f"{self.name}: naive datetime {value!r}; pass an aware one")
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        value = super().python_value(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class JSONField(TextField):
    """JSON in a text column: the same on SQLite and PostgreSQL."""

    def db_value(self, value):
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    def python_value(self, value):
        if value is None or value == "":
            return None
        return json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False
